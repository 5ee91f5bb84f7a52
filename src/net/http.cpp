// The transfer part of net/http.h: libcurl easy handles, retries, bodies and sinks, the
// client pool. The pure parts (headers, URLs, redaction, Content-Range) are in http_url.cpp.
#include "net/http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "core/codec.h"
#include "core/random.h"
#include "sacker/log.h"

namespace sacker::net {
namespace {

constexpr std::size_t kErrorBodyLimit = 1 << 20;
// Bodies at least this large wait for "100 Continue", so a refused upload (403,
// 412) is answered before the bytes go out; smaller ones are sent right away.
constexpr std::uint64_t kExpectContinueThreshold = 1 << 20;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// Where the request body comes from during one attempt.
struct BodySource {
  const std::string* memory = nullptr;
  const FileRange* file = nullptr;
  const std::function<void(std::uint64_t, const char*, std::size_t)>* on_body = nullptr;
  std::FILE* fp = nullptr;
  std::uint64_t pos = 0;  // bytes of the body already handed to curl
  std::exception_ptr error;

  std::uint64_t size() const { return file ? file->length : memory->size(); }

  void open() {
    if (!file) return;
    fp = std::fopen(file->path.c_str(), "rb");
    if (!fp) throw Error(kind_from_errno(errno), fmt::format("{}: {}", file->path, std::strerror(errno)));
    seek(0);
  }
  void seek(std::uint64_t to) {
    pos = to;
    if (fp && fseeko(fp, static_cast<off_t>(file->offset + to), SEEK_SET) != 0)
      throw Error(ErrorKind::LocalIO, fmt::format("{}: seek: {}", file->path, std::strerror(errno)));
  }
  ~BodySource() {
    if (fp) std::fclose(fp);
  }
};

struct Attempt {
  const HttpRequest* request = nullptr;
  CURL* easy = nullptr;
  HttpResponse response;
  std::size_t sink_bytes = 0;  // delivered to the sink in this attempt
  std::exception_ptr sink_error;
  bool status_known = false;
  bool to_sink = false;
};

size_t read_cb(char* buffer, size_t size, size_t nitems, void* userdata) {
  auto* src = static_cast<BodySource*>(userdata);
  const std::uint64_t want = std::min<std::uint64_t>(size * nitems, src->size() - src->pos);
  if (want == 0) return 0;
  size_t got = want;
  if (src->memory)
    std::memcpy(buffer, src->memory->data() + src->pos, want);
  else
    got = std::fread(buffer, 1, want, src->fp);
  if (got != want) {
    src->error = std::make_exception_ptr(
        Error(ErrorKind::LocalIO, std::ferror(src->fp)
                                      ? fmt::format("{}: read: {}", src->file->path, std::strerror(errno))
                                      : fmt::format("{}: file is shorter than the {} bytes to send", src->file->path,
                                                    src->file->offset + src->file->length)));
    return CURL_READFUNC_ABORT;
  }
  if (src->on_body && *src->on_body) {
    try {
      (*src->on_body)(src->pos, buffer, got);
    } catch (...) {
      src->error = std::current_exception();
      return CURL_READFUNC_ABORT;
    }
  }
  src->pos += got;
  return got;
}

int seek_cb(void* userdata, curl_off_t offset, int origin) {
  auto* src = static_cast<BodySource*>(userdata);
  if (origin != SEEK_SET || offset < 0 || static_cast<std::uint64_t>(offset) > src->size())
    return CURL_SEEKFUNC_CANTSEEK;
  try {
    src->seek(static_cast<std::uint64_t>(offset));
  } catch (...) {
    src->error = std::current_exception();
    return CURL_SEEKFUNC_FAIL;
  }
  return CURL_SEEKFUNC_OK;
}

int upload_progress_cb(void* userdata, curl_off_t, curl_off_t, curl_off_t, curl_off_t ulnow) {
  const auto& on_upload = *static_cast<const std::function<void(std::uint64_t)>*>(userdata);
  try {
    if (ulnow > 0) on_upload(static_cast<std::uint64_t>(ulnow));
  } catch (...) {
    // A progress display must never break a transfer.
  }
  return 0;
}

size_t header_cb(char* buffer, size_t size, size_t nitems, void* userdata) {
  auto* at = static_cast<Attempt*>(userdata);
  const size_t n = size * nitems;
  std::string_view line(buffer, n);
  if (line.rfind("HTTP/", 0) == 0) {
    at->response.headers.clear();  // a new response (after 100 Continue)
    return n;
  }
  const auto colon = line.find(':');
  if (colon != std::string_view::npos && colon > 0)
    at->response.headers.emplace_back(std::string(codec::trim(line.substr(0, colon))),
                                      std::string(codec::trim(line.substr(colon + 1))));
  return n;
}

size_t write_cb(char* data, size_t size, size_t nmemb, void* userdata) {
  auto* at = static_cast<Attempt*>(userdata);
  const size_t n = size * nmemb;
  if (!at->status_known) {
    at->status_known = true;
    long status = 0;
    curl_easy_getinfo(at->easy, CURLINFO_RESPONSE_CODE, &status);
    at->response.status = status;
    at->to_sink = at->request->sink && at->response.status >= 200 && at->response.status < 300;
  }
  if (at->to_sink) {
    try {
      at->request->sink->write(data, n);
      at->sink_bytes += n;
    } catch (...) {
      at->sink_error = std::current_exception();
      return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
    return n;
  }
  if (at->request->sink && at->response.body.size() >= kErrorBodyLimit) return n;
  at->response.body.append(data, n);
  return n;
}

bool connect_phase_error(CURLcode rc) {
  return rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY || rc == CURLE_COULDNT_CONNECT;
}

// Failures after which the request may or may not have reached the server.
bool transient_error(CURLcode rc) {
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3: return true;
    default: return false;
  }
}

std::string short_reason(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST: return "cannot resolve host";
    case CURLE_COULDNT_RESOLVE_PROXY: return "cannot resolve proxy";
    case CURLE_COULDNT_CONNECT: return "cannot connect";
    case CURLE_OPERATION_TIMEDOUT: return "timed out";
    case CURLE_GOT_NOTHING: return "connection closed without a response";
    case CURLE_PARTIAL_FILE: return "connection closed mid-response";
    case CURLE_SEND_ERROR: return "connection broken while sending";
    case CURLE_RECV_ERROR: return "connection broken while receiving";
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE: return "TLS certificate not trusted";
    default: return "transfer failed";
  }
}

bool retryable_status(const HttpResponse& r) {
  switch (r.status) {
    case 429:
    case 500:
    case 502:
    case 503:
    case 504: return true;
    default: break;
  }
  // S3 answers throttling and slow uploads with these codes (SlowDown is
  // usually 503, RequestTimeout 400).
  return r.status >= 400 && (r.body.find("<Code>SlowDown</Code>") != std::string::npos ||
                             r.body.find("<Code>RequestTimeout</Code>") != std::string::npos);
}

std::string origin_of(std::string_view url) {
  try {
    UrlParts u = parse_url(url);
    const bool v6 = u.host.find(':') != std::string::npos;
    return fmt::format("{}://{}{}{}:{}", u.scheme, v6 ? "[" : "", u.host, v6 ? "]" : "", u.port);
  } catch (const Error&) {
    return "<invalid URL>";
  }
}

}  // namespace

