#include "aws/credential_sources.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aws/credential_process.h"
#include "core/codec.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker::aws {
namespace {

using Clock = std::chrono::system_clock;

// A credential_process prints a few hundred bytes; more is a mistake.
constexpr std::size_t kMaxProcessOutput = 1 << 20;

bool is_true(const std::optional<std::string>& v) { return v && codec::to_lower(codec::trim(*v)) == "true"; }

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

}  // namespace

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
  if (auto c = profile_static_keys(config, true)) return c;
  return profile_static_keys(config, false);
}

std::optional<AwsCredentials> profile_static_keys(const AwsConfig& config, bool credentials_file) {
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
    if (!err.empty()) why += ": " + printable(codec::trim(err), 200);
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
  if (cr->status != 200)
    throw Error(net::error_kind_for_status(cr->status), fmt::format("{}: HTTP {}", what, cr->status));
  AwsCredentials c = from_json(cr->body, what, false);
  c.source = "instance metadata";
  return c;
}

}  // namespace sacker::aws
