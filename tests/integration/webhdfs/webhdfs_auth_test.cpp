// WebHDFS authentication against the stand-in (written from the WebHDFS specification;
// no HDFS server can run here): delegation tokens over TLS (swebhdfs://, server
// webhdfs-tls) and real SPNEGO against a throw-away MIT Kerberos realm (server
// webhdfs-krb, scripts/servers/kdc.sh). The namenodes see the credentials; the
// datanodes only ever see the token, never an Authorization: Negotiate header.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/webhdfs/standin.h"

namespace sacker::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class WebHdfsAuth : public ::testing::Test {
 protected:
  void SetUp() override {
    load_test_env();
    ASSERT_FALSE(env_or_empty("WEBHDFS_CONTROL").empty()) << "run with a webhdfs fixture's env file";
    standin_.set({{"reset", true}});
    dir_ = env_or_empty("WEBHDFS_HOME") + "/" + unique_token();
    standin_.mark();
  }
  // add, then download and compare; the sacker runs' results for the caller to check.
  void round_trip(const std::string& uri, const std::vector<std::string>& env) {
    const auto f = run_.file("app.jar", 700000, 31);
    auto a = run_(uri, {"-v", "add", "app", f.string()}, env);
    ASSERT_EQ(a.exit_code, 0) << a.err;
    const auto out = run_.home() / "out";
    auto d = run_(uri, {"-v", "download", "app", "latest", "-o", out.string()}, env);
    ASSERT_EQ(d.exit_code, 0) << d.err;
    EXPECT_EQ(read_file(out), read_file(f));
    stderr_ = a.err + d.err;
  }

  Standin standin_;
  SackerRun run_{"sacker-webhdfs-auth"};
  std::string dir_, stderr_;
};

class WebHdfsTokenTls : public WebHdfsAuth {};
class WebHdfsKerberos : public WebHdfsAuth {};

TEST_F(WebHdfsTokenTls, TheTokenGoesToNamenodeAndDatanodeOverHttpsAndNowhereElse) {
  const std::string token = env_or_empty("WEBHDFS_TOKEN");
  ASSERT_FALSE(token.empty());
  const std::string uri =
      "swebhdfs://" + env_or_empty("WEBHDFS_NN1") + dir_ + "?ca_bundle=" + env_or_empty("WEBHDFS_CA");
  round_trip(uri, {"WEBHDFS_DELEGATION_TOKEN=" + token});
  EXPECT_THAT(stderr_, Not(HasSubstr(token)));
  EXPECT_THAT(stderr_, HasSubstr("delegation=REDACTED"));
  const auto log = standin_.log();
  int dn = 0;
  for (const auto& e : log) {
    EXPECT_EQ(param(e, "delegation"), token) << e.dump();
    EXPECT_EQ(param(e, "user.name"), "") << "a token replaces user.name: " << e.dump();
    dn += e["role"] == "dn";
  }
  EXPECT_GE(dn, 2);  // CREATE and OPEN on a datanode, each with the token
}

TEST_F(WebHdfsTokenTls, AWrongTokenIsDeniedAndAnUntrustedCertificateUnavailable) {
  const auto f = run_.file("a", 100, 32);
  const std::string nn = env_or_empty("WEBHDFS_NN1");
  auto r = run_("swebhdfs://" + nn + dir_ + "?ca_bundle=" + env_or_empty("WEBHDFS_CA"), {"add", "app", f.string()},
                {"WEBHDFS_DELEGATION_TOKEN=not-the-token"});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_THAT(r.err, HasSubstr("InvalidToken"));
  EXPECT_THAT(r.err, Not(HasSubstr("not-the-token")));
  r = run_("swebhdfs://" + nn + dir_, {"add", "app", f.string()},
           {"WEBHDFS_DELEGATION_TOKEN=" + env_or_empty("WEBHDFS_TOKEN")});
  EXPECT_EQ(r.exit_code, 7) << r.err;
  EXPECT_THAT(r.err, Not(HasSubstr(env_or_empty("WEBHDFS_TOKEN"))));
}

TEST_F(WebHdfsTokenTls, TheTokenAndTheCaComeFromAFileOptionAndTheEnvironmentToo) {
  const auto token_file = run_.home() / "token";
  write_file(token_file, env_or_empty("WEBHDFS_TOKEN") + "\n");
  const std::string uri = "swebhdfs://" + env_or_empty("WEBHDFS_NN1") + dir_ + "?token_file=" + token_file.string();
  round_trip(uri, {"WEBHDFS_CA_BUNDLE=" + env_or_empty("WEBHDFS_CA")});
  for (const auto& e : standin_.log()) EXPECT_EQ(param(e, "delegation"), env_or_empty("WEBHDFS_TOKEN")) << e.dump();
}

TEST_F(WebHdfsKerberos, ATicketAuthenticatesAndTheDatanodeNeverSeesNegotiate) {
  const std::string ccache = "FILE:" + (run_.home() / "ccache").string();
  auto k = run_process({"kinit", "-k", "-t", env_or_empty("KDC_CLIENT_KEYTAB"), env_or_empty("KDC_USER_PRINCIPAL")},
                       {"KRB5CCNAME=" + ccache});
  ASSERT_EQ(k.exit_code, 0) << k.err;
  const std::string uri = "webhdfs://" + env_or_empty("WEBHDFS_NN1") + dir_ + "?auth=kerberos";
  round_trip(uri, {"KRB5CCNAME=" + ccache});
  const auto log = standin_.log();
  int negotiated = 0, dn = 0;
  for (const auto& e : log) {
    if (e["role"] == "dn") {
      ++dn;
      EXPECT_TRUE(e["authorization"].is_null()) << e.dump();
      EXPECT_NE(param(e, "delegation"), "") << "the namenode's token is on the datanode URL: " << e.dump();
    } else {
      negotiated += e["authorization"] == "Negotiate";
      EXPECT_EQ(e["user"], "sacker") << e.dump();
      EXPECT_EQ(param(e, "user.name"), "") << e.dump();
    }
  }
  EXPECT_GE(dn, 2);
  EXPECT_GE(negotiated, 1);
}

TEST_F(WebHdfsKerberos, WithoutATicketItFailsClearlyWithAKinitHint) {
  const auto f = run_.file("a", 100, 33);
  const std::string uri = "webhdfs://" + env_or_empty("WEBHDFS_NN1") + dir_ + "?auth=kerberos";
  auto r = run_(uri, {"add", "app", f.string()}, {"KRB5CCNAME=FILE:" + (run_.home() / "no-ccache").string()});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_THAT(r.err, HasSubstr("kinit?"));
  const auto log = standin_.log();
  ASSERT_FALSE(log.empty());
  for (const auto& e : log) {
    EXPECT_EQ(e["role"], "nn") << e.dump();
    EXPECT_EQ(e["status"], 401) << e.dump();
  }
}

}  // namespace
}  // namespace sacker::test
