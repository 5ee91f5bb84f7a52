// Profiles that assume a role (role_arn + source_profile / credential_source) or
// run a credential_process, and where they stand in the credential chain.
//
// STS cannot run here, so AssumeRole is tested against the local STS stand-in in
// tests/unit/fixtures/fault_server.py (route /sts/), which answers in the
// documented XML format and recomputes each request's SigV4 signature itself (its
// own implementation of AWS's algorithm, not sacker's signer) with the secret of
// the access key id the request names: a request that is not signed by the
// expected source credentials, or lacks their X-Amz-Security-Token, is refused
// like STS refuses it and recorded as such in /stats. The same stand-in plays
// IMDS for credential_source = Ec2InstanceMetadata. credential_process runs small
// Python scripts written into a temporary HOME; the environment given to
// AwsConfig is a fake (an injected EnvLookup): nothing reads the real ~/.aws.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aws/aws_config.h"
#include "aws/aws_credentials.h"
#include "aws/credential_process.h"
#include "unit/fixtures/aws_home.h"
#include "unit/fixtures/local_server.h"

namespace sacker::aws {
using namespace sacker::net;  // the HTTP layer the AWS code sits on
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using sacker::testing::LocalServer;

constexpr const char* kBaseKeys = "aws_access_key_id = AKIABASE\naws_secret_access_key = SECRETVALUE-base\n";

// A credential_process stand-in: its first argument picks what it does; it
// records its arguments in argv.json and counts its runs in `count`, next to itself.
constexpr const char* kProcessScript = R"(import json, os, sys
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "argv.json"), "w") as f:
    json.dump(sys.argv[1:], f)
count_file = os.path.join(here, "count")
n = int(open(count_file).read()) + 1 if os.path.exists(count_file) else 1
open(count_file, "w").write(str(n))
mode = sys.argv[1]
creds = {"Version": 1, "AccessKeyId": f"AKIAPROC{n}", "SecretAccessKey": "SECRETVALUE-proc",
         "SessionToken": "SECRETVALUE-proctoken"}
if mode == "ok":
    print(json.dumps(creds))
elif mode == "expiring":
    print(json.dumps(dict(creds, Expiration="2030-01-01T00:00:00Z")))
elif mode == "fail":
    print(json.dumps(creds))
    sys.stderr.write("token expired: run login\nSECRETVALUE on the second line\n")
    sys.exit(3)
elif mode == "garbage":
    print("not json SECRETVALUE-garbage")
elif mode == "version2":
    print(json.dumps(dict(creds, Version=2)))
elif mode == "nosecret":
    print(json.dumps({"Version": 1, "AccessKeyId": "AKIAPROC"}))
elif mode == "badexpiry":
    print(json.dumps(dict(creds, Expiration="tomorrow SECRETVALUE-exp")))
elif mode == "signal":
    os.kill(os.getpid(), 9)
)";

class AwsProfileTest : public sacker::testing::AwsHomeTest {
 protected:
  void SetUp() override {
    make_home("aws-role");
    vars_["AWS_EC2_METADATA_DISABLED"] = "true";
    vars_["AWS_REGION"] = "eu-west-1";
    // The process stand-in lives in a directory with a space in its name.
    fs::create_directories(home_ / "cred tools");
    std::ofstream(home_ / "cred tools/creds.py") << kProcessScript;
  }

  // credential_process line running the stand-in in `mode` (the script's path is quoted: it has a space).
  std::string process_line(const std::string& mode) const {
    return "/usr/bin/python3 \"" + (home_ / "cred tools/creds.py").string() + "\" " + mode;
  }
  int process_runs() const {
    std::ifstream in(home_ / "cred tools/count");
    int n = 0;
    in >> n;
    return n;
  }

  AwsCredentialsOptions quick_options() {
    AwsCredentialsOptions o;
    o.http.retry.max_attempts = 2;
    o.http.sleep = [](std::chrono::milliseconds) {};
    o.http.log = [this](const std::string& line) { log_.push_back(line); };
    return o;
  }
  AwsCredentials get() { return make_default_credentials_provider(config(), quick_options())->get(); }

