// The ledger conformance suite, part two: history (one event per change, in the
// change's atomic step), compare-and-swap tags, signatures stored with records and
// tag events, and verbatim import. Run unchanged against every ledger backend.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "conformance/ledger_fixture.h"
#include "support/process.h"

namespace sacker {
namespace {

using test::ChildProcess;

ChangeContext context(const std::string& actor, const std::string& comment = {}) {
  ChangeContext ctx;
  ctx.time = 1764600000;
  ctx.actor = actor;
  ctx.comment = comment;
  ctx.client = "sacker test on conformance";
  return ctx;
}

std::string sha_of(Ledger& ledger, const std::string& package, std::uint64_t version) {
  auto r = ledger.get(package, version);
  return r ? r->sha256 : std::string();
}

// An event as an export from another ledger carries it.
Event imported_event(EventAction action, const std::string& package, std::uint64_t version, std::uint64_t seq,
                     const std::string& sha256) {
  Event e;
  e.seq = seq;
  e.time = 1764500000 + static_cast<std::int64_t>(seq);
  e.actor = "importer";
  e.action = action;
  e.package = package;
  e.version = version;
  e.sha256 = sha256;
  e.client = "sacker 0.1.0 on elsewhere";
  return e;
}

void expect_strictly_decreasing_seqs(const std::vector<Event>& events) {
  for (std::size_t i = 1; i < events.size(); ++i)
    EXPECT_GT(events[i - 1].seq, events[i].seq) << "history is newest first with distinct seqs";
}

TEST_F(LedgerConformance, HistoryOfAnUnknownPackageIsEmpty) {
  EXPECT_TRUE(ledger_->history("nothing", {}).empty());
}

TEST_F(LedgerConformance, EveryChangeLeavesExactlyOneEvent) {
  const auto v1 = ledger_->add(sample("app", 1), context("ci@runner", "build 1"));
  const auto v2 = ledger_->add(sample("app", 2), context("ci@runner"));
  auto tagged = ledger_->set_tag("app", "live", v1, TagExpectation::any(), context("alice", "first release"));
  ASSERT_TRUE(tagged.has_value());
  auto moved = ledger_->set_tag("app", "live", v2, TagExpectation::any(), context("bob", "promote"));
  ASSERT_TRUE(moved.has_value());
  auto untagged = ledger_->remove_tag("app", "live", TagExpectation::any(), context("carol"));
  ASSERT_TRUE(untagged.has_value());
  auto removed = ledger_->remove_version("app", v1, context("dave", "cleanup"));
  ASSERT_TRUE(removed.has_value());

  auto h = ledger_->history("app", {});
  ASSERT_EQ(h.size(), 6u);
  expect_strictly_decreasing_seqs(h);
  EXPECT_EQ(h[0].action, EventAction::Remove);
  EXPECT_EQ(h[0].version, v1);
  EXPECT_EQ(h[0].sha256, sample("app", 1).sha256);
  EXPECT_EQ(h[0].actor, "dave");
  EXPECT_EQ(h[0].comment, "cleanup");
  EXPECT_EQ(h[1].action, EventAction::Untag);
  EXPECT_EQ(h[1].tag, "live");
  EXPECT_EQ(h[1].previous, v2);
  EXPECT_EQ(h[1].version, 0u);
  EXPECT_EQ(h[2].action, EventAction::Tag);
  EXPECT_EQ(h[2].version, v2);
  EXPECT_EQ(h[2].previous, v1);
  EXPECT_EQ(h[2].sha256, sample("app", 2).sha256);
  EXPECT_EQ(h[2].actor, "bob");
  EXPECT_EQ(h[2].comment, "promote");
  EXPECT_EQ(h[3].action, EventAction::Tag);
  EXPECT_EQ(h[3].version, v1);
  EXPECT_FALSE(h[3].previous.has_value()) << "a new tag has no previous version";
  EXPECT_EQ(h[4].action, EventAction::Add);
  EXPECT_EQ(h[4].version, v2);
  EXPECT_EQ(h[5].action, EventAction::Add);
  EXPECT_EQ(h[5].version, v1);
  EXPECT_EQ(h[5].comment, "build 1");
  for (const auto& e : h) {
    EXPECT_EQ(e.package, "app");
    EXPECT_EQ(e.time, 1764600000);
    EXPECT_EQ(e.client, "sacker test on conformance");
  }
  // What the mutations returned is what the history holds.
  EXPECT_EQ(*removed, h[0]);
  EXPECT_EQ(*untagged, h[1]);
  EXPECT_EQ(*moved, h[2]);
  EXPECT_EQ(*tagged, h[3]);

  // Another instance (another process, in real life) reads the same history.
  EXPECT_EQ(open_ledger(uri_)->history("app", {}), h);
}

TEST_F(LedgerConformance, ChangesThatChangeNothingOrFailLeaveNoEvent) {
  const auto v1 = ledger_->add(sample("quiet", 1));
  ledger_->set_tag("quiet", "live", v1);
  const auto before = ledger_->history("quiet", {});
  ASSERT_EQ(before.size(), 2u);

  EXPECT_FALSE(ledger_->set_tag("quiet", "live", v1, TagExpectation::any(), context("x")).has_value())
      << "a tag already there is not moved";
  EXPECT_FALSE(ledger_->remove_tag("quiet", "devel", TagExpectation::any(), context("x")).has_value());
  EXPECT_FALSE(ledger_->remove_version("quiet", v1 + 1000, context("x")).has_value());
  EXPECT_EQ(kind_of([&] { ledger_->set_tag("quiet", "devel", v1 + 1000, TagExpectation::any(), context("x")); }),
            ErrorKind::NotFound);
  EXPECT_EQ(kind_of([&] { ledger_->remove_version("quiet", v1, context("x")); }), ErrorKind::Conflict)
      << "tagged";
  EXPECT_EQ(kind_of([&] { ledger_->set_tag("quiet", "live", v1, TagExpectation::absent(), context("x")); }),
            ErrorKind::Conflict);
  EXPECT_EQ(ledger_->history("quiet", {}), before);
}

TEST_F(LedgerConformance, TagCompareAndSwap) {
  auto v = add_n("cas", 3);
  // expect none: only when the tag does not exist
  ASSERT_TRUE(ledger_->set_tag("cas", "live", v[0], TagExpectation::absent(), context("a")).has_value());
  try {
    ledger_->set_tag("cas", "live", v[1], TagExpectation::absent(), context("b"));
    ADD_FAILURE() << "expected a conflict";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Conflict);
    EXPECT_NE(std::string(e.what()).find(std::to_string(v[0])), std::string::npos)
        << "the message says where the tag points now: " << e.what();
  }
  EXPECT_EQ(ledger_->tag("cas", "live"), v[0]);
  // expect a version: only when the tag points there
  EXPECT_EQ(kind_of([&] { ledger_->set_tag("cas", "live", v[2], TagExpectation::at(v[1]), context("c")); }),
            ErrorKind::Conflict);
  EXPECT_EQ(ledger_->tag("cas", "live"), v[0]);
  ASSERT_TRUE(ledger_->set_tag("cas", "live", v[2], TagExpectation::at(v[0]), context("d")).has_value());
  EXPECT_EQ(ledger_->tag("cas", "live"), v[2]);
  // expect a version of a tag that does not exist
  EXPECT_EQ(kind_of([&] { ledger_->set_tag("cas", "devel", v[1], TagExpectation::at(v[0]), context("e")); }),
            ErrorKind::Conflict);
  EXPECT_FALSE(ledger_->tag("cas", "devel").has_value());
  // untag with an expectation
  EXPECT_EQ(kind_of([&] { ledger_->remove_tag("cas", "live", TagExpectation::at(v[0]), context("f")); }),
            ErrorKind::Conflict);
  EXPECT_EQ(kind_of([&] { ledger_->remove_tag("cas", "devel", TagExpectation::at(v[0]), context("f")); }),
            ErrorKind::Conflict);
  EXPECT_EQ(ledger_->tag("cas", "live"), v[2]);
  ASSERT_TRUE(ledger_->remove_tag("cas", "live", TagExpectation::at(v[2]), context("g")).has_value());
  EXPECT_FALSE(ledger_->tag("cas", "live").has_value());
  // Accepted: tag, tag, untag (plus three adds); refused ones left nothing.
  auto tag_events = ledger_->history("cas", HistoryQuery{std::string("live"), 0, 0});
  ASSERT_EQ(tag_events.size(), 3u);
  EXPECT_EQ(tag_events[0].action, EventAction::Untag);
  EXPECT_EQ(tag_events[1].actor, "d");
  EXPECT_EQ(tag_events[2].actor, "a");
}

TEST_F(LedgerConformance, TagValueNamesTheEventThatSetIt) {
  auto v = add_n("gen", 2);
  auto first = ledger_->set_tag("gen", "live", v[0], TagExpectation::any(), context("a"));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(ledger_->tag_value("gen", "live")->seq, first->seq);
  auto second = ledger_->set_tag("gen", "live", v[1], TagExpectation::any(), context("a"));
  ASSERT_TRUE(second.has_value());
  EXPECT_GT(second->seq, first->seq) << "a tag's generation grows with each move";
  auto value = ledger_->tag_value("gen", "live");
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(value->version, v[1]);
  EXPECT_EQ(value->seq, second->seq);
  EXPECT_EQ(ledger_->tag_values("gen").at("live"), *value);
}

TEST_F(LedgerConformance, RollbackIsRecordedAsSuch) {
  auto v = add_n("rb", 2);
  ledger_->set_tag("rb", "live", v[0]);
  ledger_->set_tag("rb", "live", v[1]);
  ChangeContext ctx = context("ops", "bad release");
  ctx.rollback = true;
  auto e = ledger_->set_tag("rb", "live", v[0], TagExpectation::at(v[1]), ctx);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->action, EventAction::Rollback);
  EXPECT_EQ(e->previous, v[1]);
  EXPECT_EQ(ledger_->history("rb", HistoryQuery{std::string("live"), 1, 0}).at(0), *e);
}

