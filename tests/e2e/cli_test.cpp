// End-to-end: output formats and quiet/verbose behaviour of the CLI.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "e2e/sandbox.h"
#include "support/fs_clock.h"

namespace sacker::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(Cli, JsonDocumentsHaveStableFields) {
  Sandbox s;
  s.write("f", "x");
  auto add = nlohmann::json::parse(s.run({"--json", "add", "p", "f"}).out);
  EXPECT_EQ(add["version"], 1);
  EXPECT_EQ(add["package"], "p");
  EXPECT_EQ(nlohmann::json::parse(s.run({"--json", "list"}).out)["packages"], nlohmann::json::array({"p"}));
  EXPECT_EQ(nlohmann::json::parse(s.run({"--json", "versions", "p"}).out)["versions"], nlohmann::json::array({1}));
  EXPECT_EQ(nlohmann::json::parse(s.run({"--json", "tags", "p"}).out)["tags"]["latest"], 1);
}

TEST(Cli, QuietPrintsOnlyResultsAndVerboseNamesTheBackends) {
  Sandbox s;
  s.write("f", "x");
  auto q = s.run({"-q", "add", "p", "f"});
  EXPECT_EQ(q.out, "1\n");
  EXPECT_EQ(q.err, "");
  auto d = s.run({"-q", "download", "p", "1", "-o", "g"});
  EXPECT_EQ(d.out, "");
  auto v = s.run({"-v", "list"});
  EXPECT_THAT(v.err, HasSubstr("sqlite://"));
  EXPECT_THAT(v.err, HasSubstr("default"));
}

TEST(Cli, NoProgressBarInPipes) {
  Sandbox s;
  s.write("big", std::string(3 << 20, 'b'));
  auto r = s.run({"add", "p", "big"});
  EXPECT_THAT(r.err, Not(HasSubstr("\r")));
  auto d = s.run({"download", "p", "1", "-o", "big2"});
  EXPECT_THAT(d.err, Not(HasSubstr("\r")));
}

TEST(Cli, GlobalOptionsMayFollowTheCommand) {
  Sandbox s;
  s.write("f", "x");
  s.run({"add", "p", "f"});
  auto r = s.run({"versions", "p", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["versions"], nlohmann::json::array({1}));
}

// Cheap polling (issue 10): a download onto a destination that already holds the blob
// and did not change since sacker wrote it hashes nothing and fetches nothing; any
// change (here: same size, other bytes) is noticed, re-hashed and repaired. Both ways
// sacker remembers the sha256: the directory's xattr, and the sidecar file where the
// file system has no user xattrs (SACKER_TEST_NO_XATTR simulates one).
TEST(Cli, UnchangedDestinationIsNeitherRehashedNorFetched) {
  for (const std::vector<std::string> env : {std::vector<std::string>{}, {"SACKER_TEST_NO_XATTR=1"}}) {
    SCOPED_TRACE(env.empty() ? "xattr" : "sidecar");
    Sandbox s;
    const std::string blob(1 << 20, 'p');
    s.write("f", blob);
    ASSERT_EQ(s.run({"add", "p", "f"}).exit_code, 0);
    auto json_of = [&](const std::vector<std::string>& args) {
      auto r = s.run(args, "", env);
      EXPECT_EQ(r.exit_code, 0) << r.err;
      return nlohmann::json::parse(r.out);
    };
    const std::vector<std::string> download = {"--json", "download", "p", "latest", "-o", "d"};
    auto first = json_of(download);
    EXPECT_EQ(first["bytes_transferred"], blob.size());
    // The download's own entry is dropped when the file system's clock has not moved
    // past the file's ctime yet ("racily clean"); a later run hashes once and remembers.
    wait_until_fs_clock_passes(s.work() / "d");
    auto again = json_of(download);
    EXPECT_EQ(again["bytes_transferred"], 0);
    EXPECT_TRUE(again["bytes_hashed"] == 0 || again["bytes_hashed"] == blob.size()) << again.dump();
    auto remembered = json_of(download);
    EXPECT_EQ(remembered["bytes_transferred"], 0);
    EXPECT_EQ(remembered["bytes_hashed"], 0) << "the unchanged destination was hashed again";
    auto still = json_of(download);  // still remembered after a run that used the entry
    EXPECT_EQ(still["bytes_hashed"], 0);
    if (env.empty())
      for (const auto& entry : std::filesystem::directory_iterator(s.work()))
        EXPECT_EQ(entry.path().filename().string().find(".sacker-sha256"), std::string::npos)
            << "a sidecar where the directory has xattrs";

    s.write("d", std::string(blob.size(), 'q'));  // same size, other bytes
    auto repaired = json_of(download);
    EXPECT_EQ(repaired["bytes_hashed"], blob.size()) << "a changed destination must be hashed";
    EXPECT_EQ(repaired["bytes_transferred"], blob.size());
    EXPECT_EQ(read_file(s.work() / "d"), blob);
  }
}

// The first poll after a download of a file that costs more to hash than a few clock
// ticks (8 MiB and up) is O(1) too: the download waits for the file system's clock to
// pass the file's ctime before it remembers the sha256 (client/transfer.cpp).
TEST(Cli, TheFirstRunAfterADownloadOfALargeFileDoesNotHashIt) {
  for (const std::vector<std::string> env : {std::vector<std::string>{}, {"SACKER_TEST_NO_XATTR=1"}}) {
    SCOPED_TRACE(env.empty() ? "xattr" : "sidecar");
    Sandbox s;
    const std::string blob(16 << 20, 'l');
    s.write("f", blob);
    ASSERT_EQ(s.run({"add", "l", "f"}).exit_code, 0);
    const std::vector<std::string> download = {"--json", "download", "l", "latest", "-o", "d"};
    auto first = s.run(download, "", env);
    ASSERT_EQ(first.exit_code, 0) << first.err;
    EXPECT_EQ(nlohmann::json::parse(first.out)["bytes_transferred"], blob.size());
    auto poll = s.run(download, "", env);
    ASSERT_EQ(poll.exit_code, 0) << poll.err;
    EXPECT_EQ(nlohmann::json::parse(poll.out)["bytes_hashed"], 0) << "the first poll hashed the fresh download";
    EXPECT_EQ(nlohmann::json::parse(poll.out)["bytes_transferred"], 0);
  }
}

}  // namespace
}  // namespace sacker::test
