// AWS configuration (region, endpoints, profiles) and the credential chain.
//
// STS, the ECS container credentials endpoint and EC2 instance metadata cannot
// run here, so web identity, container and IMDSv2 credentials are tested against
// small local stand-ins in tests/unit/fixtures/fault_server.py (routes /sts/,
// /ecs/creds, /latest/...), which answer in the documented formats. The
// environment is a fake (an injected EnvLookup) and HOME a temporary directory:
// nothing here reads the real environment or ~/.aws.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aws/aws_config.h"
#include "aws/aws_credentials.h"
#include "aws/credential_sources.h"
#include "aws/sts.h"
#include "unit/fixtures/aws_home.h"
#include "unit/fixtures/local_server.h"

namespace sacker::aws {
using namespace sacker::net;  // the HTTP layer the AWS code sits on
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using sacker::testing::LocalServer;

class AwsEnvTest : public sacker::testing::AwsHomeTest {
 protected:
  void SetUp() override { make_home("aws"); }

  AwsCredentialsOptions quick_options() {
    AwsCredentialsOptions o;
    o.http.retry.max_attempts = 2;
    o.http.sleep = [](std::chrono::milliseconds) {};
    o.http.log = [this](const std::string& line) { log_.push_back(line); };
    return o;
  }

  // Every error message and log line seen must be free of these.
  void expect_no_secret(const std::string& text) {
    for (const char* secret : {"SECRETVALUE", "web-secret", "web-session", "ecs-secret", "ecs-token-", "imds-secret",
                               "test-auth-token", "JWT.TOKEN.VALUE", "bad-token"})
      EXPECT_EQ(text.find(secret), std::string::npos) << text;
  }

