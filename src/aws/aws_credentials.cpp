#include "aws/aws_credentials.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <mutex>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include "aws/credential_process.h"
#include "aws/sigv4.h"
#include "core/codec.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker::aws {
namespace {

using Clock = std::chrono::system_clock;

// A credential_process prints a few hundred bytes; more is a mistake.
constexpr std::size_t kMaxProcessOutput = 1 << 20;

constexpr const char* kNoCredentials =
    "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with a "
    "profile in ~/.aws/credentials or ~/.aws/config, or run with a web identity (AWS_ROLE_ARN + "
    "AWS_WEB_IDENTITY_TOKEN_FILE), a container role or an EC2 instance role";

bool is_true(const std::optional<std::string>& v) { return v && codec::to_lower(codec::trim(*v)) == "true"; }

// Untrusted text (a server's error message, a process's stderr) as one line for a
// message: control and non-ASCII bytes as \xNN, at most `max` bytes of input.
std::string one_line(std::string_view text, std::size_t max) {
  std::string out;
  const bool cut = text.size() > max;
  for (unsigned char c : text.substr(0, max)) {
    if (c >= 0x20 && c < 0x7f)
      out.push_back(static_cast<char>(c));
    else
      out += fmt::format("\\x{:02x}", c);
  }
  if (cut) out += "...";
  return out;
}

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

std::string read_secret_file(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno ? errno : ENOENT;
    throw Error(kind_from_errno(err), fmt::format("{} {}: {}", what, path, std::strerror(err)));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text(codec::trim(ss.str()));
  if (text.empty()) throw Error(ErrorKind::Invalid, fmt::format("{} {} is empty", what, path));
  return text;
}

// application/x-www-form-urlencoded value (RFC 3986 unreserved kept).
std::string form_encode(std::string_view s) { return uri_encode(s, false); }

net::HttpOptions with_ca_bundle(net::HttpOptions http, const AwsConfig& config) {
  if (http.ca_bundle.empty()) http.ca_bundle = config.ca_bundle();
  return http;
}

AwsCredentials from_json(const std::string& body, std::string_view what, bool need_expiration) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) throw Error(ErrorKind::Unavailable, fmt::format("{}: the answer is not a JSON object", what));
  auto str = [&](const char* key) -> std::string {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  AwsCredentials c;
  c.access_key_id = str("AccessKeyId");
  c.secret_access_key = str("SecretAccessKey");
  c.session_token = str("Token");
  if (c.access_key_id.empty() || c.secret_access_key.empty())
    throw Error(ErrorKind::Unavailable, fmt::format("{}: the answer has no AccessKeyId/SecretAccessKey", what));
  const std::string exp = str("Expiration");
  if (!exp.empty())
    c.expiration = parse_iso8601_utc(exp);
  else if (need_expiration)
    throw Error(ErrorKind::Unavailable, fmt::format("{}: the answer has no Expiration", what));
  return c;
}

bool loopback_or_link_local_ecs(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0 || host == "169.254.170.2" ||
         host == "169.254.170.23" || host == "fd00:ec2::23";
}

// Caches temporary credentials and refreshes them before they expire.
class RefreshingProvider final : public AwsCredentialsProvider {
 public:
  RefreshingProvider(std::function<AwsCredentials()> fetch, std::function<Clock::time_point()> now,
                     std::chrono::seconds margin, std::optional<AwsCredentials> first)
      : fetch_(std::move(fetch)), now_(std::move(now)), margin_(margin), cached_(std::move(first)) {}

  AwsCredentials get() override {
    std::lock_guard lock(mutex_);
    const auto now = now_();
    if (cached_ && (!cached_->expiration || now < *cached_->expiration - margin_)) return *cached_;
    try {
      cached_ = fetch_();
    } catch (const Error&) {
      if (cached_ && cached_->expiration && now < *cached_->expiration) return *cached_;
      throw;
    }
    return *cached_;
  }

 private:
  std::function<AwsCredentials()> fetch_;
  std::function<Clock::time_point()> now_;
  std::chrono::seconds margin_;
  std::mutex mutex_;
  std::optional<AwsCredentials> cached_;
};

class StaticProvider final : public AwsCredentialsProvider {
 public:
  explicit StaticProvider(AwsCredentials c) : creds_(std::move(c)) {}
  AwsCredentials get() override { return creds_; }

