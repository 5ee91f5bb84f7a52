// Server on cpp-httplib 0.11, Debian's libcpp-httplib: a compiled library (httplib.h
// declares, libcpp-httplib.so implements), so the CPPHTTPLIB_* limits were fixed when
// Debian built it, and this file must be compiled with the library's own flags
// (pkg-config cpp-httplib: CPPHTTPLIB_OPENSSL_SUPPORT changes the layout of
// httplib::Request). This is the only file that includes httplib.h.
//
// What cpp-httplib 0.11 does that we undo or avoid (measured in /work/notes/httplib.md):
// - req.path is %-decoded (%2F -> '/', %00 -> NUL, even %u0041 -> 'A'): we route on
//   req.target, the raw target (parse_target).
// - Every request header value is %-decoded too (until upstream 0.44).
// - It adds REMOTE_ADDR/LOCAL_ADDR/... "headers", after any the client sent, so
//   get_header_value("REMOTE_ADDR") is the client's: we drop them, use the fields.
// - Its Range code is wrong for content providers (bytes=90-200 of 100 bytes: 206,
//   Content-Length 111; bytes=200-: Content-Length 2^64-100; bytes=100-: an empty 206)
//   and slices any body, error pages included: we clear req.ranges (a local of its
//   process_request, so const_cast is fine) and do Range ourselves.
// - It brotli-compresses text/* bodies at quality 11 (~90 ms per 100 KB) when the
//   client accepts br, as Chromium does: every body goes out through a content
//   provider with a length, which it never compresses or slices.
// - payload_max_length covers Content-Length bodies only; chunked bodies grow without
//   bound. We read every body through a ContentReader that stops at our cap.
// - A request with neither Content-Length nor Transfer-Encoding is read until the peer
//   closes; by RFC 9112 it has no body, so we do not read it. A GET with a body is
//   left unread (the next "request" would be the body): 400, Connection: close.
// - stop() before the accept loop runs is lost: start() waits for is_running().
//   A worker waiting for the next keep-alive request, or reading a slow request, does
//   not notice stop(): stop() shuts every accepted connection down.
// - An exception thrown by a content provider is not caught (std::terminate): ours
//   catch everything.
// - Its listening socket gets SO_REUSEPORT: a second server on a port in use starts
//   and shares the connections. Ours gets SO_REUSEADDR only.
// - The worker pool is CPPHTTPLIB_THREAD_POOL_COUNT as compiled (8 here): ours is
//   ServerOptions::threads.
//
// Linked into sacker_serve (the tests), or for the sacker command into the module
// sacker-http.so (serve/http_engine.h): only `sacker serve` pays for cpp-httplib and
// the OpenSSL initialisation its library runs when loaded.
#include "serve/http_engine.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include <httplib.h>

#include "sacker/error.h"

namespace sacker::serve {
namespace {

using namespace std::chrono_literals;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

bool is_synthetic_header(std::string_view name) {
  return iequals(name, "REMOTE_ADDR") || iequals(name, "REMOTE_PORT") || iequals(name, "LOCAL_ADDR") ||
         iequals(name, "LOCAL_PORT");
}

// Framing is cpp-httplib's: these never go out from a Response's headers.
bool is_framing_header(std::string_view name) {
  return iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") || iequals(name, "Content-Type");
}

std::optional<std::uint64_t> parse_length(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  return v;
}

struct Endpoint {
  int family = AF_INET;
  in_addr v4{};
  in6_addr v6{};
};

std::optional<Endpoint> parse_ip(const std::string& host) {
  Endpoint e;
  if (inet_pton(AF_INET, host.c_str(), &e.v4) == 1) return e;
  e.family = AF_INET6;
  if (inet_pton(AF_INET6, host.c_str(), &e.v6) == 1) return e;
  return std::nullopt;
}

bool same_endpoint(const sockaddr_storage& a, const Endpoint& e, int port) {
  if (a.ss_family != e.family) return false;
  if (a.ss_family == AF_INET) {
    const auto& s = reinterpret_cast<const sockaddr_in&>(a);
    return ntohs(s.sin_port) == port && std::memcmp(&s.sin_addr, &e.v4, sizeof e.v4) == 0;
  }
  const auto& s = reinterpret_cast<const sockaddr_in6&>(a);
  return ntohs(s.sin6_port) == port && std::memcmp(&s.sin6_addr, &e.v6, sizeof e.v6) == 0;
}

// Shuts down every accepted connection of this process to `at`:`port`. cpp-httplib
// keeps no list of them; /proc/self/fd is the list.
void shutdown_connections(const Endpoint& at, int port) {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return;
  const int own = dirfd(dir);
  while (const dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd == own) continue;
    sockaddr_storage local{}, peer{};
    socklen_t len = sizeof local;
    if (getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&local), &len) != 0) continue;
    if (!same_endpoint(local, at, port)) continue;
    int listening = 1;
    socklen_t optlen = sizeof listening;
    if (getsockopt(static_cast<int>(fd), SOL_SOCKET, SO_ACCEPTCONN, &listening, &optlen) != 0 || listening) continue;
    len = sizeof peer;
    if (getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&peer), &len) != 0) continue;
    ::shutdown(static_cast<int>(fd), SHUT_RDWR);
  }
  closedir(dir);
}


