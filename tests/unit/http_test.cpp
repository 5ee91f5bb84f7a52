// The HTTP client against tests/unit/fixtures/fault_server.py, a tiny local
// python http.server started on 127.0.0.1 with a random port. It is a fake used
// only for fault injection (503/500/SlowDown/429, dropped and truncated
// connections) and for counting TCP connections; the backends' integration tests
// run against real servers. Backoff sleeps are injected, so nothing really waits.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aws/sigv4.h"
#include "net/http.h"
#include "unit/fixtures/local_server.h"

namespace sacker::net {
namespace {

using aws::kEmptySha256;
using aws::sha256_hex;
using aws::sign_request;
using aws::SigningParams;

using nlohmann::json;
using sacker::testing::LocalServer;
using std::chrono::milliseconds;

struct Recorder {
  std::vector<milliseconds> sleeps;
  std::vector<std::string> log;
  HttpOptions options(int attempts = 5) {
    HttpOptions o;
    o.retry.max_attempts = attempts;
    o.retry.base_delay = milliseconds(100);
    o.retry.max_delay = milliseconds(5000);
    o.connect_timeout = milliseconds(2000);
    o.sleep = [this](milliseconds d) { sleeps.push_back(d); };
    o.random = [] { return 0.5; };
    o.log = [this](const std::string& line) { log.push_back(line); };
    return o;
  }
};

HttpRequest get(const std::string& url) {
  HttpRequest r;
  r.url = url;
  r.idempotent = true;
  return r;
}

json stats(HttpClient& client, const LocalServer& server) {
  return json::parse(client.send(get(server.url("/stats"))).body);
}

int requests_for(const json& st, const std::string& key) {
  return st["requests"].contains(key) ? st["requests"][key].get<int>() : 0;
}

TEST(HttpClient, GetEchoAndResponseHeaders) {
  LocalServer server;
  Recorder rec;
  HttpClient client(rec.options());
  HttpRequest r = get(server.url("/echo?x=1"));
  r.headers = {{"X-Custom", "v1"}, {"X-Empty", ""}};
  const HttpResponse resp = client.send(r);
  ASSERT_EQ(resp.status, 200);
  EXPECT_EQ(resp.attempts, 1);
  ASSERT_NE(resp.header("content-type"), nullptr);
  EXPECT_EQ(*resp.header("CONTENT-TYPE"), "application/json");
  const json j = json::parse(resp.body);
  EXPECT_EQ(j["method"], "GET");
  EXPECT_EQ(j["query"], "x=1");
  bool custom = false, empty = false;
  for (const auto& h : j["headers"]) {
    custom |= h[0] == "X-Custom" && h[1] == "v1";
    empty |= h[0] == "X-Empty" && h[1] == "";
  }
  EXPECT_TRUE(custom);
  EXPECT_TRUE(empty);
  ASSERT_EQ(rec.log.size(), 1u);
  EXPECT_EQ(rec.log[0].rfind("GET " + server.url("/echo?x=1") + " 200 ", 0), 0u) << rec.log[0];
}

TEST(HttpClient, MethodsAndBodies) {
  LocalServer server;
  Recorder rec;
  HttpClient client(rec.options());
  for (const char* method : {"PUT", "POST", "DELETE", "HEAD"}) {
    HttpRequest r = get(server.url("/echo"));
    r.method = method;
    if (std::string(method) != "HEAD" && std::string(method) != "DELETE") r.body = "hello";
    const HttpResponse resp = client.send(r);
    EXPECT_EQ(resp.status, 200) << method;
    if (std::string(method) == "HEAD") {
      EXPECT_TRUE(resp.body.empty());
      continue;
    }
    const json j = json::parse(resp.body);
    EXPECT_EQ(j["method"], method);
    EXPECT_EQ(j["length"], r.body.size());
    EXPECT_EQ(j["sha256"], sha256_hex(r.body));
  }
  // POST without a body still sends Content-Length: 0 (S3 CreateMultipartUpload).
  HttpRequest post = get(server.url("/echo"));
  post.method = "POST";
  const json j = json::parse(client.send(post).body);
  bool has_length = false;
  for (const auto& h : j["headers"]) has_length |= h[0] == "Content-Length" && h[1] == "0";
  EXPECT_TRUE(has_length);
}

TEST(HttpClient, ReusesOneConnectionAcrossRequests) {
  LocalServer server;
  Recorder rec;
  HttpClient client(rec.options());
  for (int i = 0; i < 20; ++i) {
    HttpRequest r = get(server.url("/echo"));
    if (i % 2) {
      r.method = "PUT";
      r.body = std::string(1000, 'x');
    }
    ASSERT_EQ(client.send(r).status, 200);
  }
  EXPECT_EQ(stats(client, server)["connections"], 1);
}

TEST(HttpClient, PoolHandsOutReusableClients) {
  LocalServer server;
  Recorder rec;
  HttpClientPool pool(rec.options());
  {
    auto a = pool.acquire();
    auto b = pool.acquire();  // both busy: two clients, two connections
    ASSERT_EQ(a->send(get(server.url("/echo"))).status, 200);
    ASSERT_EQ(b->send(get(server.url("/echo"))).status, 200);
  }
  for (int i = 0; i < 5; ++i) {
    auto c = pool.acquire();  // an idle client with its connection
    ASSERT_EQ(c->send(get(server.url("/echo"))).status, 200);
  }
  auto d = pool.acquire();
  EXPECT_EQ(stats(*d, server)["connections"], 2);
}

TEST(HttpClient, RetriesServerErrorsWithFullJitterBackoff) {
  LocalServer server;
  Recorder rec;
  HttpClient client(rec.options());
  const HttpResponse resp = client.send(get(server.url("/echo?fail=2&code=503&key=a")));
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.attempts, 3);
  // random() = 0.5 of min(max_delay, base * 2^(attempt-1)).
  ASSERT_EQ(rec.sleeps.size(), 2u);
  EXPECT_EQ(rec.sleeps[0], milliseconds(50));
  EXPECT_EQ(rec.sleeps[1], milliseconds(100));
  ASSERT_EQ(rec.log.size(), 3u);
  EXPECT_NE(rec.log[0].find(" 503 "), std::string::npos);
  EXPECT_NE(rec.log[2].find("(attempt 3/5)"), std::string::npos);

