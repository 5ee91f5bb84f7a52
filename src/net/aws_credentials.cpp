#include "net/aws_credentials.h"

#include <algorithm>
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

#include "net/sigv4.h"
#include "sacker/error.h"

namespace sacker::net {
namespace {

using Clock = std::chrono::system_clock;

constexpr const char* kNoCredentials =
    "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with a "
    "profile in ~/.aws/credentials or ~/.aws/config, or run with a web identity (AWS_ROLE_ARN + "
    "AWS_WEB_IDENTITY_TOKEN_FILE), a container role or an EC2 instance role";

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool is_true(const std::optional<std::string>& v) {
  if (!v) return false;
  std::string s(trim(*v));
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s == "true";
}

std::string read_secret_file(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno ? errno : ENOENT;
    throw Error(kind_from_errno(err), fmt::format("{} {}: {}", what, path, std::strerror(err)));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text(trim(ss.str()));
  if (text.empty()) throw Error(ErrorKind::Invalid, fmt::format("{} {} is empty", what, path));
  return text;
}

// application/x-www-form-urlencoded value (RFC 3986 unreserved kept).
std::string form_encode(std::string_view s) { return uri_encode(s, false); }

HttpOptions with_ca_bundle(HttpOptions http, const AwsConfig& config) {
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

std::optional<WebIdentitySettings> web_identity_settings(const AwsConfig& config) {
  auto arn = config.getenv("AWS_ROLE_ARN");
  auto file = config.getenv("AWS_WEB_IDENTITY_TOKEN_FILE");
  auto session = config.getenv("AWS_ROLE_SESSION_NAME");
  if (!arn && !file) {
    // The profile may carry the same settings.
    arn = config.config_value("role_arn");
    file = config.config_value("web_identity_token_file");
    if (!arn || !file) return std::nullopt;
    session = config.config_value("role_session_name");
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

}  // namespace

std::chrono::system_clock::time_point parse_iso8601_utc(std::string_view text) {
  auto bad = [&] { return Error(ErrorKind::Invalid, fmt::format("not an ISO 8601 UTC time: '{}'", text)); };
  std::string s(trim(text));
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
  auto try_file = [&](bool credentials_file) -> std::optional<AwsCredentials> {
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
  };
  if (auto c = try_file(true)) return c;
  return try_file(false);
}

std::optional<AwsCredentials> credentials_from_web_identity(const AwsConfig& config, HttpClient& http) {
  auto settings = web_identity_settings(config);
  if (!settings) return std::nullopt;
  const std::string token = read_secret_file(settings->token_file, "web identity token file");
  const AwsEndpoint endpoint = config.endpoint("sts");

  HttpRequest req;
  req.method = "POST";
  req.url = endpoint.url + "/";
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}, {"Accept", "application/xml"}};
  req.body = "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=" + form_encode(settings->role_arn) +
             "&RoleSessionName=" + form_encode(settings->session_name) + "&WebIdentityToken=" + form_encode(token);
  req.idempotent = true;  // creating one more session is harmless
  const HttpResponse resp = http.send(req);

  const std::string what = fmt::format("STS AssumeRoleWithWebIdentity for {} at {}", settings->role_arn, endpoint.url);
  pugi::xml_document doc;
  const bool parsed = doc.load_buffer(resp.body.data(), resp.body.size());
  if (resp.status != 200) {
    std::string code = parsed ? xml_text(doc, "ErrorResponse/Error/Code") : "";
    std::string message = parsed ? xml_text(doc, "ErrorResponse/Error/Message") : "";
    ErrorKind kind = error_kind_for_status(resp.status);
    if (code == "InvalidIdentityToken" || code == "ExpiredTokenException" || code == "IDPRejectedClaim" ||
        code == "AccessDenied")
      kind = ErrorKind::Denied;
    throw Error(kind, fmt::format("{}: HTTP {}{}{}", what, resp.status, code.empty() ? "" : " " + code,
                                  message.empty() ? "" : ": " + message));
  }
  if (!parsed) throw Error(ErrorKind::Unavailable, fmt::format("{}: the answer is not XML", what));
  const pugi::xml_node creds =
      doc.first_element_by_path("AssumeRoleWithWebIdentityResponse/AssumeRoleWithWebIdentityResult/Credentials");
  AwsCredentials c;
  c.access_key_id = creds.child("AccessKeyId").text().as_string();
  c.secret_access_key = creds.child("SecretAccessKey").text().as_string();
  c.session_token = creds.child("SessionToken").text().as_string();
  const std::string exp = creds.child("Expiration").text().as_string();
  if (c.access_key_id.empty() || c.secret_access_key.empty() || c.session_token.empty() || exp.empty())
    throw Error(ErrorKind::Unavailable, fmt::format("{}: the answer has no complete Credentials", what));
  c.expiration = parse_iso8601_utc(exp);
  c.source = "web identity";
  return c;
}

std::optional<AwsCredentials> credentials_from_container(const AwsConfig& config, HttpClient& http,
                                                         const AwsCredentialsOptions& options) {
  std::string url;
  if (auto rel = config.getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
    url = options.container_relative_base + (rel->front() == '/' ? "" : "/") + *rel;
  } else if (auto full = config.getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
    const UrlParts u = parse_url(*full);
    if (u.scheme != "https" && !loopback_or_link_local_ecs(u.host))
      throw Error(ErrorKind::Invalid, fmt::format("AWS_CONTAINER_CREDENTIALS_FULL_URI must be https or name a loopback "
                                                  "or the container credentials address, not host '{}'",
                                                  u.host));
    url = *full;
  } else {
    return std::nullopt;
  }
  HttpRequest req;
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
  const std::string what = fmt::format("container credentials at {}", redact_url(url));
  const HttpResponse resp = http.send(req);
  if (resp.status != 200)
    throw Error(error_kind_for_status(resp.status), fmt::format("{}: HTTP {}", what, resp.status));
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

  HttpOptions ho = options.http;
  ho.connect_timeout = options.imds_timeout;
  ho.retry.max_attempts = std::max(1, options.imds_attempts);
  HttpClient http(ho);
  auto request = [&](const char* method, const std::string& path,
                     const std::optional<std::string>& token) -> std::optional<HttpResponse> {
    HttpRequest req;
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
    token = std::string(trim(tr->body));
  } else if (tr->status != 403 && tr->status != 404 && tr->status != 405) {
    return std::nullopt;  // not a metadata service we can use
  }                       // else: IMDSv1 only

  const std::string roles_path = "/latest/meta-data/iam/security-credentials/";
  auto rr = request("GET", roles_path, token);
  if (!rr || rr->status != 200) return std::nullopt;  // no instance role
  std::string role(trim(std::string_view(rr->body).substr(0, rr->body.find('\n'))));
  if (role.empty()) return std::nullopt;

  const std::string what = fmt::format("instance metadata credentials of role {}", role);
  auto cr = request("GET", roles_path + uri_encode(role, false), token);
  if (!cr) throw Error(ErrorKind::Unavailable, what + ": no answer");
  if (cr->status != 200) throw Error(error_kind_for_status(cr->status), fmt::format("{}: HTTP {}", what, cr->status));
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
    if (auto c = credentials_from_env(config_)) return std::make_shared<StaticProvider>(*c);
    if (auto c = credentials_from_profile(config_)) return std::make_shared<StaticProvider>(*c);
    if (web_identity_settings(config_)) {
      auto http = std::make_shared<HttpClient>(options_.http);
      AwsConfig config = config_;
      return refreshing([config, http] { return *credentials_from_web_identity(config, *http); }, std::nullopt);
    }
    if (config_.getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") ||
        config_.getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
      auto http = std::make_shared<HttpClient>(options_.http);
      AwsConfig config = config_;
      AwsCredentialsOptions opts = options_;
      return refreshing([config, http, opts] { return *credentials_from_container(config, *http, opts); },
                        std::nullopt);
    }
    if (auto first = credentials_from_instance_metadata(config_, options_)) {
      AwsConfig config = config_;
      AwsCredentialsOptions opts = options_;
      return refreshing(
          [config, opts] {
            auto c = credentials_from_instance_metadata(config, opts);
            if (!c) throw Error(ErrorKind::Unavailable, "instance metadata no longer answers");
            return *c;
          },
          std::move(first));
    }
    if (config_.getenv("AWS_PROFILE"))
      throw Error(ErrorKind::Denied, fmt::format("no AWS credentials: profile '{}' has none (in {} or {}) and no "
                                                 "web identity, container or instance role is available",
                                                 config_.profile(), config_.credentials_path(), config_.config_path()));
    throw Error(ErrorKind::Denied, kNoCredentials);
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

}  // namespace sacker::net
