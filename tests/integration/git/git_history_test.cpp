// The git ledger's history and compare-and-swap against real repositories: a writer
// overtaken between reading the tip and publishing (also on the very first commit), a
// push whose connection is cut mid-change (the change and its event land together or
// not at all), a ledger written before history existed, and the files events and
// signed tags are kept in.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "integration/git/cutting_proxy.h"
#include "integration/git/git_fixture.h"
#include "sacker/error.h"

namespace sacker {
namespace {

using namespace git_test;
using test::error_of;
using test::sample_record;

ChangeContext actor(const std::string& name) {
  ChangeContext ctx;
  ctx.time = 1764600000;
  ctx.actor = name;
  return ctx;
}

// Another writer publishes while this one is between reading the tip and its
// compare-and-swap (ctx.sign_record runs exactly there): the swap must fail and the
// add be rebuilt on the new tip. Round 0 is the branch's first commit, where the
// expected old id is the all-zero one ("must not exist").
TEST_F(GitLedgerTest, AWriterOvertakenBeforeItPublishesRebuildsOnTheNewTip) {
  create_served();
  for (const std::string& uri : {direct_uri() + "?branch=direct", remote_uri("slow.git") + "&branch=remote"}) {
    SCOPED_TRACE(uri);
    auto slow = open_ledger(uri);
    auto fast = open_ledger(uri.find("remote=") != std::string::npos ? remote_uri("fast.git") + "&branch=remote" : uri);
    for (int round = 0; round < 2; ++round) {
      int attempts = 0;
      std::uint64_t overtaker = 0;
      ChangeContext ctx = actor("slow");
      ctx.sign_record = [&](const VersionRecord&) {
        if (attempts++ == 0) overtaker = fast->add(sample_record("app", 100 + round), actor("fast"));
        return std::vector<std::string>{};
      };
      const auto v = slow->add(sample_record("app", round), ctx);
      EXPECT_EQ(attempts, 2) << "the first attempt lost its compare-and-swap";
      EXPECT_EQ(overtaker, static_cast<std::uint64_t>(2 * round + 1));
      EXPECT_EQ(v, static_cast<std::uint64_t>(2 * round + 2));
      EXPECT_EQ(fast->get("app", overtaker)->metadata.at("n"), std::to_string(100 + round)) << "not overwritten";
      EXPECT_EQ(fast->get("app", v)->metadata.at("n"), std::to_string(round));
    }
    auto h = slow->history("app", {});
    ASSERT_EQ(h.size(), 4u);
    EXPECT_EQ(h[0].actor, "slow");
    EXPECT_EQ(h[1].actor, "fast");
  }
}

// The same for a compare-and-swap tag: the expectation is checked against the tip the
// commit is built on, so a move made meanwhile turns "expected 1" into a conflict.
TEST_F(GitLedgerTest, ATagExpectationIsCheckedAgainstTheTipItPublishesOn) {
  create_served();
  auto a = open_ledger(remote_uri("a.git"));
  auto b = open_ledger(remote_uri("b.git"));
  a->add(sample_record("app", 1));
  a->add(sample_record("app", 2));
  a->set_tag("app", "live", 1);
  ChangeContext ctx = actor("a");
  int attempts = 0;
  ctx.sign_event = [&](const Event&) {
    if (attempts++ == 0) b->set_tag("app", "live", 2, TagExpectation::at(1), actor("b"));
    return std::vector<std::string>{};
  };
  Error e = error_of([&] { a->set_tag("app", "live", 2, TagExpectation::at(1), ctx); });
  EXPECT_EQ(e.kind(), ErrorKind::Conflict) << e.what();
  EXPECT_EQ(attempts, 1) << "the rebuilt attempt saw the move and stopped before signing";
  auto live = a->history("app", HistoryQuery{std::string("live"), 0, 0});
  ASSERT_EQ(live.size(), 2u);
  EXPECT_EQ(live[0].actor, "b");
}

// A push cut mid-change: either the commit (the record, the counter and the event) is
// on the branch or nothing is; the writer reports Unavailable in both cases.
TEST_F(GitLedgerTest, AConnectionCutMidPushPublishesTheChangeWithItsEventOrNothing) {
  create_served();
  const int daemon_port = std::stoi(url_.substr(url_.rfind(':') + 1));
  auto direct = open_ledger(direct_uri());
  direct->add(sample_record("app", 1));
  int n = 2;
  for (auto cut : {CuttingProxy::Cut::DuringPack, CuttingProxy::Cut::BeforeReport}) {
    const bool lands = cut == CuttingProxy::Cut::BeforeReport;
    SCOPED_TRACE(lands ? "cut before the report" : "cut during the pack");
    CuttingProxy proxy(daemon_port, cut);
    auto writer = open_ledger("git://" + (tmp_ / "cut.git").string() +
                              "?remote=git://127.0.0.1:" + std::to_string(proxy.port()) + "/" + name_);
    const auto versions = direct->versions("app");
    const auto history = direct->history("app", {});
    Error e = error_of([&] { writer->add(sample_record("app", n++), actor("cut")); });
    EXPECT_EQ(e.kind(), ErrorKind::Unavailable) << e.what();
    ASSERT_TRUE(proxy.has_cut());
    auto after = direct->history("app", {});
    if (!lands) {
      EXPECT_EQ(direct->versions("app"), versions);
      EXPECT_EQ(after, history);
    } else {
      ASSERT_EQ(direct->versions("app").size(), versions.size() + 1);
      const auto v = direct->versions("app").back();
      ASSERT_EQ(after.size(), history.size() + 1);
      EXPECT_EQ(after[0].action, EventAction::Add);
      EXPECT_EQ(after[0].version, v);
      EXPECT_EQ(after[0].actor, "cut");
      auto files = lines(git({"--git-dir", served_, "show", "--format=", "--name-only", "main"}));
      EXPECT_EQ(files.size(), 3u) << "the record, the counter and the event in one commit";
    }
    // The ledger works through the proxy again (only the first push is cut).
    const auto v = writer->add(sample_record("app", n++));
    EXPECT_EQ(v, direct->versions("app").back());
    EXPECT_EQ(direct->history("app", HistoryQuery{std::nullopt, 1, 0}).at(0).version, v);
  }
}

// A ledger written by sacker before history: tags "<version>\n", no events/. It reads
// as it is (seq 0, no history), and history starts with the first new change.
TEST_F(GitLedgerTest, ALedgerWrittenBeforeHistoryKeepsWorking) {
  create_served();
  fs::path work = tmp_ / "legacy";
  git({"init", "-q", "-b", "main", work.string()});
  for (int v = 1; v <= 2; ++v) {
    VersionRecord r = sample_record("app", v);
    r.version = static_cast<std::uint64_t>(v);
    fs::create_directories(work / "packages/app/versions");
    test::write_file(work / ("packages/app/versions/0000000000000000000" + std::to_string(v) + ".json"),
                     nlohmann::ordered_json::parse(record_to_json(r)).dump(2) + "\n");
  }
  fs::create_directories(work / "packages/app/tags");
  test::write_file(work / "packages/app/tags/live", "1\n");
  test::write_file(work / "packages/app/tags/devel", "2\n");
  test::write_file(work / "packages/app/next", "3\n");
  git({"add", "."}, work);
  git({"commit", "-q", "-m", "add app 2"}, work);
  git({"push", "-q", served_, "main"}, work);

  auto ledger = open_ledger(remote_uri("c.git"));
  EXPECT_EQ(ledger->versions("app"), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(ledger->tag_value("app", "live"), (TagValue{1, 0, {}}));
  EXPECT_TRUE(ledger->history("app", {}).empty());

  auto moved = ledger->set_tag("app", "live", 2, TagExpectation::at(1), actor("ops"));
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->seq, 1u);
  EXPECT_EQ(moved->previous, 1u);
  EXPECT_EQ(ledger->tag_value("app", "live"), (TagValue{2, 1, {}}));
  EXPECT_EQ(ledger->tag_value("app", "devel"), (TagValue{2, 0, {}})) << "untouched old tag files still read";
  EXPECT_EQ(ledger->add(sample_record("app", 3)), 3u) << "the old counter is honoured";
  auto h = ledger->history("app", {});
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[1], *moved);
  EXPECT_EQ(git({"--git-dir", served_, "show", "main:packages/app/tags/devel"}), "2\n");
}

// Where events and signed tags are kept, and that people can read them with git.
TEST_F(GitLedgerTest, EventsAndSignedTagsAreFilesOnTheBranch) {
  create_served();
  auto ledger = open_ledger(direct_uri());
  const auto v = ledger->add(sample_record("app", 1));
  ChangeContext ctx = actor("release");
  ctx.sign_event = [](const Event& e) {
    return std::vector<std::string>{R"({"keyid":"release","seq":)" + std::to_string(e.seq) + "}"};
  };
  auto e = ledger->set_tag("app", "live", v, TagExpectation::absent(), ctx);
  ASSERT_TRUE(e.has_value());
  auto tag = nlohmann::json::parse(git({"--git-dir", served_, "show", "main:packages/app/tags/live"}));
  EXPECT_EQ(tag, nlohmann::json::parse(R"({"version":1,"seq":2,"signatures":[{"keyid":"release","seq":2}]})"));
  auto stored =
      event_from_json(git({"--git-dir", served_, "show", "main:packages/app/events/00000000000000000002.json"}));
  EXPECT_EQ(stored, *e);
  EXPECT_EQ(ledger->tag_value("app", "live")->signatures, e->signatures);
}

}  // namespace
}  // namespace sacker