  for (int code : {500, 502, 504}) {
    const std::string key = "c" + std::to_string(code);
    EXPECT_EQ(client.send(get(server.url("/echo?fail=1&code=" + std::to_string(code) + "&key=" + key))).status, 200);
  }
  EXPECT_EQ(requests_for(stats(client, server), "a"), 3);
}

TEST(HttpClient, BackoffIsCappedAndJittered) {
  LocalServer server;
  Recorder rec;
  HttpOptions o = rec.options(8);
  o.retry.max_delay = milliseconds(300);
  double r = 0.0;
  o.random = [&r] { return r += 0.125; };  // 0.125, 0.25, ...
  HttpClient client(o);
  client.send(get(server.url("/echo?fail=7&code=500&key=cap")));
  ASSERT_EQ(rec.sleeps.size(), 7u);
  const std::vector<long> caps = {100, 200, 300, 300, 300, 300, 300};
  for (std::size_t i = 0; i < caps.size(); ++i)
    EXPECT_EQ(rec.sleeps[i].count(), static_cast<long>((i + 1) * 0.125 * caps[i])) << i;
}

TEST(HttpClient, GivesUpAfterMaxAttemptsAndReturnsTheLastAnswer) {
  LocalServer server;
  Recorder rec;
  HttpClient client(rec.options(4));
  const HttpResponse resp = client.send(get(server.url("/echo?fail=100&code=500&key=b")));
  EXPECT_EQ(resp.status, 500);
  EXPECT_EQ(resp.attempts, 4);
  EXPECT_EQ(resp.body, "injected 500");
  EXPECT_EQ(rec.sleeps.size(), 3u);
  EXPECT_EQ(requests_for(stats(client, server), "b"), 4);

  HttpRequest once = get(server.url("/echo?fail=100&code=500&key=b1"));
  once.max_attempts = 1;
  EXPECT_EQ(client.send(once).attempts, 1);
}

TEST(HttpClient, NeverRetriesNonIdempotentRequestsOnceSent) {
  LocalServer server;
  Recorder rec;
  HttpClient client(rec.options());
  HttpRequest post = get(server.url("/echo?fail=1&code=503&key=p"));
  post.method = "POST";
  post.idempotent = false;
  post.body = "once";
  const HttpResponse resp = client.send(post);
  EXPECT_EQ(resp.status, 503);
  EXPECT_EQ(resp.attempts, 1);

  HttpRequest dropped = get(server.url("/echo?drop=1&key=pd"));
  dropped.method = "POST";
  dropped.idempotent = false;
  try {
    client.send(dropped);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Unavailable);
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(server.port())), std::string::npos) << e.what();
  }
  EXPECT_TRUE(rec.sleeps.empty());
  const json st = stats(client, server);
  EXPECT_EQ(requests_for(st, "p"), 1);
  EXPECT_EQ(requests_for(st, "pd"), 1);
}

