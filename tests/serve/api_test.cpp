// The JSON API of a real `sacker serve` process (issue 12), over loopback with
// libcurl: every /api/v1 endpoint, paging, Range (206/416), 404s, hostile names in
// paths, 401/403/409 on tag changes with tokens, /healthz, /metrics, and a 1 GiB
// blob streamed with bounded server memory.
//
// The backends are the process's configuration: by default the embedded one (SQLite +
// a directory) in a temporary HOME; with SACKER_API_TEST_URI set (api_tests.cmake sets
// "s3://{RGW_BUCKET}/{unique}" for RadosGW, with SACKER_TEST_ENV_FILE) the same tests
// run with that URI as ledger and store, a fresh {unique} prefix per test.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "curl_client.h"
#include "support/process.h"
#include "support/test_env.h"

namespace sacker::serve::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using sacker::test::make_temp_dir;
using sacker::test::peak_rss_kib;
using sacker::test::read_file;
using sacker::test::write_file;

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// A HOME with the backends configured, the CLI to fill it, and `sacker serve` on it.
class World {
 public:
  World() : home_(make_temp_dir("sacker-api")) {
    fs::create_directories(home_ / "work");
    sacker::test::load_test_env();
    const std::string tmpl = env_or("SACKER_API_TEST_URI", "");
    const std::string uri = tmpl.empty() ? "" : sacker::test::expand_template(tmpl, sacker::test::unique_token());
    env_ = {"HOME=" + home_.string(), "XDG_DATA_HOME=", "SACKER_CONFIG=", "SACKER_LEDGER=" + uri,
            "SACKER_STORE=" + uri, "SACKER_ACTOR=tester"};
  }
  ~World() {
    stop();
    std::error_code ec;
    fs::remove_all(home_, ec);
  }

  // A package name of this test.
  std::string pkg(const std::string& name) const { return name; }
  fs::path work() const { return home_ / "work"; }

