// The facade's queries and tag changes on the mem:// backends: compare-and-swap
// tags, untag, rollback, history, tag_infos, info, and names and numbers from a
// hostile ledger (issue 7 point 7, 15).
#include <gmock/gmock.h>

#include "fixtures/client_fixture.h"
#include "support/records.h"

namespace sacker::test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

using Tags = ClientTest;

TEST_F(Tags, TagIsACompareAndSwap) {
  auto c = client();
  add(*c, "app", "one");
  add(*c, "app", "two");
  auto e = c->tag({"app", 1, "live", "first", TagExpectation::absent()});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->comment, "first");
  EXPECT_EQ(e->actor, "tester");
  EXPECT_FALSE(c->tag({"app", 1, "live", "", TagExpectation::at(1)})) << "already there: no event";
  auto wrong = error_of([&] { c->tag({"app", 2, "live", "", TagExpectation::at(2)}); });
  EXPECT_EQ(wrong.kind(), ErrorKind::Conflict);
  EXPECT_THAT(wrong.what(), HasSubstr("points to 1"));
  EXPECT_EQ(c->tags("app").at("live"), 1u);
  EXPECT_EQ(error_of([&] { c->tag({"app", 1, "latest", "", {}}); }).kind(), ErrorKind::Invalid);
  EXPECT_EQ(error_of([&] { c->tag({"app", 9, "live", "", {}}); }).kind(), ErrorKind::NotFound);
}

TEST_F(Tags, UntagAndRemoveCarryTheComment) {
  auto c = client();
  add(*c, "app", "one");
  add(*c, "app", "two", {"live"});
  EXPECT_EQ(c->untag("app", "live", "done").comment, "done");
  EXPECT_EQ(error_of([&] { c->untag("app", "live"); }).kind(), ErrorKind::NotFound);
  EXPECT_EQ(c->remove("app", 1, "old").comment, "old");
  EXPECT_EQ(error_of([&] { c->remove("app", 1); }).kind(), ErrorKind::NotFound);
  auto bad = error_of([&] { c->remove("app", 2, "bell\a"); });
  EXPECT_EQ(bad.kind(), ErrorKind::Invalid);
  EXPECT_THAT(bad.what(), HasSubstr("\\x07"));
  EXPECT_EQ(c->versions("app"), std::vector<std::uint64_t>{2}) << "an invalid comment changes nothing";
}

TEST_F(Tags, RollbackMovesBackAndARollbackOfARollbackMovesForward) {
  auto c = client();
  for (auto s : {"one", "two", "three"}) add(*c, "app", s);
  c->tag({"app", 1, "live", "", {}});
  c->tag({"app", 3, "live", "", {}});
  auto back = c->rollback("app", "live", "bad build");
  EXPECT_EQ(back.event.action, EventAction::Rollback);
  EXPECT_EQ(back.event.version, 1u);
  EXPECT_EQ(back.event.previous, 3u);
  EXPECT_EQ(c->tags("app").at("live"), 1u);
  auto forward = c->rollback("app", "live");
  EXPECT_EQ(forward.event.version, 3u);
  EXPECT_EQ(c->tags("app").at("live"), 3u);
}

TEST_F(Tags, RollbackOfAnUntagRestoresTheTag) {
  auto c = client();
  add(*c, "app", "one", {"live"});
  c->untag("app", "live");
  EXPECT_EQ(c->rollback("app", "live").event.version, 1u);
  EXPECT_EQ(c->tags("app").at("live"), 1u);
}

TEST_F(Tags, RollbackWithNothingToGoBackToIsNotFound) {
  auto c = client();
  add(*c, "app", "one");
  auto never = error_of([&] { c->rollback("app", "live"); });
  EXPECT_EQ(never.kind(), ErrorKind::NotFound);
  EXPECT_THAT(never.what(), HasSubstr("no history"));
  c->tag({"app", 1, "live", "", {}});
  auto created = error_of([&] { c->rollback("app", "live"); });
  EXPECT_EQ(created.kind(), ErrorKind::NotFound);
  EXPECT_THAT(created.what(), HasSubstr("no earlier version"));
}

