#include "aws/aws_config.h"

#include <sys/stat.h>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "core/codec.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker::aws {
namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool is_true(const std::optional<std::string>& v) { return v && codec::to_lower(codec::trim(*v)) == "true"; }

// Reads a whole file; nullopt if it does not exist.
std::optional<std::string> read_optional_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    throw_errno(path, errno);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_errno(path, errno ? errno : EIO);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string strip_trailing_slash(std::string url) {
  while (url.size() > 1 && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace

AwsIniFile parse_aws_ini(std::string_view text, bool config_file) {
  AwsIniFile out;
  AwsSection* section = nullptr;
  std::string parent;  // key of an open "key =" sub-section
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view raw = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    const bool indented = !raw.empty() && (raw.front() == ' ' || raw.front() == '\t');
    std::string_view line = codec::trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      std::string name(codec::trim(line.substr(1, line.size() - 2)));
      parent.clear();
      if (config_file) {
        if (name.rfind("profile ", 0) == 0) {
          name = std::string(codec::trim(std::string_view(name).substr(8)));
        } else if (name.rfind("services ", 0) == 0) {
          name = "services " + std::string(codec::trim(std::string_view(name).substr(9)));
        } else if (name != "default") {
          // Other section types (sso-session, plugins, ...) are kept under
          // their full name; they never collide with a profile.
          name = "section " + name;
        }
      }
      section = &out[name];
      continue;
    }
    if (!section) continue;
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string key = codec::to_lower(codec::trim(line.substr(0, eq)));
    std::string value(codec::trim(line.substr(eq + 1)));
    // Inline comments need whitespace before '#' or ';' (as botocore does).
    for (std::size_t i = 1; i < value.size(); ++i) {
      if ((value[i] == '#' || value[i] == ';') && std::isspace(static_cast<unsigned char>(value[i - 1]))) {
        value = std::string(codec::trim(std::string_view(value).substr(0, i)));
        break;
      }
    }
    if (indented && !parent.empty()) {
      (*section)[parent + "." + key] = value;
      continue;
    }
    parent.clear();
    if (value.empty()) {
      parent = key;  // may open a sub-section
      continue;
    }
    (*section)[key] = value;
  }
  return out;
}

AwsConfig::AwsConfig(EnvLookup env, std::string profile, AwsIniFile credentials, AwsIniFile config)
    : env_(std::move(env)),
      profile_(std::move(profile)),
      credentials_(std::move(credentials)),
      config_(std::move(config)) {}

AwsConfig AwsConfig::load(const EnvLookup& env) {
  auto get = [&](const char* name) -> std::optional<std::string> {
    auto v = env(name);
    if (v && v->empty()) return std::nullopt;
    return v;
  };
  const std::string home = get("HOME").value_or("");
  auto expand = [&](std::string p) {
    if (p.rfind("~/", 0) == 0 && !home.empty()) p = home + p.substr(1);
    return p;
  };
  std::string cred_path =
      expand(get("AWS_SHARED_CREDENTIALS_FILE").value_or(home.empty() ? "" : home + "/.aws/credentials"));
  std::string conf_path = expand(get("AWS_CONFIG_FILE").value_or(home.empty() ? "" : home + "/.aws/config"));
  AwsIniFile creds, conf;
  if (!cred_path.empty())
    if (auto text = read_optional_file(cred_path)) creds = parse_aws_ini(*text, false);
  if (!conf_path.empty())
    if (auto text = read_optional_file(conf_path)) conf = parse_aws_ini(*text, true);

  const auto explicit_profile = get("AWS_PROFILE");
  std::string profile = explicit_profile.value_or("default");
  if (explicit_profile && !creds.count(profile) && !conf.count(profile))
    throw Error(ErrorKind::Invalid, fmt::format("AWS_PROFILE names the profile '{}', which is in neither {} nor {}",
                                                profile, cred_path.empty() ? "~/.aws/credentials" : cred_path,
                                                conf_path.empty() ? "~/.aws/config" : conf_path));
  AwsConfig cfg(env, std::move(profile), std::move(creds), std::move(conf));
  cfg.credentials_path_ = std::move(cred_path);
  cfg.config_path_ = std::move(conf_path);
  return cfg;
}

