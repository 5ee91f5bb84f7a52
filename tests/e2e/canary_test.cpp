// End-to-end: the canary workflow of DESIGN.md through the real sacker binary on
// the embedded default (SQLite ledger + file store) in a temporary HOME.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>

#include <nlohmann/json.hpp>

#include "e2e/sandbox.h"
#include "sacker/sha256.h"

namespace sacker::test {
namespace {

using ::testing::HasSubstr;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

TEST(Canary, AddDownloadTagPromoteAndAddAgain) {
  Sandbox s;
  s.write("frontend-server.jar", "build 1");
  auto add1 = s.run({"add", "frontend-server", "frontend-server.jar"});
  ASSERT_EQ(add1.exit_code, 0) << add1.err;
  EXPECT_EQ(trim(add1.out), "1") << "add prints the new version";

  std::filesystem::create_directories(s.work() / "staging");
  auto dl = s.run({"download", "frontend-server", "latest", "-o", "staging"});
  ASSERT_EQ(dl.exit_code, 0) << dl.err;
  EXPECT_EQ(read_file(s.work() / "staging/frontend-server.jar"), "build 1");

  ASSERT_EQ(s.run({"tag", "frontend-server", "1", "live"}).exit_code, 0);
  std::filesystem::create_directories(s.work() / "prod");
  ASSERT_EQ(s.run({"download", "frontend-server", "live", "-o", "prod"}).exit_code, 0);
  EXPECT_EQ(read_file(s.work() / "prod/frontend-server.jar"), "build 1");

  s.write("frontend-server.jar", "build 2");
  auto add2 = s.run({"add", "frontend-server", "frontend-server.jar"});
  ASSERT_EQ(add2.exit_code, 0) << add2.err;
  EXPECT_EQ(trim(add2.out), "2");

  ASSERT_EQ(s.run({"download", "frontend-server", "latest", "-o", "staging"}).exit_code, 0);
  EXPECT_EQ(read_file(s.work() / "staging/frontend-server.jar"), "build 2") << "latest moved";
  ASSERT_EQ(s.run({"download", "frontend-server", "live", "-o", "prod"}).exit_code, 0);
  EXPECT_EQ(read_file(s.work() / "prod/frontend-server.jar"), "build 1") << "live stayed";

  auto tags = s.run({"tags", "frontend-server"});
  EXPECT_EQ(tags.out, "latest 2\nlive 1\n");
  EXPECT_EQ(s.run({"versions", "frontend-server"}).out, "1\n2\n");
  EXPECT_EQ(s.run({"list"}).out, "frontend-server\n");
}

// Issue 9: the promotion with a comment, its history, a compare-and-swap that loses,
// a rollback and a rollback of the rollback, through the binary.
TEST(Canary, PromotionHistoryAndRollback) {
  Sandbox s;
  for (const char* build : {"build 1", "build 2"}) {
    s.write("frontend-server.jar", build);
    ASSERT_EQ(s.run({"add", "frontend-server", "frontend-server.jar"}).exit_code, 0);
  }
  ASSERT_EQ(s.run({"--actor", "alice", "tag", "frontend-server", "1", "live", "--comment", "first release"}).exit_code,
            0);
  auto moved = s.run({"--actor", "bob", "tag", "frontend-server", "2", "live", "--expect", "1", "--comment",
                      "canary ok"});
  ASSERT_EQ(moved.exit_code, 0) << moved.err;
  auto lost = s.run({"tag", "frontend-server", "1", "live", "--expect", "1"});
  EXPECT_EQ(lost.exit_code, 4) << "--expect 1 while live is at 2: " << lost.err;
  EXPECT_THAT(lost.err, HasSubstr("2"));

  auto history = s.run({"--json", "history", "frontend-server", "--tag", "live"});
  ASSERT_EQ(history.exit_code, 0) << history.err;
  auto events = nlohmann::json::parse(history.out);
  ASSERT_EQ(events.size(), 2u) << history.out;
  EXPECT_EQ(events[0]["version"], 2);
  EXPECT_EQ(events[0]["previous"], 1);
  EXPECT_EQ(events[0]["actor"], "bob");
  EXPECT_EQ(events[0]["comment"], "canary ok");
  EXPECT_EQ(events[1]["actor"], "alice");
  EXPECT_GT(events[0]["seq"].get<int>(), events[1]["seq"].get<int>()) << "newest first";

  auto back = s.run({"rollback", "frontend-server", "live", "--comment", "error rate up"});
  ASSERT_EQ(back.exit_code, 0) << back.err;
  EXPECT_EQ(s.run({"tags", "frontend-server"}).out, "latest 2\nlive 1\n");
  std::filesystem::create_directories(s.work() / "prod");
  ASSERT_EQ(s.run({"download", "frontend-server", "live", "-o", "prod"}).exit_code, 0);
  EXPECT_EQ(read_file(s.work() / "prod/frontend-server.jar"), "build 1");
  ASSERT_EQ(s.run({"rollback", "frontend-server", "live"}).exit_code, 0) << "a rollback can be rolled back";
  EXPECT_EQ(s.run({"tags", "frontend-server"}).out, "latest 2\nlive 2\n");

  auto all = nlohmann::json::parse(s.run({"--json", "history", "frontend-server"}).out);
  ASSERT_EQ(all.size(), 6u) << "2 adds, 2 moves, 2 rollbacks";
  EXPECT_EQ(all[0]["action"], "rollback");
  EXPECT_EQ(all[1]["action"], "rollback");
  EXPECT_EQ(all[1]["comment"], "error rate up");
  EXPECT_EQ(all[5]["action"], "add");
  auto text = s.run({"history", "frontend-server", "--limit", "1"});
  EXPECT_THAT(text.out, HasSubstr("rollback"));
  EXPECT_THAT(text.out, HasSubstr("SEQ"));
}

TEST(Canary, DownloadOfAnUnchangedVersionMovesNoBytes) {
  Sandbox s;
  s.write("app.bin", std::string(100000, 'x'));
  ASSERT_EQ(s.run({"add", "app", "app.bin"}).exit_code, 0);
  ASSERT_EQ(s.run({"download", "app", "latest", "-o", "copy.bin"}).exit_code, 0);
  struct stat before {};
  ::stat((s.work() / "copy.bin").c_str(), &before);
  auto again = s.run({"download", "app", "latest", "-o", "copy.bin"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("already up to date"));
  struct stat after {};
  ::stat((s.work() / "copy.bin").c_str(), &after);
  EXPECT_EQ(before.st_ino, after.st_ino) << "the file was not replaced";
  auto json = nlohmann::json::parse(s.run({"--json", "download", "app", "latest", "-o", "copy.bin"}).out);
  EXPECT_EQ(json["transferred"], false);
}

TEST(Canary, ModeAndBasenameAreRecordedAndApplied) {
  Sandbox s;
  auto p = s.write("run.sh", "#!/bin/sh\necho hi\n");
  ::chmod(p.c_str(), 0750);
  ASSERT_EQ(s.run({"add", "tool", "run.sh"}).exit_code, 0);
  std::filesystem::create_directories(s.work() / "dest");
  ASSERT_EQ(s.run({"download", "tool", "1", "-o", "dest"}).exit_code, 0);
  struct stat st {};
  ASSERT_EQ(::stat((s.work() / "dest/run.sh").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
}

TEST(Canary, StdinAndStdout) {
  Sandbox s;
  auto add =
      s.run({"add", "logs", "-", "--name", "logs.txt", "--meta", "commit=abc123", "--tag", "devel"}, "from stdin\n");
  ASSERT_EQ(add.exit_code, 0) << add.err;
  auto out = s.run({"download", "logs", "devel", "-o", "-"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out, "from stdin\n");
  auto info = nlohmann::json::parse(s.run({"--json", "info", "logs", "latest"}).out);
  EXPECT_EQ(info["basename"], "logs.txt");
  EXPECT_EQ(info["metadata"]["commit"], "abc123");
  EXPECT_EQ(info["tags"], nlohmann::json::array({"latest", "devel"}));
  for (const char* field : {"package", "version", "sha256", "size", "basename", "mode", "created", "metadata", "tags"})
    EXPECT_TRUE(info.contains(field)) << field;
  EXPECT_EQ(info["size"], 11);
}

TEST(Canary, DownloadWithoutOutputUsesTheBasenameInTheCurrentDirectory) {
  Sandbox s;
  s.write("a.txt", "content a");
  ASSERT_EQ(s.run({"add", "pkg", "a.txt", "--name", "renamed.txt"}).exit_code, 0);
  ASSERT_EQ(s.run({"download", "pkg", "latest"}).exit_code, 0);
  EXPECT_EQ(read_file(s.work() / "renamed.txt"), "content a");
}

TEST(Canary, ExportImportIntoAFreshHomeReproducesTheLedger) {
  Sandbox a, b;
  a.write("f", "one");
  a.run({"add", "p", "f", "--meta", "k=v"});
  a.write("f", "two");
  a.run({"add", "p", "f", "--tag", "live"});
  a.run({"add", "q", "f"});
  a.run({"remove", "p", "1"});
  auto exported = a.run({"export"});
  ASSERT_EQ(exported.exit_code, 0);
  auto imported = b.run({"import"}, exported.out);
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_EQ(b.run({"export"}).out, exported.out);
  EXPECT_EQ(b.run({"versions", "p"}).out, "2\n");
  b.write("f", "three");
  EXPECT_EQ(b.run({"add", "p", "f"}).out, "3\n") << "adds continue above imported versions";
}

TEST(Canary, GcRemovesOnlyUnreferencedBlobsOlderThanTheGrace) {
  Sandbox s;
  s.write("f", "keep me");
  s.run({"add", "p", "f"});
  s.write("f", "drop me");
  s.run({"add", "p", "f"});
  ASSERT_EQ(s.run({"remove", "p", "2"}).exit_code, 0);
  auto young = s.run({"gc"});
  ASSERT_EQ(young.exit_code, 0) << young.err;
  EXPECT_THAT(young.out, HasSubstr("removed 0 blobs"));
  // The removed version's blob, written two hours ago as far as gc can tell.
  const std::string dropped = Sha256::hex_of("drop me", 7);
  const auto blob = s.data() / "blobs" / dropped.substr(0, 2) / dropped;
  std::filesystem::last_write_time(blob, std::filesystem::file_time_type::clock::now() - std::chrono::hours(2));
  auto dry = s.run({"gc", "--dry-run"});
  EXPECT_THAT(dry.out, HasSubstr("would remove 1 blobs"));
  auto real = s.run({"--json", "gc"});
  ASSERT_EQ(real.exit_code, 0) << real.err;
  auto j = nlohmann::json::parse(real.out);
  EXPECT_EQ(j["removed"].size(), 1u);
  EXPECT_EQ(j["referenced"], 1);
  std::filesystem::create_directories(s.work() / "d");
  EXPECT_EQ(s.run({"download", "p", "1", "-o", "d"}).exit_code, 0);
  EXPECT_EQ(read_file(s.work() / "d/f"), "keep me");
}

TEST(Canary, ConfigPrecedenceFlagsThenEnvThenFileThenDefault) {
  Sandbox s;
  auto db = [&](const char* n) { return "sqlite://" + (s.home() / n).string(); };
  s.write("f", "x");
  write_file(s.home() / "conf.json", "{\"ledger\": \"" + db("file.db") + "\"}");
  write_file(s.home() / ".sacker.json", "{\"ledger\": \"" + db("home.db") + "\"}");
  ASSERT_EQ(s.run({"add", "from-home-config", "f"}).exit_code, 0);
  ASSERT_EQ(s.run({"add", "from-file", "f"}, "", {"SACKER_CONFIG=" + (s.home() / "conf.json").string()}).exit_code, 0);
  ASSERT_EQ(s.run({"add", "from-env", "f"}, "",
                  {"SACKER_CONFIG=" + (s.home() / "conf.json").string(), "SACKER_LEDGER=" + db("env.db")})
                .exit_code,
            0);
  ASSERT_EQ(
      s.run({"--ledger", db("flag.db"), "add", "from-flag", "f"}, "", {"SACKER_LEDGER=" + db("env.db")}).exit_code, 0);
  EXPECT_EQ(s.run({"--ledger", db("home.db"), "list"}).out, "from-home-config\n");
  EXPECT_EQ(s.run({"--ledger", db("file.db"), "list"}).out, "from-file\n");
  EXPECT_EQ(s.run({"--ledger", db("env.db"), "list"}).out, "from-env\n");
  EXPECT_EQ(s.run({"--ledger", db("flag.db"), "list"}).out, "from-flag\n");
  std::filesystem::remove(s.home() / ".sacker.json");
  EXPECT_EQ(s.run({"list"}).out, "") << "the embedded default is a fresh ledger";
  EXPECT_TRUE(std::filesystem::exists(s.data() / "ledger.db"));
}

TEST(Cli, VersionListsTheCompiledBackendsAndHelpWorksEverywhere) {
  Sandbox s;
  auto v = s.run({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_THAT(v.out, HasSubstr("ledgers: sqlite"));
  EXPECT_THAT(v.out, HasSubstr("stores: file"));
  for (const char* cmd : {"list", "versions", "tags", "info", "add", "download", "tag", "untag", "remove", "init", "gc",
                          "export", "import", "url"}) {
    auto h = s.run({cmd, "--help"});
    EXPECT_EQ(h.exit_code, 0) << cmd;
    EXPECT_THAT(h.out, HasSubstr("Exit codes")) << cmd;
  }
}

}  // namespace
}  // namespace sacker::test
