// prune: plan by default, apply on request; never latest, a tagged version or a
// recent rollback target; keep rules win; every decision has a reason; an add (or
// a tag) that happens between the plan and the removes loses nothing.
#include <gmock/gmock.h>

#include "fixtures/client_fixture.h"
#include "support/records.h"

namespace sacker::test {
namespace {

using ::testing::HasSubstr;

using Prune = ClientTest;

std::map<std::uint64_t, PruneDecision> by_version(const PruneReport& report) {
  std::map<std::uint64_t, PruneDecision> out;
  for (const auto& d : report.decisions) out[d.version] = d;
  return out;
}

TEST_F(Prune, PlansByDefaultWithAReasonForEveryVersion) {
  auto c = client();
  for (int i = 1; i <= 8; ++i) {
    add(*c, "app", "build " + std::to_string(i));
    clock += 86400;  // one build a day
  }
  c->tag({"app", 2, "live", "", {}});
  c->tag({"app", 4, "live", "", {}});  // live pointed at 2 one move ago
  c->tag({"app", 3, "devel", "", {}});
  PruneRequest request;
  request.packages = {"app"};
  request.keep_last = 2;
  auto plan = c->prune(request);
  ASSERT_EQ(plan.decisions.size(), 8u);
  EXPECT_EQ(plan.removed, 0u);
  auto d = by_version(plan);
  EXPECT_EQ(d[8].reason, "latest");
  EXPECT_EQ(d[7].reason, "one of the newest 2");
  EXPECT_EQ(d[4].reason, "tagged live");
  EXPECT_EQ(d[3].reason, "tagged devel");
  EXPECT_EQ(d[2].reason, "live pointed here 1 move ago");
  for (std::uint64_t v : {1, 5, 6}) {
    EXPECT_TRUE(d[v].remove) << v;
    EXPECT_EQ(d[v].reason, "older than the keep rules");
  }
  for (std::uint64_t v : {2, 3, 4, 7, 8}) EXPECT_FALSE(d[v].remove) << v;
  for (const auto& x : plan.decisions) EXPECT_FALSE(x.reason.empty()) << x.version;
  EXPECT_EQ(c->versions("app").size(), 8u) << "a plan removes nothing";
}

TEST_F(Prune, ApplyRemovesWhatThePlanSaidWithEvents) {
  auto c = client();
  for (int i = 1; i <= 5; ++i) add(*c, "app", "build " + std::to_string(i));
  PruneRequest request;
  request.keep_last = 2;
  request.apply = true;
  request.comment = "retention";
  auto report = c->prune(request);
  EXPECT_EQ(report.removed, 3u);
  EXPECT_EQ(c->versions("app"), (std::vector<std::uint64_t>{4, 5}));
  auto removes = c->history("app", HistoryQuery{std::nullopt, 3, 0});
  for (const auto& e : removes) {
    EXPECT_EQ(e.action, EventAction::Remove);
    EXPECT_EQ(e.comment, "retention");
  }
}

TEST_F(Prune, KeepNewerAndTheRollbackWindow) {
  auto c = client();
  for (int i = 1; i <= 6; ++i) {
    add(*c, "app", "build " + std::to_string(i));
    clock += 3600;
  }
  // live: 1 -> 2 -> 3 -> 4: with a window of 2 moves, 3 and 2 stay, 1 may go.
  for (std::uint64_t v : {1, 2, 3, 4}) c->tag({"app", v, "live", "", {}});
  PruneRequest request;
  request.keep_newer_seconds = 2 * 3600;  // builds 5 and 6 (created 2 h and 1 h before now)
  request.keep_rollback = 2;
  auto d = by_version(c->prune(request));
  EXPECT_EQ(d[6].reason, "latest");
  EXPECT_EQ(d[5].reason, "newer than 2h");
  EXPECT_EQ(d[4].reason, "tagged live");
  EXPECT_EQ(d[3].reason, "live pointed here 1 move ago");
  EXPECT_EQ(d[2].reason, "live pointed here 2 moves ago");
  EXPECT_TRUE(d[1].remove);
}

TEST_F(Prune, AllPackagesAndRefusals) {
  auto c = client();
  add(*c, "a", "1");
  add(*c, "a", "2");
  add(*c, "b", "3");
  PruneRequest request;
  request.keep_last = 1;
  request.apply = true;
  auto report = c->prune(request);  // --all
  EXPECT_EQ(report.removed, 1u);
  EXPECT_EQ(report.decisions.size(), 3u);
  EXPECT_EQ(error_of([&] { c->prune(PruneRequest{}); }).kind(), ErrorKind::Invalid) << "no rule";
  request.packages = {"nope"};
  EXPECT_EQ(error_of([&] { c->prune(request); }).kind(), ErrorKind::NotFound);
}

// The seam: a ledger whose first remove_version runs another writer's change
// first, i.e. between prune's plan and its removes.
class ChangesBeforeFirstRemove final : public ForwardingLedger {
 public:
  ChangesBeforeFirstRemove(std::unique_ptr<Ledger> inner, std::function<void()> change)
      : ForwardingLedger(std::move(inner)), change_(std::move(change)) {}
  std::optional<Event> remove_version(const std::string& p, std::uint64_t v, const ChangeContext& c) override {
    if (change_) std::exchange(change_, nullptr)();
    return inner_->remove_version(p, v, c);
  }

