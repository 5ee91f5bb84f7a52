#include "kit/uri_options.h"

#include <fmt/core.h>

#include "core/codec.h"
#include "sacker/error.h"
#include "sacker/names.h"
#include "sacker/spec.h"

namespace sacker {

void throw_invalid_uri(const Uri& uri, std::string_view why) {
  throw Error(ErrorKind::Invalid, fmt::format("invalid URI '{}': {}", printable(redact_uri(uri.text)), why));
}

UriOptions::UriOptions(const Uri& uri) : uri_(uri) {}

std::optional<std::string> UriOptions::take(std::string_view name) {
  known_.emplace(name);
  auto it = uri_.query.find(std::string(name));
  if (it == uri_.query.end()) return std::nullopt;
  return it->second;
}

std::string UriOptions::take_or(std::string_view name, std::string fallback) {
  auto v = take(name);
  return v ? *v : std::move(fallback);
}

std::uint64_t UriOptions::take_uint(std::string_view name, std::uint64_t fallback, std::uint64_t min,
                                    std::uint64_t max) {
  auto v = take(name);
  if (!v) return fallback;
  auto n = codec::parse_decimal(*v, max);
  if (!n || *n < min) throw_invalid_uri(uri_, fmt::format("option '{}' must be a number from {} to {}", name, min, max));
  return *n;
}

bool UriOptions::take_bool(std::string_view name, bool fallback) {
  auto v = take(name);
  if (!v) return fallback;
  const std::string value = codec::to_lower(*v);
  if (value.empty() || value == "1" || value == "true" || value == "yes" || value == "on") return true;
  if (value == "0" || value == "false" || value == "no" || value == "off") return false;
  throw_invalid_uri(uri_, fmt::format("option '{}' must be true or false", name));
}

std::int64_t UriOptions::take_seconds(std::string_view name, std::int64_t fallback) {
  auto v = take(name);
  if (!v) return fallback;
  try {
    return parse_duration_seconds(*v);
  } catch (const Error&) {
    throw_invalid_uri(uri_, fmt::format("option '{}' must be a duration such as 30s, 5m or 1h", name));
  }
}

void UriOptions::finish() const {
  for (const auto& [name, value] : uri_.query) {
    if (known_.count(name)) continue;
    std::string known;
    for (const auto& k : known_) known += (known.empty() ? "" : ", ") + k;
    throw_invalid_uri(uri_, fmt::format("unknown option '{}' ({})", printable(name),
                                        known.empty() ? "this scheme takes no options" : "known: " + known));
  }
}

std::filesystem::path local_path(const Uri& uri, std::string_view example) {
  // The authority is named only when it holds no userinfo (a password must not be echoed).
  if (!uri.authority.empty())
    throw_invalid_uri(uri, uri.authority.find('@') != std::string::npos
                               ? fmt::format("a user or password is not allowed here (expected {})", example)
                               : fmt::format("'{}' before the path is not allowed here (expected {}, with three "
                                             "slashes)",
                                             printable(uri.authority), example));
  if (uri.path.empty() || uri.path.front() != '/') throw_invalid_uri(uri, fmt::format("expected {}", example));
  return uri.path;
}

HostList parse_host_list(const Uri& uri, std::uint16_t default_port) {
  HostList out;
  std::string_view hosts = uri.authority;
  auto decoded = [&](std::string_view part, const char* what) {
    auto d = codec::percent_decode(part);
    if (!d) throw_invalid_uri(uri, fmt::format("bad percent escape in the {}", what));
    return *d;
  };
  if (auto at = hosts.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = hosts.substr(0, at);
    hosts.remove_prefix(at + 1);
    auto colon = userinfo.find(':');
    out.user = decoded(userinfo.substr(0, colon), "user name");
    if (colon != std::string_view::npos) out.password = decoded(userinfo.substr(colon + 1), "password");
  }
  if (hosts.empty()) throw_invalid_uri(uri, "no host");
  for (bool more = true; more;) {
    auto comma = hosts.find(',');
    std::string_view one = hosts.substr(0, comma);
    more = comma != std::string_view::npos;
    if (more) hosts.remove_prefix(comma + 1);
    std::string_view host = one, port;
    bool has_port = false;
    if (!one.empty() && one.front() == '[') {  // [::1]:port
      auto close = one.find(']');
      if (close == std::string_view::npos) throw_invalid_uri(uri, "unclosed '[' in a host");
      host = one.substr(1, close - 1);
      std::string_view rest = one.substr(close + 1);
      if (!rest.empty()) {
        if (rest.front() != ':') throw_invalid_uri(uri, fmt::format("bad host '{}'", printable(one)));
        port = rest.substr(1);
        has_port = true;
      }
    } else if (auto colon = one.rfind(':'); colon != std::string_view::npos) {
      host = one.substr(0, colon);
      port = one.substr(colon + 1);
      has_port = true;
    }
    HostPort hp;
    hp.host = decoded(host, "host");
    if (hp.host.empty() || hp.host.find_first_of("/@ ,") != std::string::npos)
      throw_invalid_uri(uri, fmt::format("bad host '{}'", printable(one)));
    if (!has_port) {
      if (default_port == 0) throw_invalid_uri(uri, fmt::format("host '{}' needs a port", printable(one)));
      hp.port = default_port;
    } else {
      auto p = codec::parse_decimal(port, 65535);
      if (!p || *p == 0) throw_invalid_uri(uri, fmt::format("bad port in '{}'", printable(one)));
      hp.port = static_cast<std::uint16_t>(*p);
    }
    out.hosts.push_back(std::move(hp));
  }
  return out;
}

}  // namespace sacker
