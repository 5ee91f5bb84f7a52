#include "sacker/uri.h"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>

#include "core/codec.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker {
namespace {

[[noreturn]] void invalid(std::string_view text, const std::string& why) {
  throw Error(ErrorKind::Invalid, fmt::format("invalid URI '{}': {}", printable(redact_uri(text)), why));
}

std::string decode(std::string_view text, std::string_view part, bool plus_is_space) {
  auto out = codec::percent_decode(part, plus_is_space);
  // A NUL would silently cut a path or a password short in the C APIs below.
  if (!out) invalid(text, "bad percent escape ('%' takes two hex digits; %00 is not allowed)");
  return *out;
}

// %XX decoded where XX is hex, everything else kept: how parse_uri reads a query
// name, but never throwing (redact_uri also runs on invalid URIs).
std::string decode_leniently(std::string_view part) {
  std::string out;
  for (std::size_t i = 0; i < part.size(); ++i) {
    auto escaped = i + 2 < part.size() && part[i] == '%' ? codec::hex_decode(part.substr(i + 1, 2)) : std::nullopt;
    if (escaped) {
      out += *escaped;
      i += 2;
    } else {
      out += part[i];
    }
  }
  return out;
}

bool looks_secret(std::string name) {
  name = codec::to_lower(name);
  if (name == "sig") return true;  // an Azure SAS signature
  for (const char* word : {"pass", "pwd", "secret", "token", "key", "signature", "credential", "auth"})
    if (name.find(word) != std::string::npos) return true;
  return false;
}

// A query value that holds a URI of its own (git:///cache.git?remote=https://u:pw@host/r.git),
// raw or percent-encoded, or a scp-like remote (TOKEN@host:path): its userinfo goes too.
// The value is judged by its decoded form, as parse_uri hands it on. Only a value
// that redaction changes comes back, percent-encoded (so the redacted URI still
// parses to the same query names); any other value stays byte for byte as it was.
// That keeps redact_uri idempotent: re-encoding an unchanged nested URI would turn
// its '?' into %3F, and the next pass would read what followed as userinfo.
std::string redact_query_value(std::string_view value) {
  const std::string decoded = decode_leniently(value);
  std::string redacted = decoded.find("://") != std::string::npos ? redact_uri(decoded) : decoded;
  // The scp-like rule also runs on a nested URI whose redaction took its "://" away
  // (a secret query value held it): the next pass sees no "://" and would apply it then.
  if (redacted.find("://") == std::string::npos)
    if (auto at = redacted.rfind('@', redacted.find('/')); at != std::string::npos)
      redacted = "***" + redacted.substr(at);
  return redacted == decoded ? std::string(value) : codec::percent_encode(redacted, ":/@*");
}

}  // namespace

Uri parse_uri(std::string_view text) {
  for (unsigned char c : text)
    if (c < 0x20 || c == 0x7f) invalid(text, "contains control characters");
  auto colon = text.find("://");
  if (colon == std::string_view::npos || colon == 0)
    invalid(text, "expected scheme://..., e.g. sqlite:///path/ledger.db or s3://bucket/prefix");
  Uri uri;
  uri.text = std::string(text);
  uri.scheme = std::string(text.substr(0, colon));
  for (char& c : uri.scheme) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') invalid(text, "bad scheme");
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  std::string_view rest = text.substr(colon + 3);
  auto query_at = rest.find('?');
  std::string_view query = query_at == std::string_view::npos ? std::string_view() : rest.substr(query_at + 1);
  rest = rest.substr(0, query_at);
  auto slash = rest.find('/');
  uri.authority = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) uri.path = decode(text, rest.substr(slash), false);
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (item.empty()) continue;
    auto eq = item.find('=');
    std::string name = decode(text, item.substr(0, eq), true);
    std::string value = eq == std::string_view::npos ? std::string() : decode(text, item.substr(eq + 1), true);
    uri.query[name] = value;
  }
  return uri;
}

std::string redact_uri(std::string_view text) {
  std::string out(text);
  // Userinfo, user and password alike: a token is often given as the user name
  // (https://ghp_TOKEN@host/r.git, postgres://TOKEN@host/db).
  // Only a "://" before the query starts a scheme (parse_uri refuses a '?' in the
  // scheme); one after it belongs to a query value, redacted below with its own userinfo.
  if (auto scheme_end = out.find("://"); scheme_end != std::string::npos && scheme_end < out.find('?')) {
    auto auth_start = scheme_end + 3;
    auto auth_end = std::min(out.find_first_of("/?", auth_start), out.size());  // as parse_uri splits
    auto at = out.rfind('@', auth_end);
    if (at != std::string::npos && at >= auth_start) out.replace(auth_start, at - auth_start, "***");
  }
  auto q = out.find('?');
  if (q == std::string::npos) return out;
  std::string result = out.substr(0, q + 1);
  std::string_view query(out);
  query.remove_prefix(q + 1);
  for (bool first = true;; first = false) {
    auto amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    auto eq = item.find('=');
    if (!first) result += '&';
    if (eq == std::string_view::npos)
      result += std::string(item);
    else if (looks_secret(decode_leniently(item.substr(0, eq))))
      result += std::string(item.substr(0, eq)) + "=***";
    else
      result += std::string(item.substr(0, eq + 1)) + redact_query_value(item.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return result;
}

Authority split_authority(std::string_view authority) {
  Authority a;
  auto at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    auto colon = userinfo.find(':');
    a.user = std::string(userinfo.substr(0, colon));
    if (colon != std::string_view::npos) a.password = std::string(userinfo.substr(colon + 1));
  }
  if (!authority.empty() && authority.front() == '[') {  // [::1]:port
    auto close = authority.find(']');
    a.host = std::string(authority.substr(0, close + 1));
    if (close != std::string_view::npos && close + 1 < authority.size() && authority[close + 1] == ':')
      a.port = std::string(authority.substr(close + 2));
    return a;
  }
  auto colon = authority.rfind(':');
  a.host = std::string(authority.substr(0, colon));
  if (colon != std::string_view::npos) a.port = std::string(authority.substr(colon + 1));
  return a;
}

}  // namespace sacker