struct HttplibEngine final : HttpEngine {
  Router router;
  ServerOptions options;
  httplib::Server svr;
  std::optional<Endpoint> endpoint;
  int port = 0;
  std::vector<std::string> allowed_hosts;

  std::mutex stop_mutex;  // start/stop
  bool started = false, stopped = false;
  std::thread listener;

  std::mutex mutex;  // the fields below
  std::condition_variable changed;
  std::size_t in_flight = 0;
  bool listener_done = false;
  std::atomic<bool> draining{false}, aborting{false};

  // One request from entry until cpp-httplib has written (or given up on) its response:
  // the last copy lives in the content provider, which cpp-httplib drops after writing.
  struct InFlight {
    explicit InFlight(HttplibEngine& i) : impl(i) {
      std::lock_guard lock(impl.mutex);
      ++impl.in_flight;
    }
    ~InFlight() {
      std::lock_guard lock(impl.mutex);
      if (--impl.in_flight == 0) impl.changed.notify_all();
    }
    HttplibEngine& impl;
  };

  HttplibEngine(Router r, ServerOptions o) : router(std::move(r)), options(std::move(o)) {}
  ~HttplibEngine() override { stop(); }

  void start() override;
  int port_number() const override { return port; }
  void stop() override;

  void handle(const httplib::Request& hreq, httplib::Response& hres, const httplib::ContentReader* reader);
  bool admit(Request& req, const httplib::ContentReader* reader, Response& res, bool& close);
  std::uint64_t apply_range(const Request& req, Response& res) const;
  void send(const Request& req, Response& res, std::uint64_t offset, bool close, std::shared_ptr<InFlight> guard,
            httplib::Response& hres);
  void log_error(std::string_view message) const {
    if (options.error_log) options.error_log(message);
  }
};

void HttplibEngine::handle(const httplib::Request& hreq, httplib::Response& hres, const httplib::ContentReader* reader) {
  auto guard = std::make_shared<InFlight>(*this);
  const_cast<httplib::Request&>(hreq).ranges.clear();
  Request req;
  Response res;
  req.method = hreq.method;
  req.target = hreq.target;
  req.remote_addr = hreq.remote_addr;
  req.remote_port = hreq.remote_port;
  for (const auto& [name, value] : hreq.headers)
    if (!is_synthetic_header(name)) req.headers.add_unchecked(name, value);
  bool close = false;
  std::uint64_t offset = 0;
  try {
    if (admit(req, reader, res, close)) {
      router.dispatch(req, res);
      offset = apply_range(req, res);
    }
  } catch (const std::exception& e) {
    log_error(req.method + " " + req.raw_path + ": " + e.what());
    res = Response();
    router.render_error(req, 500, "internal error", res);
  }
  try {
    send(req, res, offset, close, std::move(guard), hres);
  } catch (const std::exception& e) {  // e.g. a header value the renderer made with a newline
    log_error(req.method + " " + req.raw_path + ": " + e.what());
    hres = httplib::Response();
    hres.status = 500;
  }
}