  // No secret of any test key may show up in a message or a log line.
  void expect_no_secret(const std::string& text) {
    for (const char* secret : {"SECRETVALUE", "role-secret", "role-session", "imds-secret", "imds-token-", "web-secret",
                               "web-session", "JWT.TOKEN.VALUE"})
      EXPECT_EQ(text.find(secret), std::string::npos) << text;
  }
  void expect_clean_log() {
    for (const auto& line : log_) expect_no_secret(line);
  }

  // The AssumeRole requests the stand-in saw, in order.
  static json sts_requests(const LocalServer& sts) {
    HttpClient probe;
    HttpRequest r;
    r.url = sts.url("/stats");
    return json::parse(probe.send(r).body)["sts"];
  }

  std::vector<std::string> log_;
};

template <class F>
Error catch_error(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no sacker::Error thrown";
  return Error(ErrorKind::Internal, "none");
}

void expect_one_line(const Error& e) { EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what(); }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// ---- assume role -------------------------------------------------------------------

TEST_F(AwsProfileTest, SourceProfileWithStaticKeys) {
  LocalServer sts;
  write(".aws/credentials", std::string("[base]\n") + kBaseKeys);
  write(".aws/config",
        "[profile deploy]\nrole_arn = arn:aws:iam::123456789012:role/deploy\nsource_profile = base\n"
        "role_session_name = ci build 42\nexternal_id = ext-7/x\nduration_seconds = 1800\n");
  vars_["AWS_PROFILE"] = "deploy";
  vars_["AWS_ENDPOINT_URL_STS"] = sts.url("/sts");
  auto provider = make_default_credentials_provider(config(), quick_options());
  EXPECT_TRUE(sts_requests(sts).empty()) << "building the chain must not touch the network";
  const AwsCredentials c = provider->get();
  EXPECT_EQ(c.access_key_id, "ASIAROLE1");
  EXPECT_EQ(c.secret_access_key, "role-secret-1");
  EXPECT_EQ(c.session_token, "role-session-1");
  ASSERT_TRUE(c.expiration);
  EXPECT_EQ(*c.expiration, parse_iso8601_utc("2030-01-01T00:00:00Z"));
  EXPECT_EQ(c.source, "assumed role arn:aws:iam::123456789012:role/deploy (profile deploy)");
  EXPECT_EQ(provider->get().access_key_id, "ASIAROLE1");  // cached

  const json reqs = sts_requests(sts);
  ASSERT_EQ(reqs.size(), 1u);
  const json& r = reqs[0];
  EXPECT_EQ(r["sigv4"], "ok") << r.dump();  // the stand-in recomputed the signature with AKIABASE's secret
  EXPECT_EQ(r["access_key"], "AKIABASE");
  EXPECT_TRUE(r["security_token"].is_null());  // long-term keys carry none
  const std::string scope = r["scope"];
  EXPECT_EQ(scope.substr(8), "/eu-west-1/sts/aws4_request") << scope;
  EXPECT_EQ(r["content_type"], "application/x-www-form-urlencoded; charset=utf-8");
  const json& form = r["form"];
  EXPECT_EQ(form["Action"], "AssumeRole");
  EXPECT_EQ(form["Version"], "2011-06-15");
  EXPECT_EQ(form["RoleArn"], "arn:aws:iam::123456789012:role/deploy");
  EXPECT_EQ(form["RoleSessionName"], "ci build 42");
  EXPECT_EQ(form["ExternalId"], "ext-7/x");
  EXPECT_EQ(form["DurationSeconds"], "1800");
  expect_clean_log();
}

TEST_F(AwsProfileTest, SourceSessionTokenIsSentAndSigned) {
  LocalServer sts;
  write(".aws/config",
        "[profile deploy]\nrole_arn = arn:aws:iam::1:role/deploy\nsource_profile = tmp\n"
        "[profile tmp]\naws_access_key_id = ASIABASETMP\naws_secret_access_key = SECRETVALUE-basetmp\n"
        "aws_session_token = SECRETVALUE-basetmp-token\n");
  vars_["AWS_PROFILE"] = "deploy";
  vars_["AWS_ENDPOINT_URL"] = sts.url("/sts");  // the generic endpoint variable works too
  EXPECT_EQ(get().access_key_id, "ASIAROLE1");
  const json reqs = sts_requests(sts);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0]["sigv4"], "ok") << reqs[0].dump();
  EXPECT_EQ(reqs[0]["access_key"], "ASIABASETMP");
  EXPECT_EQ(reqs[0]["security_token"], "SECRETVALUE-basetmp-token");
  EXPECT_FALSE(reqs[0]["form"].contains("ExternalId"));
  EXPECT_FALSE(reqs[0]["form"].contains("DurationSeconds"));
  const std::string session = reqs[0]["form"]["RoleSessionName"];
  EXPECT_EQ(session.rfind("sacker-", 0), 0u) << session;  // the default session name
  expect_clean_log();
}