  std::vector<std::string> log_;
};

HttpRequest plain_get(const std::string& url) {
  HttpRequest r;
  r.url = url;
  return r;
}

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

// ---- the INI dialect and AwsConfig ----------------------------------------------

TEST(AwsIni, SectionsProfilesAndSubsections) {
  const AwsIniFile f = parse_aws_ini(
      "# comment\n"
      "[default]\nregion = eu-west-1 ; trailing comment\n"
      "[profile dev]\r\nregion=us-west-2\nservices = local\ns3 =\n  addressing_style = path\n"
      "  endpoint_url = http://s3.dev:9000\nkey=value#not-a-comment\n"
      "[services local]\ns3 =\n  endpoint_url = http://127.0.0.1:9000/\ndynamodb =\n"
      "    endpoint_url = http://127.0.0.1:8000\n"
      "[sso-session corp]\nsso_region = us-east-1\n"
      "; another\n[profile  spaced ]\nx = 1\n",
      true);
  EXPECT_EQ(f.at("default").at("region"), "eu-west-1");
  EXPECT_EQ(f.at("dev").at("region"), "us-west-2");
  EXPECT_EQ(f.at("dev").at("s3.addressing_style"), "path");
  EXPECT_EQ(f.at("dev").at("s3.endpoint_url"), "http://s3.dev:9000");
  EXPECT_EQ(f.at("dev").at("key"), "value#not-a-comment");
  EXPECT_EQ(f.at("services local").at("s3.endpoint_url"), "http://127.0.0.1:9000/");
  EXPECT_EQ(f.at("services local").at("dynamodb.endpoint_url"), "http://127.0.0.1:8000");
  EXPECT_EQ(f.at("spaced").at("x"), "1");
  EXPECT_EQ(f.count("corp"), 0u);

  const AwsIniFile c = parse_aws_ini("[profile dev]\naws_access_key_id = A\n", false);
  EXPECT_EQ(c.count("profile dev"), 1u);  // the credentials file has no "profile " prefix
}

TEST_F(AwsEnvTest, RegionPrecedence) {
  write(".aws/config", "[default]\nregion = eu-north-1\n[profile p]\nregion = ap-south-1\n");
  EXPECT_EQ(config().region(), "eu-north-1");
  vars_["AWS_PROFILE"] = "p";
  EXPECT_EQ(config().region(), "ap-south-1");
  vars_["AWS_DEFAULT_REGION"] = "us-west-1";
  EXPECT_EQ(config().region(), "us-west-1");
  vars_["AWS_REGION"] = "eu-west-3";
  EXPECT_EQ(config().region(), "eu-west-3");
  fs::remove(home_ / ".aws/config");
  vars_.erase("AWS_PROFILE");
  vars_.erase("AWS_REGION");
  vars_.erase("AWS_DEFAULT_REGION");
  EXPECT_EQ(config().region(), "us-east-1");
}

TEST_F(AwsEnvTest, EndpointPrecedence) {
  vars_["AWS_REGION"] = "eu-west-1";
  AwsEndpoint e = config().endpoint("s3");
  EXPECT_EQ(e.url, "https://s3.eu-west-1.amazonaws.com");
  EXPECT_FALSE(e.custom);
  EXPECT_EQ(config().endpoint("dynamodb").url, "https://dynamodb.eu-west-1.amazonaws.com");
  EXPECT_EQ(config().endpoint("sts").url, "https://sts.eu-west-1.amazonaws.com");
  vars_["AWS_REGION"] = "cn-north-1";
  EXPECT_EQ(config().endpoint("s3").url, "https://s3.cn-north-1.amazonaws.com.cn");

  write(".aws/config",
        "[default]\nendpoint_url = http://profile-wide:1\nservices = mine\n"
        "[services mine]\ndynamodb =\n  endpoint_url = http://dynamo-local:8000/\n");
  e = config().endpoint("dynamodb");
  EXPECT_EQ(e.url, "http://dynamo-local:8000");
  EXPECT_TRUE(e.custom);
  EXPECT_EQ(config().endpoint("s3").url, "http://profile-wide:1");
  vars_["AWS_ENDPOINT_URL"] = "http://global:2/";
  EXPECT_EQ(config().endpoint("dynamodb").url, "http://global:2");
  vars_["AWS_ENDPOINT_URL_DYNAMODB"] = "http://only-dynamo:3";
  EXPECT_EQ(config().endpoint("dynamodb").url, "http://only-dynamo:3");
  EXPECT_EQ(config().endpoint("s3").url, "http://global:2");
  vars_["AWS_ENDPOINT_URL_S3"] = "http://127.0.0.1:9000";
  e = config().endpoint("s3");
  EXPECT_EQ(e.url, "http://127.0.0.1:9000");
  EXPECT_TRUE(e.custom);
  vars_["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] = "true";
  e = config().endpoint("s3");
  EXPECT_EQ(e.url, "https://s3.cn-north-1.amazonaws.com.cn");
  EXPECT_FALSE(e.custom);
}

// Found by fuzz_aws_ini: "region = x.evil.example#" made the default S3 endpoint
// https://s3.x.evil.example#.amazonaws.com, so signed requests went to another host.
TEST_F(AwsEnvTest, DefaultEndpointsNeedARegionThatIsADnsLabel) {
  for (const char* bad : {"x.evil.example#", "eu-west-1/..", "a@b", "us east"}) {
    vars_["AWS_REGION"] = bad;
    EXPECT_EQ(catch_error([&] { config().endpoint("s3"); }).kind(), ErrorKind::Invalid) << bad;
  }
  vars_["AWS_ENDPOINT_URL"] = "http://127.0.0.1:7480";  // a custom endpoint does not use the region
  EXPECT_EQ(config().endpoint("s3").url, "http://127.0.0.1:7480");
}

TEST_F(AwsEnvTest, FilesProfilesAndCaBundle) {
  write("elsewhere/creds", "[ci]\naws_access_key_id = AKIACI\naws_secret_access_key = SECRETVALUE\n");
  write("elsewhere/conf", "[profile ci]\nregion = sa-east-1\nca_bundle = /etc/corp.pem\n");
  vars_["AWS_SHARED_CREDENTIALS_FILE"] = (home_ / "elsewhere/creds").string();
  vars_["AWS_CONFIG_FILE"] = (home_ / "elsewhere/conf").string();
  vars_["AWS_PROFILE"] = "ci";
  const AwsConfig c = config();
  EXPECT_EQ(c.profile(), "ci");
  EXPECT_EQ(c.region(), "sa-east-1");
  EXPECT_EQ(c.ca_bundle(), "/etc/corp.pem");
  EXPECT_EQ(c.credentials_value("aws_access_key_id"), "AKIACI");
  vars_["AWS_CA_BUNDLE"] = "/tmp/other.pem";
  EXPECT_EQ(config().ca_bundle(), "/tmp/other.pem");

  vars_["AWS_PROFILE"] = "nope";
  const Error e = catch_error([&] { config(); });
  EXPECT_EQ(e.kind(), ErrorKind::Invalid);
  EXPECT_NE(std::string(e.what()).find("'nope'"), std::string::npos) << e.what();
}

TEST_F(AwsEnvTest, MissingFilesAreFine) {
  vars_.erase("HOME");
  EXPECT_EQ(config().region(), "us-east-1");
  EXPECT_EQ(config().profile(), "default");
}

// ---- static credentials ---------------------------------------------------------

TEST_F(AwsEnvTest, EnvironmentCredentials) {
  vars_["AWS_ACCESS_KEY_ID"] = "AKIAENV";
  vars_["AWS_SECRET_ACCESS_KEY"] = "SECRETVALUE";
  vars_["AWS_SESSION_TOKEN"] = "SECRETVALUE-token";
  auto c = credentials_from_env(config());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->access_key_id, "AKIAENV");
  EXPECT_EQ(c->secret_access_key, "SECRETVALUE");
  EXPECT_EQ(c->session_token, "SECRETVALUE-token");
  EXPECT_EQ(c->source, "environment");
  EXPECT_FALSE(c->expiration);

  vars_.erase("AWS_ACCESS_KEY_ID");
  Error e = catch_error([&] { credentials_from_env(config()); });
  EXPECT_EQ(e.kind(), ErrorKind::Invalid);
  EXPECT_STREQ(e.what(), "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
  vars_["AWS_ACCESS_KEY_ID"] = "AKIAENV";
  vars_.erase("AWS_SECRET_ACCESS_KEY");
  e = catch_error([&] { credentials_from_env(config()); });
  EXPECT_STREQ(e.what(), "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
  expect_no_secret(e.what());
  vars_.erase("AWS_ACCESS_KEY_ID");
  EXPECT_FALSE(credentials_from_env(config()));
}

TEST_F(AwsEnvTest, ProfileCredentials) {
  write(".aws/credentials",
        "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = SECRETVALUE\n"
        "[half]\naws_access_key_id = AKIAHALF\n");
  write(".aws/config",
        "[profile cfg]\naws_access_key_id = AKIACFG\naws_secret_access_key = SECRETVALUE2\n"
        "aws_session_token = SECRETVALUE-tok\n[default]\naws_access_key_id = AKIALOSER\n"
        "aws_secret_access_key = x\n");
  auto c = credentials_from_profile(config());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->access_key_id, "AKIADEFAULT");  // the credentials file wins
  EXPECT_EQ(c->source, "profile default");
  vars_["AWS_PROFILE"] = "cfg";
  c = credentials_from_profile(config());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->access_key_id, "AKIACFG");
  EXPECT_EQ(c->session_token, "SECRETVALUE-tok");
  vars_["AWS_PROFILE"] = "half";
  const Error e = catch_error([&] { credentials_from_profile(config()); });
  EXPECT_EQ(e.kind(), ErrorKind::Invalid);
  EXPECT_NE(std::string(e.what()).find("'half'"), std::string::npos) << e.what();
  expect_no_secret(e.what());
}

TEST_F(AwsEnvTest, ChainOrderEnvironmentThenProfile) {
  write(".aws/credentials", "[default]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = SECRETVALUE\n");
  vars_["AWS_EC2_METADATA_DISABLED"] = "true";
  EXPECT_EQ(make_default_credentials_provider(config(), quick_options())->get().access_key_id, "AKIAPROFILE");
  vars_["AWS_ACCESS_KEY_ID"] = "AKIAENV";
  vars_["AWS_SECRET_ACCESS_KEY"] = "SECRETVALUE";
  EXPECT_EQ(make_default_credentials_provider(config(), quick_options())->get().access_key_id, "AKIAENV");
}

TEST_F(AwsEnvTest, NoCredentialsIsDenied) {
  vars_["AWS_EC2_METADATA_DISABLED"] = "TRUE";
  auto provider = make_default_credentials_provider(config(), quick_options());
  Error e = catch_error([&] { provider->get(); });
  EXPECT_EQ(e.kind(), ErrorKind::Denied);
  EXPECT_EQ(std::string(e.what()).rfind("no AWS credentials: set AWS_ACCESS_KEY_ID", 0), 0u) << e.what();
  EXPECT_NE(std::string(e.what()).find("AWS_PROFILE"), std::string::npos);

  write(".aws/config", "[profile empty]\nregion = us-east-2\n");
  vars_["AWS_PROFILE"] = "empty";
  e = catch_error([&] { make_default_credentials_provider(config(), quick_options())->get(); });
  EXPECT_EQ(e.kind(), ErrorKind::Denied);
  EXPECT_NE(std::string(e.what()).find("profile 'empty'"), std::string::npos) << e.what();
}

// ---- web identity (STS AssumeRoleWithWebIdentity, local stand-in) ---------------

TEST_F(AwsEnvTest, WebIdentityThroughSts) {
  LocalServer sts;
  write("token", "JWT.TOKEN.VALUE\n");
  vars_["AWS_ROLE_ARN"] = "arn:aws:iam::123456789012:role/ci-deploy";
  vars_["AWS_WEB_IDENTITY_TOKEN_FILE"] = (home_ / "token").string();
  vars_["AWS_ROLE_SESSION_NAME"] = "build 42";
  vars_["AWS_ENDPOINT_URL_STS"] = sts.url("/sts");
  vars_["AWS_EC2_METADATA_DISABLED"] = "true";
  auto provider = make_default_credentials_provider(config(), quick_options());
  const AwsCredentials c = provider->get();
  EXPECT_EQ(c.access_key_id, "ASIAWEB1");
  EXPECT_EQ(c.secret_access_key, "web-secret-1");
  EXPECT_EQ(c.session_token, "web-session-1");
  EXPECT_EQ(c.source, "web identity");
  ASSERT_TRUE(c.expiration);
  EXPECT_EQ(*c.expiration, parse_iso8601_utc("2030-01-01T00:00:00Z"));
  EXPECT_EQ(provider->get().access_key_id, "ASIAWEB1");  // cached

  HttpClient probe;
  const json st = json::parse(probe.send(plain_get(sts.url("/stats"))).body);
  ASSERT_EQ(st["sts"].size(), 1u);
  const json& form = st["sts"][0]["form"];
  EXPECT_EQ(form["Action"], "AssumeRoleWithWebIdentity");
  EXPECT_EQ(form["Version"], "2011-06-15");
  EXPECT_EQ(form["RoleArn"], "arn:aws:iam::123456789012:role/ci-deploy");
  EXPECT_EQ(form["RoleSessionName"], "build 42");
  EXPECT_EQ(form["WebIdentityToken"], "JWT.TOKEN.VALUE");
  EXPECT_TRUE(st["sts"][0]["authorization"].is_null());  // unsigned
  EXPECT_EQ(st["sts"][0]["content_type"], "application/x-www-form-urlencoded; charset=utf-8");
  for (const auto& line : log_) expect_no_secret(line);
}

TEST_F(AwsEnvTest, WebIdentityFromTheProfileAndGenericEndpoint) {
  LocalServer sts;
  write("token", "JWT.TOKEN.VALUE");
  write(".aws/config", "[profile oidc]\nrole_arn = arn:aws:iam::1:role/r\nweb_identity_token_file = " +
                           (home_ / "token").string() + "\n");
  vars_["AWS_PROFILE"] = "oidc";
  vars_["AWS_ENDPOINT_URL"] = sts.url("/sts");
  vars_["AWS_EC2_METADATA_DISABLED"] = "true";
  EXPECT_EQ(make_default_credentials_provider(config(), quick_options())->get().access_key_id, "ASIAWEB1");
}

TEST_F(AwsEnvTest, WebIdentityFailures) {
  LocalServer sts;
  write("token", "bad-token");
  vars_["AWS_ROLE_ARN"] = "arn:aws:iam::1:role/r";
  vars_["AWS_WEB_IDENTITY_TOKEN_FILE"] = (home_ / "token").string();
  vars_["AWS_ENDPOINT_URL_STS"] = sts.url("/sts");
  HttpClient http(quick_options().http);
  Error e = catch_error([&] { credentials_from_web_identity(config(), http); });
  EXPECT_EQ(e.kind(), ErrorKind::Denied);
  EXPECT_NE(std::string(e.what()).find("InvalidIdentityToken"), std::string::npos) << e.what();
  expect_no_secret(e.what());

  vars_["AWS_WEB_IDENTITY_TOKEN_FILE"] = (home_ / "missing").string();
  e = catch_error([&] { credentials_from_web_identity(config(), http); });
  EXPECT_EQ(e.kind(), ErrorKind::NotFound);

  vars_.erase("AWS_WEB_IDENTITY_TOKEN_FILE");
  e = catch_error([&] { credentials_from_web_identity(config(), http); });
  EXPECT_EQ(e.kind(), ErrorKind::Invalid);
  EXPECT_STREQ(e.what(), "AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not");

  vars_["AWS_ROLE_ARN"] = "arn:aws:iam::1:role/r";
  vars_["AWS_WEB_IDENTITY_TOKEN_FILE"] = (home_ / "token").string();
  vars_["AWS_ENDPOINT_URL_STS"] = "http://127.0.0.1:" + std::to_string(sacker::testing::unused_local_port());
  e = catch_error([&] { credentials_from_web_identity(config(), http); });
  EXPECT_EQ(e.kind(), ErrorKind::Unavailable);
}

// ---- container credentials (ECS/EKS, local stand-in) ------------------------------

TEST_F(AwsEnvTest, ContainerFullUriWithToken) {
  LocalServer ecs;
  vars_["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = ecs.url("/ecs/creds");
  vars_["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "test-auth-token";
  vars_["AWS_EC2_METADATA_DISABLED"] = "true";
  const AwsCredentials c = make_default_credentials_provider(config(), quick_options())->get();
  EXPECT_EQ(c.access_key_id, "ASIAECS1");
  EXPECT_EQ(c.session_token, "ecs-token-1");
  EXPECT_EQ(c.source, "container");
  ASSERT_TRUE(c.expiration);

  // The token from a file (EKS Pod Identity) wins over the variable.
  write("ecs-token", "test-auth-token\n");
  vars_["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "wrong";
  vars_["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = (home_ / "ecs-token").string();
  HttpClient http(quick_options().http);
  EXPECT_EQ(credentials_from_container(config(), http, quick_options())->access_key_id, "ASIAECS2");

  vars_.erase("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
  const Error e = catch_error([&] { credentials_from_container(config(), http, quick_options()); });
  EXPECT_EQ(e.kind(), ErrorKind::Denied);
  expect_no_secret(e.what());
  for (const auto& line : log_) expect_no_secret(line);
}

TEST_F(AwsEnvTest, ContainerRelativeUriAndHostRules) {
  LocalServer ecs;
  vars_["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] = "/ecs/creds";
  vars_["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "test-auth-token";
  AwsCredentialsOptions o = quick_options();
  o.container_relative_base = ecs.url();
  HttpClient http(o.http);
  EXPECT_EQ(credentials_from_container(config(), http, o)->access_key_id, "ASIAECS1");

  vars_.erase("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
  vars_["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://metadata.example.com/creds";
  const Error e = catch_error([&] { credentials_from_container(config(), http, o); });
  EXPECT_EQ(e.kind(), ErrorKind::Invalid);
  EXPECT_NE(std::string(e.what()).find("metadata.example.com"), std::string::npos);
}

// ---- EC2 instance metadata, IMDSv2 (local stand-in) ------------------------------

TEST_F(AwsEnvTest, InstanceMetadataV2TokenFlow) {
  LocalServer imds;
  vars_["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = imds.url();
  auto provider = make_default_credentials_provider(config(), quick_options());
  HttpClient probe;
  EXPECT_EQ(json::parse(probe.send(plain_get(imds.url("/stats"))).body)["imds_tokens"], 0)
      << "building the chain must not touch the network";
  const AwsCredentials c = provider->get();
  EXPECT_EQ(c.access_key_id, "ASIAIMDS1");
  EXPECT_EQ(c.secret_access_key, "imds-secret-1");
  EXPECT_EQ(c.source, "instance metadata");
  ASSERT_TRUE(c.expiration);
  const json st = json::parse(probe.send(plain_get(imds.url("/stats"))).body);
  EXPECT_EQ(st["imds_tokens"], 1);
  // The role listing and the credentials were fetched with the token (the
  // stand-in answers 401 without it).
  EXPECT_EQ(st["requests"]["/latest/meta-data/iam/security-credentials/"], 1);
}

TEST_F(AwsEnvTest, InstanceMetadataV1FallbackDisabledAndAbsent) {
  LocalServer imds;
  vars_["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = imds.url("/v1only");
  auto c = credentials_from_instance_metadata(config(), quick_options());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->access_key_id, "ASIAIMDS1");

  vars_["AWS_EC2_METADATA_DISABLED"] = "true";
  EXPECT_FALSE(credentials_from_instance_metadata(config(), quick_options()));

  vars_.erase("AWS_EC2_METADATA_DISABLED");
  vars_["AWS_EC2_METADATA_SERVICE_ENDPOINT"] =
      "http://127.0.0.1:" + std::to_string(sacker::testing::unused_local_port());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(credentials_from_instance_metadata(config(), quick_options()));
  const Error e = catch_error([&] { make_default_credentials_provider(config(), quick_options())->get(); });
  EXPECT_EQ(e.kind(), ErrorKind::Denied);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(AwsEnvTest, InstanceMetadataTimesOutFast) {
  // A listener that never answers stands for a blackholed 169.254.169.254.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  vars_["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(credentials_from_instance_metadata(config(), quick_options()));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2500));
  ::close(fd);
}

// ---- expiry and refresh -----------------------------------------------------------

TEST_F(AwsEnvTest, TemporaryCredentialsAreRefreshedBeforeTheyExpire) {
  LocalServer ecs;
  write("ecs-token", "test-auth-token");
  vars_["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = ecs.url("/ecs/creds");
  vars_["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = (home_ / "ecs-token").string();
  const auto expiry = parse_iso8601_utc("2030-01-01T00:00:00Z");
  auto now = expiry - std::chrono::hours(1);
  AwsCredentialsOptions o = quick_options();
  o.now = [&now] { return now; };
  o.refresh_margin = std::chrono::seconds(300);
  auto provider = make_default_credentials_provider(config(), o);
  EXPECT_EQ(provider->get().access_key_id, "ASIAECS1");
  now = expiry - std::chrono::seconds(301);
  EXPECT_EQ(provider->get().access_key_id, "ASIAECS1");  // still cached
  now = expiry - std::chrono::seconds(299);
  EXPECT_EQ(provider->get().access_key_id, "ASIAECS2");  // refreshed inside the margin

  // A refresh that fails while the cached credentials are still valid keeps them;
  // once they have expired the failure surfaces.
  fs::remove(home_ / "ecs-token");
  now = expiry - std::chrono::seconds(10);
  EXPECT_EQ(provider->get().access_key_id, "ASIAECS2");
  now = expiry + std::chrono::seconds(1);
  const Error e = catch_error([&] { provider->get(); });
  EXPECT_EQ(e.kind(), ErrorKind::NotFound);
}

TEST(AwsTime, ParseIso8601) {
  using std::chrono::system_clock;
  EXPECT_EQ(system_clock::to_time_t(parse_iso8601_utc("2030-01-01T00:00:00Z")), 1893456000);
  EXPECT_EQ(system_clock::to_time_t(parse_iso8601_utc("2024-02-29T12:34:56.789Z")), 1709210096);
  EXPECT_EQ(system_clock::to_time_t(parse_iso8601_utc("2024-02-29T12:34:56+00:00")), 1709210096);
  EXPECT_THROW(parse_iso8601_utc("yesterday"), Error);
  EXPECT_THROW(parse_iso8601_utc("2024-13-01T00:00:00Z"), Error);
  EXPECT_THROW(parse_iso8601_utc("2024-01-01T00:00:00+02:00"), Error);
  // Found by fuzz_s3 (a ListObjectsV2 LastModified): the year overflowed system_clock (UB).
  EXPECT_THROW(parse_iso8601_utc("4046-11-14T22:13:20.000Z"), Error);
  EXPECT_THROW(parse_iso8601_utc("0001-01-01T00:00:00Z"), Error);
  EXPECT_EQ(system_clock::to_time_t(parse_iso8601_utc("2200-12-31T23:59:59Z")), 7289654399);
}

TEST(AwsStatic, StaticProvider) {
  AwsCredentials c;
  c.access_key_id = "AKIA";
  c.secret_access_key = "s";
  EXPECT_EQ(make_static_credentials_provider(c)->get().access_key_id, "AKIA");
}

}  // namespace
}  // namespace sacker::aws