 private:
  AwsCredentials creds_;
};

struct WebIdentitySettings {
  std::string role_arn, token_file, session_name;
};

// `use_env` false: the profile's settings only (a source_profile, as the AWS CLI).
std::optional<WebIdentitySettings> web_identity_settings(const AwsConfig& config, bool use_env = true) {
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
  if (s.session_name.empty())
    s.session_name = fmt::format(
        "sacker-{}", std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count());
  return s;
}

std::string xml_text(const pugi::xml_node& node, const char* path) {
  return node.first_element_by_path(path).text().as_string();
}

// Where STS calls go and the region they are signed for.
struct StsEndpoint {
  std::string url;  // no trailing '/'
  std::string region;
};

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
                                  code.empty() ? "" : " " + one_line(redact_secrets(code, secrets), 80),
                                  message.empty() ? "" : ": " + one_line(redact_secrets(message, secrets), 300)));
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

struct AssumeRoleSettings {
  std::string profile;  // where role_arn was found
  std::string role_arn, session_name, external_id, duration_seconds;
};

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

// role_arn without web_identity_token_file: the profile assumes a role with
// source_profile or credential_source (botocore's _has_assume_role_config_vars).
bool is_assume_role_profile(const AwsConfig& config) {
  return config.profile_value("role_arn") && !config.profile_value("web_identity_token_file");
}

bool has_static_keys(const AwsConfig& config) {
  return config.profile_value("aws_access_key_id") || config.profile_value("aws_secret_access_key");
}

// Whether the selected profile's role chain ends in credential_source = Environment
// (see 1. in the header).
bool role_sourced_from_environment(const AwsConfig& selected) {
  AwsConfig config = selected;
  std::vector<std::string> seen;
  while (is_assume_role_profile(config)) {
    if (std::find(seen.begin(), seen.end(), config.profile()) != seen.end()) return false;  // a cycle: reported later
    seen.push_back(config.profile());
    if (auto source = config.profile_value("credential_source"))
      return *source == "Environment" && !config.profile_value("source_profile");
    auto next = config.profile_value("source_profile");
    if (!next || !config.has_profile(*next)) return false;
    config = config.with_profile(*next);
    if (has_static_keys(config)) return false;
  }
  return false;
}

// The profile's static keys in the credentials file or the config file.
std::optional<AwsCredentials> static_keys(const AwsConfig& config, bool credentials_file) {
  auto value = [&](const char* key) {
    return credentials_file ? config.credentials_value(key) : config.config_value(key);
  };
  const std::string& path = credentials_file ? config.credentials_path() : config.config_path();
  auto id = value("aws_access_key_id");
  auto secret = value("aws_secret_access_key");
  if (!id && !secret) return std::nullopt;
  if (!id || !secret)
    throw Error(ErrorKind::Invalid, fmt::format("AWS profile '{}' in {} has {} but not {}", config.profile(), path,
                                                id ? "aws_access_key_id" : "aws_secret_access_key",
                                                id ? "aws_secret_access_key" : "aws_access_key_id"));
  AwsCredentials c;
  c.access_key_id = *id;
  c.secret_access_key = *secret;
  c.session_token = value("aws_session_token").value_or("");
  c.source = "profile " + config.profile();
  return c;
}

}  // namespace

std::chrono::system_clock::time_point parse_iso8601_utc(std::string_view text) {
  auto bad = [&] { return Error(ErrorKind::Invalid, fmt::format("not an ISO 8601 UTC time: '{}'", text)); };
  std::string s(codec::trim(text));
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec, &consumed) != 6)
    throw bad();
  std::string_view rest = std::string_view(s).substr(static_cast<std::size_t>(consumed));
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    while (!rest.empty() && std::isdigit(static_cast<unsigned char>(rest.front()))) rest.remove_prefix(1);
  }
  if (rest != "Z" && rest != "+00:00" && rest != "+0000" && !rest.empty()) throw bad();
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60)
    throw bad();
  // system_clock counts nanoseconds in 64 bits (years 1678..2262): a year beyond would overflow it.
  if (tm.tm_year < 1970 || tm.tm_year > 2200)
    throw Error(ErrorKind::Invalid, fmt::format("ISO 8601 time '{}': the year is not in 1970..2200", text));
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return Clock::from_time_t(timegm(&tm));
}