TEST_F(Tags, RollbackToARemovedVersionIsNotFoundAndChangesNothing) {
  auto c = client();
  add(*c, "app", "one");
  add(*c, "app", "two");
  c->tag({"app", 1, "live", "", {}});
  c->tag({"app", 2, "live", "", {}});
  c->remove("app", 1);
  auto e = error_of([&] { c->rollback("app", "live"); });
  EXPECT_EQ(e.kind(), ErrorKind::NotFound);
  EXPECT_THAT(e.what(), HasSubstr("version 1"));
  EXPECT_EQ(c->tags("app").at("live"), 2u);
}

// A tag written without an event (an import, a ledger from before history) since
// its latest recorded move: the rollback would undo something it cannot see.
TEST_F(Tags, RollbackAfterAnUnrecordedMoveIsAConflict) {
  auto c = client();
  for (auto s : {"one", "two", "three"}) add(*c, "app", s);
  c->tag({"app", 1, "live", "", {}});
  c->tag({"app", 2, "live", "", {}});
  open_ledger(ledger_uri)->put_tag("app", "live", TagValue{3, 0, {}});
  auto e = error_of([&] { c->rollback("app", "live"); });
  EXPECT_EQ(e.kind(), ErrorKind::Conflict);
  EXPECT_THAT(e.what(), HasSubstr("moved since"));
  EXPECT_EQ(c->tags("app").at("live"), 3u);
}

// The tag moves between rollback's read of the history and its write: the
// compare-and-swap catches it.
TEST_F(Tags, RollbackRacingAMoveIsAConflict) {
  class MovesLiveOnHistory final : public ForwardingLedger {
   public:
    using ForwardingLedger::ForwardingLedger;
    std::vector<Event> history(const std::string& p, const HistoryQuery& q) override {
      auto out = inner_->history(p, q);
      if (q.tag == "live" && !stale) {
        stale = TagValue{out.front().version, out.front().seq, {}};
        inner_->set_tag(p, "live", 3, TagExpectation::any(), ChangeContext{});  // another writer, right now
      }
      return out;
    }
    // What the tag was a moment ago, as a read that raced the move would see it.
    std::optional<TagValue> tag_value(const std::string& p, const std::string& t) override {
      return stale ? stale : inner_->tag_value(p, t);
    }
    std::optional<TagValue> stale;
  };
  auto setup = client();
  for (auto s : {"one", "two", "three"}) add(*setup, "app", s);
  setup->tag({"app", 1, "live", "", {}});
  setup->tag({"app", 2, "live", "", {}});
  auto c = client(std::make_unique<MovesLiveOnHistory>(open_ledger(ledger_uri)));
  auto e = error_of([&] { c->rollback("app", "live"); });
  EXPECT_EQ(e.kind(), ErrorKind::Conflict);
  EXPECT_EQ(setup->tags("app").at("live"), 3u) << "the other writer's move stands";
}

// A rollback given the seq of the move it is meant to undo (the web form showed it)
// refuses once the tag's latest move is another one, and changes nothing.
TEST_F(Tags, RollbackOfAnExpectedMoveRefusesAnotherMove) {
  auto c = client();
  for (auto s : {"one", "two", "three"}) add(*c, "app", s);
  c->tag({"app", 1, "live", "", {}});
  const auto seen = c->tag({"app", 2, "live", "", {}});
  ASSERT_TRUE(seen);
  c->tag({"app", 3, "live", "", {}});  // someone else, after the form was opened
  auto e = error_of([&] { c->rollback("app", "live", "", seen->seq); });
  EXPECT_EQ(e.kind(), ErrorKind::Conflict);
  EXPECT_THAT(e.what(), HasSubstr("moved since event"));
  EXPECT_EQ(c->tags("app").at("live"), 3u);
  const auto latest = c->history("app", HistoryQuery{"live", 1, 0}).front();
  EXPECT_EQ(c->rollback("app", "live", "", latest.seq).event.version, 2u);
}

