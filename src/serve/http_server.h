// The HTTP layer of `sacker serve`: a router over path patterns and a server that
// runs it. cpp-httplib does the sockets and the HTTP/1.1 framing; only
// http_server.cpp includes httplib.h, so pages and the JSON API see these types.
//
// What this layer guarantees whatever cpp-httplib 0.11 does underneath (the why is in
// http_server.cpp and /work/notes/httplib.md):
// - Paths are judged on the raw request target, never on cpp-httplib's decoded
//   req.path. A target that is not "/..." (origin form), that has a bad %-escape, or a
//   segment that is "." or ".." (also as %2e) or decodes to a '/', '\', NUL or other
//   control byte, is answered 400 before any route runs. Each segment is decoded once.
// - A Host header that is not in ServerOptions::allowed_hosts gets 421 (a page of ours
//   must not be readable through a rebound DNS name).
// - A request body is at most ServerOptions::max_body_bytes, whatever its framing
//   (Content-Length, chunked, gzip): 413. GET/HEAD/OPTIONS with a body get 400.
// - Range is handled here (one range, RFC 9110), for responses that opt in; cpp-httplib's
//   own Range code is bypassed (it is wrong for streamed bodies).
// - Bodies go out as they are: never compressed, never sliced by cpp-httplib.
// - Response header values with CR, LF or NUL are refused (Headers::add throws).
// - An exception from a route becomes a 500 whose body does not show it.
#pragma once

#include <signal.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sacker::serve {

class HttpEngine;

// HTTP header fields in order. Names compare case-insensitively and may repeat.
class Headers {
 public:
  using Field = std::pair<std::string, std::string>;

  // Appends a field. Throws std::invalid_argument if the name is not an HTTP token or
  // the value holds CR, LF or NUL (header injection).
  void add(std::string name, std::string value);
  // Replaces every field `name` with one `name: value` (checked as `add`).
  void set(std::string name, std::string value);
  void remove(std::string_view name);
  // The first value of `name`, or nullopt.
  std::optional<std::string_view> get(std::string_view name) const;
  bool has(std::string_view name) const { return get(name).has_value(); }
  const std::vector<Field>& fields() const { return fields_; }

  // Appends without checking: for request headers as received (see Request::headers).
  void add_unchecked(std::string name, std::string value);

 private:
  std::vector<Field> fields_;
};

using QueryPairs = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;    // as sent: "GET", "HEAD", "POST", ...; HEAD runs the GET route
  std::string target;    // the raw request target, path and query, %-escapes intact
  std::string raw_path;  // `target` up to the first '?', %-escapes intact
  // `raw_path` split at '/', each %-decoded once: "/a/b%2Bc%20d" -> {"a", "b+c d"};
  // "/" -> {}; "/a/" -> {"a", ""}.
  std::vector<std::string> segments;
  std::string raw_query;  // after the first '?', "" if none
  QueryPairs query;       // `raw_query` split at '&' and '=', %-decoded, '+' read as ' '
  // As received, except that cpp-httplib 0.11 has already %-decoded every value
  // ("a%0Ab" arrives as "a\nb"): never copy one into a response header unchecked.
  // cpp-httplib's own REMOTE_ADDR/REMOTE_PORT/LOCAL_ADDR/LOCAL_PORT (spoofable) are gone.
  Headers headers;
  std::string body;         // the whole body, at most ServerOptions::max_body_bytes
  std::string remote_addr;  // the peer's IP address
  int remote_port = 0;
  std::vector<std::pair<std::string, std::string>> params;  // the route's {name}s, decoded

  // The first value of query parameter `name`, or nullopt.
  std::optional<std::string_view> query_value(std::string_view name) const;
  // The segment captured by {name} in the route. Throws std::out_of_range if the
  // route has no {name} (a bug in the route, not bad input).
  const std::string& param(std::string_view name) const;
};

// Writes bytes [offset, offset + length) of a streamed body, in order, through `write`,
// on a server thread. `write` blocks until the bytes are handed to the socket and
// returns false once the client is gone or the server is stopping: return false then.
// Return false on any failure too: the connection is closed and the client sees a
// short body (the status line has gone out already). It may be called again for
// another request, concurrently: it must not assume one call per response.
using Write = std::function<bool(const char* data, std::size_t size)>;
using BodyWriter = std::function<bool(std::uint64_t offset, std::uint64_t length, const Write& write)>;

struct Response {
  int status = 200;
  Headers headers;
  std::string body;   // sent unless `writer` is set
  BodyWriter writer;  // if set, the body is `length` bytes from `writer`
  std::uint64_t length = 0;
  // A 200 to GET/HEAD honours a Range header (206, or 416 with "bytes */length"),
  // and an If-Range that equals the ETag or Last-Modified set here. "Accept-Ranges:
  // bytes" is added.
  bool accept_ranges = false;

  // body + Content-Type.
  void set_body(std::string content, std::string_view content_type);
  // A body of `size` bytes produced by `body_writer`, never held in memory;
  // accept_ranges = true.
  void stream(std::uint64_t size, std::string_view content_type, BodyWriter body_writer);
};

// What a Range header asks of a body of `size` bytes (RFC 9110 section 14): one range
// "bytes=a-b", "bytes=a-" or "bytes=-n" (b is clamped to size-1). Several ranges,
// other units and bad syntax are ignored (Full), as a server may. A first byte at or
// past the end, or "-0", is Unsatisfiable.
struct RangeDecision {
  enum class Kind { Full, Partial, Unsatisfiable };
  Kind kind = Kind::Full;
  std::uint64_t offset = 0, length = 0;  // for Partial
};
RangeDecision decide_range(std::string_view range_header, std::uint64_t size);