TEST_F(AwsProfileTest, ChainedRoleToRole) {
  LocalServer sts;
  write(".aws/credentials", std::string("[base]\n") + kBaseKeys);
  write(".aws/config",
        "[profile app]\nrole_arn = arn:aws:iam::2:role/app\nsource_profile = hub\n"
        "[profile hub]\nrole_arn = arn:aws:iam::1:role/hub\nsource_profile = base\n");
  vars_["AWS_PROFILE"] = "app";
  vars_["AWS_ENDPOINT_URL_STS"] = sts.url("/sts");
  const AwsCredentials c = get();
  EXPECT_EQ(c.access_key_id, "ASIAROLE2");
  EXPECT_EQ(c.source, "assumed role arn:aws:iam::2:role/app (profile app)");
  const json reqs = sts_requests(sts);
  ASSERT_EQ(reqs.size(), 2u);
  // First the hub role with the base keys, then the app role with the hub role's session.
  EXPECT_EQ(reqs[0]["form"]["RoleArn"], "arn:aws:iam::1:role/hub");
  EXPECT_EQ(reqs[0]["access_key"], "AKIABASE");
  EXPECT_EQ(reqs[0]["sigv4"], "ok");
  EXPECT_EQ(reqs[1]["form"]["RoleArn"], "arn:aws:iam::2:role/app");
  EXPECT_EQ(reqs[1]["access_key"], "ASIAROLE1");
  EXPECT_EQ(reqs[1]["security_token"], "role-session-1");
  EXPECT_EQ(reqs[1]["sigv4"], "ok") << reqs[1].dump();
  expect_clean_log();
}

TEST_F(AwsProfileTest, CredentialSourceEnvironment) {
  LocalServer sts;
  write(".aws/config",
        "[profile envrole]\nrole_arn = arn:aws:iam::1:role/from-env\ncredential_source = Environment\n"
        "[profile outer]\nrole_arn = arn:aws:iam::1:role/outer\nsource_profile = envrole\n");
  vars_["AWS_PROFILE"] = "envrole";
  vars_["AWS_ENDPOINT_URL_STS"] = sts.url("/sts");
  // Without keys in the environment there is no source.
  Error e = catch_error([&] { get(); });
  EXPECT_EQ(e.kind(), ErrorKind::Denied);
  EXPECT_TRUE(contains(e.what(), "credential_source = Environment")) << e.what();

  vars_["AWS_ACCESS_KEY_ID"] = "AKIAENVSRC";
  vars_["AWS_SECRET_ACCESS_KEY"] = "SECRETVALUE-env";
  // The environment's keys are the role's source, not the credentials themselves.
  EXPECT_EQ(get().access_key_id, "ASIAROLE1");
  // Also at the end of a source_profile chain.
  vars_["AWS_PROFILE"] = "outer";
  EXPECT_EQ(get().access_key_id, "ASIAROLE3");
  const json reqs = sts_requests(sts);
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0]["access_key"], "AKIAENVSRC");
  EXPECT_EQ(reqs[0]["sigv4"], "ok");
  EXPECT_EQ(reqs[1]["access_key"], "AKIAENVSRC");
  EXPECT_EQ(reqs[2]["access_key"], "ASIAROLE2");
  EXPECT_EQ(reqs[2]["sigv4"], "ok");
  expect_clean_log();
}

TEST_F(AwsProfileTest, CredentialSourceInstanceMetadata) {
  LocalServer aws;  // STS and IMDS in one stand-in
  write(".aws/config",
        "[profile ec2role]\nrole_arn = arn:aws:iam::1:role/r\ncredential_source = Ec2InstanceMetadata\n");
  vars_["AWS_PROFILE"] = "ec2role";
  vars_["AWS_ENDPOINT_URL_STS"] = aws.url("/sts");
  vars_["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = aws.url();
  vars_.erase("AWS_EC2_METADATA_DISABLED");
  EXPECT_EQ(get().access_key_id, "ASIAROLE1");
  const json reqs = sts_requests(aws);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0]["access_key"], "ASIAIMDS1");
  EXPECT_EQ(reqs[0]["security_token"], "imds-token-1");
  EXPECT_EQ(reqs[0]["sigv4"], "ok");
}

