// The pure half of the HTTP layer: headers, target and query parsing, Range, routing.
// No sockets here, so all of it is tested without a server.
#include <algorithm>
#include <cctype>
#include <limits>
#include <stdexcept>

#include "serve/http_server.h"

#include "core/codec.h"

namespace sacker::serve {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

// RFC 9110 token characters.
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
  });
}

void check_field(std::string_view name, std::string_view value) {
  if (!is_token(name)) throw std::invalid_argument("bad header name");
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos)
    throw std::invalid_argument("header value with CR, LF or NUL: " + std::string(name));
}

// Digits only, saturating at UINT64_MAX; nullopt for anything else or nothing.
std::optional<std::uint64_t> parse_digits(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const unsigned d = static_cast<unsigned>(c - '0');
    v = v > (std::numeric_limits<std::uint64_t>::max() - d) / 10 ? std::numeric_limits<std::uint64_t>::max()
                                                                 : v * 10 + d;
  }
  return v;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_param_segment(std::string_view seg) { return seg.size() > 2 && seg.front() == '{' && seg.back() == '}'; }

const char* reason(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 421: return "Misdirected Request";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

}  // namespace

void Headers::add(std::string name, std::string value) {
  check_field(name, value);
  fields_.emplace_back(std::move(name), std::move(value));
}

void Headers::add_unchecked(std::string name, std::string value) {
  fields_.emplace_back(std::move(name), std::move(value));
}

void Headers::set(std::string name, std::string value) {
  check_field(name, value);
  remove(name);
  fields_.emplace_back(std::move(name), std::move(value));
}

void Headers::remove(std::string_view name) {
  std::erase_if(fields_, [&](const Field& f) { return iequals(f.first, name); });
}

std::optional<std::string_view> Headers::get(std::string_view name) const {
  for (const auto& f : fields_)
    if (iequals(f.first, name)) return std::string_view(f.second);
  return std::nullopt;
}

std::optional<std::string_view> Request::query_value(std::string_view name) const {
  for (const auto& [k, v] : query)
    if (k == name) return std::string_view(v);
  return std::nullopt;
}

const std::string& Request::param(std::string_view name) const {
  for (const auto& [k, v] : params)
    if (k == name) return v;
  throw std::out_of_range("route has no {" + std::string(name) + "}");
}

void Response::set_body(std::string content, std::string_view content_type) {
  body = std::move(content);
  writer = nullptr;
  length = 0;
  headers.set("Content-Type", std::string(content_type));
}

void Response::stream(std::uint64_t size, std::string_view content_type, BodyWriter body_writer) {
  body.clear();
  length = size;
  writer = std::move(body_writer);
  accept_ranges = true;
  headers.set("Content-Type", std::string(content_type));
}

RangeDecision decide_range(std::string_view header, std::uint64_t size) {
  const RangeDecision full;
  header = trim_ows(header);
  const auto eq = header.find('=');
  if (eq == std::string_view::npos || !iequals(trim_ows(header.substr(0, eq)), "bytes")) return full;
  const auto spec = trim_ows(header.substr(eq + 1));
  if (spec.find(',') != std::string_view::npos) return full;  // several ranges: may be ignored
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos) return full;
  const auto first_text = spec.substr(0, dash), last_text = spec.substr(dash + 1);
  const RangeDecision unsatisfiable{RangeDecision::Kind::Unsatisfiable};
  if (first_text.empty()) {  // suffix: the last n bytes
    const auto n = parse_digits(last_text);
    if (!n) return full;
    if (*n == 0) return unsatisfiable;
    if (size == 0) return full;  // "the entire representation": nothing
    const std::uint64_t len = std::min(*n, size);
    return {RangeDecision::Kind::Partial, size - len, len};
  }
  const auto first = parse_digits(first_text);
  if (!first) return full;
  std::uint64_t last = std::numeric_limits<std::uint64_t>::max();
  if (!last_text.empty()) {
    const auto l = parse_digits(last_text);
    if (!l || *l < *first) return full;  // invalid range-spec: ignored
    last = *l;
  }
  if (*first >= size) return unsatisfiable;
  last = std::min(last, size - 1);
  return {RangeDecision::Kind::Partial, *first, last - *first + 1};
}


std::optional<QueryPairs> parse_query(std::string_view raw) {
  QueryPairs pairs;
  while (!raw.empty()) {
    const auto amp = raw.find('&');
    const auto piece = raw.substr(0, amp);
    raw = amp == std::string_view::npos ? std::string_view() : raw.substr(amp + 1);
    if (piece.empty()) continue;
    const auto eq = piece.find('=');
    auto key = codec::percent_decode(piece.substr(0, eq), true, true);
    auto value =
        eq == std::string_view::npos ? std::optional<std::string>("") : codec::percent_decode(piece.substr(eq + 1), true, true);
    if (!key || !value) return std::nullopt;
    if (key->find('\0') != std::string::npos || value->find('\0') != std::string::npos) return std::nullopt;
    pairs.emplace_back(std::move(*key), std::move(*value));
  }
  return pairs;
}

