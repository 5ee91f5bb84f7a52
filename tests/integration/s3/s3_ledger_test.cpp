// The S3 ledger's history, compare-and-swap and read round trips against RadosGW,
// beyond the conformance suite: what RGW 16 does with conditional PUT and DELETE;
// a tag moved by another writer between our read and our If-Match write; a sacker
// killed between a change and its event copy (through a TCP tap that kills it);
// a ledger in the layout written before history; hostile event objects; and the
// number of sequential round trips of `info` and `download` behind a slow link.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <nlohmann/json.hpp>

#include "s3_test_support.h"
#include "sacker/backends.h"
#include "support/records.h"
#include "support/tap_proxy.h"

namespace sacker {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using s3test::admin;
using s3test::kind_of;
using s3test::trim;
using test::sample_record;
constexpr auto by = test::change_by;
using test::TapProxy;

class S3Ledger : public ::testing::Test {
 protected:
  void SetUp() override {
    test::load_test_env();
    unique_ = test::unique_token();
    bucket_ = s3test::bucket();
    tap_ = std::make_unique<TapProxy>(std::stoi(s3test::env("RGW_PORT")));
    // Everything of this process but the admin's client goes through the tap.
    ::setenv("AWS_ENDPOINT_URL_S3", tap_->url().c_str(), 1);
    ledger_uri_ = "s3://" + bucket_ + "/" + unique_ + "/ledger";
    store_uri_ = "s3://" + bucket_ + "/" + unique_ + "/blobs";
    ledger_ = open_ledger(ledger_uri_);
    dir_ = test::make_temp_dir("sacker-s3-ledger");
  }
  void TearDown() override {
    ledger_.reset();
    tap_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string key(const std::string& rest) const { return unique_ + "/ledger/" + rest; }
  std::string wire(const std::string& rest) const { return "/" + bucket_ + "/" + key(rest); }
  void put_raw(const std::string& rest, const std::string& body) { admin().put(bucket_, key(rest), body); }
  std::optional<json> read_raw(const std::string& rest) {
    auto obj = admin().get(bucket_, key(rest));
    if (!obj) return std::nullopt;
    return json::parse(obj->body);
  }
  // The sacker binary, talking to RGW through the tap.
  std::vector<std::string> tap_env() const { return {"AWS_ENDPOINT_URL_S3=" + tap_->url()}; }
  std::vector<std::string> cli(std::vector<std::string> rest) const {
    std::vector<std::string> argv = {SACKER_BINARY, "--ledger", ledger_uri_, "--store", store_uri_};
    argv.insert(argv.end(), rest.begin(), rest.end());
    return argv;
  }
  // Runs the CLI and SIGKILLs it when the tap sees `marker` (that request is dropped).
  test::ProcessResult run_killed_at(std::vector<std::string> rest, const std::string& marker) {
    std::atomic<pid_t> pid{0};
    tap_->on_request(
        marker,
        [&] {
          while (pid == 0) std::this_thread::yield();
          ::kill(pid, SIGKILL);
        },
        TapProxy::When::instead);
    test::ChildProcess child(cli(std::move(rest)), tap_env());
    pid = child.pid();
    auto result = child.wait();
    EXPECT_TRUE(tap_->fired()) << "the request " << marker << " never came";
    return result;
  }

  std::string unique_, bucket_, ledger_uri_, store_uri_;
  std::unique_ptr<TapProxy> tap_;
  std::unique_ptr<Ledger> ledger_;
  fs::path dir_;
};

// What the design relies on, and the one thing it cannot: If-Match on PUT is
// honoured (against the bare ETag), If-Match on DELETE is ignored.
TEST_F(S3Ledger, RadosGwHonoursIfMatchOnPutButNotOnDelete) {
  const std::string k = key("probe/tags/t");
  auto first = admin().put(bucket_, k, R"({"version": 1})");
  ASSERT_TRUE(first.written);
  auto put_if = [&](const std::string& etag, const std::string& body) {
    aws::S3PutOptions o;
    o.headers = {{"If-Match", etag}};
    return admin().put(bucket_, k, body, std::move(o)).written;
  };
  EXPECT_FALSE(put_if("\"0123456789abcdef0123456789abcdef\"", R"({"version": 2})")) << "a wrong ETag";
  EXPECT_FALSE(put_if(first.etag, R"({"version": 2})")) << "RGW 16 never matches a quoted ETag";
  const std::string bare = first.etag.substr(1, first.etag.size() - 2);
  EXPECT_TRUE(put_if(bare, R"({"version": 2})")) << "the bare ETag matches";
  EXPECT_FALSE(put_if(bare, R"({"version": 3})")) << "and only once";
  EXPECT_TRUE(admin().remove_conditional(bucket_, k, {{"If-Match", "0123456789abcdef0123456789abcdef"}}))
      << "if this fails, RGW now honours If-Match on DELETE: untag has become a true compare-and-swap";
  EXPECT_FALSE(admin().head(bucket_, k).has_value());
}

TEST_F(S3Ledger, AMoveBetweenOurReadAndOurWriteMakesTheCompareAndSwapTryAgain) {
  auto v1 = ledger_->add(sample_record("app", 1));
  auto v2 = ledger_->add(sample_record("app", 2));
  auto v3 = ledger_->add(sample_record("app", 3));
  ledger_->set_tag("app", "live", v1);
  // Just before our PUT of tags/live, another writer (here: the original tool's
  // format) moves the tag to v2.
  tap_->on_request("PUT " + wire("app/tags/live"),
                   [&] { put_raw("app/tags/live", "{\"version\": " + std::to_string(v2) + "}"); });
  auto moved = ledger_->set_tag("app", "live", v3, TagExpectation::any(), by("a"));
  EXPECT_TRUE(tap_->fired());
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->previous, v2) << "the move was made again from what the tag was then";
  EXPECT_EQ(ledger_->tag("app", "live"), v3);