std::optional<std::string> AwsConfig::getenv(const std::string& name) const {
  if (!env_) return std::nullopt;
  auto v = env_(name);
  if (v && v->empty()) return std::nullopt;
  return v;
}

namespace {

// The non-empty value of `key` in section `profile` of `file`.
std::optional<std::string> ini_value(const AwsIniFile& file, const std::string& profile, const std::string& key) {
  auto s = file.find(profile);
  if (s == file.end()) return std::nullopt;
  auto v = s->second.find(key);
  if (v == s->second.end() || v->second.empty()) return std::nullopt;
  return v->second;
}

}  // namespace

std::optional<std::string> AwsConfig::config_value(const std::string& key) const {
  return ini_value(config_, profile_, key);
}

std::optional<std::string> AwsConfig::credentials_value(const std::string& key) const {
  return ini_value(credentials_, profile_, key);
}

std::optional<std::string> AwsConfig::profile_value(const std::string& key) const {
  if (auto v = credentials_value(key)) return v;
  return config_value(key);
}

bool AwsConfig::has_profile(const std::string& profile) const {
  return credentials_.count(profile) != 0 || config_.count(profile) != 0;
}

AwsConfig AwsConfig::with_profile(std::string profile) const {
  AwsConfig other = *this;
  other.profile_ = std::move(profile);
  return other;
}

std::string AwsConfig::region() const {
  if (auto r = getenv("AWS_REGION")) return *r;
  if (auto r = getenv("AWS_DEFAULT_REGION")) return *r;
  if (auto r = config_value("region")) return *r;
  return "us-east-1";
}

AwsEndpoint AwsConfig::endpoint(std::string_view service_id) const {
  const std::string id = codec::to_lower(service_id);
  const bool ignore =
      is_true(getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")) || is_true(config_value("ignore_configure_endpoint_urls"));
  if (!ignore) {
    std::string env_id = upper(id);
    std::replace(env_id.begin(), env_id.end(), ' ', '_');
    std::replace(env_id.begin(), env_id.end(), '-', '_');
    if (auto v = getenv("AWS_ENDPOINT_URL_" + env_id)) return {strip_trailing_slash(*v), true};
    if (auto v = getenv("AWS_ENDPOINT_URL")) return {strip_trailing_slash(*v), true};
    std::string key_id = id;
    std::replace(key_id.begin(), key_id.end(), ' ', '_');
    std::replace(key_id.begin(), key_id.end(), '-', '_');
    if (auto services = config_value("services")) {
      auto s = config_.find("services " + *services);
      if (s != config_.end()) {
        auto v = s->second.find(key_id + ".endpoint_url");
        if (v != s->second.end() && !v->second.empty()) return {strip_trailing_slash(v->second), true};
      }
    }
    if (auto v = config_value("endpoint_url")) return {strip_trailing_slash(*v), true};
  }
  const std::string region = this->region();
  // It becomes part of a host name: a DNS label only (as botocore checks), or a stray '/', '@' or '#' would
  // send signed requests to another host.
  for (char c : region)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-')
      throw Error(ErrorKind::Invalid,
                  fmt::format("invalid AWS region '{}': only letters, digits and '-' are allowed", printable(region)));
  const char* suffix = region.rfind("cn-", 0) == 0 ? "amazonaws.com.cn" : "amazonaws.com";
  return {fmt::format("https://{}.{}.{}", id, region, suffix), false};
}

std::string AwsConfig::ca_bundle() const {
  if (auto v = getenv("AWS_CA_BUNDLE")) return *v;
  if (auto v = config_value("ca_bundle")) return *v;
  return "";
}

}  // namespace sacker::aws
