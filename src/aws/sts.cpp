#include "aws/sts.h"

#include <algorithm>
#include <array>
#include <chrono>

#include <fmt/format.h>
#include <pugixml.hpp>

#include "aws/aws_credentials.h"     // parse_iso8601_utc
#include "aws/credential_sources.h"  // read_secret_file
#include "core/codec.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker::aws {
namespace {

using Clock = std::chrono::system_clock;

// `text` with every occurrence of a (non-empty) secret replaced by "REDACTED".
std::string redact_secrets(std::string text, std::initializer_list<std::string_view> secrets) {
  for (std::string_view secret : secrets) {
    if (secret.empty()) continue;
    constexpr std::string_view kRedacted = "REDACTED";
    for (std::size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + kRedacted.size()))
      text.replace(at, secret.size(), kRedacted);
  }
  return text;
}

// application/x-www-form-urlencoded value (RFC 3986 unreserved kept).
std::string form_encode(std::string_view s) { return uri_encode(s, false); }

std::string xml_text(const pugi::xml_node& node, const char* path) {
  return node.first_element_by_path(path).text().as_string();
}

// The Credentials of an STS `action` answer ("AssumeRole", ...), or the error it
// reports as an Error. `secrets` (those the request was signed with) are blanked
// out of the server's message, should it ever quote them.
AwsCredentials sts_credentials(const net::HttpResponse& resp, std::string_view action, const std::string& what,
                               std::initializer_list<std::string_view> secrets) {
  pugi::xml_document doc;
  const bool parsed = doc.load_buffer(resp.body.data(), resp.body.size());
  if (resp.status != 200) {
    const std::string code = parsed ? xml_text(doc, "ErrorResponse/Error/Code") : "";
    const std::string message = parsed ? xml_text(doc, "ErrorResponse/Error/Message") : "";
    ErrorKind kind = net::error_kind_for_status(resp.status);
    for (std::string_view denied : {"AccessDenied", "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken",
                                    "ExpiredTokenException", "InvalidIdentityToken", "IDPRejectedClaim"})
      if (code == denied) kind = ErrorKind::Denied;
    throw Error(kind, fmt::format("{}: HTTP {}{}{}", what, resp.status,
                                  code.empty() ? "" : " " + printable(redact_secrets(code, secrets), 80),
                                  message.empty() ? "" : ": " + printable(redact_secrets(message, secrets), 300)));
  }
  if (!parsed) throw Error(ErrorKind::Unavailable, fmt::format("{}: the answer is not XML", what));
  const std::string path = fmt::format("{0}Response/{0}Result/Credentials", action);
  const pugi::xml_node creds = doc.first_element_by_path(path.c_str());
  AwsCredentials c;
  c.access_key_id = creds.child("AccessKeyId").text().as_string();
  c.secret_access_key = creds.child("SecretAccessKey").text().as_string();
  c.session_token = creds.child("SessionToken").text().as_string();
  const std::string exp = creds.child("Expiration").text().as_string();
  if (c.access_key_id.empty() || c.secret_access_key.empty() || c.session_token.empty() || exp.empty())
    throw Error(ErrorKind::Unavailable, fmt::format("{}: the answer has no complete Credentials", what));
  try {
    c.expiration = parse_iso8601_utc(exp);
  } catch (const Error&) {
    throw Error(ErrorKind::Unavailable, fmt::format("{}: the answer's Expiration is not an ISO 8601 UTC time", what));
  }
  return c;
}

}  // namespace

std::string default_role_session_name() {
  return fmt::format("sacker-{}",
                     std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count());
}

// The regions whose STS default was the global endpoint (botocore's
// LEGACY_GLOBAL_STS_REGIONS); sts_regional_endpoints = legacy keeps them on it.
constexpr std::array<std::string_view, 16> kLegacyGlobalStsRegions = {
    "ap-northeast-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "aws-global", "ca-central-1",
    "eu-central-1",   "eu-north-1", "eu-west-1",      "eu-west-2",      "eu-west-3",  "sa-east-1",
    "us-east-1",      "us-east-2",  "us-west-1",      "us-west-2"};

