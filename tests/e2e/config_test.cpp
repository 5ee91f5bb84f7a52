// End-to-end: `sacker config`, the effective ledger and store and where each came from.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "e2e/sandbox.h"

namespace sacker::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

nlohmann::json config_json(const Sandbox& s, const std::vector<std::string>& flags,
                           const std::vector<std::string>& env = {}) {
  std::vector<std::string> args = flags;
  args.insert(args.end(), {"--json", "config"});
  auto r = s.run(args, "", env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

TEST(Config, DefaultNeedsNothingAndCreatesNothing) {
  Sandbox s;
  auto j = config_json(s, {});
  EXPECT_EQ(j["ledger"]["uri"], "sqlite://" + s.data().string() + "/ledger.db");
  EXPECT_EQ(j["ledger"]["from"], "default");
  EXPECT_EQ(j["store"]["uris"], nlohmann::json::array({"file://" + s.data().string() + "/blobs"}));
  EXPECT_EQ(j["store"]["from"], "default");
  EXPECT_EQ(j["config_file"], (s.home() / ".sacker.json").string());
  EXPECT_EQ(j["config_file_exists"], false);
  EXPECT_FALSE(std::filesystem::exists(s.data())) << "config opened the default backends";
  auto text = s.run({"config"});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_THAT(text.out, HasSubstr("ledger sqlite://" + s.data().string() + "/ledger.db  (default)"));
  EXPECT_THAT(text.out, HasSubstr("store  file://" + s.data().string() + "/blobs  (default)"));
  EXPECT_THAT(text.out, HasSubstr("config file " + (s.home() / ".sacker.json").string() + " (absent)"));
}

TEST(Config, SaysWhereEachValueCameFrom) {
  Sandbox s;
  auto file = s.write("team.json", R"({"ledger": "mem://from-file", "store": ["file:///cache", "mem://remote"]})");
  auto j = config_json(s, {"--config", file.string()});
  EXPECT_EQ(j["ledger"]["uri"], "mem://from-file");
  EXPECT_EQ(j["ledger"]["from"], "file");
  EXPECT_EQ(j["ledger"]["source"], file.string());
  EXPECT_EQ(j["store"]["uris"], nlohmann::json::array({"file:///cache", "mem://remote"}));
  EXPECT_EQ(j["store"]["from"], "file");
  EXPECT_EQ(j["config_file"], file.string());
  EXPECT_EQ(j["config_file_exists"], true);

  j = config_json(s, {"--config", file.string()}, {"SACKER_LEDGER=mem://from-env"});
  EXPECT_EQ(j["ledger"]["uri"], "mem://from-env");
  EXPECT_EQ(j["ledger"]["from"], "env");
  EXPECT_EQ(j["ledger"]["source"], "SACKER_LEDGER");
  EXPECT_EQ(j["store"]["from"], "file");

  j = config_json(s, {"--config", file.string(), "--ledger", "mem://from-flag", "--store", "mem://s"},
                  {"SACKER_LEDGER=mem://from-env", "SACKER_STORE=mem://env-store"});
  EXPECT_EQ(j["ledger"]["uri"], "mem://from-flag");
  EXPECT_EQ(j["ledger"]["from"], "flag");
  EXPECT_EQ(j["ledger"]["source"], "--ledger");
  EXPECT_EQ(j["store"]["uris"], nlohmann::json::array({"mem://s"}));
  EXPECT_EQ(j["store"]["from"], "flag");

  j = config_json(s, {}, {"SACKER_STORE=mem://env-store"});
  EXPECT_EQ(j["ledger"]["from"], "default");
  EXPECT_EQ(j["store"]["from"], "env");
  EXPECT_EQ(j["store"]["source"], "SACKER_STORE");

  auto text = s.run({"--config", file.string(), "config"}, "", {"SACKER_STORE=mem://env-store"});
  EXPECT_THAT(text.out, HasSubstr("ledger mem://from-file  (file " + file.string() + ")"));
  EXPECT_THAT(text.out, HasSubstr("store  mem://env-store  (SACKER_STORE)"));
}

TEST(Config, NeverPrintsSecrets) {
  Sandbox s;
  auto file = s.write("c.json", R"({"store": "s3://bucket/p?secret_key=hunter2"})");
  for (const auto& flags : std::vector<std::vector<std::string>>{{"config"}, {"--json", "config"}, {"-v", "config"}}) {
    std::vector<std::string> args = {"--ledger", "postgres://alice:hunter2@db:5432/artifacts", "--config",
                                     file.string()};
    args.insert(args.end(), flags.begin(), flags.end());
    auto r = s.run(args, "", {"SACKER_ACTOR=ci"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.out + r.err, Not(HasSubstr("hunter2")));
    EXPECT_THAT(r.out, HasSubstr("db:5432/artifacts"));
  }
}

TEST(Config, ErrorsAreOneLineWithTheirExitCode) {
  Sandbox s;
  auto missing = s.run({"--config", (s.work() / "nope.json").string(), "config"});
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_THAT(missing.err, HasSubstr("does not exist"));
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1);
  auto bad = s.write("bad.json", R"({"ledgr": "x"})");
  auto invalid = s.run({"--config", bad.string(), "--json", "config"});
  EXPECT_EQ(invalid.exit_code, 2);
  EXPECT_THAT(invalid.err, HasSubstr("unknown key"));
  EXPECT_EQ(invalid.out, "");
  EXPECT_EQ(s.run({"config", "extra"}).exit_code, 2);
}

}  // namespace
}  // namespace sacker::test
