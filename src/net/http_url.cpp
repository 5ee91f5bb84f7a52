// The pure parts of net/http.h, apart from the transfer code in http.cpp: header
// lists, URL parsing, redaction of signed query values for logs and messages, and
// Content-Range. No libcurl here.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "core/codec.h"
#include "net/http.h"

namespace sacker::net {

using codec::iequals;

const std::string* find_header(const HttpHeaders& headers, std::string_view name) {
  for (const auto& [n, v] : headers)
    if (iequals(n, name)) return &v;
  return nullptr;
}

void remove_header(HttpHeaders& headers, std::string_view name) {
  std::erase_if(headers, [&](const auto& h) { return iequals(h.first, name); });
}

void set_header(HttpHeaders& headers, std::string_view name, std::string value) {
  remove_header(headers, name);
  headers.emplace_back(std::string(name), std::move(value));
}

UrlParts parse_url(std::string_view url) {
  auto bad = [&](const char* why) {
    return Error(ErrorKind::Invalid, fmt::format("invalid URL '{}': {}", redact_url(url), why));
  };
  UrlParts u;
  const auto sep = url.find("://");
  if (sep == std::string_view::npos) throw bad("no scheme");
  for (char c : url.substr(0, sep)) u.scheme.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (u.scheme != "http" && u.scheme != "https") throw bad("only http and https are supported");
  std::string_view rest = url.substr(sep + 3);
  const auto auth_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, auth_end);
  rest = auth_end == std::string_view::npos ? std::string_view{} : rest.substr(auth_end);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) throw bad("unclosed '['");
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') throw bad("garbage after ']'");
      port_text = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (u.host.empty()) throw bad("no host");
  for (char& c : u.host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  u.port = u.scheme == "https" ? 443 : 80;
  if (!port_text.empty()) {
    int p = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9' || p > 65535) throw bad("bad port");
      p = p * 10 + (c - '0');
    }
    if (p == 0 || p > 65535) throw bad("bad port");
    u.port = p;
    u.explicit_port = true;
  }
  if (auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  const auto q = rest.find('?');
  u.path = std::string(rest.substr(0, q));
  if (q != std::string_view::npos) u.query = std::string(rest.substr(q + 1));
  if (u.path.empty()) u.path = "/";
  return u;
}

std::string UrlParts::host_header() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  const bool default_port = (scheme == "https" && port == 443) || (scheme == "http" && port == 80);
  if (!default_port) h += ":" + std::to_string(port);
  return h;
}

std::string redact_url(std::string_view url) {
  std::string out;
  // Drop userinfo.
  if (auto sep = url.find("://"); sep != std::string_view::npos) {
    const auto auth_end = url.find_first_of("/?#", sep + 3);
    std::string_view authority =
        url.substr(sep + 3, auth_end == std::string_view::npos ? std::string_view::npos : auth_end - sep - 3);
    out.append(url.substr(0, sep + 3));
    if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
    out.append(authority);
    url = auth_end == std::string_view::npos ? std::string_view{} : url.substr(auth_end);
  }
  const auto q = url.find('?');
  out.append(url.substr(0, q));
  if (q == std::string_view::npos) return out;
  out.push_back('?');
  std::string_view query = url.substr(q + 1);
  bool first = true;
  while (true) {
    const auto amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    if (!first) out.push_back('&');
    first = false;
    const auto eq = item.find('=');
    std::string_view name = item.substr(0, eq);
    if (eq != std::string_view::npos &&
        (iequals(name, "X-Amz-Signature") || iequals(name, "X-Amz-Credential") ||
         iequals(name, "X-Amz-Security-Token") || iequals(name, "sig") || iequals(name, "delegation"))) {
      out.append(name);
      out.append("=REDACTED");
    } else {
      out.append(item);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

ContentRange content_range(const HttpResponse& response) {
  ContentRange cr;
  const std::string* header = response.header("Content-Range");
  if (!header) return cr;
  std::string_view v = codec::trim(*header);
  if (v.rfind("bytes ", 0) != 0) return cr;
  v.remove_prefix(6);
  const auto slash = v.find('/');
  if (slash == std::string_view::npos) return cr;
  cr.total = codec::parse_decimal(v.substr(slash + 1));
  const std::string_view range = v.substr(0, slash);
  const auto dash = range.find('-');
  if (range != "*" && dash != std::string_view::npos) {
    cr.first = codec::parse_decimal(range.substr(0, dash));
    cr.last = codec::parse_decimal(range.substr(dash + 1));
    if (cr.first && cr.last && cr.total && (*cr.first > *cr.last || *cr.last >= *cr.total)) return {};
  }
  return cr;
}

}  // namespace sacker::net
