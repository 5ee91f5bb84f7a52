// HTTP/1.1 client on libcurl for the S3, DynamoDB and etcd backends and for the
// AWS credential sources. libcurl stays out of this header (pimpl).
//
// Contract in brief:
// - One HttpClient = one libcurl easy handle = one connection cache. Requests on
//   the same client reuse kept-alive connections. A client is NOT thread-safe:
//   use it from one thread at a time; for parallel transfers take one client per
//   worker (HttpClientPool).
// - send() returns the response for every HTTP status (the caller maps 403/404/
//   412... to sacker errors, see error_kind_for_status). It throws
//   Error(Unavailable) when the server cannot be reached or the connection breaks
//   and the retries are used up; the message names method, scheme://host:port and
//   curl's reason, never a header value or a signed query value.
// - Retries, with exponential backoff and full jitter (delay = uniform(0,
//   min(max_delay, base_delay * 2^attempt)); a Retry-After in seconds raises the
//   lower bound, capped by max_delay), up to RetryPolicy::max_attempts attempts
//   in total:
//     * for every request: failures to resolve or connect (nothing was sent);
//     * only when HttpRequest::idempotent: broken connections, timeouts, empty
//       replies, and the statuses 500 502 503 504 429, S3 "SlowDown" and
//       "RequestTimeout" error codes, plus whatever HttpRequest::retry_if says.
//   Before every attempt HttpRequest::sign (if set) is applied to a fresh copy of
//   the request as given, so a retried request is signed again with a new time.
//   A request that is not idempotent goes out on a new connection: libcurl would
//   otherwise silently re-send it when a reused keep-alive connection turns out
//   to have been closed by the server.
// - Proxies: libcurl reads https_proxy/HTTPS_PROXY, http_proxy, ALL_PROXY and
//   no_proxy/NO_PROXY from the environment and the client never disables that;
//   upper-case HTTP_PROXY (which curl ignores) is honoured too for http:// URLs
//   when http_proxy is unset, as the AWS CLI does. NO_PROXY applies to all.
// - TLS: the system CA store unless HttpOptions::ca_bundle names a PEM file (the
//   AWS code sets it from AWS_CA_BUNDLE / profile ca_bundle, see aws_config.h).
// - Redirects are not followed (a signed request cannot be replayed elsewhere);
//   a 3xx is returned like any other status and the caller reads its Location.
// - Authentication is the caller's (signed headers, query tokens), except SPNEGO,
//   which libcurl does through GSS-API for requests that ask for it
//   (HttpRequest::negotiate).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kit/retry.h"
#include "sacker/error.h"

namespace sacker::net {

// Ordered (name, value) pairs. Names compare case-insensitively.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// The first value of header `name` (case-insensitive), or nullptr.
const std::string* find_header(const HttpHeaders& headers, std::string_view name);
// Replaces every header `name` (case-insensitive) with one `name: value`.
void set_header(HttpHeaders& headers, std::string_view name, std::string value);
// Removes every header `name` (case-insensitive).
void remove_header(HttpHeaders& headers, std::string_view name);

// A request body streamed from `length` bytes of a file starting at `offset`;
// never read into memory whole. The file is opened at each attempt; it must not
// change while the request runs. Read errors throw Error(LocalIO/NotFound/Denied).
struct FileRange {
  std::string path;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

struct HttpResponse;

// Receives the body of a 2xx response as it arrives (downloads). May throw: the
// transfer is aborted and send() rethrows that exception as is.
struct ResponseSink {
  std::function<void(const char* data, std::size_t size)> write;
  // Called before a retry when `write` already received bytes of a failed
  // attempt: the sink must drop what it got. Without it, a request whose body
  // was partly delivered is not retried (send() throws Error(Unavailable)).
  std::function<void()> restart;
};

struct HttpRequest {
  std::string method = "GET";
  // Absolute http:// or https:// URL, percent-encoded as it goes on the wire.
  std::string url;
  // Sent in this order. Do not set Content-Length, Transfer-Encoding or Expect:
  // the client derives them from the body. A "Host" header, if set, is sent as is.
  HttpHeaders headers;
  // The body: `body_file` if set, else `body` (may be empty). For GET/HEAD an
  // empty body means no body at all; other methods send Content-Length: 0.
  std::string body;
  std::optional<FileRange> body_file;
  // True when repeating the request cannot change the outcome (GET, HEAD, DELETE,
  // PUT of content-addressed bytes, PUT with If-None-Match: *, ...). Only such
  // requests are retried after something may have reached the server.
  bool idempotent = false;
  // Applied before each attempt (e.g. SigV4 signing) to a copy of this request
  // that carries method, url and headers but NOT the body (the body is sent from
  // this request; sign with a payload hash computed beforehand). What it leaves
  // in method/url/headers is what is sent.
  std::function<void(HttpRequest&)> sign;
  // Extra "retry this response" rule for idempotent requests (e.g. DynamoDB
  // ThrottlingException answers 400). Called with the status, headers and the
  // (possibly truncated) body of a non-2xx response.
  std::function<bool(const HttpResponse&)> retry_if;
  // If set, the body of a 2xx response goes here instead of HttpResponse::body.
  std::optional<ResponseSink> sink;
  // Overall time limit of one attempt; zero means only the client's connect and
  // low-speed limits apply.
  std::chrono::milliseconds timeout{0};
  // Attempts for this request; zero means the client's RetryPolicy::max_attempts.
  int max_attempts = 0;
  // Upload progress: called on the sending thread with the body bytes sent so far
  // in the current attempt (back to 0 when an attempt is retried). Must not throw.
  std::function<void(std::uint64_t sent)> on_upload;
  // Sees every byte of the body as it is handed to libcurl, with its offset in
  // the body: for hashing exactly the bytes that were sent. An attempt that starts
  // over (a retry, a rewind) begins again at a smaller offset. Called on the
  // sending thread; an exception aborts the request and send() rethrows it.
  std::function<void(std::uint64_t offset, const char* data, std::size_t size)> on_body;
  // Authenticate with SPNEGO (CURLAUTH_NEGOTIATE: GSS-API and the caller's Kerberos
  // credential cache; the service is HTTP@<host of the URL>). Set it only on
  // requests to the service that wants it (a WebHDFS namenode), never on one to a
  // host that must not see the credentials (the datanode it redirects to).
  bool negotiate = false;
};

struct HttpResponse {
  long status = 0;
  // Response headers in arrival order, names as the server sent them (lookups
  // are case-insensitive), of the final response only (no 100 Continue).
  HttpHeaders headers;
  // The body, unless a sink took it. With a sink, a non-2xx body is kept here
  // (truncated to 1 MiB) so the caller can read the error document.
  std::string body;
  // How many attempts send() made (1 = no retry).
  int attempts = 1;

