// The HTTP server over real sockets on 127.0.0.1, with libcurl (and raw sockets for
// what curl will not send) as the client: routing, hostile paths, Host checks, Range on
// streamed bodies, body limits, concurrency, memory while streaming, graceful stop and
// SIGTERM (through the serve_demo binary).
#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sacker/error.h"
#include "serve/http_server.h"
#include "curl_client.h"
#include "support/process.h"


namespace sacker::serve {
namespace {

using namespace sacker::serve::test;
using sacker::test::peak_rss_kib;

using namespace std::chrono_literals;
using namespace std::string_literals;
using Clock = std::chrono::steady_clock;

char blob_byte(std::uint64_t i) { return static_cast<char>((i * 131 + (i >> 16)) & 0xff); }

std::string blob_bytes(std::uint64_t offset, std::uint64_t length) {
  std::string s(length, '\0');
  for (std::uint64_t i = 0; i < length; ++i) s[i] = blob_byte(offset + i);
  return s;
}

// Streams [offset, offset+length) of the generated blob, optionally pausing between chunks.
BodyWriter blob_writer(std::chrono::milliseconds pause = 0ms, std::size_t chunk = 64 * 1024) {
  return [pause, chunk](std::uint64_t offset, std::uint64_t length, const Write& write) {
    std::string buf(chunk, '\0');  // one buffer per call: memory stays flat
    while (length > 0) {
      const std::size_t n = std::min<std::uint64_t>(length, chunk);
      for (std::size_t i = 0; i < n; ++i) buf[i] = blob_byte(offset + i);
      if (!write(buf.data(), n)) return false;
      offset += n;
      length -= n;
      if (pause.count() > 0) std::this_thread::sleep_for(pause);
    }
    return true;
  };
}

std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x20 || c >= 0x7f || c == '\\') {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// --- raw sockets, for requests curl will not make --------------------------------

int connect_to(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Reads until the peer closes or `timeout` passes without data.
std::string read_until_close(int fd, std::chrono::milliseconds timeout) {
  std::string out;
  char buf[65536];
  while (true) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) break;
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

std::string raw_exchange(int port, std::string_view request, std::chrono::milliseconds timeout = 3000ms) {
  const int fd = connect_to(port);
  if (fd < 0) return "";
  send_all(fd, request);
  auto out = read_until_close(fd, timeout);
  close(fd);
  return out;
}

std::string status_line(const std::string& response) { return response.substr(0, response.find("\r\n")); }

// --- the server under test ------------------------------------------------------

struct Fixture {
  std::atomic<int> handled{0};
  std::atomic<bool> forever_ended{false};
  std::mutex log_mutex;
  std::vector<std::string> errors;
  std::unique_ptr<Server> server;
  std::string base;

  explicit Fixture(ServerOptions options = make_options()) {
    Router router;
    router.get("/api/v1/packages/{name}/versions/{version}", [this](const Request& req, Response& res) {
      ++handled;
      res.set_body("{\"name\":\"" + req.param("name") + "\",\"version\":\"" + req.param("version") +
                       "\",\"remote\":\"" + req.remote_addr +
                       "\",\"spoofed\":" + (req.headers.has("REMOTE_ADDR") ? "true" : "false") + "}",
                   "application/json");
    });
    auto echo = [this](const Request& req, Response& res) {
      ++handled;
      std::string out = "method=" + req.method + "\nraw_path=" + printable(req.raw_path) + "\nsegments=";
      for (const auto& s : req.segments) out += printable(s) + "|";
      out += "\n";
      for (const auto& [k, v] : req.query) out += "query " + printable(k) + "=" + printable(v) + "\n";
      if (auto x = req.headers.get("X-Test")) out += "x-test=" + printable(*x) + "\n";
      if (req.headers.get("Content-Type").value_or("") == "application/x-www-form-urlencoded")
        for (const auto& [k, v] : parse_query(req.body).value_or(QueryPairs{})) out += "form " + k + "=" + v + "\n";
      out += "body=" + std::to_string(req.body.size()) + "\n";
      res.set_body(out, "text/plain; charset=utf-8");
    };
    router.get("/echo", echo).post("/echo", echo).put("/echo", echo);
    router.get("/seg/{a}", echo);
    router.get("/json", [](const Request&, Response& res) { res.set_body("{\"a\":1234567890}", "application/json"); });
    router.get("/blob/{size}", [](const Request& req, Response& res) {
      res.stream(std::stoull(req.param("size")), "application/octet-stream", blob_writer());
      res.headers.set("ETag", "\"v1\"");
    });
    router.get("/throw", [](const Request&, Response&) -> void { throw std::runtime_error("secret detail"); });
    router.get("/stream-throw", [](const Request&, Response& res) {
      res.stream(1 << 20, "application/octet-stream", [](std::uint64_t, std::uint64_t, const Write& write) -> bool {
        std::string chunk(1000, 'x');
        write(chunk.data(), chunk.size());
        throw std::runtime_error("store went away");
      });
    });
    router.get("/slow", [](const Request& req, Response& res) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(std::string(req.query_value("ms").value()))));
      res.set_body("slow", "text/plain");
    });
    router.get("/slow-stream/{size}", [](const Request& req, Response& res) {
      const auto pause = std::chrono::milliseconds(std::stoi(std::string(req.query_value("ms").value())));
      res.stream(std::stoull(req.param("size")), "application/octet-stream", blob_writer(pause));
    });
    router.get("/forever", [this](const Request&, Response& res) {
      res.stream(1ULL << 40, "application/octet-stream", [this](std::uint64_t, std::uint64_t, const Write& write) {
        std::string chunk(64 * 1024, 'f');
        while (write(chunk.data(), chunk.size())) std::this_thread::sleep_for(1ms);
        forever_ended = true;
        return false;
      });
    });
    options.error_log = [this](std::string_view m) {
      std::lock_guard lock(log_mutex);
      errors.emplace_back(m);
    };
    server = std::make_unique<Server>(std::move(router), options);
    server->start();
    base = server->url();
  }