TEST_F(LedgerConformance, HistoryIsFilteredAndPaged) {
  auto v = add_n("paging", 3);
  for (int i = 0; i < 5; ++i) ledger_->set_tag("paging", i % 2 ? "live" : "devel", v[static_cast<std::size_t>(i % 3)]);
  auto all = ledger_->history("paging", {});
  ASSERT_EQ(all.size(), 8u);
  expect_strictly_decreasing_seqs(all);
  auto live = ledger_->history("paging", HistoryQuery{std::string("live"), 0, 0});
  ASSERT_EQ(live.size(), 2u);
  for (const auto& e : live) EXPECT_EQ(e.tag, "live");
  auto newest = ledger_->history("paging", HistoryQuery{std::nullopt, 3, 0});
  ASSERT_EQ(newest.size(), 3u);
  EXPECT_EQ(newest[0], all[0]);
  EXPECT_EQ(newest[2], all[2]);
  auto next = ledger_->history("paging", HistoryQuery{std::nullopt, 3, newest.back().seq});
  ASSERT_EQ(next.size(), 3u);
  EXPECT_EQ(next[0], all[3]);
  auto rest = ledger_->history("paging", HistoryQuery{std::nullopt, 0, next.back().seq});
  EXPECT_EQ(rest.size(), 2u);
}