  const std::string* header(std::string_view name) const { return find_header(headers, name); }
};

// A Content-Range header: "bytes 0-99/1234" -> {0, 99, 1234}; "bytes */1234" ->
// total only; anything else (or no header) -> all empty. So is a range that
// contradicts itself (first > last, or a last byte at or past the total): the
// server's or a proxy's fault, never a range that is merely past the end.
struct ContentRange {
  std::optional<std::uint64_t> first, last, total;
};
ContentRange content_range(const HttpResponse& response);

struct HttpOptions {
  std::chrono::milliseconds connect_timeout{10'000};
  // Abort an attempt that moves fewer than low_speed_bytes per second for
  // low_speed_time (an idle or stalled connection). Zero time disables it.
  std::chrono::seconds low_speed_time{30};
  long low_speed_bytes = 1;
  RetryPolicy retry;
  // PEM bundle for https; empty = the system store.
  std::string ca_bundle;
  // Injectable for tests: how to wait between attempts and the random source of
  // the jitter (uniform in [0, 1)). Defaults: sleep_for and a seeded mt19937.
  std::function<void(std::chrono::milliseconds)> sleep;
  std::function<double()> random;
  // The -v log: one line per attempt, e.g.
  //   "GET https://host/bucket/key?partNumber=2 206 35 ms"
  //   "PUT https://host/bucket/key -> connection refused 1 ms (attempt 1/5)"
  // Query values of X-Amz-Signature, X-Amz-Credential, X-Amz-Security-Token and
  // sig (an Azure SAS signature) and delegation (a WebHDFS token) are replaced
  // by "REDACTED"; header values are never logged.
  std::function<void(const std::string& line)> log;
};

class HttpClient {
 public:
  explicit HttpClient(HttpOptions options = {});
  ~HttpClient();
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // See the contract at the top of this file. Throws Error(Invalid) for a
  // malformed URL or method, Error(Unavailable) for transport failures, the
  // sink's exception if the sink throws, Error(LocalIO...) if body_file fails.
  HttpResponse send(const HttpRequest& request);

  const HttpOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A small set of clients for parallel transfers: each worker acquires one for
// the duration of a request (or a whole part loop) and gives it back by dropping
// the lease, so connections are reused across parts. Thread-safe.
class HttpClientPool {
 public:
  explicit HttpClientPool(HttpOptions options = {});
  ~HttpClientPool();
  HttpClientPool(const HttpClientPool&) = delete;
  HttpClientPool& operator=(const HttpClientPool&) = delete;

  class Lease {
   public:
    Lease(Lease&&) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    HttpClient& operator*() const { return *client_; }
    HttpClient* operator->() const { return client_.get(); }

   private:
    friend class HttpClientPool;
    Lease(HttpClientPool* pool, std::unique_ptr<HttpClient> client);
    HttpClientPool* pool_;
    std::unique_ptr<HttpClient> client_;
  };

  // An idle client, or a new one if none is idle. Never blocks.
  Lease acquire();

 private:
  void release(std::unique_ptr<HttpClient> client);
  HttpOptions options_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<HttpClient>> idle_;
};

// Parts of an absolute URL. `host` is lower-cased, without brackets for IPv6; `port` is the
// explicit port or the scheme's default; `path` is "/" if empty; `query` has no
// leading '?'. Throws Error(Invalid) for anything that is not http(s)://host...
struct UrlParts {
  std::string scheme;  // "http" or "https" (lower case)
  std::string host;
  int port = 0;
  bool explicit_port = false;
  std::string path;
  std::string query;

  // "host" or "host:port" as a Host header carries it (default ports omitted,
  // IPv6 in brackets).
  std::string host_header() const;
};
UrlParts parse_url(std::string_view url);

// The URL with userinfo dropped and the values of the query parameters
// X-Amz-Signature, X-Amz-Credential, X-Amz-Security-Token, sig (an Azure SAS
// signature) and delegation (a WebHDFS token), any case, replaced by "REDACTED".
// For logs and error messages.
std::string redact_url(std::string_view url);

// 401/403 -> Denied, 404 -> NotFound, 409/412 -> Conflict, 429 and 5xx ->
// Unavailable, other 4xx -> Invalid, anything else -> Internal.
ErrorKind error_kind_for_status(long status);

}  // namespace sacker::net