TEST_F(Tags, HistoryFiltersLimitsAndPages) {
  auto c = client();
  add(*c, "app", "one", {"live"});
  add(*c, "app", "two");
  c->tag({"app", 2, "live", "", {}});
  c->tag({"app", 2, "devel", "", {}});
  auto all = c->history("app");
  ASSERT_EQ(all.size(), 5u);
  EXPECT_GT(all.front().seq, all.back().seq) << "newest first";
  auto live = c->history("app", HistoryQuery{"live", 0, 0});
  ASSERT_EQ(live.size(), 2u);
  EXPECT_EQ(live[0].previous, 1u);
  auto page = c->history("app", HistoryQuery{std::nullopt, 2, all[1].seq});
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].seq, all[2].seq);
  EXPECT_EQ(error_of([&] { c->history("nope"); }).kind(), ErrorKind::NotFound);
}

TEST_F(Tags, TagInfosSayWhoMovedEachTagLast) {
  auto c = client();
  add(*c, "app", "one");
  add(*c, "app", "two");
  c->tag({"app", 1, "live", "promote", {}});
  auto infos = c->tag_infos("app");
  ASSERT_EQ(infos.size(), 2u);
  EXPECT_EQ(infos[0].tag, "latest");
  EXPECT_EQ(infos[0].version, 2u);
  ASSERT_TRUE(infos[0].last_event);
  EXPECT_EQ(infos[0].last_event->action, EventAction::Add);
  EXPECT_EQ(infos[1].tag, "live");
  ASSERT_TRUE(infos[1].last_event);
  EXPECT_EQ(infos[1].last_event->comment, "promote");
  EXPECT_EQ(infos[1].last_event->actor, "tester");
}

TEST_F(Tags, InfoReadsLatestAndTheTagsOnce) {
  class Counting final : public ForwardingLedger {
   public:
    using ForwardingLedger::ForwardingLedger;
    std::optional<std::uint64_t> latest(const std::string& p) override { return ++latest_calls, inner_->latest(p); }
    std::map<std::string, TagValue> tag_values(const std::string& p) override {
      return ++tag_calls, inner_->tag_values(p);
    }
    int latest_calls = 0, tag_calls = 0;
  };
  auto setup = client();
  add(*setup, "app", "one", {"live"});
  auto counting = std::make_unique<Counting>(open_ledger(ledger_uri));
  auto* seen = counting.get();
  auto c = client(std::move(counting));
  for (const Spec& spec : {Spec{}, Spec{Spec::Kind::Version, 1, ""}, Spec{Spec::Kind::Tag, 0, "live"}}) {
    seen->latest_calls = seen->tag_calls = 0;
    auto info = c->info("app", spec);
    EXPECT_EQ(info.record.version, 1u);
    EXPECT_THAT(info.tags, ElementsAre("latest", "live"));
    EXPECT_EQ(seen->latest_calls, 1);
    EXPECT_EQ(seen->tag_calls, 1);
  }
}

// What a hostile or corrupt ledger returns never reaches a caller (issue 7, 7 and 15).
class Hostile final : public ForwardingLedger {
 public:
  using ForwardingLedger::ForwardingLedger;
  std::vector<std::string> packages() override { return {"app", package}; }
  std::map<std::string, TagValue> tag_values(const std::string& p) override {
    auto out = inner_->tag_values(p);
    if (!tag.empty()) out[tag] = TagValue{1, 0, {}};
    return out;
  }
  std::vector<std::uint64_t> versions(const std::string& p) override {
    auto out = inner_->versions(p);
    if (wrapped) out.push_back(static_cast<std::uint64_t>(-3));
    return out;
  }
  std::optional<VersionRecord> get(const std::string& p, std::uint64_t v) override {
    auto r = inner_->get(p, v);
    if (r && wrapped) r->size = static_cast<std::uint64_t>(-5);
    return r;
  }
  std::string package = "ok", tag;
  bool wrapped = false;
};