  // With an expectation the interleaved move is a conflict, and nothing changes.
  tap_->on_request("PUT " + wire("app/tags/live"),
                   [&] { put_raw("app/tags/live", "{\"version\": " + std::to_string(v1) + "}"); });
  EXPECT_EQ(kind_of([&] { ledger_->set_tag("app", "live", v2, TagExpectation::at(v3), by("b")); }),
            ErrorKind::Conflict);
  EXPECT_TRUE(tap_->fired());
  EXPECT_EQ(ledger_->tag("app", "live"), v1);
  auto h = ledger_->history("app", HistoryQuery{std::string("live"), 0, 0});
  ASSERT_EQ(h.size(), 2u) << "the two moves sacker made; the other writer's are not sacker's to record";
  EXPECT_EQ(h[0].version, v3);
}

TEST_F(S3Ledger, AnAddKilledBeforeItsEventCopyIsStillInTheHistory) {
  const auto v1 = ledger_->add(sample_record("app", 1), by("ci"));
  fs::path file = dir_ / "a.bin";
  test::write_file(file, "second build");
  auto r = run_killed_at({"add", "app", file.string()}, "PUT " + wire("app/events/"));
  EXPECT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
  auto versions = ledger_->versions("app");
  ASSERT_EQ(versions.size(), 2u) << "the version was written before the event copy";
  const auto v2 = versions[1];
  EXPECT_FALSE(read_raw("app/events/" + std::to_string(v2) + "000000").has_value());
  // The killed add is read from its version object.
  auto h = ledger_->history("app", {});
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].action, EventAction::Add);
  EXPECT_EQ(h[0].version, v2);
  EXPECT_EQ(h[0].seq, v2 * 1000000);
  EXPECT_EQ(h[1].version, v1);
  // Its removal copies the event out of the object before deleting it.
  ASSERT_TRUE(ledger_->remove_version("app", v2, by("ops")).has_value());
  EXPECT_TRUE(read_raw("app/events/" + std::to_string(v2) + "000000").has_value());
  EXPECT_EQ(ledger_->history("app", {}).size(), 3u);
}

TEST_F(S3Ledger, ATagMoveKilledBeforeItsEventCopyKeepsItsEventInTheTagObject) {
  auto v1 = ledger_->add(sample_record("app", 1));
  auto v2 = ledger_->add(sample_record("app", 2));
  auto r = run_killed_at({"tag", "app", std::to_string(v1), "live"}, "PUT " + wire("app/events/"));
  EXPECT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
  EXPECT_EQ(ledger_->tag("app", "live"), v1) << "the move was made";
  const auto seq = ledger_->tag_value("app", "live")->seq;
  EXPECT_FALSE(read_raw("app/events/" + std::to_string(seq)).has_value()) << "its copy was not";
  auto h = ledger_->history("app", HistoryQuery{std::string("live"), 0, 0});
  ASSERT_EQ(h.size(), 1u) << "history reads the event from the tag object";
  EXPECT_EQ(h[0].seq, seq);
  EXPECT_EQ(h[0].version, v1);
  // The next move copies it to events/ before it replaces the object.
  ledger_->set_tag("app", "live", v2, TagExpectation::at(v1), by("release"));
  EXPECT_TRUE(read_raw("app/events/" + std::to_string(seq)).has_value());
  h = ledger_->history("app", HistoryQuery{std::string("live"), 0, 0});
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].previous, v1);
  EXPECT_EQ(h[1].seq, seq);
}