// Everything before the route: returns false with `res` filled if the request is refused.
bool HttplibEngine::admit(Request& req, const httplib::ContentReader* reader, Response& res, bool& close) {
  auto refuse = [&](int status, std::string_view why, bool close_after) {
    router.render_error(req, status, why, res);
    close = close || close_after;
    return false;
  };
  if (draining) return refuse(503, "the server is stopping", true);
  const auto host = req.headers.get("Host");
  if (!host) return refuse(400, "no Host header", true);
  if (std::none_of(allowed_hosts.begin(), allowed_hosts.end(), [&](const std::string& h) { return iequals(h, *host); }))
    return refuse(421, "this server does not answer for that host name", true);
  if (auto why = parse_target(req.target, req)) return refuse(400, *why, false);

  const auto te = req.headers.get("Transfer-Encoding");
  const auto cl_text = req.headers.get("Content-Length");
  if (te && cl_text) return refuse(400, "both Content-Length and Transfer-Encoding", true);
  if (te && !iequals(*te, "chunked")) return refuse(400, "unsupported Transfer-Encoding", true);
  std::optional<std::uint64_t> cl;
  if (cl_text && !(cl = parse_length(*cl_text))) return refuse(400, "bad Content-Length", true);
  const bool has_body = te || (cl && *cl > 0);
  if (!has_body) return true;
  if (!reader) return refuse(400, "a body on " + req.method, true);

  const auto type = req.headers.get("Content-Type");
  if (type && iequals(type->substr(0, 19), "multipart/form-data")) {
    // Its plain reader calls an empty std::function on multipart bodies; refuse them.
    (*reader)([](const httplib::MultipartFormData&) { return false; }, [](const char*, std::size_t) { return false; });
    return refuse(415, "multipart bodies are not accepted", true);
  }
  if (cl && *cl > options.max_body_bytes) {
    // cpp-httplib reads and drops a Content-Length body over payload_max_length, so the
    // connection stays usable.
    (*reader)([](const char*, std::size_t) { return false; });
    return refuse(413, "the request body is too large", false);
  }
  bool too_large = false;  // chunked, or more once decompressed
  const bool ok = (*reader)([&](const char* data, std::size_t size) {
    if (req.body.size() + size > options.max_body_bytes) {
      too_large = true;
      return false;
    }
    req.body.append(data, size);
    return true;
  });
  if (too_large) return refuse(413, "the request body is too large", true);
  if (!ok) return refuse(400, "could not read the request body", true);
  return true;
}

std::uint64_t HttplibEngine::apply_range(const Request& req, Response& res) const {
  if (!res.accept_ranges || res.status != 200 || (req.method != "GET" && req.method != "HEAD")) return 0;
  res.headers.set("Accept-Ranges", "bytes");
  const auto range = req.headers.get("Range");
  if (!range) return 0;
  if (const auto if_range = req.headers.get("If-Range")) {
    const auto etag = res.headers.get("ETag");
    const auto modified = res.headers.get("Last-Modified");
    const bool same =
        (etag && etag->substr(0, 2) != "W/" && *etag == *if_range) || (modified && *modified == *if_range);
    if (!same) return 0;
  }
  const std::uint64_t size = res.writer ? res.length : res.body.size();
  const auto d = decide_range(*range, size);
  switch (d.kind) {
    case RangeDecision::Kind::Full: return 0;
    case RangeDecision::Kind::Unsatisfiable:
      router.render_error(req, 416, "range not satisfiable", res);
      res.headers.set("Content-Range", "bytes */" + std::to_string(size));
      return 0;
    case RangeDecision::Kind::Partial: break;
  }
  res.status = 206;
  res.headers.set("Content-Range", "bytes " + std::to_string(d.offset) + "-" + std::to_string(d.offset + d.length - 1) +
                                       "/" + std::to_string(size));
  if (res.writer) {
    res.length = d.length;
    return d.offset;
  }
  res.body = res.body.substr(d.offset, d.length);
  return 0;
}

void HttplibEngine::send(const Request& req, Response& res, std::uint64_t offset, bool close,
                        std::shared_ptr<InFlight> guard, httplib::Response& hres) {
  hres.status = res.status;
  for (const auto& [name, value] : res.headers.fields())
    if (!is_framing_header(name)) hres.headers.emplace(name, value);
  for (const auto& [name, value] : options.default_headers.fields())
    if (!res.headers.has(name)) hres.headers.emplace(name, value);
  if (close) {
    hres.headers.emplace("Connection", "close");
    if (!res.writer && res.body.empty()) res.body = std::to_string(res.status) + "\n";
  }
  const std::string type(res.headers.get("Content-Type").value_or("application/octet-stream"));

  // A provider that returns false after writing the whole body: the only way to make
  // cpp-httplib 0.11 close a connection after a response (a "Connection: close" header
  // of ours goes out, but the socket stays open and the unread body would be parsed
  // as the next request).
  if (res.writer && res.length > 0) {
    hres.set_content_provider(res.length, type,
                              [this, writer = std::move(res.writer), offset, close, guard, target = req.raw_path](
                                  std::size_t off, std::size_t len, httplib::DataSink& sink) {
                                std::uint64_t written = 0;
                                const Write write = [&](const char* data, std::size_t size) {
                                  if (aborting || written + size > len || !sink.write(data, size)) return false;
                                  written += size;
                                  return true;
                                };
                                try {
                                  return writer(offset + off, len, write) && written == len && !close;
                                } catch (const std::exception& e) {
                                  log_error("GET " + target + ": while streaming: " + e.what());
                                  return false;
                                }
                              });
  } else if (!res.body.empty()) {
    auto body = std::make_shared<std::string>(std::move(res.body));
    hres.set_content_provider(body->size(), type,
                              [body, close, guard](std::size_t off, std::size_t len, httplib::DataSink& sink) {
                                return off + len <= body->size() && sink.write(body->data() + off, len) && !close;
                              });
  }
}

