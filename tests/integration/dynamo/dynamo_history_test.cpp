// The DynamoDB ledger's history and compare-and-swap against dynalite, beyond the
// conformance suite: that dynalite has no TransactWriteItems (why the design does
// not use it); a tag moved behind our back between our read and our conditional
// write; a sacker killed while its change is in flight (through a TCP tap): the
// change and its event land together or not at all; a removal killed between its
// delete and its event; tables of the original tool, without the events table;
// events copied out of items before they go; hostile event items.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "dynamo_test_support.h"
#include "sacker/backends.h"
#include "support/process.h"
#include "support/records.h"
#include "support/tap_proxy.h"
#include "support/test_env.h"

namespace sacker {
namespace {

namespace fs = std::filesystem;
using dynamotest::ddb;
using dynamotest::N;
using dynamotest::S;
using dynamotest::ScopedEnv;
using nlohmann::json;
using test::error_of;
using test::sample_record;
constexpr auto by = test::change_by;
using test::TapProxy;

class DynamoHistory : public ::testing::Test {
 protected:
  void SetUp() override {
    test::load_test_env();
    table_ = "t" + test::unique_token();
    uri_ = "dynamo://us-east-1/" + table_;
    tap_ = std::make_unique<TapProxy>(std::stoi(std::getenv("DYNALITE_PORT")));
    dir_ = test::make_temp_dir("sacker-dynamo-history");
  }
  void TearDown() override {
    tap_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::unique_ptr<Ledger> ready() {
    auto ledger = open_ledger(uri_);
    ledger->init();
    return ledger;
  }
  // A ledger that talks to dynalite through the tap.
  std::unique_ptr<Ledger> tapped() {
    ScopedEnv endpoint("AWS_ENDPOINT_URL_DYNAMODB", tap_->url());
    return open_ledger(uri_);
  }
  json item(const std::string& table, const json& key) {
    return ddb("GetItem", {{"TableName", table}, {"Key", key}, {"ConsistentRead", true}}).value("Item", json());
  }
  std::size_t events_stored(const std::string& package) {
    return ddb("Query", {{"TableName", table_ + "-events"},
                         {"KeyConditionExpression", "package_name = :p"},
                         {"ExpressionAttributeValues", {{":p", S(package)}}},
                         {"ConsistentRead", true}})["Items"]
        .size();
  }
  // Runs the CLI through the tap and SIGKILLs it at the request with `first` in it
  // (or, when `then` is given, at the next one with `then` after it), as `when` says.
  test::ProcessResult run_killed(std::vector<std::string> args, const std::string& first, const std::string& then,
                                 TapProxy::When when) {
    std::atomic<pid_t> pid{0};
    auto kill_it = [&] {
      while (pid == 0) std::this_thread::yield();
      ::kill(pid, SIGKILL);
    };
    if (then.empty())
      tap_->on_request(first, kill_it, when);
    else
      tap_->on_request(first, [&] { tap_->on_request(then, kill_it, when); });
    std::vector<std::string> argv = {SACKER_BINARY, "--ledger", uri_, "--store", "file://" + (dir_ / "blobs").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    test::ChildProcess child(argv, {"AWS_ENDPOINT_URL_DYNAMODB=" + tap_->url(), "HOME=" + dir_.string()});
    pid = child.pid();
    auto result = child.wait();
    EXPECT_TRUE(tap_->fired());
    return result;
  }

  std::string table_, uri_;
  std::unique_ptr<TapProxy> tap_;
  fs::path dir_;
};

// Checked for real, so that nobody builds on it by mistake: dynalite 4.0 has no
// transactions. The design makes each change and its event one single-item write instead.
TEST_F(DynamoHistory, DynaliteHasNoTransactWriteItems) {
  ready();
  long status = 0;
  json answer = ddb("TransactWriteItems",
                    {{"TransactItems",
                      {{{"Put", {{"TableName", table_}, {"Item", {{"package_name", S("a")}, {"version", N(1)}}}}}}}}},
                    &status);
  EXPECT_EQ(status, 400);
  EXPECT_NE(answer.value("__type", "").find("UnknownOperationException"), std::string::npos)
      << "if dynalite has transactions now, the ledger could use TransactWriteItems: " << answer.dump();
}

TEST_F(DynamoHistory, AMoveBetweenOurReadAndOurWriteMakesTheCompareAndSwapTryAgain) {
  auto setup = ready();
  for (int i = 1; i <= 3; ++i) setup->add(sample_record("app", i));
  setup->set_tag("app", "live", 1);
  auto ledger = tapped();
  // Just before our PutItem of the tag, the original tool moves it to 2.
  tap_->on_request("DynamoDB_20120810.PutItem", [&] {
    ddb("PutItem", {{"TableName", table_ + "-tags"},
                    {"Item", {{"package_name", S("app")}, {"tag", S("live")}, {"version", N(2)}}}});
  });
  auto moved = ledger->set_tag("app", "live", 3, TagExpectation::any(), by("a"));
  EXPECT_TRUE(tap_->fired());
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->previous, 2u) << "the move was made again from what the tag was then";
  // With an expectation, the interleaved move is a conflict and nothing changes.
  tap_->on_request("DynamoDB_20120810.PutItem", [&] {
    ddb("PutItem", {{"TableName", table_ + "-tags"},
                    {"Item", {{"package_name", S("app")}, {"tag", S("live")}, {"version", N(1)}}}});
  });
  EXPECT_EQ(error_of([&] { ledger->set_tag("app", "live", 2, TagExpectation::at(3), by("b")); }).kind(),
            ErrorKind::Conflict);
  EXPECT_EQ(ledger->tag("app", "live"), 1u);
  EXPECT_EQ(ledger->history("app", HistoryQuery{std::string("live"), 0, 0}).size(), 2u);
}

// A sacker killed while the one write of its tag move is in flight: killed before
// the server saw it, neither the move nor its event is there; killed after the
// server applied it (before sacker saw the answer), both are.
TEST_F(DynamoHistory, ATagMoveAndItsEventLandTogetherOrNotAtAll) {
  auto ledger = ready();
  ledger->add(sample_record("app", 1));
  ledger->add(sample_record("app", 2));
  auto r = run_killed({"tag", "app", "1", "live"}, "DynamoDB_20120810.PutItem", "", TapProxy::When::instead);
  EXPECT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
  EXPECT_FALSE(ledger->tag("app", "live").has_value());
  EXPECT_TRUE(ledger->history("app", HistoryQuery{std::string("live"), 0, 0}).empty());

  r = run_killed({"tag", "app", "2", "live"}, "DynamoDB_20120810.PutItem", "", TapProxy::When::after_answer);
  EXPECT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
  EXPECT_EQ(ledger->tag("app", "live"), 2u) << "the write reached the server";
  auto h = ledger->history("app", HistoryQuery{std::string("live"), 0, 0});
  ASSERT_EQ(h.size(), 1u) << "and its event with it";
  EXPECT_EQ(h[0].version, 2u);
  EXPECT_EQ(h[0].seq, ledger->tag_value("app", "live")->seq);
}

// The documented gap: a delete carries no event; the event item follows it.
TEST_F(DynamoHistory, AnUntagKilledAfterItsDeleteLeavesNoEventAndNoFalseOne) {
  auto ledger = ready();
  ledger->add(sample_record("app", 1));
  ledger->set_tag("app", "live", 1, TagExpectation::any(), by("release"));
  auto r = run_killed({"untag", "app", "live"}, "DynamoDB_20120810.DeleteItem", "DynamoDB_20120810.PutItem",
                      TapProxy::When::instead);
  EXPECT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
  EXPECT_FALSE(ledger->tag("app", "live").has_value()) << "the untag happened";
  auto h = ledger->history("app", {});
  ASSERT_EQ(h.size(), 2u) << "add and tag; the untag's event was never written";
  EXPECT_EQ(h[0].action, EventAction::Tag);
}

TEST_F(DynamoHistory, EventsAreCopiedOutOfTheirItemsBeforeTheItemsGo) {
  auto ledger = ready();
  const auto v1 = ledger->add(sample_record("app", 1), by("ci"));
  const auto v2 = ledger->add(sample_record("app", 2), by("ci"));
  EXPECT_EQ(events_stored("app"), 0u) << "an add's event lives in its version item";
  EXPECT_TRUE(item(table_, {{"package_name", S("app")}, {"version", N(1)}}).contains("event"));
  ledger->set_tag("app", "live", v1, TagExpectation::any(), by("a"));
  EXPECT_EQ(events_stored("app"), 0u) << "a move's event lives in its tag item";
  ledger->set_tag("app", "live", v2, TagExpectation::any(), by("b"));
  EXPECT_EQ(events_stored("app"), 1u) << "the first move's event, copied before its item was replaced";
  ledger->remove_tag("app", "live", TagExpectation::any(), by("c"));
  ledger->remove_version("app", v1, by("d"));
  EXPECT_EQ(events_stored("app"), 5u) << "move 2, untag, add of v1, remove of v1 (+ move 1)";
  auto h = ledger->history("app", {});
  ASSERT_EQ(h.size(), 6u);
  std::vector<EventAction> actions;
  for (const auto& e : h) actions.push_back(e.action);
  EXPECT_EQ(actions, (std::vector<EventAction>{EventAction::Remove, EventAction::Untag, EventAction::Tag,
                                               EventAction::Tag, EventAction::Add, EventAction::Add}));
  EXPECT_EQ(h[3].previous, std::nullopt);
  EXPECT_EQ(h[2].previous, v1);
}

TEST_F(DynamoHistory, TheOriginalToolsTablesWorkAndGetTheEventsTableFromInit) {
  // The original's two tables, made by hand; no events table.
  for (auto [name, range, type] : {std::tuple{table_, "version", "N"}, std::tuple{table_ + "-tags", "tag", "S"}})
    ddb("CreateTable", {{"TableName", name},
                        {"BillingMode", "PAY_PER_REQUEST"},
                        {"AttributeDefinitions",
                         {{{"AttributeName", "package_name"}, {"AttributeType", "S"}},
                          {{"AttributeName", range}, {"AttributeType", type}}}},
                        {"KeySchema",
                         {{{"AttributeName", "package_name"}, {"KeyType", "HASH"}},
                          {{"AttributeName", range}, {"KeyType", "RANGE"}}}}});
  const std::string sha(64, 'a');
  for (int v : {1, 2})
    ddb("PutItem", {{"TableName", table_},
                    {"Item",
                     {{"package_name", S("legacy")},
                      {"version", N(v)},
                      {"sha", S(sha)},
                      {"basename", S("a.jar")},
                      {"mode", N(0100644)},
                      {"metadata", S("null")}}}});
  ddb("PutItem", {{"TableName", table_ + "-tags"},
                  {"Item", {{"package_name", S("legacy")}, {"tag", S("live")}, {"version", N(1)}}}});
  auto ledger = open_ledger(uri_);
  EXPECT_EQ(ledger->tag_value("legacy", "live"), (TagValue{1, 0, {}})) << "old tags report seq 0";
  EXPECT_TRUE(ledger->history("legacy", {}).empty()) << "no events table yet: no history";
  EXPECT_EQ(ledger->add(sample_record("legacy", 3), by("ci")), 3u) << "adds need no events table";
  auto moved = ledger->set_tag("legacy", "live", 2, TagExpectation::at(1), by("ops"));
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->previous, 1u);
  // A removal writes its event after the delete: refused, before anything changes,
  // until init has made the events table.
  Error e = error_of([&] { ledger->remove_tag("legacy", "live", TagExpectation::any(), by("ops")); });
  EXPECT_EQ(e.kind(), ErrorKind::NotFound) << e.what();
  EXPECT_NE(std::string(e.what()).find("run sacker init"), std::string::npos) << e.what();
  EXPECT_EQ(ledger->tag("legacy", "live"), 2u);
  ledger->init();
  auto again = open_ledger(uri_);
  ASSERT_TRUE(again->remove_tag("legacy", "live", TagExpectation::any(), by("ops")).has_value());
  auto h = again->history("legacy", {});
  ASSERT_EQ(h.size(), 3u) << "the add, the move and the untag: history starts at the first event";
  EXPECT_EQ(h[0].action, EventAction::Untag);
  // The original tool still reads the tag and version items it knows.
  json v3 = item(table_, {{"package_name", S("legacy")}, {"version", N(3)}});
  EXPECT_EQ(v3["sha"]["S"], sample_record("legacy", 3).sha256);
  EXPECT_TRUE(v3["mode"].contains("N"));
}

TEST_F(DynamoHistory, HostileEventItemsAreInvalidAndNameTheirKey) {
  auto ledger = ready();
  ledger->add(sample_record("evil", 1));
  for (const json& bad :
       {json{{"package_name", S("evil")}, {"seq", N(7)}, {"event", S("not json")}},
        json{{"package_name", S("evil")},
             {"seq", N(8)},
             {"event", S(R"({"seq":9,"time":"2026-01-01T00:00:00Z","action":"add","package":"evil","version":1})")}},
        json{{"package_name", S("evil")},
             {"seq", N(10)},
             {"event", S(R"({"seq":10,"time":"2026-01-01T00:00:00Z","action":"add","package":"other","version":1})")}},
        json{{"package_name", S("evil")}, {"seq", N(11)}}}) {
    ddb("PutItem", {{"TableName", table_ + "-events"}, {"Item", bad}});
    Error e = error_of([&] { ledger->history("evil", {}); });
    EXPECT_EQ(e.kind(), ErrorKind::Invalid) << bad.dump() << ": " << e.what();
    EXPECT_NE(std::string(e.what()).find("(evil, " + bad["seq"]["N"].get<std::string>() + ")"), std::string::npos)
        << e.what();
    ddb("DeleteItem", {{"TableName", table_ + "-events"}, {"Key", {{"package_name", S("evil")}, {"seq", bad["seq"]}}}});
  }
  ddb("PutItem", {{"TableName", table_ + "-tags"},
                  {"Item", {{"package_name", S("evil")}, {"tag", S("live")}, {"version", N(1)}, {"seq", N(-2)}}}});
  EXPECT_EQ(error_of([&] { ledger->tag_value("evil", "live"); }).kind(), ErrorKind::Invalid);
}

}  // namespace
}  // namespace sacker