// Fills raw_path, segments, raw_query and query of `request` from `target`. Returns
// why the target is refused (400), or nullopt if it is fine. The rules are in the
// comment at the top of this file; a query value may hold any byte but NUL.
std::optional<std::string> parse_target(std::string_view target, Request& request);
// "a=1&b=x+y" -> {{"a","1"},{"b","x y"}} (query strings, x-www-form-urlencoded
// bodies). nullopt for a bad %-escape or a NUL.
std::optional<QueryPairs> parse_query(std::string_view raw);

using Handler = std::function<void(const Request&, Response&)>;

// Routes by method and path pattern. Patterns are "/" or "/seg/seg/...", where a
// segment is a literal or "{name}" (any one non-empty segment, captured decoded).
// Literals are compared with the decoded segment. Where several routes match, a
// literal beats {name} at the first position they differ ("/packages/new" over
// "/packages/{name}"), so the order of `add` does not matter.
class Router {
 public:
  // Renders an answer this layer makes itself: 400 bad target, 404 no route, 405 wrong
  // method (Allow is set after), 413, 415 multipart, 416, 421, 500, 503 while stopping. `request` is
  // filled as far as it got (target, method, headers at least).
  using ErrorRenderer = std::function<void(const Request& request, int status, std::string_view message, Response&)>;

  // Throws std::invalid_argument for a bad pattern or a method + pattern already added.
  Router& add(std::string method, std::string_view pattern, Handler handler);
  Router& get(std::string_view pattern, Handler handler) { return add("GET", pattern, std::move(handler)); }
  Router& post(std::string_view pattern, Handler handler) { return add("POST", pattern, std::move(handler)); }
  Router& put(std::string_view pattern, Handler handler) { return add("PUT", pattern, std::move(handler)); }
  Router& del(std::string_view pattern, Handler handler) { return add("DELETE", pattern, std::move(handler)); }

  // The default renders "<status> <reason>\n" as text/plain.
  void set_error_renderer(ErrorRenderer renderer);
  void render_error(const Request& request, int status, std::string_view message, Response& response) const;

  // Runs `request` (segments filled by parse_target) through the routes: the handler's
  // answer, or 404/405. Sets request.params. Exceptions from the handler propagate.
  void dispatch(Request& request, Response& response) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;  // literal, or "{name}"
    std::vector<bool> is_param;
    Handler handler;
  };
  std::vector<Route> routes_;
  ErrorRenderer error_renderer_;
};

struct ServerOptions {
  std::string host = "127.0.0.1";  // an IP address literal
  int port = 0;                    // 0: any free port (Server::port() tells)
  // Worker threads. A connection holds one for as long as it is open, keep-alive
  // included, so this is also the number of clients served at once; further
  // connections wait in a queue. A browser keeps up to 6 per host.
  std::size_t threads = 32;
  std::chrono::seconds keep_alive_timeout{2};  // an idle connection is closed after
  std::size_t keep_alive_max_requests = 100;   // requests per connection
  // Each recv/send call (not the whole request) must progress within these.
  std::chrono::seconds read_timeout{5};
  std::chrono::seconds write_timeout{5};
  std::size_t max_body_bytes = 1 << 20;
  // Host header values accepted. Empty: "<host>:<port>", and "localhost:<port>" when
  // host is 127.0.0.1 or ::1, computed once the port is known.
  std::vector<std::string> allowed_hosts;
  // stop() lets running requests (downloads included) finish for this long.
  std::chrono::milliseconds drain_timeout{5000};
  // Added to every response that does not set the field itself.
  Headers default_headers;
  // Called after each response from a server thread: method, raw target, status,
  // body bytes sent. Must be thread-safe. Never log header values (tokens).
  std::function<void(std::string_view method, std::string_view target, int status, std::uint64_t bytes)> access_log;
  // Called with one line when a route throws (its client gets a bare 500). Thread-safe.
  std::function<void(std::string_view message)> error_log;
};

// Serves a Router on host:port. Thread-safe; none of it may be called from a route.
class Server {
 public:
  Server(Router router, ServerOptions options);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and serves on background threads; returns once connections are accepted.
  // Throws sacker::Error: Invalid for a host that is not an IP address, otherwise the
  // errno's kind (port in use: LocalIO; below 1024 without rights: Denied).
  void start();
  int port() const;         // after start()
  std::string url() const;  // "http://127.0.0.1:8080" (IPv6 in brackets)

  // Graceful and idempotent: new requests get 503; running ones get up to
  // drain_timeout to finish; then every connection is closed and the threads are
  // joined. Returns when the server is down. Not for signal handlers: see
  // TerminationSignals.
  void stop();

 private:
  std::string host_;
  // The cpp-httplib part (serve/http_engine.h), made at construction.
  std::unique_ptr<HttpEngine> engine_;
};

// SIGINT/SIGTERM without async-signal-safety worries: blocks both in the calling
// thread and so in every thread it starts later (construct it in main before any
// thread exists), and `wait` takes them with sigwait. The destructor restores the mask.
class TerminationSignals {
 public:
  TerminationSignals();
  ~TerminationSignals();
  TerminationSignals(const TerminationSignals&) = delete;
  TerminationSignals& operator=(const TerminationSignals&) = delete;
  int wait();  // blocks until SIGINT or SIGTERM; returns which

 private:
  sigset_t old_mask_;
};

}  // namespace sacker::serve