std::optional<std::string> parse_target(std::string_view target, Request& request) {
  if (target.empty() || target.front() != '/') return "the request target is not a path";
  const auto q = target.find('?');
  const auto path = target.substr(0, q);
  request.raw_path = std::string(path);
  request.raw_query = q == std::string_view::npos ? std::string() : std::string(target.substr(q + 1));
  request.segments.clear();
  if (path.size() > 1) {
    std::string_view rest = path.substr(1);
    while (true) {
      const auto slash = rest.find('/');
      const auto raw = rest.substr(0, slash);
      auto seg = codec::percent_decode(raw, false, true);
      if (!seg) return "bad %-escape in the path";
      if (*seg == "." || *seg == "..") return "a '.' or '..' segment in the path";
      for (unsigned char c : *seg)
        if (c < 0x20 || c == 0x7f || c == '/' || c == '\\') return "a control byte, '/' or '\\' in a path segment";
      request.segments.push_back(std::move(*seg));
      if (slash == std::string_view::npos) break;
      rest = rest.substr(slash + 1);
    }
  }
  auto query = parse_query(request.raw_query);
  if (!query) return "bad %-escape or NUL in the query";
  request.query = std::move(*query);
  return std::nullopt;
}

Router& Router::add(std::string method, std::string_view pattern, Handler handler) {
  if (!is_token(method)) throw std::invalid_argument("bad method");
  if (pattern.empty() || pattern.front() != '/') throw std::invalid_argument("pattern must start with '/'");
  Route route{std::move(method), std::string(pattern), {}, {}, std::move(handler)};
  if (pattern.size() > 1) {
    std::string_view rest = pattern.substr(1);
    while (true) {
      const auto slash = rest.find('/');
      const auto seg = rest.substr(0, slash);
      const bool param = is_param_segment(seg);
      if (param) {
        const auto name = seg.substr(1, seg.size() - 2);
        if (!std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isalnum(c) || c == '_'; }))
          throw std::invalid_argument("bad {name} in pattern " + route.pattern);
        for (std::size_t i = 0; i < route.segments.size(); ++i)
          if (route.is_param[i] && route.segments[i] == seg)
            throw std::invalid_argument("repeated " + std::string(seg) + " in pattern " + route.pattern);
      } else if (seg.empty() || seg == "." || seg == ".." || seg.find_first_of("{}%") != std::string_view::npos) {
        throw std::invalid_argument("bad segment in pattern " + route.pattern);
      }
      route.segments.emplace_back(seg);
      route.is_param.push_back(param);
      if (slash == std::string_view::npos) break;
      rest = rest.substr(slash + 1);
    }
  }
  for (const auto& r : routes_) {
    if (r.method != route.method || r.is_param != route.is_param) continue;
    bool same = true;
    for (std::size_t i = 0; i < r.segments.size() && same; ++i)
      same = r.is_param[i] || r.segments[i] == route.segments[i];
    if (same) throw std::invalid_argument(route.method + " " + route.pattern + " clashes with " + r.pattern);
  }
  routes_.push_back(std::move(route));
  return *this;
}

void Router::set_error_renderer(ErrorRenderer renderer) { error_renderer_ = std::move(renderer); }

void Router::render_error(const Request& request, int status, std::string_view message, Response& response) const {
  response.status = status;
  response.writer = nullptr;
  response.length = 0;
  response.accept_ranges = false;
  if (error_renderer_) {
    error_renderer_(request, status, message, response);
    return;
  }
  response.set_body(std::to_string(status) + " " + reason(status) + "\n", "text/plain; charset=utf-8");
}

void Router::dispatch(Request& request, Response& response) const {
  const std::string_view method = request.method == "HEAD" ? std::string_view("GET") : request.method;
  const Route* best = nullptr;
  std::vector<std::string> allowed;
  for (const auto& r : routes_) {
    if (r.segments.size() != request.segments.size()) continue;
    bool match = true;
    for (std::size_t i = 0; i < r.segments.size() && match; ++i)
      match = r.is_param[i] ? !request.segments[i].empty() : r.segments[i] == request.segments[i];
    if (!match) continue;
    if (std::find(allowed.begin(), allowed.end(), r.method) == allowed.end()) allowed.push_back(r.method);
    if (r.method == method && (!best || r.is_param < best->is_param)) best = &r;
  }
  if (allowed.empty()) return render_error(request, 404, "no such page", response);
  if (!best) {
    if (std::find(allowed.begin(), allowed.end(), "GET") != allowed.end()) allowed.push_back("HEAD");
    std::sort(allowed.begin(), allowed.end());
    std::string allow;
    for (const auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
    render_error(request, 405, "method not allowed", response);
    response.headers.set("Allow", allow);
    return;
  }
  request.params.clear();
  for (std::size_t i = 0; i < best->segments.size(); ++i)
    if (best->is_param[i])
      request.params.emplace_back(best->segments[i].substr(1, best->segments[i].size() - 2), request.segments[i]);
  best->handler(request, response);
}

}  // namespace sacker::serve