  sacker::test::ProcessResult cli(std::vector<std::string> args) const {
    args.insert(args.begin(), SACKER_BINARY);
    return sacker::test::run_process(args, env_, "", work());
  }
  json cli_json(std::vector<std::string> args) const {
    args.insert(args.begin(), "--json");
    auto r = cli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out, nullptr, false);
  }
  // Adds `content` as a new version of `package`; returns its version.
  std::uint64_t add(const std::string& package, const std::string& content, const std::string& basename = "f.bin") {
    write_file(work() / basename, content);
    return cli_json({"add", package, basename})["version"].get<std::uint64_t>();
  }
  void tag(const std::string& package, std::uint64_t version, const std::string& tag) {
    auto r = cli({"tag", package, std::to_string(version), tag});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // Starts `sacker serve --listen 127.0.0.1:0 extra...` (stopping the one before) and
  // reads the URL from its first line; its stderr (the access log) goes to server_log().
  void start(const std::vector<std::string>& extra = {}) {
    stop();
    std::vector<std::string> args = {SACKER_BINARY, "serve", "--listen", "127.0.0.1:0"};
    args.insert(args.end(), extra.begin(), extra.end());
    log_path_ = home_ / "serve.err";
    auto started = sacker::test::spawn_listening(args, env_, log_path_, work());
    ASSERT_GT(started.pid, 0) << "cannot start " << SACKER_BINARY;
    pid_ = started.pid;
    const std::string& line = started.first_line;
    ASSERT_EQ(line.rfind("listening on http://127.0.0.1:", 0), 0u) << line << "\n" << server_log();
    base_ = line.substr(13);
  }
  // SIGTERM and wait; the exit status (0 for a graceful stop).
  int stop() {
    if (pid_ <= 0) return 0;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  pid_t pid() const { return pid_; }
  std::string server_log() const { return fs::exists(log_path_) ? read_file(log_path_) : ""; }

  Reply get(const std::string& path, const Call& call = {}) const { return fetch(base_ + path, call); }
  json get_json(const std::string& path, long want_status = 200) const {
    auto r = get(path);
    EXPECT_EQ(r.status, want_status) << path << ": " << r.body;
    EXPECT_THAT(r.header("Content-Type").value_or(""), HasSubstr("application/json")) << path;
    return json::parse(r.body, nullptr, false);
  }
  Reply send(const std::string& method, const std::string& path, const json& body, const std::string& token = "") {
    Call call;
    call.method = method;
    call.body = body.dump();
    call.headers = {"Content-Type: application/json"};
    if (!token.empty()) call.headers.push_back("Authorization: Bearer " + token);
    return get(path, call);
  }

 private:
  fs::path home_, log_path_;
  std::vector<std::string> env_;
  std::string base_;
  pid_t pid_ = -1;
};

std::string api(const std::string& package, const std::string& rest = "") {
  return "/api/v1/packages/" + package + rest;
}

TEST(Api, ReadsUseTheCliJsonFieldNames) {
  World w;
  const auto p = w.pkg("app");
  w.add(p, "one");
  w.add(p, "two", "two.tar");
  w.add(p, "three");
  w.tag(p, 2, "live");
  w.start();

  auto list = w.get_json("/api/v1/packages");
  EXPECT_THAT(list["packages"].get<std::vector<std::string>>(), ::testing::Contains(p));

  auto package = w.get_json(api(p));
  EXPECT_EQ(package["package"], p);
  EXPECT_EQ(package["latest"]["version"], 3);
  EXPECT_EQ(package["tags"]["live"], 2);
  EXPECT_EQ(package["version_count"], 3);

  // A version by number and by tag is the record `sacker --json info` prints.
  auto cli = w.cli_json({"info", p, "2"});
  for (const std::string spec : {"2", "live"}) {
    auto v = w.get_json(api(p, "/versions/" + spec));
    for (const auto& [field, value] : cli.items()) EXPECT_EQ(v[field], value) << spec << " " << field;
    EXPECT_EQ(v["basename"], "two.tar");
  }
  EXPECT_EQ(w.get_json(api(p, "/versions/latest"))["version"], 3);

  auto tags = w.get_json(api(p, "/tags"));
  EXPECT_EQ(tags, w.cli_json({"tags", p}));
}

TEST(Api, VersionsPageNewestFirstWithACursor) {
  World w;
  const auto p = w.pkg("paged");
  for (int i = 1; i <= 5; ++i) w.add(p, "v" + std::to_string(i));
  w.start();
  std::vector<std::uint64_t> seen;
  std::string path = api(p, "/versions?limit=2");
  int pages = 0;
  while (true) {
    auto page = w.get_json(path);
    ++pages;
    for (const auto& r : page["versions"]) seen.push_back(r["version"].get<std::uint64_t>());
    if (page["next_cursor"].is_null()) break;
    ASSERT_LT(pages, 10) << "the cursor does not advance";
    path = api(p, "/versions?limit=2&cursor=" + page["next_cursor"].get<std::string>());
  }
  EXPECT_EQ(seen, (std::vector<std::uint64_t>{5, 4, 3, 2, 1}));
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(w.get_json(api(p, "/versions"))["versions"].size(), 5u);  // default limit 50
  for (const std::string bad : {"?limit=0", "?limit=1001", "?limit=x", "?cursor=0", "?cursor=-1"}) {
    auto e = w.get_json(api(p, "/versions" + bad), 400);
    EXPECT_EQ(e["error"]["kind"], "invalid") << bad;
  }
}

TEST(Api, BlobHasTheSha256AsETagAndHonoursRange) {
  World w;
  const auto p = w.pkg("blob");
  std::string content;
  for (int i = 0; i < 100000; ++i) content += static_cast<char>('a' + i % 26);
  w.add(p, content, "data.bin");
  const std::string sha = w.cli_json({"info", p, "1"})["sha256"];
  w.start();

  auto whole = w.get(api(p, "/versions/1/blob"));
  EXPECT_EQ(whole.status, 200);
  EXPECT_EQ(whole.body, content);
  EXPECT_EQ(whole.header("ETag").value_or(""), "\"" + sha + "\"");
  EXPECT_THAT(whole.header("Content-Disposition").value_or(""), HasSubstr("data.bin"));

  Call range;
  range.headers = {"Range: bytes=10-19"};
  auto part = w.get(api(p, "/versions/latest/blob"), range);
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.body, content.substr(10, 10));
  EXPECT_EQ(part.header("Content-Range").value_or(""), "bytes 10-19/100000");

  range.headers = {"Range: bytes=-5"};
  EXPECT_EQ(w.get(api(p, "/versions/1/blob"), range).body, content.substr(content.size() - 5));

  range.headers = {"Range: bytes=100000-"};
  auto past = w.get(api(p, "/versions/1/blob"), range);
  EXPECT_EQ(past.status, 416);
  EXPECT_EQ(past.header("Content-Range").value_or(""), "bytes */100000");
}

