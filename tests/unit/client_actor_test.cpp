// default_actor: $SACKER_ACTOR, each CI's own variables, else user@host; always
// printable UTF-8 of at most 256 bytes; token variables never read.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <set>

#include "sacker/client.h"

namespace sacker {
namespace {

// An environment that remembers which variables were asked for.
struct FakeEnv {
  std::map<std::string, std::string> vars;
  std::set<std::string> asked;
  EnvLookup lookup() {
    return [this](const std::string& name) -> std::optional<std::string> {
      asked.insert(name);
      auto it = vars.find(name);
      if (it == vars.end()) return std::nullopt;
      return it->second;
    };
  }
};

std::string actor(std::map<std::string, std::string> vars) {
  FakeEnv env{std::move(vars), {}};
  return default_actor(env.lookup());
}

std::string host() {
  char h[256] = {};
  ::gethostname(h, sizeof h - 1);
  return h;
}

TEST(DefaultActor, SackerActorWins) {
  EXPECT_EQ(actor({{"SACKER_ACTOR", "release-bot"}, {"GITHUB_ACTOR", "octocat"}, {"USER", "me"}}), "release-bot");
}

TEST(DefaultActor, EachCiNamesItsUserAndRun) {
  EXPECT_EQ(actor({{"GITHUB_ACTOR", "octocat"}, {"GITHUB_RUN_ID", "1234"}, {"GITHUB_RUN_ATTEMPT", "1"}}),
            "github:octocat run 1234");
  EXPECT_EQ(actor({{"GITHUB_ACTOR", "octocat"}, {"GITHUB_RUN_ID", "1234"}, {"GITHUB_RUN_ATTEMPT", "3"}}),
            "github:octocat run 1234 attempt 3");
  EXPECT_EQ(actor({{"GITLAB_CI", "true"}, {"GITLAB_USER_LOGIN", "alice"}, {"CI_JOB_ID", "5678"}}),
            "gitlab:alice job 5678");
  EXPECT_EQ(actor({{"JENKINS_URL", "http://ci/"}, {"BUILD_USER_ID", "bob"}, {"BUILD_TAG", "jenkins-app-42"}}),
            "jenkins:bob build jenkins-app-42");
  EXPECT_EQ(actor({{"BUILD_NUMBER", "42"}, {"JOB_NAME", "app"}}), "jenkins:jenkins job app build 42");
  EXPECT_EQ(actor({{"BUILDKITE", "true"},
                   {"BUILDKITE_BUILD_CREATOR", "carol"},
                   {"BUILDKITE_BUILD_AUTHOR", "dave"},
                   {"BUILDKITE_BUILD_NUMBER", "7"},
                   {"BUILDKITE_JOB_ID", "0f1e"}}),
            "buildkite:carol build 7 job 0f1e");
  EXPECT_EQ(actor({{"BUILDKITE_BUILD_AUTHOR", "dave"}, {"BUILDKITE_BUILD_NUMBER", "7"}}), "buildkite:dave build 7");
  EXPECT_EQ(actor({{"CIRCLECI", "true"}, {"CIRCLE_USERNAME", "erin"}, {"CIRCLE_BUILD_NUM", "99"}}),
            "circleci:erin build 99");
}

TEST(DefaultActor, ElseUserAtHost) {
  EXPECT_EQ(actor({{"USER", "frank"}}), "frank@" + host());
  EXPECT_EQ(actor({{"LOGNAME", "grace"}}), "grace@" + host());
  EXPECT_THAT(actor({}), ::testing::EndsWith("@" + host())) << "the account's name from the password database";
}

TEST(DefaultActor, NeverReadsATokenVariable) {
  FakeEnv env{{{"GITHUB_ACTOR", "octocat"}, {"GITHUB_TOKEN", "ghp_secret"}, {"CI_JOB_TOKEN", "glcbt-secret"}}, {}};
  const std::string a = default_actor(env.lookup());
  EXPECT_EQ(a.find("secret"), std::string::npos);
  for (const auto& name : env.asked) {
    EXPECT_EQ(name.find("TOKEN"), std::string::npos) << name;
    EXPECT_EQ(name.find("SECRET"), std::string::npos) << name;
    EXPECT_EQ(name.find("PASSWORD"), std::string::npos) << name;
  }
}

TEST(DefaultActor, IsPrintableUtf8OfAtMost256Bytes) {
  EXPECT_EQ(actor({{"SACKER_ACTOR", "evil\x1b]0;owned\x07"}}), "evil?]0;owned?");
  EXPECT_EQ(actor({{"SACKER_ACTOR",
                    "c1\xc2\x9b"
                    "2J"}}),
            "c1?2J");
  EXPECT_EQ(actor({{"SACKER_ACTOR", "bad\xff\xfe utf8"}}), "bad?? utf8");
  EXPECT_EQ(actor({{"SACKER_ACTOR", "Jos\xc3\xa9"}}), "Jos\xc3\xa9") << "printable non-ASCII stays";
  const std::string long_name = std::string(255, 'a') + "\xc3\xa9";  // the 2-byte character would end at 257
  EXPECT_EQ(actor({{"SACKER_ACTOR", long_name}}), std::string(255, 'a'));
  EXPECT_EQ(actor({{"GITHUB_ACTOR", std::string(400, 'x')}}).size(), 256u);
}

TEST(DefaultActor, IsAcceptedByTheClient) {
  // What default_actor returns is always a valid ClientIdentity.actor.
  for (const std::string& raw : {std::string("\x01\x02"), std::string(300, '\x7f'), std::string("\xe2\x80")}) {
    FakeEnv env{{{"SACKER_ACTOR", raw}}, {}};
    const std::string a = default_actor(env.lookup());
    for (unsigned char c : a) EXPECT_TRUE(c >= 0x20 && c != 0x7f) << a;
    EXPECT_LE(a.size(), 256u);
  }
}

}  // namespace
}  // namespace sacker