ErrorKind error_kind_for_status(long status) {
  if (status == 401 || status == 403) return ErrorKind::Denied;
  if (status == 404) return ErrorKind::NotFound;
  if (status == 409 || status == 412) return ErrorKind::Conflict;
  if (status == 429 || (status >= 500 && status < 600)) return ErrorKind::Unavailable;
  if (status >= 400 && status < 500) return ErrorKind::Invalid;
  return ErrorKind::Internal;
}

struct HttpClient::Impl {
  HttpOptions options;
  CURL* easy = nullptr;
  char errbuf[CURL_ERROR_SIZE] = {};

  explicit Impl(HttpOptions o) : options(std::move(o)) {
    global_init();
    easy = curl_easy_init();
    if (!easy) throw Error(ErrorKind::Internal, "libcurl: cannot create a handle");
    if (options.retry.max_attempts < 1) options.retry.max_attempts = 1;
  }
  ~Impl() {
    if (easy) curl_easy_cleanup(easy);
  }

  void log(const std::string& line) const {
    if (options.log)
      options.log(line);
    else
      log_verbose(line);  // the CLI's -v, when no per-client log is set
  }

  std::chrono::milliseconds backoff(int attempt, const HttpResponse* response) {
    using std::chrono::milliseconds;
    double r = options.random ? options.random() : random_unit();
    auto delay = backoff_delay(options.retry, attempt, r);
    if (response) {
      if (const std::string* ra = response->header("Retry-After")) {
        char* end = nullptr;
        const long secs = std::strtol(ra->c_str(), &end, 10);
        if (end != ra->c_str() && *end == '\0' && secs >= 0)
          delay = std::max(delay, std::min(milliseconds(secs * 1000), options.retry.max_delay));
      }
    }
    return delay;
  }