TEST(Api, UnknownNamesAre404WithAJsonError) {
  World w;
  const auto p = w.pkg("known");
  w.add(p, "x");
  w.start();
  for (const std::string& path : std::vector<std::string>{api(w.pkg("nosuch")), api(w.pkg("nosuch"), "/versions"), api(p, "/versions/99"),
                                 api(p, "/versions/nosuchtag"), api(p, "/versions/99/blob"), "/api/v1/nosuch"}) {
    auto e = w.get_json(path, 404);
    EXPECT_EQ(e["error"]["kind"], "not found") << path;
    EXPECT_FALSE(e["error"]["message"].get<std::string>().empty()) << path;
  }
}

// Hostile names in paths never reach a backend as a path: dot segments, encoded
// slashes and NUL are refused with 400 (or 404), and nothing outside the ledger is read.
TEST(Api, HostileNamesInPathsAreRefused) {
  World w;
  const auto p = w.pkg("safe");
  w.add(p, "x");
  w.start();
  for (const std::string& path : std::vector<std::string>{"/api/v1/packages/..", "/api/v1/packages/../../etc/passwd",
                                 "/api/v1/packages/..%2F..%2Fetc%2Fpasswd", "/api/v1/packages/a%2Fb",
                                 "/api/v1/packages/a%00b", "/api/v1/packages/%2e%2e/versions",
                                 "/api/v1/packages/" + p + "/versions/1%00", "/api/v1/packages/" + p + "/versions/..%2F1",
                                 "/api/v1/lookup/..%2F..", "/api/v1/packages/%ff%fe"}) {
    auto r = w.get(path);
    EXPECT_TRUE(r.status == 400 || r.status == 404) << path << " -> " << r.status << " " << r.body;
    EXPECT_THAT(r.body, Not(HasSubstr("root:"))) << path;
  }
  // The server is still well and the package untouched.
  EXPECT_EQ(w.get_json(api(p))["version_count"], 1);
}

TEST(Api, HistoryFiltersByTagAndPages) {
  World w;
  const auto p = w.pkg("hist");
  w.add(p, "a");
  w.add(p, "b");
  w.tag(p, 1, "live");
  w.tag(p, 2, "live");
  w.tag(p, 1, "devel");
  w.start();
  auto live = w.get_json(api(p, "/history?tag=live"));
  ASSERT_EQ(live["events"].size(), 2u) << live.dump();
  for (const auto& e : live["events"]) EXPECT_EQ(e["tag"], "live");
  // The same documents as the CLI's history.
  EXPECT_EQ(live["events"], w.cli_json({"history", p, "--tag", "live"}));

  auto first = w.get_json(api(p, "/history?limit=1"));
  ASSERT_EQ(first["events"].size(), 1u);
  ASSERT_FALSE(first["next_before"].is_null());
  auto second = w.get_json(api(p, "/history?limit=1&before=" + first["next_before"].dump()));
  ASSERT_EQ(second["events"].size(), 1u);
  EXPECT_NE(second["events"][0]["seq"], first["events"][0]["seq"]);
  EXPECT_EQ(w.get_json(api(p, "/history?tag=no%20such"), 400)["error"]["kind"], "invalid");
}