StsEndpoint sts_endpoint(const AwsConfig& config) {
  const AwsEndpoint endpoint = config.endpoint("sts");
  StsEndpoint out{endpoint.url, config.region()};
  auto mode = config.getenv("AWS_STS_REGIONAL_ENDPOINTS");
  if (!mode) mode = config.config_value("sts_regional_endpoints");
  if (mode) {
    const std::string m = codec::to_lower(codec::trim(*mode));
    if (m != "legacy" && m != "regional")
      throw Error(ErrorKind::Invalid,
                  fmt::format("sts_regional_endpoints must be 'legacy' or 'regional', not '{}'", printable(*mode)));
    if (m == "legacy" && !endpoint.custom &&
        std::find(kLegacyGlobalStsRegions.begin(), kLegacyGlobalStsRegions.end(), out.region) !=
            kLegacyGlobalStsRegions.end())
      out = {"https://sts.amazonaws.com", "us-east-1"};
  }
  return out;
}

std::optional<WebIdentitySettings> web_identity_settings(const AwsConfig& config, bool use_env) {
  std::optional<std::string> arn, file, session;
  if (use_env) {
    arn = config.getenv("AWS_ROLE_ARN");
    file = config.getenv("AWS_WEB_IDENTITY_TOKEN_FILE");
    session = config.getenv("AWS_ROLE_SESSION_NAME");
  }
  if (!arn && !file) {
    // The profile may carry the same settings.
    arn = config.profile_value("role_arn");
    file = config.profile_value("web_identity_token_file");
    if (!arn || !file) return std::nullopt;
    session = config.profile_value("role_session_name");
  } else if (!arn) {
    throw Error(ErrorKind::Invalid, "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
  } else if (!file) {
    throw Error(ErrorKind::Invalid, "AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not");
  }
  WebIdentitySettings s{*arn, *file, session.value_or("")};
  if (s.session_name.empty()) s.session_name = default_role_session_name();
  return s;
}

AwsCredentials fetch_web_identity(const WebIdentitySettings& settings, const StsEndpoint& sts, net::HttpClient& http) {
  const std::string token = read_secret_file(settings.token_file, "web identity token file");
  net::HttpRequest req;
  req.method = "POST";
  req.url = sts.url + "/";
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}, {"Accept", "application/xml"}};
  req.body = "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=" + form_encode(settings.role_arn) +
             "&RoleSessionName=" + form_encode(settings.session_name) + "&WebIdentityToken=" + form_encode(token);
  req.idempotent = true;  // creating one more session is harmless
  const net::HttpResponse resp = http.send(req);
  const std::string what =
      fmt::format("STS AssumeRoleWithWebIdentity for {} at {}", settings.role_arn, net::redact_url(sts.url));
  AwsCredentials c = sts_credentials(resp, "AssumeRoleWithWebIdentity", what, {token});
  c.source = "web identity";
  return c;
}

AwsCredentials fetch_assume_role(const AssumeRoleSettings& settings, const StsEndpoint& sts,
                                 const AwsCredentials& source, net::HttpClient& http) {
  net::HttpRequest req;
  req.method = "POST";
  req.url = sts.url + "/";
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}, {"Accept", "application/xml"}};
  req.body = "Action=AssumeRole&Version=2011-06-15&RoleArn=" + form_encode(settings.role_arn) +
             "&RoleSessionName=" + form_encode(settings.session_name);
  if (!settings.external_id.empty()) req.body += "&ExternalId=" + form_encode(settings.external_id);
  if (!settings.duration_seconds.empty()) req.body += "&DurationSeconds=" + settings.duration_seconds;
  req.idempotent = true;  // creating one more session is harmless
  req.sign = [source, region = sts.region, payload = sha256_hex(req.body)](net::HttpRequest& r) {
    SigningParams p;
    p.credentials = source;
    p.region = region;
    p.service = "sts";
    p.time = Clock::now();
    sign_request(r, payload, p);
  };
  const std::string what = fmt::format("STS AssumeRole for {} (AWS profile '{}') at {}", settings.role_arn,
                                       settings.profile, net::redact_url(sts.url));
  const net::HttpResponse resp = http.send(req);
  AwsCredentials c = sts_credentials(resp, "AssumeRole", what, {source.secret_access_key, source.session_token});
  c.source = fmt::format("assumed role {} (profile {})", settings.role_arn, settings.profile);
  return c;
}

std::optional<AwsCredentials> credentials_from_web_identity(const AwsConfig& config, net::HttpClient& http) {
  auto settings = web_identity_settings(config);
  if (!settings) return std::nullopt;
  return fetch_web_identity(*settings, sts_endpoint(config), http);
}

}  // namespace sacker::aws