TEST_F(Tags, HostileNamesFromTheLedgerAreRefused) {
  auto setup = client();
  add(*setup, "app", "one");
  auto hostile = std::make_unique<Hostile>(open_ledger(ledger_uri));
  auto* h = hostile.get();
  auto c = client(std::move(hostile));
  EXPECT_EQ(c->list(), (std::vector<std::string>{"app", "ok"}));
  h->package = "evil\x1b]0;owned\a";
  auto e = error_of([&] { c->list(); });
  EXPECT_EQ(e.kind(), ErrorKind::Invalid);
  EXPECT_THAT(e.what(), HasSubstr("\\x1b"));
  EXPECT_THAT(e.what(), HasSubstr("hostile or corrupt"));
  EXPECT_EQ(std::string(e.what()).find('\x1b'), std::string::npos) << "no raw control byte in the message";
  for (std::string tag : {"latest", "123", "x\x1b[2J"}) {
    h->tag = tag;
    EXPECT_EQ(error_of([&] { c->tags("app"); }).kind(), ErrorKind::Invalid) << tag;
    EXPECT_EQ(error_of([&] { c->tag_infos("app"); }).kind(), ErrorKind::Invalid) << tag;
    EXPECT_EQ(error_of([&] { c->info("app", Spec{}); }).kind(), ErrorKind::Invalid) << tag;
  }
}

TEST_F(Tags, WrappedNegativeNumbersFromTheLedgerAreRefused) {
  auto setup = client();
  add(*setup, "app", "one");
  auto hostile = std::make_unique<Hostile>(open_ledger(ledger_uri));
  hostile->wrapped = true;
  auto c = client(std::move(hostile));
  auto versions = error_of([&] { c->versions("app"); });
  EXPECT_EQ(versions.kind(), ErrorKind::Invalid);
  EXPECT_THAT(versions.what(), HasSubstr("negative"));
  auto info = error_of([&] { c->info("app", Spec{Spec::Kind::Version, 1, ""}); });
  EXPECT_EQ(info.kind(), ErrorKind::Invalid);
  EXPECT_THAT(info.what(), HasSubstr("app version 1"));
}

TEST_F(Tags, AnIdentityThatIsNotPrintableIsRefused) {
  EXPECT_EQ(error_of([&] {
              Client(open_ledger(ledger_uri), open_store(store_uri), {}, ClientIdentity{"a\nb", ""});
            }).kind(),
            ErrorKind::Invalid);
}

TEST_F(Tags, FindBySha256PrefixListsEveryVersionReferencingTheBlob) {
  auto c = client();
  const auto one = add(*c, "web", "same bytes");
  add(*c, "web", "other bytes");
  const auto copy = add(*c, "api", "same bytes");
  auto found = c->find_by_sha256(one.sha256.substr(0, 12));
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].package, "api") << "by package name, then version";
  EXPECT_EQ(found[0].version, copy.version);
  EXPECT_EQ(found[1].package, "web");
  EXPECT_EQ(found[1].version, one.version);
  std::string upper = one.sha256;
  for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  EXPECT_EQ(c->find_by_sha256(upper).size(), 2u) << "any case";
  EXPECT_TRUE(c->find_by_sha256(std::string(64, '0')).empty());
  for (const std::string bad : {one.sha256.substr(0, 11), one.sha256 + "0", std::string("zz") + one.sha256.substr(2, 20)})
    EXPECT_EQ(error_of([&] { c->find_by_sha256(bad); }).kind(), ErrorKind::Invalid) << bad;
}

}  // namespace
}  // namespace sacker::test