TEST(Api, LookupBySha256OrAPrefix) {
  World w;
  const auto a = w.pkg("look-a"), b = w.pkg("look-b");
  w.add(a, "shared bytes");
  w.add(b, "other");
  w.add(b, "shared bytes");
  w.tag(b, 2, "live");
  const std::string sha = w.cli_json({"info", a, "1"})["sha256"];
  w.start();
  for (const std::string& q : {sha, sha.substr(0, 12)}) {
    auto found = w.get_json("/api/v1/lookup/" + q);
    std::vector<std::string> hits;
    for (const auto& r : found["versions"]) {
      EXPECT_EQ(r["sha256"], sha);
      hits.push_back(r["package"].get<std::string>() + "@" + std::to_string(r["version"].get<int>()));
    }
    EXPECT_THAT(hits, ::testing::UnorderedElementsAre(a + "@1", b + "@2")) << q;
  }
  EXPECT_EQ(w.get_json("/api/v1/lookup/" + sha.substr(0, 11), 400)["error"]["kind"], "invalid");
  EXPECT_EQ(w.get_json("/api/v1/lookup/" + std::string(64, 'z'), 400)["error"]["kind"], "invalid");
}

TEST(Api, StatusHealthzAndMetrics) {
  World w;
  w.add(w.pkg("m"), "x");
  w.start();
  auto status = w.get_json("/api/v1/status");
  EXPECT_EQ(status["read_only"], true);
  EXPECT_EQ(status["ledger"]["reachable"], true);
  EXPECT_EQ(status["store"]["reachable"], true);
  EXPECT_FALSE(status["sacker_version"].get<std::string>().empty());
  EXPECT_EQ(w.get("/healthz").body, "ok\n");
  w.get(api(w.pkg("nosuch")));
  auto metrics = w.get("/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.header("Content-Type").value_or(""), HasSubstr("text/plain"));
  // Prometheus text: HELP/TYPE lines, a request counter per route, errors by kind.
  EXPECT_THAT(metrics.body, HasSubstr("# TYPE sacker_http_requests_total counter"));
  EXPECT_THAT(metrics.body, HasSubstr("sacker_http_requests_total{route=\"/api/v1/status\",method=\"GET\",status=\"200\"} 1"));
  EXPECT_THAT(metrics.body, HasSubstr("sacker_http_request_duration_seconds_bucket{"));
  EXPECT_THAT(metrics.body, HasSubstr("sacker_errors_total{kind=\"not"));
}

// Tag changes: off on a read-only server; 401 without a valid token, 403 for a read
// token, compare-and-swap with 409 for a tag that moved; the token's name is the actor;
// no secret in the access log.
TEST(Api, TagChangesNeedAPromoteTokenAndAreCompareAndSwap) {
  World w;
  const auto p = w.pkg("promo");
  w.add(p, "a");
  w.add(p, "b");
  w.add(p, "c");
  w.tag(p, 1, "live");
  const auto promote = w.cli_json({"serve", "--new-token", "release-bot", "--scope", "promote"});
  const auto reader = w.cli_json({"serve", "--new-token", "viewer", "--scope", "read"});
  ASSERT_THAT(promote["secret"].get<std::string>(), ::testing::StartsWith("sacker_"));
  const fs::path tokens = w.work() / "tokens";
  write_file(tokens, "# who may promote\n" + promote["line"].get<std::string>() + "\n" +
                         reader["line"].get<std::string>() + "\n");
  fs::permissions(tokens, fs::perms::owner_read | fs::perms::owner_write);
  const std::string live = api(p, "/tags/live");

  w.start();  // read-only
  EXPECT_EQ(w.send("PUT", live, {{"version", 2}, {"expect", 1}}, promote["secret"]).status, 403);

  w.start({"--allow-writes", "--tokens", tokens.string()});
  auto none = w.send("PUT", live, {{"version", 2}, {"expect", 1}});
  EXPECT_EQ(none.status, 401);
  EXPECT_THAT(none.header("WWW-Authenticate").value_or(""), HasSubstr("Bearer"));
  EXPECT_EQ(w.send("PUT", live, {{"version", 2}, {"expect", 1}}, "sacker_" + std::string(64, '0')).status, 401);
  EXPECT_EQ(w.send("PUT", live, {{"version", 2}, {"expect", 1}}, reader["secret"]).status, 403);
  EXPECT_EQ(w.cli_json({"tags", p})["tags"]["live"], 1) << "a refused write changed the tag";

  auto moved = w.send("PUT", live, {{"version", 2}, {"expect", 1}, {"comment", "ship it"}}, promote["secret"]);
  ASSERT_EQ(moved.status, 200) << moved.body;
  EXPECT_EQ(w.cli_json({"tags", p})["tags"]["live"], 2);
  auto newest = w.cli_json({"history", p, "--tag", "live"}).front();
  EXPECT_EQ(newest["actor"], "release-bot");
  EXPECT_EQ(newest["comment"], "ship it");

  // Someone looked when live was 1; it is 2 now: 409, and live stays 2.
  auto stale = w.send("PUT", live, {{"version", 3}, {"expect", 1}}, promote["secret"]);
  EXPECT_EQ(stale.status, 409);
  EXPECT_THAT(stale.body, HasSubstr("moved by someone else"));
  EXPECT_EQ(w.cli_json({"tags", p})["tags"]["live"], 2);
  EXPECT_EQ(w.send("PUT", api(p, "/tags/beta"), {{"version", 3}, {"expect", "none"}}, promote["secret"]).status, 200);
  EXPECT_EQ(w.send("PUT", api(p, "/tags/beta"), {{"version", 2}, {"expect", "none"}}, promote["secret"]).status, 409);

  for (const json& bad : {json{{"version", 0}}, json{{"version", "2"}}, json{{"version", 2}, {"extra", 1}},
                         json{{"version", 2}, {"expect", -1}}, json::array()})
    EXPECT_EQ(w.send("PUT", live, bad, promote["secret"]).status, 400) << bad.dump();
  EXPECT_EQ(w.send("PUT", api(p, "/tags/latest"), {{"version", 1}}, promote["secret"]).status, 400);
  EXPECT_EQ(w.send("PUT", live, {{"version", 99}}, promote["secret"]).status, 404);

  EXPECT_EQ(w.send("DELETE", live, {{"expect", 1}}, promote["secret"]).status, 409);
  auto removed = w.send("DELETE", live, {{"expect", 2}}, promote["secret"]);
  EXPECT_EQ(removed.status, 200) << removed.body;
  EXPECT_FALSE(w.cli_json({"tags", p})["tags"].contains("live"));

  EXPECT_EQ(w.stop(), 0) << "no graceful stop on SIGTERM";
  const std::string log = w.server_log();
  EXPECT_THAT(log, HasSubstr("PUT /api/v1/packages/" + p + "/tags/live 409"));
  EXPECT_THAT(log, Not(HasSubstr(promote["secret"].get<std::string>())));
  EXPECT_THAT(log, Not(HasSubstr(reader["secret"].get<std::string>())));
}

// A 1 GiB blob streams through the server in bounded pieces: its peak RSS grows by
// far less than the blob.
TEST(Api, OneGibBlobStreamsWithBoundedMemory) {
  World w;
  const auto p = w.pkg("huge");
  const std::uint64_t size = std::uint64_t{1} << 30;
  {
    const fs::path big = w.work() / "huge.bin";
    std::ofstream out(big, std::ios::binary);
    std::string block(1 << 20, '\0');
    for (std::uint64_t i = 0; i < size / block.size(); ++i) {
      std::memcpy(block.data(), &i, sizeof i);  // not all zeros, not all alike
      out.write(block.data(), static_cast<std::streamsize>(block.size()));
    }
  }
  auto added = w.cli({"add", p, "huge.bin"});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  fs::remove(w.work() / "huge.bin");
  w.start();
  const std::uint64_t before = peak_rss_kib(w.pid());
  Call call;
  call.discard_body = true;
  call.timeout_ms = 300000;
  auto r = w.get(api(p, "/versions/1/blob"), call);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, std::to_string(size));
  const std::uint64_t after = peak_rss_kib(w.pid());
  std::printf("peak RSS of sacker serve: %llu KiB before, %llu KiB after streaming 1 GiB\n",
              static_cast<unsigned long long>(before), static_cast<unsigned long long>(after));
  EXPECT_LT(after - before, 128u * 1024) << "peak RSS " << before << " KiB -> " << after << " KiB";
}

}  // namespace
}  // namespace sacker::serve::test