TEST(HttpClient, RetriesDroppedConnectionsForIdempotentRequests) {
  LocalServer server;
  Recorder rec;
  HttpClient client(rec.options());
  const HttpResponse resp = client.send(get(server.url("/echo?drop=2&key=d")));
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.attempts, 3);
  EXPECT_NE(rec.log[0].find("connection closed without a response"), std::string::npos) << rec.log[0];

  // A PUT that may be repeated (If-None-Match: *) and a file body: the file is
  // read again from its offset on the second attempt.
  const auto path = std::filesystem::temp_directory_path() / ("sacker-http-" + std::to_string(::getpid()));
  std::string content(300000, '\0');
  for (std::size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 7 % 256);
  std::ofstream(path, std::ios::binary) << content;
  HttpRequest put = get(server.url("/upload?drop=1&key=du"));
  put.method = "PUT";
  put.headers = {{"If-None-Match", "*"}};
  put.body_file = FileRange{path.string(), 1000, 200000};
  const json j = json::parse(client.send(put).body);
  EXPECT_EQ(j["length"], 200000);
  EXPECT_EQ(j["sha256"], sha256_hex(std::string_view(content).substr(1000, 200000)));
  std::filesystem::remove(path);
}

TEST(HttpClient, RetriesS3SlowDownAndRequestTimeoutAnd429) {
  LocalServer server;
  Recorder rec;
  HttpClient client(rec.options());
  EXPECT_EQ(client.send(get(server.url("/echo?fail=2&code=503&s3code=SlowDown&key=s"))).attempts, 3);
  EXPECT_EQ(client.send(get(server.url("/echo?fail=1&code=400&s3code=RequestTimeout&key=rt"))).attempts, 2);
  // A plain 400 is an answer, not a fault.
  EXPECT_EQ(client.send(get(server.url("/echo?fail=1&code=400&s3code=InvalidArgument&key=ia"))).status, 400);

  rec.sleeps.clear();
  EXPECT_EQ(client.send(get(server.url("/echo?fail=1&code=429&retry_after=2&key=ra"))).attempts, 2);
  ASSERT_EQ(rec.sleeps.size(), 1u);
  EXPECT_EQ(rec.sleeps[0], milliseconds(2000));  // Retry-After beats the jittered 50 ms
}

TEST(HttpClient, RetryIfHookForServiceSpecificThrottling) {
  LocalServer server;
  Recorder rec;
  HttpClient client(rec.options());
  HttpRequest r = get(server.url("/echo?fail=2&code=400&json=ThrottlingException&key=t"));
  r.method = "POST";
  r.body = "{}";
  r.retry_if = [](const HttpResponse& resp) { return resp.body.find("ThrottlingException") != std::string::npos; };
  EXPECT_EQ(client.send(r).attempts, 3);
}

TEST(HttpClient, SignsAgainBeforeEveryAttempt) {
  LocalServer server;
  Recorder rec;
  HttpClient client(rec.options());
  auto now = std::chrono::system_clock::from_time_t(1700000000);
  int signings = 0;
  HttpRequest r = get(server.url("/echo?fail=2&code=503&key=sign"));
  r.sign = [&](HttpRequest& wire) {
    EXPECT_TRUE(wire.body.empty());
    SigningParams p;
    p.credentials = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "", {}, ""};
    p.region = "us-east-1";
    p.service = "s3";
    p.time = now + std::chrono::seconds(10 * signings++);
    sign_request(wire, kEmptySha256, p);
  };
  const json j = json::parse(client.send(r).body);
  EXPECT_EQ(signings, 3);
  int authorizations = 0;
  std::string date;
  for (const auto& h : j["headers"]) {
    authorizations += h[0] == "Authorization";
    if (h[0] == "X-Amz-Date") date = h[1];
  }
  EXPECT_EQ(authorizations, 1);
  EXPECT_EQ(date, "20231114T221340Z");  // the third signing: +20 s
}