std::optional<AwsCredentials> credentials_from_env(const AwsConfig& config) {
  auto id = config.getenv("AWS_ACCESS_KEY_ID");
  auto secret = config.getenv("AWS_SECRET_ACCESS_KEY");
  if (!id && !secret) return std::nullopt;
  if (!id) throw Error(ErrorKind::Invalid, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
  if (!secret) throw Error(ErrorKind::Invalid, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
  AwsCredentials c;
  c.access_key_id = *id;
  c.secret_access_key = *secret;
  c.session_token = config.getenv("AWS_SESSION_TOKEN").value_or("");
  c.source = "environment";
  return c;
}

std::optional<AwsCredentials> credentials_from_profile(const AwsConfig& config) {
  if (auto c = static_keys(config, true)) return c;
  return static_keys(config, false);
}

std::optional<AwsCredentials> credentials_from_web_identity(const AwsConfig& config, net::HttpClient& http) {
  auto settings = web_identity_settings(config);
  if (!settings) return std::nullopt;
  return fetch_web_identity(*settings, sts_endpoint(config), http);
}

std::optional<AwsCredentials> credentials_from_process(const AwsConfig& config) {
  const auto line = config.profile_value("credential_process");
  if (!line) return std::nullopt;
  const std::string what = fmt::format("credential_process of AWS profile '{}'", config.profile());
  std::vector<std::string> argv;
  CapturedProcess p;
  try {
    argv = split_command_line(*line);
    if (argv.empty()) throw Error(ErrorKind::Invalid, "the command line is empty");
    p = run_captured(argv, kMaxProcessOutput);
  } catch (const Error& e) {
    throw Error(e.kind(), fmt::format("{}: {}", what, e.what()));
  }
  const std::string program = printable(argv.front());
  if (p.exit_status != 0) {
    std::string why = p.signal
                          ? fmt::format("'{}' was killed by signal {} ({})", program, p.signal, strsignal(p.signal))
                          : fmt::format("'{}' exited with status {}", program, p.exit_status);
    // The first line of stderr says why, usually; stdout is never quoted.
    std::string_view err = codec::trim(p.err);
    err = err.substr(0, err.find('\n'));
    if (!err.empty()) why += ": " + one_line(codec::trim(err), 200);
    throw Error(ErrorKind::Denied, fmt::format("{}: {}", what, why));
  }
  auto bad = [&](std::string_view why) {
    return Error(ErrorKind::Invalid, fmt::format("{}: the output of '{}' {}", what, program, why));
  };
  if (p.out_truncated) throw bad(fmt::format("is longer than {} bytes", kMaxProcessOutput));
  const nlohmann::json j = nlohmann::json::parse(p.out, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) throw bad("is not a JSON object");
  const auto version = j.find("Version");
  if (version == j.end() || !version->is_number() || *version != 1) throw bad("does not have \"Version\": 1");
  auto field = [&](const char* key, bool required) -> std::string {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
      if (required) throw bad(fmt::format("has no {}", key));
      return "";
    }
    if (!it->is_string() || (required && it->get_ref<const std::string&>().empty()))
      throw bad(fmt::format("has a {} that is not a non-empty string", key));
    return it->get<std::string>();
  };
  AwsCredentials c;
  c.access_key_id = field("AccessKeyId", true);
  c.secret_access_key = field("SecretAccessKey", true);
  c.session_token = field("SessionToken", false);
  const std::string exp = field("Expiration", false);
  if (!exp.empty()) {
    try {
      c.expiration = parse_iso8601_utc(exp);
    } catch (const Error&) {
      throw bad("has an Expiration that is not an ISO 8601 UTC time");
    }
  }
  c.source = fmt::format("credential_process (profile {})", config.profile());
  return c;
}

std::optional<AwsCredentials> credentials_from_container(const AwsConfig& config, net::HttpClient& http,
                                                         const AwsCredentialsOptions& options) {
  std::string url;
  if (auto rel = config.getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
    url = options.container_relative_base + (rel->front() == '/' ? "" : "/") + *rel;
  } else if (auto full = config.getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
    const net::UrlParts u = net::parse_url(*full);
    if (u.scheme != "https" && !loopback_or_link_local_ecs(u.host))
      throw Error(ErrorKind::Invalid, fmt::format("AWS_CONTAINER_CREDENTIALS_FULL_URI must be https or name a loopback "
                                                  "or the container credentials address, not host '{}'",
                                                  u.host));
    url = *full;
  } else {
    return std::nullopt;
  }
  net::HttpRequest req;
  req.url = url;
  req.idempotent = true;
  req.timeout = std::chrono::seconds(5);
  std::optional<std::string> auth;
  if (auto file = config.getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"))
    auth = read_secret_file(*file, "container authorization token file");
  else
    auth = config.getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
  if (auth) {
    if (auth->find_first_of("\r\n") != std::string::npos)
      throw Error(ErrorKind::Invalid, "the container authorization token contains a line break");
    req.headers.emplace_back("Authorization", *auth);
  }
  const std::string what = fmt::format("container credentials at {}", net::redact_url(url));
  const net::HttpResponse resp = http.send(req);
  if (resp.status != 200)
    throw Error(net::error_kind_for_status(resp.status), fmt::format("{}: HTTP {}", what, resp.status));
  AwsCredentials c = from_json(resp.body, what, false);
  c.source = "container";
  return c;
}

std::optional<AwsCredentials> credentials_from_instance_metadata(const AwsConfig& config,
                                                                 const AwsCredentialsOptions& options) {
  if (is_true(config.getenv("AWS_EC2_METADATA_DISABLED"))) return std::nullopt;
  std::string base;
  if (auto e = config.getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT"))
    base = *e;
  else if (auto p = config.config_value("ec2_metadata_service_endpoint"))
    base = *p;
  else {
    auto mode = config.getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
    if (!mode) mode = config.config_value("ec2_metadata_service_endpoint_mode");
    base = mode && (*mode == "IPv6" || *mode == "ipv6") ? "http://[fd00:ec2::254]" : "http://169.254.169.254";
  }
  while (!base.empty() && base.back() == '/') base.pop_back();

  net::HttpOptions ho = options.http;
  ho.connect_timeout = options.imds_timeout;
  ho.retry.max_attempts = std::max(1, options.imds_attempts);
  net::HttpClient http(ho);
  auto request = [&](const char* method, const std::string& path,
                     const std::optional<std::string>& token) -> std::optional<net::HttpResponse> {
    net::HttpRequest req;
    req.method = method;
    req.url = base + path;
    req.idempotent = true;
    req.timeout = options.imds_timeout;
    if (token)
      req.headers.emplace_back("X-aws-ec2-metadata-token", *token);
    else if (std::strcmp(method, "PUT") == 0)
      req.headers.emplace_back("X-aws-ec2-metadata-token-ttl-seconds", "21600");
    try {
      return http.send(req);
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::Unavailable) return std::nullopt;  // no metadata service here
      throw;
    }
  };

  std::optional<std::string> token;
  auto tr = request("PUT", "/latest/api/token", std::nullopt);
  if (!tr) return std::nullopt;
  if (tr->status == 200) {
    token = std::string(codec::trim(tr->body));
  } else if (tr->status != 403 && tr->status != 404 && tr->status != 405) {
    return std::nullopt;  // not a metadata service we can use
  }                       // else: IMDSv1 only

  const std::string roles_path = "/latest/meta-data/iam/security-credentials/";
  auto rr = request("GET", roles_path, token);
  if (!rr || rr->status != 200) return std::nullopt;  // no instance role
  std::string role(codec::trim(std::string_view(rr->body).substr(0, rr->body.find('\n'))));
  if (role.empty()) return std::nullopt;

  const std::string what = fmt::format("instance metadata credentials of role {}", role);
  auto cr = request("GET", roles_path + uri_encode(role, false), token);
  if (!cr) throw Error(ErrorKind::Unavailable, what + ": no answer");
  if (cr->status != 200) throw Error(net::error_kind_for_status(cr->status), fmt::format("{}: HTTP {}", what, cr->status));
  AwsCredentials c = from_json(cr->body, what, false);
  c.source = "instance metadata";
  return c;
}

namespace {

class DefaultChain final : public AwsCredentialsProvider {
 public:
  DefaultChain(AwsConfig config, AwsCredentialsOptions options)
      : config_(std::move(config)), options_(std::move(options)) {
    if (!options_.now) options_.now = [] { return Clock::now(); };
    options_.http = with_ca_bundle(options_.http, config_);
  }

  AwsCredentials get() override {
    std::shared_ptr<AwsCredentialsProvider> chosen;
    {
      std::lock_guard lock(mutex_);
      if (!chosen_) chosen_ = resolve();
      chosen = chosen_;
    }
    return chosen->get();
  }

 private:
  std::shared_ptr<AwsCredentialsProvider> refreshing(std::function<AwsCredentials()> fetch,
                                                     std::optional<AwsCredentials> first) {
    return std::make_shared<RefreshingProvider>(std::move(fetch), options_.now, options_.refresh_margin,
                                                std::move(first));
  }

  std::shared_ptr<AwsCredentialsProvider> resolve() {
    if (auto c = credentials_from_env(config_))
      if (!role_sourced_from_environment(config_)) return std::make_shared<StaticProvider>(*c);
    if (is_assume_role_profile(config_)) {
      std::vector<std::string> visited{config_.profile()};
      return assume_role(config_.profile(), visited);
    }
    if (auto settings = web_identity_settings(config_)) return web_identity(*settings);
    if (auto p = profile_keys_or_process(config_)) return p;
    if (container_configured()) return container();
    if (auto p = instance_metadata()) return p;
    if (config_.getenv("AWS_PROFILE"))
      throw Error(ErrorKind::Denied, fmt::format("no AWS credentials: profile '{}' has none (in {} or {}) and no "
                                                 "web identity, container or instance role is available",
                                                 config_.profile(), config_.credentials_path(), config_.config_path()));
    throw Error(ErrorKind::Denied, kNoCredentials);
  }

  // 4.-6. of the header for `config`'s profile; nullptr when it has none of them.
  std::shared_ptr<AwsCredentialsProvider> profile_keys_or_process(const AwsConfig& config) {
    if (auto c = static_keys(config, true)) return std::make_shared<StaticProvider>(*c);
    if (auto first = credentials_from_process(config)) {
      if (!first->expiration) return std::make_shared<StaticProvider>(*first);
      return refreshing([config] { return *credentials_from_process(config); }, std::move(first));
    }
    if (auto c = static_keys(config, false)) return std::make_shared<StaticProvider>(*c);
    return nullptr;
  }

  std::shared_ptr<AwsCredentialsProvider> web_identity(const WebIdentitySettings& settings) {
    auto http = std::make_shared<net::HttpClient>(options_.http);
    return refreshing(
        [settings, sts = sts_endpoint(config_), http] { return fetch_web_identity(settings, sts, *http); },
        std::nullopt);
  }

  bool container_configured() const {
    return config_.getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") ||
           config_.getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
  }

  std::shared_ptr<AwsCredentialsProvider> container() {
    auto http = std::make_shared<net::HttpClient>(options_.http);
    return refreshing(
        [config = config_, http, opts = options_] { return *credentials_from_container(config, *http, opts); },
        std::nullopt);
  }

  // nullptr when the metadata service does not answer.
  std::shared_ptr<AwsCredentialsProvider> instance_metadata() {
    auto first = credentials_from_instance_metadata(config_, options_);
    if (!first) return nullptr;
    return refreshing(
        [config = config_, opts = options_] {
          auto c = credentials_from_instance_metadata(config, opts);
          if (!c) throw Error(ErrorKind::Unavailable, "instance metadata no longer answers");
          return *c;
        },
        std::move(first));
  }

  // The role of profile `name` (is_assume_role_profile). `visited`: the profiles
  // of the chain so far, `name` last.
  std::shared_ptr<AwsCredentialsProvider> assume_role(const std::string& name, std::vector<std::string>& visited) {
    const AwsConfig config = config_.with_profile(name);
    AssumeRoleSettings settings;
    settings.profile = name;
    settings.role_arn = *config.profile_value("role_arn");
    const auto source_profile = config.profile_value("source_profile");
    const auto credential_source = config.profile_value("credential_source");
    if (source_profile && credential_source)
      throw Error(ErrorKind::Invalid,
                  fmt::format("AWS profile '{}' has both source_profile and credential_source; use one", name));
    if (!source_profile && !credential_source)
      throw Error(ErrorKind::Invalid, fmt::format("AWS profile '{}' has role_arn but no source_profile, "
                                                  "credential_source or web_identity_token_file",
                                                  name));
    if (config.profile_value("mfa_serial"))
      throw Error(ErrorKind::Invalid, fmt::format("AWS profile '{}' has mfa_serial: sacker cannot prompt for an MFA "
                                                  "code (use a credential_process or temporary credentials)",
                                                  name));
    settings.session_name = config.profile_value("role_session_name").value_or("");
    if (settings.session_name.empty())
      settings.session_name = fmt::format(
          "sacker-{}", std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count());
    settings.external_id = config.profile_value("external_id").value_or("");
    if (auto d = config.profile_value("duration_seconds")) {
      if (d->empty() || d->size() > 9 ||
          !std::all_of(d->begin(), d->end(), [](unsigned char c) { return std::isdigit(c); }))
        throw Error(ErrorKind::Invalid, fmt::format("AWS profile '{}': duration_seconds must be a number of seconds, "
                                                    "not '{}'",
                                                    name, printable(*d)));
      settings.duration_seconds = *d;
    }

    std::shared_ptr<AwsCredentialsProvider> source;
    if (credential_source) {
      source = named_source(*credential_source, name);
    } else {
      const std::string& next = *source_profile;
      if (!config_.has_profile(next))
        throw Error(ErrorKind::Invalid, fmt::format("AWS profile '{}' names the source_profile '{}', which is in "
                                                    "neither {} nor {}",
                                                    name, next, config_.credentials_path(), config_.config_path()));
      const bool seen = std::find(visited.begin(), visited.end(), next) != visited.end();
      // A profile may name itself to take its own static keys (as the AWS CLI).
      if (seen && (next != name || !has_static_keys(config))) {
        std::string cycle;
        for (const auto& v : visited) cycle += v + " -> ";
        throw Error(ErrorKind::Invalid,
                    fmt::format("AWS profile '{}': the source_profile settings form a cycle: {}{}", name, cycle, next));
      }
      visited.push_back(next);
      source = source_of_profile(next, name, visited);
    }
    auto http = std::make_shared<net::HttpClient>(options_.http);
    return refreshing([settings, sts = sts_endpoint(config_), source,
                       http] { return fetch_assume_role(settings, sts, source->get(), *http); },
                      std::nullopt);
  }

  // The credentials that profile `name` lends as the source_profile of `parent`.
  std::shared_ptr<AwsCredentialsProvider> source_of_profile(const std::string& name, const std::string& parent,
                                                            std::vector<std::string>& visited) {
    const AwsConfig config = config_.with_profile(name);
    if (!has_static_keys(config) && is_assume_role_profile(config)) return assume_role(name, visited);
    if (auto settings = web_identity_settings(config, /*use_env=*/false)) return web_identity(*settings);
    if (auto p = profile_keys_or_process(config)) return p;
    throw Error(ErrorKind::Invalid, fmt::format("AWS profile '{}' (the source_profile of '{}') has no credentials: "
                                                "no keys, role_arn, web_identity_token_file or credential_process",
                                                name, parent));
  }

  // credential_source = Environment | Ec2InstanceMetadata | EcsContainer.
  std::shared_ptr<AwsCredentialsProvider> named_source(const std::string& source, const std::string& profile) {
    auto none = [&] {
      return Error(ErrorKind::Denied, fmt::format("AWS profile '{}' has credential_source = {}, which has no "
                                                  "credentials here",
                                                  profile, source));
    };
    if (source == "Environment") {
      auto c = credentials_from_env(config_);
      if (!c) throw none();
      return std::make_shared<StaticProvider>(*c);
    }
    if (source == "EcsContainer") {
      if (!container_configured()) throw none();
      return container();
    }
    if (source == "Ec2InstanceMetadata") {
      auto p = instance_metadata();
      if (!p) throw none();
      return p;
    }
    throw Error(ErrorKind::Invalid, fmt::format("AWS profile '{}': credential_source must be Environment, "
                                                "Ec2InstanceMetadata or EcsContainer, not '{}'",
                                                profile, printable(source)));
  }

  AwsConfig config_;
  AwsCredentialsOptions options_;
  std::mutex mutex_;
  std::shared_ptr<AwsCredentialsProvider> chosen_;
};

}  // namespace

std::shared_ptr<AwsCredentialsProvider> make_default_credentials_provider(const AwsConfig& config,
                                                                          AwsCredentialsOptions options) {
  return std::make_shared<DefaultChain>(config, std::move(options));
}

std::shared_ptr<AwsCredentialsProvider> make_static_credentials_provider(AwsCredentials credentials) {
  return std::make_shared<StaticProvider>(std::move(credentials));
}

}  // namespace sacker::aws