  void sleep(std::chrono::milliseconds d) const {
    if (options.sleep)
      options.sleep(d);
    else
      std::this_thread::sleep_for(d);
  }

  // One attempt. Returns the curl code; fills `at`.
  CURLcode perform(const HttpRequest& wire, const HttpRequest& original, Attempt& at, BodySource& body,
                   const UrlParts& parts) {
    curl_easy_reset(easy);  // keeps the connection cache
    errbuf[0] = '\0';
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(easy, CURLOPT_URL, wire.url.c_str());
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    // libcurl silently sends a request again when a reused keep-alive connection
    // turns out closed before any answer; that must not happen to a request that
    // is not safe to repeat, so those always get a fresh connection.
    if (!original.idempotent) curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
    if (options.low_speed_time.count() > 0) {
      curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, options.low_speed_bytes);
      curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options.low_speed_time.count()));
    }
    if (original.timeout.count() > 0)
      curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(original.timeout.count()));
    if (!options.ca_bundle.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, options.ca_bundle.c_str());
    if (original.negotiate) {
      curl_easy_setopt(easy, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_NEGOTIATE));
      curl_easy_setopt(easy, CURLOPT_USERPWD, ":");  // no user: the name comes from the ticket
    }
    // libcurl reads the proxy variables itself, except upper-case HTTP_PROXY,
    // which it ignores on purpose (CGI "httpoxy"); the AWS CLI honours it, so we
    // do too. NO_PROXY still applies: curl checks it for explicit proxies as well.
    if (parts.scheme == "http" && !std::getenv("http_proxy"))
      if (const char* p = std::getenv("HTTP_PROXY"); p && *p) curl_easy_setopt(easy, CURLOPT_PROXY, p);

    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &at);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &at);

    const std::string& m = wire.method;
    const bool has_body = original.body_file || !original.body.empty();
    const bool bodyless_method = m == "GET" || m == "HEAD" || m == "DELETE" || m == "OPTIONS";
    struct curl_slist* list = nullptr;
    for (const auto& [name, value] : wire.headers)
      list = curl_slist_append(list, value.empty() ? (name + ";").c_str() : (name + ": " + value).c_str());
    if (m == "HEAD") {
      curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    } else if (has_body || !bodyless_method) {
      curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body.size()));
      curl_easy_setopt(easy, CURLOPT_READFUNCTION, read_cb);
      curl_easy_setopt(easy, CURLOPT_READDATA, &body);
      curl_easy_setopt(easy, CURLOPT_SEEKFUNCTION, seek_cb);
      curl_easy_setopt(easy, CURLOPT_SEEKDATA, &body);
      if (m != "PUT") curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, m.c_str());
      if (body.size() < kExpectContinueThreshold) list = curl_slist_append(list, "Expect:");
    } else if (m != "GET") {
      curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, m.c_str());
    }
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, list);
    if (original.on_upload) {
      curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, upload_progress_cb);
      curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &original.on_upload);
    }
    CURLcode rc = curl_easy_perform(easy);
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    at.response.status = status;
    curl_slist_free_all(list);
    return rc;
  }

  HttpResponse send(const HttpRequest& request) {
    using clock = std::chrono::steady_clock;
    const int max_attempts = request.max_attempts > 0 ? request.max_attempts : options.retry.max_attempts;
    if (request.method.empty() || request.method.find_first_of(" \r\n\t") != std::string::npos)
      throw Error(ErrorKind::Invalid, "HTTP request without a valid method");
    const std::string origin = origin_of(request.url);
    for (int attempt = 1;; ++attempt) {
      HttpRequest wire;
      wire.method = request.method;
      wire.url = request.url;
      wire.headers = request.headers;
      if (request.sign) request.sign(wire);
      const UrlParts parts = parse_url(wire.url);  // Error(Invalid) before anything is sent
      const std::string shown_url = redact_url(wire.url);
      const std::string attempt_note =
          max_attempts > 1 && attempt > 1 ? fmt::format(" (attempt {}/{})", attempt, max_attempts) : "";

      BodySource body;
      if (request.body_file)
        body.file = &*request.body_file;
      else
        body.memory = &request.body;
      body.on_body = &request.on_body;
      body.open();

      Attempt at;
      at.request = &request;
      at.easy = easy;
      const auto started = clock::now();
      CURLcode rc = perform(wire, request, at, body, parts);
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - started).count();

      if (at.sink_error) std::rethrow_exception(at.sink_error);
      if (body.error) std::rethrow_exception(body.error);

      const bool partial_sink = at.sink_bytes > 0 && !(request.sink && request.sink->restart);
      if (rc != CURLE_OK) {
        const std::string reason = short_reason(rc);
        log(fmt::format("{} {} -> {} {} ms{}", request.method, shown_url, reason, ms, attempt_note));
        if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL)
          throw Error(ErrorKind::Invalid,
                      fmt::format("{} {}: {}", request.method, origin, errbuf[0] ? errbuf : curl_easy_strerror(rc)));
        const bool retry = attempt < max_attempts && !partial_sink &&
                           (connect_phase_error(rc) || (request.idempotent && transient_error(rc)));
        if (!retry) {
          throw Error(ErrorKind::Unavailable,
                      fmt::format("{} {}: {} ({}){}", request.method, origin, reason,
                                  errbuf[0] ? errbuf : curl_easy_strerror(rc),
                                  attempt > 1 ? fmt::format(", after {} attempts", attempt) : ""));
        }
        if (at.sink_bytes > 0) request.sink->restart();
        sleep(backoff(attempt, nullptr));
        continue;
      }

      HttpResponse& resp = at.response;
      resp.attempts = attempt;
      log(fmt::format("{} {} {} {} ms{}", request.method, shown_url, resp.status, ms, attempt_note));
      const bool failed = resp.status < 200 || resp.status >= 300;
      const bool retry_status =
          request.idempotent && failed && (retryable_status(resp) || (request.retry_if && request.retry_if(resp)));
      if (retry_status && attempt < max_attempts) {
        sleep(backoff(attempt, &resp));
        continue;
      }
      return std::move(resp);
    }
  }
};

HttpClient::HttpClient(HttpOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;
HttpResponse HttpClient::send(const HttpRequest& request) { return impl_->send(request); }
const HttpOptions& HttpClient::options() const { return impl_->options; }

HttpClientPool::HttpClientPool(HttpOptions options) : options_(std::move(options)) {}
HttpClientPool::~HttpClientPool() = default;

HttpClientPool::Lease::Lease(HttpClientPool* pool, std::unique_ptr<HttpClient> client)
    : pool_(pool), client_(std::move(client)) {}
HttpClientPool::Lease::Lease(Lease&& other) noexcept : pool_(other.pool_), client_(std::move(other.client_)) {}
HttpClientPool::Lease::~Lease() {
  if (client_) pool_->release(std::move(client_));
}

HttpClientPool::Lease HttpClientPool::acquire() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto client = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(client));
    }
  }
  return Lease(this, std::make_unique<HttpClient>(options_));
}

void HttpClientPool::release(std::unique_ptr<HttpClient> client) {
  std::lock_guard lock(mutex_);
  idle_.push_back(std::move(client));
}

}  // namespace sacker::net