TEST_F(LedgerConformance, SignaturesAreStoredWithTheRecordAndTheTagEvent) {
  ChangeContext ctx = context("ci");
  std::uint64_t seen_version = 0;
  ctx.sign_record = [&](const VersionRecord& r) {
    seen_version = r.version;
    EXPECT_EQ(r.sha256, sample("signed", 1).sha256);
    return std::vector<std::string>{R"({"keyid":"ci","payloadType":"x","sig":")" + std::to_string(r.version) + "\"}"};
  };
  const auto v = ledger_->add(sample("signed", 1), ctx);
  EXPECT_EQ(seen_version, v) << "the signer sees the version the ledger hands out";
  auto r = ledger_->get("signed", v);
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->signatures.size(), 1u);
  EXPECT_EQ(r->signatures[0], R"({"keyid":"ci","payloadType":"x","sig":")" + std::to_string(v) + "\"}");

  ChangeContext promote = context("release");
  Event seen;
  promote.sign_event = [&](const Event& e) {
    seen = e;
    return std::vector<std::string>{R"({"keyid":"release","seq":")" + std::to_string(e.seq) + "\"}",
                                    R"({"keyid":"second"})"};
  };
  auto e = ledger_->set_tag("signed", "live", v, TagExpectation::absent(), promote);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(seen.seq, e->seq) << "the signer sees the event's seq";
  EXPECT_EQ(seen.version, v);
  EXPECT_EQ(seen.sha256, r->sha256);
  ASSERT_EQ(e->signatures.size(), 2u);
  auto value = ledger_->tag_value("signed", "live");
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(value->signatures, e->signatures);
  EXPECT_EQ(ledger_->history("signed", HistoryQuery{std::string("live"), 1, 0}).at(0).signatures, e->signatures);
}