TEST(HttpClient, StreamsDownloadsToTheSink) {
  LocalServer server;
  Recorder rec;
  HttpClient client(rec.options());
  HttpRequest r = get(server.url("/bytes?size=3000000"));
  std::size_t total = 0, calls = 0;
  bool pattern_ok = true;
  r.sink = ResponseSink{[&](const char* data, std::size_t n) {
                          for (std::size_t i = 0; i < n; ++i)
                            pattern_ok &= static_cast<unsigned char>(data[i]) == (total + i) % 251;
                          total += n;
                          ++calls;
                        },
                        {}};
  const HttpResponse resp = client.send(r);
  EXPECT_EQ(resp.status, 200);
  EXPECT_TRUE(resp.body.empty());
  EXPECT_EQ(total, 3000000u);
  EXPECT_GT(calls, 1u);
  EXPECT_TRUE(pattern_ok);
}

TEST(HttpClient, SinkGetsOnlySuccessfulBodies) {
  LocalServer server;
  Recorder rec;
  HttpClient client(rec.options());
  HttpRequest r = get(server.url("/bytes?fail=1&code=404&key=nf"));
  bool called = false;
  r.sink = ResponseSink{[&](const char*, std::size_t) { called = true; }, {}};
  const HttpResponse resp = client.send(r);
  EXPECT_EQ(resp.status, 404);
  EXPECT_EQ(resp.body, "injected 404");
  EXPECT_FALSE(called);
}

TEST(HttpClient, TruncatedDownloadRestartsTheSinkOrFails) {
  LocalServer server;
  Recorder rec;
  HttpClient client(rec.options());
  std::string got;
  int restarts = 0;
  HttpRequest r = get(server.url("/bytes?size=200000&truncate=1&key=tr"));
  r.sink = ResponseSink{[&](const char* d, std::size_t n) { got.append(d, n); },
                        [&] {
                          got.clear();
                          ++restarts;
                        }};
  EXPECT_EQ(client.send(r).status, 200);
  EXPECT_EQ(restarts, 1);
  EXPECT_EQ(got.size(), 200000u);

  // Without restart() a partly delivered body is never retried.
  HttpRequest n = get(server.url("/bytes?size=200000&truncate=1&key=tr2"));
  std::size_t bytes = 0;
  n.sink = ResponseSink{[&](const char*, std::size_t k) { bytes += k; }, {}};
  try {
    client.send(n);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Unavailable);
    EXPECT_NE(std::string(e.what()).find("closed mid-response"), std::string::npos) << e.what();
  }
  EXPECT_EQ(requests_for(stats(client, server), "tr2"), 1);
}

TEST(HttpClient, SinkExceptionsPropagateUnchanged) {
  LocalServer server;
  Recorder rec;
  HttpClient client(rec.options());
  HttpRequest r = get(server.url("/bytes?size=100000"));
  r.sink = ResponseSink{[](const char*, std::size_t) { throw Error(ErrorKind::LocalIO, "disk full"); }, {}};
  try {
    client.send(r);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::LocalIO);
    EXPECT_STREQ(e.what(), "disk full");
  }
  EXPECT_TRUE(rec.sleeps.empty());
  // The client is still usable afterwards.
  EXPECT_EQ(client.send(get(server.url("/echo"))).status, 200);
}

TEST(HttpClient, FileRangeUploadStreamsWithoutLoading) {
  LocalServer server;
  Recorder rec;
  HttpClient client(rec.options());
  const auto path = std::filesystem::temp_directory_path() / ("sacker-up-" + std::to_string(::getpid()));
  std::mt19937 rng(7);
  std::string content(3 << 20, '\0');
  for (char& c : content) c = static_cast<char>(rng());
  std::ofstream(path, std::ios::binary) << content;
  HttpRequest r = get(server.url("/upload"));
  r.method = "PUT";
  r.body_file = FileRange{path.string(), 12345, 2 << 20};  // >= 1 MiB: Expect: 100-continue path
  std::vector<std::uint64_t> progress;
  r.on_upload = [&](std::uint64_t sent) { progress.push_back(sent); };
  const json j = json::parse(client.send(r).body);
  EXPECT_EQ(j["length"], 2 << 20);
  // Upload progress: growing, ending at the whole body.
  ASSERT_FALSE(progress.empty());
  EXPECT_TRUE(std::is_sorted(progress.begin(), progress.end()));
  EXPECT_EQ(progress.back(), 2u << 20);
  r.on_upload = nullptr;
  EXPECT_EQ(j["sha256"], sha256_hex(std::string_view(content).substr(12345, 2 << 20)));

  HttpRequest past_end = r;
  past_end.body_file = FileRange{path.string(), content.size() - 10, 100};
  try {
    client.send(past_end);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::LocalIO) << e.what();
  }
  HttpRequest missing = r;
  missing.body_file = FileRange{path.string() + ".nope", 0, 1};
  try {
    client.send(missing);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::NotFound) << e.what();
  }
  std::filesystem::remove(path);
}