void HttplibEngine::start() {
  HttplibEngine& s = *this;
  std::lock_guard stop_lock(s.stop_mutex);
  if (s.started) throw Error(ErrorKind::Internal, "serve: start() called twice");
  const ServerOptions& o = s.options;
  const bool v6 = o.host.find(':') != std::string::npos;
  const std::string where = (v6 ? "[" + o.host + "]" : o.host) + ":" + std::to_string(o.port);
  s.endpoint = parse_ip(o.host);
  if (!s.endpoint) throw Error(ErrorKind::Invalid, "cannot listen on " + where + ": not an IP address");

  const std::size_t threads = std::max<std::size_t>(o.threads, 1);
  s.svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.svr.set_address_family(s.endpoint->family);
  s.svr.set_tcp_nodelay(true);
  // Its default sets SO_REUSEPORT (not SO_REUSEADDR): a second server on the same port
  // would start without error and take half of the connections.
  s.svr.set_socket_options([](int sock) {
    const int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  s.svr.set_keep_alive_timeout(o.keep_alive_timeout.count());
  s.svr.set_keep_alive_max_count(std::max<std::size_t>(o.keep_alive_max_requests, 1));
  s.svr.set_read_timeout(o.read_timeout.count(), 0);
  s.svr.set_write_timeout(o.write_timeout.count(), 0);
  s.svr.set_payload_max_length(o.max_body_bytes);
  s.svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    res = httplib::Response();
    res.status = 500;
  });
  s.svr.set_logger([&s](const httplib::Request& req, const httplib::Response& res) {
    if (s.options.access_log)
      s.options.access_log(req.method, req.target, res.status,
                           req.method == "HEAD" ? 0 : (res.content_provider_ ? res.content_length_ : res.body.size()));
  });
  auto plain = [&s](const httplib::Request& req, httplib::Response& res) { s.handle(req, res, nullptr); };
  auto with_body = [&s](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
    s.handle(req, res, &reader);
  };
  // Every path to handle(). cpp-httplib matches these std::regexes against its decoded
  // path, where ".*" would miss one with a %0A in it. At most 8 KiB: fine on 8 MiB stacks.
  const std::string any = "[\\s\\S]*";
  s.svr.Get(any, plain).Options(any, plain);
  s.svr.Post(any, with_body).Put(any, with_body).Patch(any, with_body).Delete(any, with_body);

  errno = 0;
  int port = -1;
  if (o.port == 0) {
    port = s.svr.bind_to_any_port(o.host);
  } else if (s.svr.bind_to_port(o.host, o.port)) {
    port = o.port;
  }
  if (port <= 0) throw_errno("cannot listen on " + where, errno ? errno : EADDRNOTAVAIL);
  s.port = port;
  const std::string host = v6 ? "[" + o.host + "]" : o.host;
  s.allowed_hosts = o.allowed_hosts;
  if (s.allowed_hosts.empty()) {
    s.allowed_hosts.push_back(host + ":" + std::to_string(port));
    if (o.host == "127.0.0.1" || o.host == "::1") s.allowed_hosts.push_back("localhost:" + std::to_string(port));
  }

  s.listener = std::thread([&s] {
    s.svr.listen_after_bind();
    std::lock_guard lock(s.mutex);
    s.listener_done = true;
    s.changed.notify_all();
  });
  s.started = true;
  std::unique_lock lock(s.mutex);
  while (!s.svr.is_running() && !s.listener_done) s.changed.wait_for(lock, 1ms);
  if (s.listener_done) throw Error(ErrorKind::Internal, "serve: the accept loop ended at once on " + where);
}

void HttplibEngine::stop() {
  HttplibEngine& s = *this;
  std::lock_guard stop_lock(s.stop_mutex);
  if (!s.started || s.stopped) return;
  {
    std::unique_lock lock(s.mutex);
    s.draining = true;
    s.changed.wait_for(lock, s.options.drain_timeout, [&] { return s.in_flight == 0; });
  }
  s.aborting = true;
  s.svr.stop();
  // Connections accepted before the listening socket closed may still be arriving at
  // workers: sweep until the accept loop has joined every worker.
  while (true) {
    shutdown_connections(*s.endpoint, s.port);
    std::unique_lock lock(s.mutex);
    if (s.changed.wait_for(lock, 50ms, [&] { return s.listener_done; })) break;
  }
  s.listener.join();
  s.stopped = true;
}

}  // namespace

std::unique_ptr<HttpEngine> make_httplib_engine(Router router, ServerOptions options) {
  return std::make_unique<HttplibEngine>(std::move(router), std::move(options));
}

}  // namespace sacker::serve