 private:
  std::function<void()> change_;
};

TEST_F(Prune, AnAddBetweenPlanAndRemoveLosesNothing) {
  auto writer = client();
  for (int i = 1; i <= 5; ++i) add(*writer, "app", "build " + std::to_string(i));
  std::optional<VersionRecord> added;
  // The concurrent add re-uses the bytes of a version prune is about to remove.
  auto c = client(std::make_unique<ChangesBeforeFirstRemove>(open_ledger(ledger_uri),
                                                             [&] { added = add(*writer, "app", "build 1"); }));
  PruneRequest request;
  request.keep_last = 2;
  request.apply = true;
  auto report = c->prune(request);
  ASSERT_TRUE(added.has_value()) << "prune never removed anything: the seam did not run";
  EXPECT_EQ(added->version, 6u);
  EXPECT_EQ(report.removed, 3u);
  EXPECT_EQ(writer->versions("app"), (std::vector<std::uint64_t>{4, 5, 6})) << "the new version stayed";
  EXPECT_EQ(by_version(report)[5].reason, "latest") << "the plan's latest stays although it no longer is";
  EXPECT_EQ(writer->resolve("app", Spec{}).version, 6u);
}

// Tagged meanwhile: the ledger itself refuses to remove a tagged version, whenever
// the tag comes.
TEST_F(Prune, AVersionTaggedBetweenPlanAndRemoveIsKept) {
  auto writer = client();
  for (int i = 1; i <= 4; ++i) add(*writer, "app", "build " + std::to_string(i));
  auto c = client(std::make_unique<ChangesBeforeFirstRemove>(open_ledger(ledger_uri), [&] {
    writer->tag({"app", 2, "live", "", {}});
  }));
  PruneRequest request;
  request.keep_last = 1;
  request.apply = true;
  auto report = c->prune(request);
  auto d = by_version(report);
  EXPECT_TRUE(d[1].remove);
  EXPECT_FALSE(d[2].remove);
  EXPECT_EQ(d[2].reason, "tagged since the plan");
  EXPECT_EQ(report.removed, 2u);
  EXPECT_EQ(writer->versions("app"), (std::vector<std::uint64_t>{2, 4}));
}

// Moved meanwhile: prune reads the tags and their history once more after the
// plan, right before its first remove, so a version that became a rollback
// target in between is kept. (A move after that read can still un-protect one:
// only a tagged version is refused by the ledger atomically.)
TEST_F(Prune, AVersionThatBecameARollbackTargetBeforeTheRemovesIsKept) {
  class MovesLiveOnSecondTagRead final : public ForwardingLedger {
   public:
    MovesLiveOnSecondTagRead(std::unique_ptr<Ledger> inner, Client& writer)
        : ForwardingLedger(std::move(inner)), writer_(writer) {}
    std::map<std::string, TagValue> tag_values(const std::string& p) override {
      if (++reads_ == 2) {  // after the plan, before the removes
        writer_.tag({"app", 2, "live", "", {}});
        writer_.tag({"app", 3, "live", "", {}});
      }
      return inner_->tag_values(p);
    }

   private:
    Client& writer_;
    int reads_ = 0;
  };
  auto writer = client();
  for (int i = 1; i <= 4; ++i) add(*writer, "app", "build " + std::to_string(i));
  auto c = client(std::make_unique<MovesLiveOnSecondTagRead>(open_ledger(ledger_uri), *writer));
  PruneRequest request;
  request.keep_last = 1;
  request.apply = true;
  auto d = by_version(c->prune(request));
  EXPECT_TRUE(d[1].remove);
  EXPECT_FALSE(d[2].remove);
  EXPECT_EQ(d[2].reason, "live pointed here 1 move ago (since the plan)");
  EXPECT_FALSE(d[3].remove);
  EXPECT_EQ(d[3].reason, "tagged live (since the plan)");
  EXPECT_EQ(writer->versions("app"), (std::vector<std::uint64_t>{2, 3, 4}));
}

}  // namespace
}  // namespace sacker::test
