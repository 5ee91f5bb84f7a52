// End-to-end: bad input gets a one-line error with the documented exit code and
// changes nothing — not the ledger, not the store, not the destination.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>

#include "e2e/sandbox.h"

namespace sacker::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Everything a failed command must leave alone.
std::string snapshot(const Sandbox& s) {
  std::string out = s.run({"export"}).out;
  std::vector<std::string> files;
  for (const auto& root : {s.data() / "blobs", s.work()}) {
    if (!fs::exists(root)) continue;
    for (const auto& e : fs::recursive_directory_iterator(root))
      if (e.is_regular_file()) files.push_back(e.path().string() + "=" + read_file(e.path()));
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) out += f + "\n";
  return out;
}

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    s.write("app.jar", "release 1");
    ASSERT_EQ(s.run({"add", "app", "app.jar", "--tag", "live"}).exit_code, 0);
    fs::create_directories(s.work() / "dest");
    s.write("dest/app.jar", "what was there before");
  }

  // Runs a command that must fail with `code`, print one line and change nothing.
  void expect_refused(const std::vector<std::string>& args, int code, const std::string& says,
                      const std::string& stdin_data = "", const std::vector<std::string>& env = {}) {
    std::string before = snapshot(s);
    auto r = s.run(args, stdin_data, env);
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    EXPECT_EQ(r.exit_code, code) << joined << "\nstderr: " << r.err;
    EXPECT_THAT(r.err, StartsWith("sacker: ")) << joined;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
    EXPECT_THAT(r.err, HasSubstr(says)) << joined;
    EXPECT_EQ(snapshot(s), before) << "nothing may change: " << joined;
  }

  Sandbox s;
};

TEST_F(BadInput, UnknownThingsAreNotFound) {
  expect_refused({"versions", "nope"}, 3, "no versions");
  expect_refused({"info", "app", "99"}, 3, "no version 99");
  expect_refused({"download", "app", "nosuchtag", "-o", "dest"}, 3, "no tag 'nosuchtag'");
  expect_refused({"tag", "app", "99", "devel"}, 3, "no version 99");
  expect_refused({"untag", "app", "devel"}, 3, "no tag 'devel'");
  expect_refused({"remove", "app", "99"}, 3, "no version 99");
  expect_refused({"add", "app", "missing-file.jar"}, 3, "missing-file.jar");
}

TEST_F(BadInput, InvalidNamesAreRefused) {
  expect_refused({"add", "../x", "app.jar"}, 2, "invalid package name");
  expect_refused({"add", "a/b", "app.jar"}, 2, "invalid package name");
  expect_refused({"add", "", "app.jar"}, 2, "must not be empty");
  expect_refused({"add", std::string(300, 'a'), "app.jar"}, 2, "longer than 128");
  expect_refused({"add",
                  "a\x01"
                  "b",
                  "app.jar"},
                 2, "\\x01");
  expect_refused({"add", "app", "app.jar", "--tag", "123"}, 2, "all digits");
  expect_refused({"add", "app", "app.jar", "--name", "../evil"}, 2, "path separator");
  expect_refused({"add", "app", "app.jar", "--meta", "novalue"}, 2, "key=value");
  expect_refused({"tag", "app", "1", "latest"}, 2, "reserved");
  expect_refused({"untag", "app", "latest"}, 2, "reserved");
  expect_refused({"tag", "app", "1", "12"}, 2, "all digits");
  expect_refused({"tag", "app", "x1", "live"}, 2, "invalid version");
  expect_refused({"info", "app", "../../etc"}, 2, "invalid tag name");
}

TEST_F(BadInput, BadUrisAndConfigAreRefused) {
  expect_refused({"--ledger", "foo://x", "list"}, 2, "unknown scheme 'foo'");
  expect_refused({"--store", "nope", "list"}, 2, "invalid URI");
  write_file(s.home() / "bad.json", "{ not json");
  expect_refused({"--config", (s.home() / "bad.json").string(), "list"}, 2, "not valid JSON");
  write_file(s.home() / "typo.json", "{\"ledgr\": \"sqlite:///x\"}");
  expect_refused({"list"}, 2, "unknown key \"ledgr\"", "", {"SACKER_CONFIG=" + (s.home() / "typo.json").string()});
  expect_refused({"--config", (s.home() / "absent.json").string(), "list"}, 3, "does not exist");
  expect_refused({"bogus-command"}, 2, "unknown command 'bogus-command'");
}

TEST_F(BadInput, UnwritableDestination) {
  expect_refused({"download", "app", "live", "-o", (s.home() / "no/such/dir/app.jar").string()}, 8, "cannot download");
}

TEST_F(BadInput, RemovingATaggedVersionIsAConflict) { expect_refused({"remove", "app", "1"}, 4, "untag it first"); }

TEST_F(BadInput, TamperedBlobIsAnIntegrityErrorAndTheDestinationStays) {
  fs::path blob;
  for (const auto& e : fs::recursive_directory_iterator(s.data() / "blobs"))
    if (e.is_regular_file()) blob = e.path();
  ASSERT_FALSE(blob.empty());
  ::chmod(blob.c_str(), 0644);
  write_file(blob, "release 2");  // same size, other bytes
  expect_refused({"download", "app", "live", "-o", "dest"}, 5, "hashes to");
  expect_refused({"download", "app", "live", "-o", "-"}, 5, "hashes to");
  write_file(blob, "tampered and longer");
  expect_refused({"download", "app", "live", "-o", "dest/app.jar"}, 5, "hashes to");
  for (const auto& e : fs::directory_iterator(s.work() / "dest"))
    EXPECT_EQ(e.path().filename(), "app.jar") << "no temp file left behind";
}

TEST_F(BadInput, HostileLedgerContentNeverWritesOutsideTheDirectory) {
  // Someone with write access to the ledger plants a path as the basename.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((s.data() / "ledger.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db, "UPDATE versions SET basename = '../escaped' WHERE package = 'app'", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
  expect_refused({"download", "app", "live", "-o", "dest"}, 2, "path separator");
  EXPECT_FALSE(fs::exists(s.work() / "escaped"));
}

TEST_F(BadInput, HostileImportIsRefusedWhole) {
  std::string good =
      "{\"type\":\"version\",\"package\":\"other\",\"version\":1,\"sha256\":\"" + std::string(64, 'a') +
      "\",\"size\":1,\"basename\":\"x\",\"mode\":420,\"created\":\"2026-01-01T00:00:00Z\",\"metadata\":{}}\n";
  std::string evil =
      "{\"type\":\"version\",\"package\":\"other\",\"version\":2,\"sha256\":\"" + std::string(64, 'a') +
      "\",\"size\":1,\"basename\":\"/etc/passwd\",\"mode\":420,\"created\":\"2026-01-01T00:00:00Z\",\"metadata\":{}}\n";
  expect_refused({"import"}, 2, "line 2", good + evil);
  expect_refused({"import"}, 2, "line 1", "not json\n");
}

}  // namespace
}  // namespace sacker::test