TEST_F(LedgerConformance, VerbatimImportKeepsSeqsAndLaterEventsGoAbove) {
  ImportBatch batch;
  VersionRecord r1 = sample("imported", 1), r2 = sample("imported", 2);
  r1.version = 3;
  r2.version = 5;
  batch.records = {r1, r2};
  Event add3 = imported_event(EventAction::Add, "imported", 3, 10, r1.sha256);
  Event add5 = imported_event(EventAction::Add, "imported", 5, 11, r2.sha256);
  Event tag5 = imported_event(EventAction::Tag, "imported", 5, 12, r2.sha256);
  tag5.tag = "live";
  tag5.previous = 3;
  tag5.signatures = {R"({"keyid":"k"})"};
  batch.tags.push_back({"imported", "live", TagValue{5, 12, {R"({"keyid":"k"})"}}});
  batch.events = {add3, add5, tag5};
  ledger_->import_batch(batch);

  EXPECT_EQ(ledger_->versions("imported"), (std::vector<std::uint64_t>{3, 5}));
  EXPECT_EQ(*ledger_->tag_value("imported", "live"), (TagValue{5, 12, {R"({"keyid":"k"})"}}));
  EXPECT_EQ(ledger_->history("imported", {}), (std::vector<Event>{tag5, add5, add3}));

  // The same batch again changes nothing; a different event under a taken seq conflicts.
  ledger_->import_batch(batch);
  EXPECT_EQ(ledger_->history("imported", {}).size(), 3u);
  Event clash = add3;
  clash.comment = "something else";
  EXPECT_EQ(kind_of([&] { ledger_->put_event(clash); }), ErrorKind::Conflict);

  // Later changes get higher versions and seqs than anything imported.
  const auto v = ledger_->add(sample("imported", 9));
  if (integer_versions(v)) EXPECT_EQ(v, 6u);
  auto h = ledger_->history("imported", {});
  ASSERT_EQ(h.size(), 4u);
  EXPECT_GT(h[0].seq, 12u);
  EXPECT_EQ(h[0].version, v);

  // seq 0: the ledger assigns the next one.
  Event note = imported_event(EventAction::Import, "imported", 5, 0, r2.sha256);
  ledger_->put_event(note);
  auto after = ledger_->history("imported", HistoryQuery{std::nullopt, 1, 0});
  ASSERT_EQ(after.size(), 1u);
  EXPECT_GT(after[0].seq, h[0].seq);
  EXPECT_EQ(after[0].action, EventAction::Import);
}

TEST_F(LedgerConformance, PutTagOnAMissingVersionIsNotFound) {
  ledger_->add(sample("pt", 1));
  EXPECT_EQ(kind_of([&] { ledger_->put_tag("pt", "live", TagValue{999999, 0, {}}); }), ErrorKind::NotFound);
  EXPECT_FALSE(ledger_->tag("pt", "live").has_value());
}

// 4 processes move one tag, each with --expect of what it just read: every accepted
// move is in the log exactly once, seqs strictly increase, and the tag's last event
// is where it points.
TEST_F(LedgerConformance, ConcurrentCompareAndSwapMovesAreAllInTheLog) {
  SKIP_IF_IN_PROCESS();
  auto v = add_n("contest", 4);
  ledger_->set_tag("contest", "live", v[0]);
  const int processes = 4, rounds = 15;
  std::vector<std::unique_ptr<ChildProcess>> children;
  for (int p = 0; p < processes; ++p) {
    std::vector<std::string> argv = {worker_path(), "cas", uri_, "contest", std::to_string(rounds), std::to_string(p)};
    for (auto x : v) argv.push_back(std::to_string(x));
    children.push_back(std::make_unique<ChildProcess>(argv));
  }
  std::map<std::uint64_t, std::uint64_t> accepted;  // seq -> version, as the workers saw them
  for (auto& c : children) {
    auto result = c->wait();
    ASSERT_EQ(result.exit_code, 0) << result.err;
    std::istringstream lines(result.out);
    for (std::uint64_t seq, version; lines >> seq >> version;)
      EXPECT_TRUE(accepted.emplace(seq, version).second) << "seq " << seq << " accepted twice";
  }
  EXPECT_FALSE(accepted.empty()) << "some compare-and-swap moves must succeed";
  auto log = ledger_->history("contest", HistoryQuery{std::string("live"), 0, 0});
  expect_strictly_decreasing_seqs(log);
  ASSERT_EQ(log.size(), accepted.size() + 1) << "every accepted move and the first tag, nothing else";
  for (const auto& e : log) {
    if (e.seq == log.back().seq) continue;
    ASSERT_TRUE(accepted.count(e.seq)) << "event " << e.seq << " was not accepted by any worker";
    EXPECT_EQ(accepted.at(e.seq), e.version);
  }
  // Each move started where the previous one ended (compare-and-swap, no lost update).
  for (std::size_t i = 0; i + 1 < log.size(); ++i) EXPECT_EQ(log[i].previous, log[i + 1].version);
  EXPECT_EQ(ledger_->tag("contest", "live"), log.front().version);
  EXPECT_EQ(ledger_->tag_value("contest", "live")->seq, log.front().seq);
}

}  // namespace
}  // namespace sacker