// on_body (for hashing what is sent): every byte of the body, in order, with its
// offset, from a file range and from memory; a throwing observer aborts the request.
TEST(HttpClient, OnBodySeesExactlyTheBytesSent) {
  LocalServer server;
  Recorder rec;
  HttpClient client(rec.options());
  const auto path = std::filesystem::temp_directory_path() / ("sacker-onbody-" + std::to_string(::getpid()));
  std::mt19937 rng(11);
  std::string content(3 << 20, '\0');
  for (char& c : content) c = static_cast<char>(rng());
  std::ofstream(path, std::ios::binary) << content;
  HttpRequest r = get(server.url("/upload"));
  r.method = "PUT";
  r.body_file = FileRange{path.string(), 777, 2 << 20};
  std::string seen;
  bool in_order = true;
  r.on_body = [&](std::uint64_t offset, const char* data, std::size_t n) {
    in_order = in_order && offset == seen.size();
    seen.append(data, n);
  };
  const json j = json::parse(client.send(r).body);
  EXPECT_TRUE(in_order);
  EXPECT_EQ(seen, content.substr(777, 2 << 20));
  EXPECT_EQ(j["sha256"], sha256_hex(seen));

  HttpRequest m = get(server.url("/upload"));
  m.method = "PUT";
  m.body = "small body";
  seen.clear();
  m.on_body = r.on_body;
  client.send(m);
  EXPECT_EQ(seen, "small body");

  m.on_body = [](std::uint64_t, const char*, std::size_t) { throw Error(ErrorKind::Integrity, "observer says no"); };
  try {
    client.send(m);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Integrity) << e.what();
  }
  std::filesystem::remove(path);
}

TEST(HttpClient, ConnectionRefusedIsUnavailableWithHostAndPort) {
  const int port = sacker::testing::unused_local_port();
  Recorder rec;
  HttpClient client(rec.options(3));
  HttpRequest r;
  r.method = "PUT";  // not idempotent, but nothing was sent: retried
  r.url = "http://127.0.0.1:" + std::to_string(port) + "/k";
  r.body = "x";
  try {
    client.send(r);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Unavailable);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << msg;
    EXPECT_NE(msg.find("cannot connect"), std::string::npos) << msg;
    EXPECT_NE(msg.find("after 3 attempts"), std::string::npos) << msg;
  }
  EXPECT_EQ(rec.sleeps.size(), 2u);
}

TEST(HttpClient, UnresolvableHostIsUnavailable) {
  Recorder rec;
  HttpClient client(rec.options(1));
  try {
    client.send(get("http://sacker-test.invalid/x"));
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Unavailable);
    EXPECT_NE(std::string(e.what()).find("sacker-test.invalid:80"), std::string::npos) << e.what();
  }
}