TEST_F(AwsProfileTest, SourceProfileCyclesAreRefused) {
  LocalServer sts;
  write(".aws/config",
        "[profile a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = b\n"
        "[profile b]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = c\n"
        "[profile c]\nrole_arn = arn:aws:iam::1:role/c\nsource_profile = a\n"
        "[profile me]\nrole_arn = arn:aws:iam::1:role/me\nsource_profile = me\n"
        "[profile self]\nrole_arn = arn:aws:iam::1:role/self\nsource_profile = self\n" +
            std::string(kBaseKeys));
  vars_["AWS_ENDPOINT_URL_STS"] = sts.url("/sts");
  vars_["AWS_PROFILE"] = "a";
  Error e = catch_error([&] { get(); });
  EXPECT_EQ(e.kind(), ErrorKind::Invalid);
  EXPECT_TRUE(contains(e.what(), "a -> b -> c -> a")) << e.what();
  expect_one_line(e);
  vars_["AWS_PROFILE"] = "me";  // names itself but has no keys
  e = catch_error([&] { get(); });
  EXPECT_EQ(e.kind(), ErrorKind::Invalid);
  EXPECT_TRUE(contains(e.what(), "me -> me")) << e.what();
  EXPECT_TRUE(sts_requests(sts).empty());

  // A profile may name itself to take its own keys (as the AWS CLI allows).
  vars_["AWS_PROFILE"] = "self";
  EXPECT_EQ(get().access_key_id, "ASIAROLE1");
  const json reqs = sts_requests(sts);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0]["access_key"], "AKIABASE");
  EXPECT_EQ(reqs[0]["sigv4"], "ok");
}

TEST_F(AwsProfileTest, BrokenRoleProfilesAreInvalid) {
  LocalServer sts;
  write(".aws/credentials", std::string("[base]\n") + kBaseKeys + "[empty]\nregion = x\n");
  write(".aws/config",
        "[profile nosource]\nrole_arn = arn:aws:iam::1:role/r\n"
        "[profile both]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\ncredential_source = Environment\n"
        "[profile missing]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = ghost\n"
        "[profile hollow]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = empty\n"
        "[profile bogus]\nrole_arn = arn:aws:iam::1:role/r\ncredential_source = Keychain\n"
        "[profile mfa]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\n"
        "mfa_serial = arn:aws:iam::1:mfa/me\n"
        "[profile longer]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\nduration_seconds = 1h\n");
  vars_["AWS_ENDPOINT_URL_STS"] = sts.url("/sts");
  const std::map<std::string, std::string> expected = {
      {"nosource", "no source_profile, credential_source or web_identity_token_file"},
      {"both", "both source_profile and credential_source"},
      {"missing", "source_profile 'ghost', which is in neither"},
      {"hollow", "'empty' (the source_profile of 'hollow') has no credentials"},
      {"bogus", "credential_source must be Environment, Ec2InstanceMetadata or EcsContainer, not 'Keychain'"},
      {"mfa", "mfa_serial"},
      {"longer", "duration_seconds must be a number of seconds, not '1h'"},
  };
  for (const auto& [profile, message] : expected) {
    vars_["AWS_PROFILE"] = profile;
    const Error e = catch_error([&] { get(); });
    EXPECT_EQ(e.kind(), ErrorKind::Invalid) << profile << ": " << e.what();
    EXPECT_TRUE(contains(e.what(), message)) << profile << ": " << e.what();
    expect_one_line(e);
    expect_no_secret(e.what());
  }
  EXPECT_TRUE(sts_requests(sts).empty());

  vars_["AWS_STS_REGIONAL_ENDPOINTS"] = "sometimes";
  write(".aws/config", "[profile r]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\n");
  vars_["AWS_PROFILE"] = "r";
  const Error e = catch_error([&] { get(); });
  EXPECT_EQ(e.kind(), ErrorKind::Invalid);
  EXPECT_TRUE(contains(e.what(), "sts_regional_endpoints")) << e.what();
}

