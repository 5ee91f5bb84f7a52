// resolve_config: empty flags, directories, duplicate keys and syntax errors in the
// config file (issue 7 points 6, 12, 20).
#include <gtest/gtest.h>

#include <map>

#include "sacker/config.h"
#include "sacker/error.h"
#include "support/test_env.h"

namespace sacker {
namespace {

namespace fs = std::filesystem;

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// The error resolve_config throws (kind and message); Internal if none.
std::pair<ErrorKind, std::string> failure(const ConfigFlags& flags, const EnvLookup& env) {
  try {
    resolve_config(flags, env);
  } catch (const Error& e) {
    return {e.kind(), e.what()};
  }
  return {ErrorKind::Internal, "no error"};
}

class ConfigFile : public ::testing::Test {
 protected:
  void TearDown() override { fs::remove_all(dir); }
  fs::path dir = test::make_temp_dir("sacker-config");
  EnvLookup env = env_of({{"HOME", dir.string()}});
};

TEST_F(ConfigFile, EmptyFlagsAreErrorsNotTheDefault) {
  for (const auto& [flags, name] :
       std::vector<std::pair<ConfigFlags, std::string>>{{{std::string(), std::nullopt, std::nullopt}, "--ledger"},
                                                        {{std::nullopt, std::string(), std::nullopt}, "--store"},
                                                        {{std::nullopt, std::nullopt, std::string()}, "--config"}}) {
    auto [kind, message] = failure(flags, env);
    EXPECT_EQ(kind, ErrorKind::Invalid) << name << ": " << message;
    EXPECT_NE(message.find(name), std::string::npos) << message;
  }
  // An empty variable is an unset one (a CI's "VAR=" is not a value).
  auto config = resolve_config({}, env_of({{"HOME", dir.string()}, {"SACKER_LEDGER", ""}, {"SACKER_CONFIG", ""}}));
  EXPECT_EQ(config.ledger, "sqlite://" + dir.string() + "/.local/share/sacker/ledger.db");
}

TEST_F(ConfigFile, ADirectoryIsNotAFile) {
  fs::create_directories(dir / ".sacker.json");
  auto [kind, message] = failure({}, env);
  EXPECT_EQ(kind, ErrorKind::Invalid);
  EXPECT_NE(message.find("is a directory"), std::string::npos) << message;
}

TEST_F(ConfigFile, DuplicateKeysAreRefused) {
  test::write_file(dir / ".sacker.json",
                   R"({"ledger": "sqlite:///a.db", "store": "file:///s", "ledger": "sqlite:///b.db"})");
  auto [kind, message] = failure({}, env);
  EXPECT_EQ(kind, ErrorKind::Invalid);
  EXPECT_NE(message.find("duplicate key \"ledger\""), std::string::npos) << message;
}

// Found by fuzz_config: nlohmann's out_of_range for a number no type holds escaped
// as an internal error (exit 1).
TEST_F(ConfigFile, ANumberOutOfRangeIsInvalidJson) {
  for (const char* text : {R"({"ledger": -333333333333333333333333e3333333})", R"({"x": 1e999})"}) {
    test::write_file(dir / ".sacker.json", text);
    auto [kind, message] = failure({}, env);
    EXPECT_EQ(kind, ErrorKind::Invalid) << text;
    EXPECT_NE(message.find("not valid JSON"), std::string::npos) << message;
  }
}

TEST_F(ConfigFile, SyntaxErrorsSayWhereNeverWhat) {
  const std::string secret = "FakeSecretValue0000";
  for (const std::string& text :
       {"{\"ledger\": \"postgres://u:" + secret + "@h/db\" x}", "{\"ledger\": \"postgres://u:" + secret + "@h/db",
        "{\n  \"ledger\": \"postgres://u:" + secret + "@h/db\",\n  oops\n}"}) {
    test::write_file(dir / ".sacker.json", text);
    auto [kind, message] = failure({}, env);
    EXPECT_EQ(kind, ErrorKind::Invalid) << message;
    EXPECT_NE(message.find("not valid JSON"), std::string::npos) << message;
    EXPECT_NE(message.find("line "), std::string::npos) << message;
    EXPECT_EQ(message.find(secret), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace sacker
