// End-to-end: output formats and quiet/verbose behaviour of the CLI.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "e2e/sandbox.h"

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

}  // namespace
}  // namespace sacker::test