// The documented gap: a DELETE carries no event, and the event is written after
// it. A writer killed in between leaves the removal without an event (never the
// other way round).
TEST_F(S3Ledger, AnUntagKilledAfterTheDeleteLeavesNoEventAndNoFalseOne) {
  auto v1 = ledger_->add(sample_record("app", 1));
  ledger_->set_tag("app", "live", v1, TagExpectation::any(), by("release"));
  std::atomic<pid_t> pid{0};
  // Once the DELETE went through, the next request (the untag's event) kills it.
  tap_->on_request("DELETE " + wire("app/tags/live"), [&] {
    tap_->on_request(
        "PUT " + wire("app/events/"), [&] { ::kill(pid, SIGKILL); }, TapProxy::When::instead);
  });
  test::ChildProcess child(cli({"untag", "app", "live"}), tap_env());
  pid = child.pid();
  auto r = child.wait();
  EXPECT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
  EXPECT_FALSE(ledger_->tag("app", "live").has_value()) << "the untag happened";
  auto h = ledger_->history("app", HistoryQuery{std::string("live"), 0, 0});
  ASSERT_EQ(h.size(), 1u) << "its event was never written";
  EXPECT_EQ(h[0].action, EventAction::Tag);
}

TEST_F(S3Ledger, ALedgerFromBeforeHistoryStartsItsHistoryAtTheFirstNewEvent) {
  const std::string sha(64, 'c');
  put_raw("legacy/versions/1700000000000", R"({"sha": ")" + sha + R"(", "basename": "a.jar", "mode": 420})");
  put_raw("legacy/versions/1700000005000", R"({"sha": ")" + sha + R"(", "basename": "a.jar", "mode": 420})");
  put_raw("legacy/tags/latest", R"({"version": 1700000005000})");
  put_raw("legacy/tags/live", R"({"version": 1700000000000})");
  EXPECT_EQ(ledger_->tag_value("legacy", "live"), (TagValue{1700000000000, 0, {}})) << "old tags report seq 0";
  EXPECT_TRUE(ledger_->history("legacy", {}).empty());
  auto moved = ledger_->set_tag("legacy", "live", 1700000005000, TagExpectation::at(1700000000000), by("ops"));
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->previous, 1700000000000u);
  auto removed = ledger_->remove_version("legacy", 1700000000000, by("ops"));
  ASSERT_TRUE(removed.has_value());
  auto h = ledger_->history("legacy", {});
  ASSERT_EQ(h.size(), 2u) << "no events for what happened before";
  EXPECT_EQ(h[0].action, EventAction::Remove);
  EXPECT_EQ(h[1].action, EventAction::Tag);
  // The original tool still reads the tag: "version" is a plain number.
  auto tag = read_raw("legacy/tags/live");
  ASSERT_TRUE(tag);
  EXPECT_EQ((*tag)["version"].get<std::uint64_t>(), 1700000005000u);
  EXPECT_EQ((*tag)["seq"].get<std::uint64_t>(), moved->seq);
}

// Signatures and events are extra fields: what the original tool reads of a
// version object and a tag object (through the AWS CLI) is untouched.
TEST_F(S3Ledger, SignedRecordsAndTagsKeepTheFieldsTheOriginalReads) {
  ChangeContext ctx = by("ci");
  ctx.sign_record = [](const VersionRecord&) { return std::vector<std::string>{R"({"keyid":"ci","sig":"x"})"}; };
  VersionRecord r = sample_record("signed", 1);
  r.mode = 0755;
  const auto v = ledger_->add(r, ctx);
  ChangeContext promote = by("release");
  promote.sign_event = [](const Event&) { return std::vector<std::string>{R"({"keyid":"release"})"}; };
  ASSERT_TRUE(ledger_->set_tag("signed", "live", v, TagExpectation::absent(), promote));
  auto cat = [&](const std::string& rest) {
    auto out = s3test::aws({"s3", "cp", "s3://" + bucket_ + "/" + key(rest), "-"});
    EXPECT_EQ(out.exit_code, 0) << out.err;
    return json::parse(out.out);
  };
  json version = cat("signed/versions/" + std::to_string(v));
  EXPECT_EQ(version["sha"], r.sha256);
  EXPECT_EQ(version["basename"], r.basename);
  EXPECT_EQ(version["mode"], 0755);
  EXPECT_EQ(version["signatures"][0]["keyid"], "ci");
  EXPECT_EQ(version["event"]["action"], "add");
  json tag = cat("signed/tags/live");
  EXPECT_TRUE(tag["version"].is_number_unsigned());
  EXPECT_EQ(tag["version"].get<std::uint64_t>(), v);
  EXPECT_EQ(tag["signatures"][0]["keyid"], "release");
  EXPECT_EQ(tag["event"]["seq"], tag["seq"]);
  json hint = cat("signed/tags/latest");
  EXPECT_EQ(hint, (json{{"version", v}})) << "the hint stays exactly {\"version\": N}";
  EXPECT_EQ(ledger_->get("signed", v)->signatures, std::vector<std::string>{R"({"keyid":"ci","sig":"x"})"});
}