TEST(HttpClient, IdleServerTimesOut) {
  // A listening socket that never answers: the low-speed limit ends the attempt.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  Recorder rec;
  HttpOptions o = rec.options(2);
  o.low_speed_time = std::chrono::seconds(1);
  HttpClient client(o);
  const auto start = std::chrono::steady_clock::now();
  try {
    client.send(get("http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/"));
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Unavailable);
    EXPECT_NE(std::string(e.what()).find("timed out"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(rec.sleeps.size(), 1u);  // idempotent: one retry
  ::close(fd);
}

TEST(HttpClient, NoSecretsInErrorsOrTheLog) {
  LocalServer server;
  const int dead_port = sacker::testing::unused_local_port();
  Recorder rec;
  HttpClient client(rec.options(2));
  const std::vector<std::string> secrets = {"wJalrXUtnFEMI", "SESSIONTOKENSECRET", "SIGSECRET", "AKIASECRETKEYID"};
  SigningParams p;
  p.credentials = {"AKIASECRETKEYID", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "SESSIONTOKENSECRET", {}, ""};
  p.region = "us-east-1";
  p.service = "s3";
  p.time = std::chrono::system_clock::now();
  auto sign = [&](HttpRequest& w) { sign_request(w, kEmptySha256, p); };

  std::vector<std::string> messages;
  auto attempt = [&](HttpRequest r) {
    try {
      client.send(r);
    } catch (const Error& e) {
      messages.push_back(e.what());
    }
  };
  // A presigned URL (secrets in the query), signed headers, to a live server,
  // a dropping one and a dead port.
  const std::string query =
      "?X-Amz-Credential=AKIASECRETKEYID%2F20240101&X-Amz-Signature=SIGSECRET&"
      "X-Amz-Security-Token=SESSIONTOKENSECRET&partNumber=2";
  attempt(get(server.url("/echo" + query)));
  attempt(get(server.url("/echo" + query + "&drop=5&key=sec")));
  attempt(get("http://user:SIGSECRET@127.0.0.1:" + std::to_string(dead_port) + "/x" + query));
  HttpRequest signed_req = get(server.url("/echo?drop=5&key=sec2"));
  signed_req.sign = sign;
  attempt(signed_req);
  HttpRequest signed_dead = get("http://127.0.0.1:" + std::to_string(dead_port) + "/k");
  signed_dead.sign = sign;
  attempt(signed_dead);

  EXPECT_EQ(messages.size(), 4u);
  EXPECT_GE(rec.log.size(), 9u);
  for (const auto& text : {messages, rec.log})
    for (const std::string& line : text)
      for (const std::string& secret : secrets) EXPECT_EQ(line.find(secret), std::string::npos) << line;
  EXPECT_NE(rec.log[0].find("partNumber=2"), std::string::npos) << rec.log[0];
  EXPECT_NE(rec.log[0].find("X-Amz-Signature=REDACTED"), std::string::npos) << rec.log[0];
}

// Sets or clears proxy variables for one test and puts the old values back.
class ProxyEnv {
 public:
  ProxyEnv() {
    for (const char* v : kVars)
      if (const char* old = std::getenv(v)) saved_.emplace_back(v, old);
    clear();
  }
  ~ProxyEnv() {
    clear();
    for (const auto& [k, v] : saved_) ::setenv(k.c_str(), v.c_str(), 1);
  }
  static void clear() {
    for (const char* v : kVars) ::unsetenv(v);
  }

 private:
  static constexpr const char* kVars[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                                          "all_proxy",  "ALL_PROXY",  "no_proxy",    "NO_PROXY"};
  std::vector<std::pair<std::string, std::string>> saved_;
};

TEST(HttpClient, HonoursProxyEnvironment) {
  ProxyEnv restore;
  LocalServer proxy;
  Recorder rec;
  HttpClient client(rec.options(1));
  const std::string proxy_url = "http://127.0.0.1:" + std::to_string(proxy.port());
  // curl's own variable, and the upper-case one the AWS CLI also honours.
  for (const char* var : {"http_proxy", "HTTP_PROXY"}) {
    ::setenv(var, proxy_url.c_str(), 1);
    const HttpResponse resp = client.send(get("http://sacker-proxied.invalid/echo?via=" + std::string(var)));
    ::unsetenv(var);
    EXPECT_EQ(resp.status, 200) << var;
  }
  // NO_PROXY wins: the .invalid host is then resolved directly, and fails.
  ::setenv("HTTP_PROXY", proxy_url.c_str(), 1);
  ::setenv("NO_PROXY", "sacker-proxied.invalid", 1);
  EXPECT_THROW(client.send(get("http://sacker-proxied.invalid/echo?via=none")), Error);
  ProxyEnv::clear();
  HttpClient direct(rec.options(1));
  const json st = json::parse(direct.send(get(proxy.url("/stats"))).body);
  ASSERT_EQ(st["proxied"].size(), 2u);
  EXPECT_EQ(st["proxied"][0], "http://sacker-proxied.invalid/echo?via=http_proxy");
  EXPECT_EQ(st["proxied"][1], "http://sacker-proxied.invalid/echo?via=HTTP_PROXY");
}

TEST(HttpClient, CaBundleForHttps) {
  const auto dir = std::filesystem::temp_directory_path() / ("sacker-tls-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string cert = (dir / "cert.pem").string(), key = (dir / "key.pem").string();
  const std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
      "-addext subjectAltName=IP:127.0.0.1 -keyout '" +
      key + "' -out '" + cert + "' >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "openssl could not make a test certificate";
  LocalServer server({"--tls", cert, key});
  const std::string url = "https://127.0.0.1:" + std::to_string(server.port()) + "/echo";
  Recorder rec;
  {
    HttpClient untrusted(rec.options(1));
    try {
      untrusted.send(get(url));
      FAIL() << "a self-signed certificate was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Unavailable);
      EXPECT_NE(std::string(e.what()).find("TLS certificate not trusted"), std::string::npos) << e.what();
    }
  }
  HttpOptions o = rec.options(1);
  o.ca_bundle = cert;
  HttpClient trusted(o);
  EXPECT_EQ(trusted.send(get(url)).status, 200);
  std::filesystem::remove_all(dir);
}

TEST(HttpUrl, ParseAndRedact) {
  const UrlParts u = parse_url("HTTPS://User:pw@Bucket.S3.Example.com:8443/a%20b?x=1#frag");
  EXPECT_EQ(u.scheme, "https");
  EXPECT_EQ(u.host, "bucket.s3.example.com");
  EXPECT_EQ(u.port, 8443);
  EXPECT_EQ(u.path, "/a%20b");
  EXPECT_EQ(u.query, "x=1");
  EXPECT_EQ(u.host_header(), "bucket.s3.example.com:8443");
  EXPECT_EQ(parse_url("http://[::1]/").host_header(), "[::1]");
  EXPECT_EQ(parse_url("http://h").path, "/");
  EXPECT_THROW(parse_url("ftp://h/"), Error);
  EXPECT_THROW(parse_url("http:///x"), Error);
  EXPECT_THROW(parse_url("http://h:99999/"), Error);
  EXPECT_EQ(redact_url("https://u:p@h/k?x-amz-signature=abc&a=1&X-Amz-Credential=AK%2F1&X-Amz-Security-Token=t"),
            "https://h/k?x-amz-signature=REDACTED&a=1&X-Amz-Credential=REDACTED&X-Amz-Security-Token=REDACTED");
  EXPECT_EQ(redact_url("http://dn:9864/webhdfs/v1/x?op=OPEN&delegation=SECRET&DELEGATION=S2&offset=0"),
            "http://dn:9864/webhdfs/v1/x?op=OPEN&delegation=REDACTED&DELEGATION=REDACTED&offset=0");
}

TEST(HttpUrl, ErrorKindsForStatuses) {
  EXPECT_EQ(error_kind_for_status(403), ErrorKind::Denied);
  EXPECT_EQ(error_kind_for_status(401), ErrorKind::Denied);
  EXPECT_EQ(error_kind_for_status(404), ErrorKind::NotFound);
  EXPECT_EQ(error_kind_for_status(412), ErrorKind::Conflict);
  EXPECT_EQ(error_kind_for_status(409), ErrorKind::Conflict);
  EXPECT_EQ(error_kind_for_status(429), ErrorKind::Unavailable);
  EXPECT_EQ(error_kind_for_status(503), ErrorKind::Unavailable);
  EXPECT_EQ(error_kind_for_status(400), ErrorKind::Invalid);
  EXPECT_EQ(error_kind_for_status(302), ErrorKind::Internal);
}

// The pure Content-Range parser: a range that contradicts itself is no range.
TEST(ContentRange, ParsesRangesAndRefusesOnesThatContradictThemselves) {
  auto parse = [](const std::string& value) {
    HttpResponse r;
    r.headers.emplace_back("content-range", value);
    return content_range(r);
  };
  const auto ok = parse("bytes 0-99/1234");
  EXPECT_EQ(ok.first, 0u);
  EXPECT_EQ(ok.last, 99u);
  EXPECT_EQ(ok.total, 1234u);
  const auto star = parse("bytes */1234");
  EXPECT_FALSE(star.first);
  EXPECT_EQ(star.total, 1234u);
  const auto end = parse("bytes 1233-1233/1234");
  EXPECT_EQ(end.last, 1233u);
  for (const char* bad : {"bytes 0-99/50", "bytes 0-1234/1234", "bytes 9-5/100", "bytes 0-0/0", "items 0-1/2", ""}) {
    const auto cr = parse(bad);
    EXPECT_FALSE(cr.first || cr.last || cr.total) << bad;
  }
  EXPECT_FALSE(content_range(HttpResponse{}).total);
}

}  // namespace
}  // namespace sacker::net