TEST_F(AwsProfileTest, StsErrorsMapLikeWebIdentity) {
  LocalServer sts;
  write(".aws/credentials",
        std::string("[base]\n") + kBaseKeys +
            "[stranger]\naws_access_key_id = AKIAUNKNOWN\naws_secret_access_key = SECRETVALUE-unknown\n"
            "[wrong]\naws_access_key_id = AKIABASE\naws_secret_access_key = SECRETVALUE-wrong\n");
  write(".aws/config",
        "[profile refused]\nrole_arn = arn:aws:iam::1:role/denied-here\nsource_profile = base\n"
        "[profile unknownkey]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = stranger\n"
        "[profile badsig]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = wrong\n"
        "[profile offline]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\n");
  vars_["AWS_ENDPOINT_URL_STS"] = sts.url("/sts");
  const std::map<std::string, std::string> denied = {
      {"refused", "HTTP 403 AccessDenied: User: arn:aws:iam::123456789012:user/AKIABASE is not authorized"},
      {"unknownkey", "HTTP 403 InvalidClientTokenId"},
      {"badsig", "HTTP 403 SignatureDoesNotMatch"},
  };
  for (const auto& [profile, message] : denied) {
    vars_["AWS_PROFILE"] = profile;
    const Error e = catch_error([&] { get(); });
    EXPECT_EQ(e.kind(), ErrorKind::Denied) << profile << ": " << e.what();
    EXPECT_TRUE(contains(e.what(), message)) << profile << ": " << e.what();
    EXPECT_TRUE(contains(e.what(), "STS AssumeRole for arn:aws:iam::1:role/")) << e.what();
    expect_one_line(e);
    expect_no_secret(e.what());
  }
  vars_["AWS_PROFILE"] = "offline";
  vars_["AWS_ENDPOINT_URL_STS"] = "http://127.0.0.1:" + std::to_string(sacker::testing::unused_local_port());
  const Error e = catch_error([&] { get(); });
  EXPECT_EQ(e.kind(), ErrorKind::Unavailable) << e.what();
  expect_no_secret(e.what());
  expect_clean_log();
}

TEST_F(AwsProfileTest, AssumedRoleIsRefreshedBeforeItExpires) {
  LocalServer sts;
  write(".aws/credentials", std::string("[base]\n") + kBaseKeys);
  write(".aws/config", "[profile deploy]\nrole_arn = arn:aws:iam::1:role/deploy\nsource_profile = base\n");
  vars_["AWS_PROFILE"] = "deploy";
  vars_["AWS_ENDPOINT_URL_STS"] = sts.url("/sts");
  const auto expiry = parse_iso8601_utc("2030-01-01T00:00:00Z");
  auto now = expiry - std::chrono::hours(1);
  AwsCredentialsOptions o = quick_options();
  o.now = [&now] { return now; };
  o.refresh_margin = std::chrono::seconds(300);
  auto provider = make_default_credentials_provider(config(), o);
  EXPECT_EQ(provider->get().access_key_id, "ASIAROLE1");
  now = expiry - std::chrono::seconds(301);
  EXPECT_EQ(provider->get().access_key_id, "ASIAROLE1");  // still cached
  now = expiry - std::chrono::seconds(299);
  EXPECT_EQ(provider->get().access_key_id, "ASIAROLE2");  // refreshed inside the margin
  const json reqs = sts_requests(sts);
  ASSERT_EQ(reqs.size(), 2u);
  for (const auto& r : reqs) {
    EXPECT_EQ(r["access_key"], "AKIABASE");
    EXPECT_EQ(r["sigv4"], "ok");
  }
}

// ---- credential_process -----------------------------------------------------------