TEST_F(S3Ledger, HostileEventObjectsAreInvalidAndNameTheirKey) {
  auto v = ledger_->add(sample_record("evil", 1));
  const std::string seq = std::to_string(v) + "000001";
  struct Case {
    std::string key, body;
  };
  for (const auto& c : std::vector<Case>{
           {"evil/events/" + seq, "not json"},
           {"evil/events/" + seq, R"({"seq": 5, "time": "2026-01-01T00:00:00Z", "action": "add", "package": "evil",
              "version": 1})"},
           {"evil/events/" + seq, R"({"seq": )" + seq + R"(, "time": "2026-01-01T00:00:00Z", "action": "tag",
              "package": "evil", "version": 1, "tag": "../x"})"},
           {"evil/events/12", "{}"},
       }) {
    put_raw(c.key, c.body);
    std::string message;
    EXPECT_EQ(kind_of([&] { ledger_->history("evil", {}); }, &message), ErrorKind::Invalid) << c.body;
    EXPECT_NE(message.find(key(c.key)), std::string::npos) << message;
    admin().remove(bucket_, key(c.key));
  }
  put_raw("evil/tags/live", R"({"version": )" + std::to_string(v) + R"(, "seq": -3})");
  EXPECT_EQ(kind_of([&] { ledger_->tag_value("evil", "live"); }), ErrorKind::Invalid);
  put_raw("evil/tags/live", R"({"version": )" + std::to_string(v) + R"(, "signatures": ["not an object"]})");
  EXPECT_EQ(kind_of([&] { ledger_->tag_value("evil", "live"); }), ErrorKind::Invalid);
}

// Issue 10: `info P latest` and `download P latest|live` in at most 2 sequential
// round trips to the ledger. Every request waits 250 ms in the tap; requests sent
// together start within a few ms of each other.
int ledger_round_trips(const std::vector<TapProxy::Request>& requests, const std::string& unique) {
  std::vector<std::chrono::steady_clock::time_point> starts;
  for (const auto& r : requests)
    if (r.line.find(unique + "/ledger/") != std::string::npos ||
        r.line.find(unique + "%2Fledger%2F") != std::string::npos)
      starts.push_back(r.at);
  std::sort(starts.begin(), starts.end());
  int rounds = 0;
  std::chrono::steady_clock::time_point round_start;
  for (auto t : starts)
    if (rounds == 0 || t - round_start > std::chrono::milliseconds(120)) {
      ++rounds;
      round_start = t;
    }
  return rounds;
}

TEST_F(S3Ledger, InfoAndDownloadOfLatestOrATagTakeTwoRoundTrips) {
  fs::path file = dir_ / "app.bin";
  test::write_file(file, "the build");
  for (int i = 0; i < 3; ++i) ASSERT_EQ(test::run_process(cli({"add", "app", file.string()})).exit_code, 0);
  auto v = ledger_->latest("app");
  ASSERT_TRUE(v);
  ledger_->set_tag("app", "live", *v);
  ledger_->set_tag("app", "devel", *v);
  tap_->delay_requests(std::chrono::milliseconds(250));
  for (auto args : std::vector<std::vector<std::string>>{{"info", "app", "latest"},
                                                         {"download", "app", "latest", "-o", (dir_ / "a").string()},
                                                         {"download", "app", "live", "-o", (dir_ / "b").string()}}) {
    tap_->clear_requests();
    auto r = test::run_process(cli(args), tap_env());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(ledger_round_trips(tap_->requests(), unique_), 2) << args[0] << " " << args[2] << " (was 5 and 3)";
  }
  EXPECT_EQ(test::read_file(dir_ / "a"), "the build");
}

}  // namespace
}  // namespace sacker