  static ServerOptions make_options() {
    ServerOptions o;
    o.threads = 16;
    o.keep_alive_timeout = 5s;
    o.drain_timeout = 3000ms;
    return o;
  }
  int port() const { return server->port(); }
};

class ServeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

TEST_F(ServeTest, RoutesCapturesNotFoundAndMethodNotAllowed) {
  Fixture f;
  auto r = fetch(f.base + "/api/v1/packages/frontend-server/versions/23");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"name\":\"frontend-server\",\"version\":\"23\",\"remote\":\"127.0.0.1\",\"spoofed\":false}");
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  r = fetch(f.base + "/api/v1/packages/x/versions");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "404 Not Found\n");
  r = fetch(f.base + "/json", {.method = "DELETE"});
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("Allow"), "GET, HEAD");
  r = fetch(f.base + "/seg/a%2Bb%20c%25");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("segments=seg|a+b c%|"), std::string::npos) << r.body;
}

TEST_F(ServeTest, HostilePathsNeverReachARoute) {
  Fixture f;
  for (const char* target : {
           "/api/v1/packages/..%2Fetc/versions/1",
           "/api/v1/packages/%2e%2e/versions/1",
           "/api/v1/packages/a%2Fb/versions/1",
           "/api/v1/packages/a%00/versions/1",
           "/api/v1/packages/a%0d%0aX:1/versions/1",
           "/api/v1/packages/%u0041/versions/1",
           "/echo/../echo",
           "/./echo",
           "/echo?x=%00",
           "/echo?x=%zz",
       }) {
    const auto r = fetch(f.base + target);
    EXPECT_EQ(r.status, 400) << target;
  }
  EXPECT_EQ(f.handled, 0);
  // What curl will not send: the absolute and asterisk forms, a raw NUL or space.
  for (const std::string& request : {
           std::string("GET http://evil.example/echo HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
           std::string("GET * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
           "GET /ec\0ho HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"s,  // ""s keeps the NUL
           std::string("GET /ec ho HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
       }) {
    std::string with_host = request;
    const std::string host = "Host: 127.0.0.1:" + std::to_string(f.port());
    with_host.replace(with_host.find("Host: 127.0.0.1"), 15, host);
    with_host.insert(with_host.size() - 2, "Connection: close\r\n");
    EXPECT_EQ(status_line(raw_exchange(f.port(), with_host, 500ms)), "HTTP/1.1 400 Bad Request") << printable(request);
  }
  EXPECT_EQ(f.handled, 0);
  // cpp-httplib itself refuses a second '?' (a browser may send one raw inside a query).
  EXPECT_EQ(fetch(f.base + "/echo?q=a?b").status, 400);
  // Long paths: std::regex over 8 KiB is fine; over 8 KiB cpp-httplib answers 414.
  EXPECT_EQ(fetch(f.base + "/" + std::string(8100, 'a')).status, 404);
  std::string newlines;
  for (int i = 0; i < 2700; ++i) newlines += "%0A";
  EXPECT_EQ(fetch(f.base + "/" + newlines).status, 400);
  EXPECT_EQ(fetch(f.base + "/" + std::string(9000, 'a')).status, 414);
}

TEST_F(ServeTest, HostHeaderMustBeOurs) {
  Fixture f;
  const std::string port = std::to_string(f.port());
  EXPECT_EQ(fetch(f.base + "/json", {.headers = {"Host: evil.example:" + port}}).status, 421);
  EXPECT_EQ(fetch(f.base + "/json", {.headers = {"Host: evil.example"}}).status, 421);
  EXPECT_EQ(fetch(f.base + "/json", {.headers = {"Host: 127.0.0.1"}}).status, 421);  // wrong port
  EXPECT_EQ(fetch(f.base + "/json", {.headers = {"Host: LOCALHOST:" + port}}).status, 200);
  EXPECT_EQ(status_line(raw_exchange(f.port(), "GET /json HTTP/1.0\r\n\r\n")), "HTTP/1.1 400 Bad Request");
}

TEST_F(ServeTest, RemoteAddressIsTheSocketsNotAHeader) {
  Fixture f;
  const auto r = fetch(f.base + "/api/v1/packages/x/versions/1", {.headers = {"REMOTE_ADDR: 6.6.6.6"}});
  EXPECT_EQ(r.body, "{\"name\":\"x\",\"version\":\"1\",\"remote\":\"127.0.0.1\",\"spoofed\":false}");
}

TEST_F(ServeTest, HeaderValuesArrivePercentDecodedByHttplib) {
  // Documents cpp-httplib 0.11: a handler must not trust header values to be raw.
  Fixture f;
  const auto r = fetch(f.base + "/echo", {.headers = {"X-Test: a%0D%0Ab%00c"}});
  EXPECT_NE(r.body.find("x-test=a\\x0d\\x0ab\\x00c\n"), std::string::npos) << r.body;
}

TEST_F(ServeTest, RangeOnAStreamedBody) {
  Fixture f;
  const std::string url = f.base + "/blob/100000";
  auto r = fetch(url);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Accept-Ranges"), "bytes");
  EXPECT_EQ(r.header("Content-Length"), "100000");
  EXPECT_TRUE(r.body == blob_bytes(0, 100000));

  struct Case {
    std::string range;
    long status;
    std::string content_range;
    std::uint64_t offset = 0, length = 0;
  };
  for (const Case& c : std::vector<Case>{
           {"bytes=0-9", 206, "bytes 0-9/100000", 0, 10},
           {"bytes=99990-200000", 206, "bytes 99990-99999/100000", 99990, 10},
           {"bytes=-10", 206, "bytes 99990-99999/100000", 99990, 10},
           {"bytes=50000-", 206, "bytes 50000-99999/100000", 50000, 50000},
           {"bytes=100000-", 416, "bytes */100000"},
           {"bytes=-0", 416, "bytes */100000"},
           {"bytes=0-0,5-5", 200, "", 0, 100000},  // several ranges: the whole body
       }) {
    r = fetch(url, {.headers = {"Range: " + c.range}});
    EXPECT_EQ(r.status, c.status) << c.range;
    EXPECT_EQ(r.header("Content-Range").value_or(""), c.content_range) << c.range;
    if (c.status != 416) {
      EXPECT_EQ(r.header("Content-Length"), std::to_string(c.length)) << c.range;
      EXPECT_TRUE(r.body == blob_bytes(c.offset, c.length)) << c.range;
    }
  }
  // cpp-httplib answers a Range its own parser rejects with an empty 416 before any
  // route runs (RFC 9110 would ignore it); documented here.
  EXPECT_EQ(fetch(url, {.headers = {"Range: bytes=5-2"}}).status, 416);
  EXPECT_EQ(fetch(url, {.headers = {"Range: items=0-1"}}).status, 416);

  r = fetch(url, {.method = "HEAD", .headers = {"Range: bytes=0-9"}});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.header("Content-Length"), "10");
  EXPECT_TRUE(r.body.empty());
  r = fetch(url, {.headers = {"Range: bytes=0-9", "If-Range: \"v1\""}});
  EXPECT_EQ(r.status, 206);
  r = fetch(url, {.headers = {"Range: bytes=0-9", "If-Range: \"v0\""}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), 100000u);
  r = fetch(f.base + "/blob/0");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Content-Length"), "0");
}

TEST_F(ServeTest, NoRangeOrCompressionUnlessAsked) {
  Fixture f;
  // cpp-httplib would slice this body and brotli-compress text for "br".
  auto r = fetch(f.base + "/json", {.headers = {"Range: bytes=0-3"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"a\":1234567890}");
  r = fetch(f.base + "/echo", {.headers = {"Accept-Encoding: gzip, deflate, br"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.header("Content-Encoding"));
  EXPECT_EQ(r.body.rfind("method=GET", 0), 0u);
}

TEST_F(ServeTest, RequestBodiesAreBounded) {
  ServerOptions o = Fixture::make_options();
  o.max_body_bytes = 1 << 20;
  Fixture f(o);
  CurlClient client;
  auto r = client.fetch(f.base + "/echo", {.method = "POST",
                                           .headers = {"Content-Type: application/x-www-form-urlencoded"},
                                           .body = std::string("a=1&b=x+y%21")});
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("form a=1\nform b=x y!\nbody=12\n"), std::string::npos) << r.body;
  r = client.fetch(f.base + "/echo", {.method = "PUT", .body = std::string(1 << 20, 'a')});
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("body=1048576"), std::string::npos);
  r = client.fetch(f.base + "/echo", {.method = "POST", .body = std::string((1 << 20) + 1, 'a')});
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(client.fetch(f.base + "/json").status, 200);  // the connection is still in step
  r = client.fetch(f.base + "/echo", {.method = "POST", .body = std::string(2 << 20, 'a'), .chunked = true});
  EXPECT_EQ(r.status, 413);  // cpp-httplib alone would have taken all of it
  EXPECT_EQ(r.header("Connection"), "close");

  const std::string host = "Host: 127.0.0.1:" + std::to_string(f.port()) + "\r\n";
  // No Content-Length, no Transfer-Encoding: no body (cpp-httplib would wait for EOF).
  auto t0 = Clock::now();
  auto raw = raw_exchange(f.port(), "POST /echo HTTP/1.1\r\n" + host + "Connection: close\r\n\r\n");
  EXPECT_EQ(status_line(raw), "HTTP/1.1 200 OK");
  EXPECT_NE(raw.find("body=0\n"), std::string::npos);
  EXPECT_LT(Clock::now() - t0, 1s);
  // Refused bodies: the answer, then the server closes (no Connection: close sent, so
  // read_until_close would otherwise wait its 3 s).
  t0 = Clock::now();
  raw = raw_exchange(f.port(), "GET /echo HTTP/1.1\r\n" + host + "Content-Length: 5\r\n\r\nhello");
  EXPECT_EQ(status_line(raw), "HTTP/1.1 400 Bad Request");
  raw = raw_exchange(
      f.port(), "POST /echo HTTP/1.1\r\n" + host + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  EXPECT_EQ(status_line(raw), "HTTP/1.1 400 Bad Request");
  raw = raw_exchange(f.port(), "POST /echo HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n200000\r\n" +
                                   std::string(0x200000, 'a') + "\r\n0\r\n\r\n");
  EXPECT_EQ(status_line(raw).substr(0, 12), "HTTP/1.1 413");
  EXPECT_LT(Clock::now() - t0, 1s);
  r = client.fetch(f.base + "/echo",
                   {.method = "POST",
                    .headers = {"Content-Type: multipart/form-data; boundary=x"},
                    .body = std::string("--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--x--\r\n")});
  EXPECT_EQ(r.status, 415);
}

TEST_F(ServeTest, ExceptionsBecomeBare500s) {
  Fixture f;
  auto r = fetch(f.base + "/throw");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body.find("secret"), std::string::npos);
  for (const auto& line : r.header_lines) EXPECT_EQ(line.find("secret"), std::string::npos) << line;
  r = fetch(f.base + "/stream-throw");
  EXPECT_EQ(r.status, 200);               // the status line went out before the writer threw
  EXPECT_EQ(r.code, CURLE_PARTIAL_FILE);  // a short body, then the connection closes
  EXPECT_EQ(fetch(f.base + "/json").status, 200);
  std::lock_guard lock(f.log_mutex);
  ASSERT_EQ(f.errors.size(), 2u);
  EXPECT_EQ(f.errors[0], "GET /throw: secret detail");
  EXPECT_EQ(f.errors[1], "GET /stream-throw: while streaming: store went away");
}

TEST_F(ServeTest, ConcurrentRequests) {
  Fixture f;
  std::atomic<int> ok{0}, bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t) {
    threads.emplace_back([&, t] {
      CurlClient client;  // keep-alive: one connection per thread
      for (int i = 0; i < 40; ++i) {
        const auto r =
            (i % 2)
                ? client.fetch(f.base + "/blob/65536", {.headers = {"Range: bytes=" + std::to_string(t) + "-"}})
                : client.fetch(f.base + "/api/v1/packages/p" + std::to_string(t) + "/versions/" + std::to_string(i));
        const bool good = (i % 2)
                              ? (r.status == 206 && r.body == blob_bytes(t, 65536 - t))
                              : (r.status == 200 && r.body.find("\"p" + std::to_string(t) + "\"") != std::string::npos);
        (good ? ok : bad)++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 12 * 40);
  EXPECT_EQ(bad, 0);

  // Slow handlers run side by side, not one after another.
  const auto t0 = Clock::now();
  threads.clear();
  for (int t = 0; t < 8; ++t) threads.emplace_back([&] { EXPECT_EQ(fetch(f.base + "/slow?ms=400").status, 200); });
  for (auto& t : threads) t.join();
  EXPECT_LT(Clock::now() - t0, 2s);
}

TEST_F(ServeTest, StreamingMemoryIsBounded) {
  Fixture f;
  const auto before = peak_rss_kib();
  const auto r = fetch(f.base + "/blob/268435456", {.discard_body = true, .timeout_ms = 60000});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "268435456");
  const auto grew = peak_rss_kib() - before;
  EXPECT_LT(grew, 16u * 1024) << "peak RSS grew by " << grew << " KiB streaming 256 MiB";
}

TEST_F(ServeTest, StopLetsRunningDownloadsFinishAndRefusesNewRequests) {
  Fixture f;
  Reply download;
  std::thread client([&] { download = fetch(f.base + "/slow-stream/1048576?ms=50"); });  // 16 chunks, ~0.8 s
  std::this_thread::sleep_for(200ms);
  std::thread stopper([&] { f.server->stop(); });
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(fetch(f.base + "/json").status, 503);  // draining: the socket still accepts
  client.join();
  stopper.join();
  EXPECT_EQ(download.code, CURLE_OK);
  EXPECT_EQ(download.status, 200);
  EXPECT_TRUE(download.body == blob_bytes(0, 1048576));
  EXPECT_EQ(fetch(f.base + "/json", {.timeout_ms = 2000}).code, CURLE_COULDNT_CONNECT);
}

TEST_F(ServeTest, StopCutsDownloadsAfterTheDrainTimeout) {
  ServerOptions o = Fixture::make_options();
  o.drain_timeout = 300ms;
  Fixture f(o);
  Reply download;
  std::thread client([&] { download = fetch(f.base + "/forever", {.discard_body = true}); });
  std::this_thread::sleep_for(200ms);
  const auto t0 = Clock::now();
  f.server->stop();
  EXPECT_LT(Clock::now() - t0, 2s);
  client.join();
  EXPECT_NE(download.code, CURLE_OK);
  EXPECT_TRUE(f.forever_ended);
}

TEST_F(ServeTest, StopIsNotHeldUpByIdleOrSlowConnections) {
  Fixture f;  // keep-alive timeout 5 s, read timeout 5 s per recv
  const std::string host = "Host: 127.0.0.1:" + std::to_string(f.port()) + "\r\n";
  const int idle = connect_to(f.port());  // one answered request, then silence
  send_all(idle, "GET /json HTTP/1.1\r\n" + host + "\r\n");
  std::this_thread::sleep_for(100ms);
  const int slow = connect_to(f.port());  // a request that never ends, a byte at a time
  std::atomic<bool> done{false};
  std::thread slowloris([&] {
    send_all(slow, "GET /json HTTP/1.1\r\n" + host + "X-Slow: ");
    while (!done) {
      send_all(slow, "a");
      std::this_thread::sleep_for(200ms);
    }
  });
  std::this_thread::sleep_for(300ms);
  const auto t0 = Clock::now();
  f.server->stop();
  const auto took = Clock::now() - t0;
  done = true;
  slowloris.join();
  EXPECT_LT(took, 1s) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  EXPECT_EQ(read_until_close(idle, 1000ms).rfind("HTTP/1.1 200 OK", 0), 0u);  // answered, then closed
  close(idle);
  close(slow);
}

TEST_F(ServeTest, StartAndStopEdgeCases) {
  {
    Server never(Router(), {});
    never.stop();  // never started: nothing to do
  }
  Fixture f;
  f.server->stop();
  f.server->stop();  // idempotent

  Fixture busy;
  ServerOptions same;
  same.port = busy.port();
  Server clash(Router(), same);
  try {
    clash.start();
    FAIL() << "started on a port in use";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::LocalIO);
    EXPECT_NE(std::string(e.what()).find("cannot listen on 127.0.0.1:" + std::to_string(busy.port())),
              std::string::npos)
        << e.what();
  }
  ServerOptions named;
  named.host = "localhost";
  Server by_name(Router(), named);
  try {
    by_name.start();
    FAIL() << "started on a host name";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Invalid);
  }
}

TEST_F(ServeTest, IPv6Loopback) {
  ServerOptions o = Fixture::make_options();
  o.host = "::1";
  std::unique_ptr<Fixture> f;
  try {
    f = std::make_unique<Fixture>(o);
  } catch (const Error& e) {
    GTEST_SKIP() << "no IPv6 loopback here: " << e.what();
  }
  EXPECT_EQ(f->base, "http://[::1]:" + std::to_string(f->port()));
  EXPECT_EQ(fetch(f->base + "/json").status, 200);
}

// serve_demo blocks SIGTERM with TerminationSignals and stops gracefully on it.
TEST_F(ServeTest, DemoStopsOnSigterm) {
  const auto started = sacker::test::spawn_listening({SERVE_DEMO_BINARY, "--listen", "127.0.0.1:0"});
  const pid_t pid = started.pid;
  ASSERT_GT(pid, 0);
  const std::string& line = started.first_line;
  ASSERT_EQ(line.rfind("listening on http://127.0.0.1:", 0), 0u) << line;
  const std::string url = line.substr(13);
  EXPECT_EQ(fetch(url + "/api/v1/ping").body, "{\"ok\":true}\n");
  Reply download;
  std::thread client([&] { download = fetch(url + "/blob/1048576"); });
  client.join();
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = 0;
  const auto t0 = Clock::now();
  while (waitpid(pid, &status, WNOHANG) == 0 && Clock::now() - t0 < 5s) std::this_thread::sleep_for(10ms);
  if (Clock::now() - t0 >= 5s) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    FAIL() << "serve_demo did not stop within 5 s of SIGTERM";
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(download.body.size(), 1048576u);
}

}  // namespace
}  // namespace sacker::serve