TEST(CommandLine, SplitsLikeTheAwsCli) {
  using V = std::vector<std::string>;
  EXPECT_EQ(split_command_line("  prog  a\tb  "), (V{"prog", "a", "b"}));
  EXPECT_EQ(split_command_line(R"(prog "two words" 'single quoted' x"y z"w)"),
            (V{"prog", "two words", "single quoted", "xy zw"}));
  EXPECT_EQ(split_command_line(R"(prog "" '' "a\"b" "c\\d" "e\f" 'g\h' i\ j \#k #l)"),
            (V{"prog", "", "", "a\"b", "c\\d", "e\\f", "g\\h", "i j", "#k", "#l"}));
  EXPECT_EQ(split_command_line(""), V{});
  for (const char* bad : {"prog \"open", "prog 'open", "prog trailing\\"}) {
    const Error e = catch_error([&] { split_command_line(bad); });
    EXPECT_EQ(e.kind(), ErrorKind::Invalid) << bad;
    EXPECT_FALSE(contains(e.what(), "open")) << e.what();  // the line is not quoted
  }
}

TEST_F(AwsProfileTest, CredentialProcessSuccess) {
  write(".aws/config", "[profile proc]\nregion = eu-west-1\ncredential_process = " + process_line("ok") +
                           " \"two words\" 'it''s' plain\n");
  vars_["AWS_PROFILE"] = "proc";
  auto provider = make_default_credentials_provider(config(), quick_options());
  EXPECT_EQ(process_runs(), 0) << "building the chain must not run the process";
  const AwsCredentials c = provider->get();
  EXPECT_EQ(c.access_key_id, "AKIAPROC1");
  EXPECT_EQ(c.secret_access_key, "SECRETVALUE-proc");
  EXPECT_EQ(c.session_token, "SECRETVALUE-proctoken");
  EXPECT_FALSE(c.expiration);
  EXPECT_EQ(c.source, "credential_process (profile proc)");
  EXPECT_EQ(provider->get().access_key_id, "AKIAPROC1");
  EXPECT_EQ(process_runs(), 1);  // no Expiration: never run again
  std::ifstream argv_file(home_ / "cred tools/argv.json");
  EXPECT_EQ(json::parse(argv_file), json({"ok", "two words", "its", "plain"}));
}

TEST_F(AwsProfileTest, CredentialProcessFailures) {
  vars_["AWS_PROFILE"] = "proc";
  auto run = [&](const std::string& line) {
    write(".aws/config", "[profile proc]\ncredential_process = " + line + "\n");
    return catch_error([&] { get(); });
  };
  Error e = run(process_line("fail"));
  EXPECT_EQ(e.kind(), ErrorKind::Denied);
  EXPECT_EQ(std::string(e.what()),
            "credential_process of AWS profile 'proc': '/usr/bin/python3' exited with status 3: token expired: run "
            "login");
  expect_no_secret(e.what());  // neither stdout (it printed keys) nor the rest of stderr

  e = run(process_line("signal"));
  EXPECT_EQ(e.kind(), ErrorKind::Denied);
  EXPECT_TRUE(contains(e.what(), "killed by signal 9")) << e.what();

  for (const auto& [mode, why] : std::vector<std::pair<std::string, std::string>>{
           {"garbage", "is not a JSON object"},
           {"version2", "does not have \"Version\": 1"},
           {"nosecret", "has no SecretAccessKey"},
           {"badexpiry", "has an Expiration that is not an ISO 8601 UTC time"}}) {
    e = run(process_line(mode));
    EXPECT_EQ(e.kind(), ErrorKind::Invalid) << mode << ": " << e.what();
    EXPECT_TRUE(contains(e.what(), "credential_process of AWS profile 'proc': the output of '/usr/bin/python3' " + why))
        << e.what();
    expect_one_line(e);
    expect_no_secret(e.what());
  }

  e = run((home_ / "no such tool").string() + " --secret SECRETVALUE-arg");
  EXPECT_EQ(e.kind(), ErrorKind::NotFound) << e.what();
  EXPECT_TRUE(contains(e.what(), "cannot run")) << e.what();
  expect_no_secret(e.what());  // the arguments are not quoted
  e = run("aws-vault \"unclosed SECRETVALUE-q");
  EXPECT_EQ(e.kind(), ErrorKind::Invalid) << e.what();
  expect_no_secret(e.what());
}

TEST_F(AwsProfileTest, CredentialProcessIsRunAgainWhenItsCredentialsExpire) {
  write(".aws/credentials", "[proc]\ncredential_process = " + process_line("expiring") + "\n");
  vars_["AWS_PROFILE"] = "proc";
  const auto expiry = parse_iso8601_utc("2030-01-01T00:00:00Z");
  auto now = expiry - std::chrono::hours(1);
  AwsCredentialsOptions o = quick_options();
  o.now = [&now] { return now; };
  auto provider = make_default_credentials_provider(config(), o);
  const AwsCredentials c = provider->get();
  EXPECT_EQ(c.access_key_id, "AKIAPROC1");
  ASSERT_TRUE(c.expiration);
  EXPECT_EQ(*c.expiration, expiry);
  now = expiry - std::chrono::seconds(301);
  EXPECT_EQ(provider->get().access_key_id, "AKIAPROC1");
  now = expiry - std::chrono::seconds(299);
  EXPECT_EQ(provider->get().access_key_id, "AKIAPROC2");
  EXPECT_EQ(process_runs(), 2);
}

TEST_F(AwsProfileTest, CredentialProcessAsSourceProfile) {
  LocalServer sts;
  write(".aws/config",
        "[profile deploy]\nrole_arn = arn:aws:iam::1:role/deploy\nsource_profile = sso\n"
        "[profile sso]\ncredential_process = " +
            process_line("ok") + "\n");
  vars_["AWS_PROFILE"] = "deploy";
  vars_["AWS_ENDPOINT_URL_STS"] = sts.url("/sts");
  EXPECT_EQ(get().access_key_id, "ASIAROLE1");
  const json reqs = sts_requests(sts);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0]["access_key"], "AKIAPROC1");
  EXPECT_EQ(reqs[0]["security_token"], "SECRETVALUE-proctoken");
  EXPECT_EQ(reqs[0]["sigv4"], "ok");
  expect_clean_log();
}

// ---- precedence (the AWS CLI's) -----------------------------------------------------

TEST_F(AwsProfileTest, PrecedenceMatchesTheAwsCli) {
  LocalServer sts;
  write("token", "JWT.TOKEN.VALUE");
  write(".aws/credentials",
        std::string("[base]\n") + kBaseKeys +
            "[role-and-keys]\naws_access_key_id = AKIAROLEPROFILE\naws_secret_access_key = SECRETVALUE-rp\n"
            "[file-keys-and-process]\naws_access_key_id = AKIACREDFILE\naws_secret_access_key = SECRETVALUE-cf\n");
  write(".aws/config",
        "[profile role-and-keys]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\n"
        "[profile process-and-keys]\ncredential_process = " +
            process_line("ok") +
            "\naws_access_key_id = AKIACONFIGFILE\naws_secret_access_key = SECRETVALUE-cfg\n"
            "[profile file-keys-and-process]\ncredential_process = " +
            process_line("ok") + "\n");
  vars_["AWS_ENDPOINT_URL_STS"] = sts.url("/sts");

  // 1. Environment keys before everything.
  vars_["AWS_PROFILE"] = "role-and-keys";
  vars_["AWS_ACCESS_KEY_ID"] = "AKIAENV";
  vars_["AWS_SECRET_ACCESS_KEY"] = "SECRETVALUE-env";
  EXPECT_EQ(get().access_key_id, "AKIAENV");
  EXPECT_TRUE(sts_requests(sts).empty());
  vars_.erase("AWS_ACCESS_KEY_ID");
  vars_.erase("AWS_SECRET_ACCESS_KEY");

  // 2. The profile's role before its own static keys and before web identity.
  vars_["AWS_ROLE_ARN"] = "arn:aws:iam::1:role/oidc";
  vars_["AWS_WEB_IDENTITY_TOKEN_FILE"] = (home_ / "token").string();
  EXPECT_EQ(get().access_key_id, "ASIAROLE1");
  EXPECT_EQ(sts_requests(sts)[0]["form"]["Action"], "AssumeRole");

  // 3. Web identity before credential_process and static keys.
  vars_["AWS_PROFILE"] = "process-and-keys";
  EXPECT_EQ(get().source, "web identity");
  EXPECT_EQ(process_runs(), 0);
  vars_.erase("AWS_ROLE_ARN");
  vars_.erase("AWS_WEB_IDENTITY_TOKEN_FILE");

  // 5. before 6.: credential_process before static keys in the config file ...
  EXPECT_EQ(get().access_key_id, "AKIAPROC1");
  // 4. before 5.: ... but static keys in the credentials file come first (botocore's
  // SharedCredentialProvider precedes its ProcessProvider).
  vars_["AWS_PROFILE"] = "file-keys-and-process";
  EXPECT_EQ(get().access_key_id, "AKIACREDFILE");
  EXPECT_EQ(process_runs(), 1);
  expect_clean_log();
}

}  // namespace
}  // namespace sacker::aws
