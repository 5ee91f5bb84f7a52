#include "aws/s3_client.h"

#include <fmt/core.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <ctime>
#include <pugixml.hpp>

#include "aws/sigv4.h"
#include "core/codec.h"
#include "net/http_status.h"
#include "sacker/config.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker::aws {

std::string make_query(std::vector<std::pair<std::string, std::string>> params) {
  for (auto& [n, v] : params) {
    n = uri_encode(n, false);
    v = uri_encode(v, false);
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [n, v] : params) out += (out.empty() ? "" : "&") + n + "=" + v;
  return out;
}

namespace {

std::int64_t parse_iso_time(const std::string& s) {
  try {
    return std::chrono::duration_cast<std::chrono::seconds>(parse_iso8601_utc(s).time_since_epoch()).count();
  } catch (const Error&) {
    return 0;
  }
}

S3ObjectInfo info_from(const net::HttpResponse& r) {
  S3ObjectInfo info;
  if (const auto* cl = r.header("Content-Length")) info.size = codec::parse_decimal(*cl).value_or(0);
  if (const auto* et = r.header("ETag")) info.etag = *et;
  if (const auto* lm = r.header("Last-Modified")) info.last_modified = codec::parse_http_date(*lm).value_or(0);
  info.headers = r.headers;
  return info;
}

struct ErrorDoc {
  std::string code, message, region;
};

ErrorDoc parse_error_doc(const std::string& body) {
  ErrorDoc d;
  if (body.empty()) return d;
  pugi::xml_document doc;
  if (!doc.load_buffer(body.data(), body.size())) return d;
  auto root = doc.child("Error");
  if (!root) return d;
  d.code = root.child_value("Code");
  d.message = root.child_value("Message");
  d.region = root.child_value("Region");
  return d;
}

}  // namespace

std::string sha256_hex_to_base64(const std::string& hex) {
  if (!is_valid_sha256_hex(hex)) throw Error(ErrorKind::Internal, "sha256_hex_to_base64: not a sha256");
  unsigned char raw[32];
  for (int i = 0; i < 32; ++i) {
    auto nib = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
    raw[i] = static_cast<unsigned char>(nib(hex[2 * i]) << 4 | nib(hex[2 * i + 1]));
  }
  unsigned char out[48];
  int n = EVP_EncodeBlock(out, raw, 32);
  return std::string(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
}

std::string s3_error_code(const std::string& body) { return parse_error_doc(body).code; }

S3ListPage parse_list_page(const std::string& body, const std::string& what, const std::string& host) {
  auto malformed = [&](const char* why) {
    return Error(ErrorKind::Unavailable,
                 fmt::format("{}: malformed ListObjectsV2 answer from {} ({})", what, host, why));
  };
  pugi::xml_document doc;
  if (!doc.load_buffer(body.data(), body.size())) throw malformed("not XML");
  auto root = doc.child("ListBucketResult");
  if (!root) throw malformed("no ListBucketResult");
  S3ListPage page;
  for (auto c : root.children("Contents")) {
    S3ListEntry e;
    e.key = c.child_value("Key");
    e.size = codec::parse_decimal(c.child_value("Size")).value_or(0);
    e.last_modified = parse_iso_time(c.child_value("LastModified"));
    e.etag = c.child_value("ETag");
    page.objects.push_back(std::move(e));
  }
  for (auto p : root.children("CommonPrefixes")) page.common_prefixes.emplace_back(p.child_value("Prefix"));
  if (std::string(root.child_value("IsTruncated")) == "true") {
    page.next_continuation_token = root.child_value("NextContinuationToken");
    if (page.next_continuation_token.empty()) throw malformed("truncated without a continuation token");
  }
  return page;
}

std::shared_ptr<S3Client> shared_s3_client() {
  static std::mutex mutex;
  static std::shared_ptr<S3Client> client;
  std::lock_guard lock(mutex);
  if (!client) client = S3Client::from_environment();
  return client;
}

std::shared_ptr<S3Client> S3Client::from_environment(S3ClientOptions options) {
  AwsConfig config = AwsConfig::load(process_env());
  AwsCredentialsOptions cred_options;
  cred_options.http.log = options.http.log;
  auto credentials = make_default_credentials_provider(config, cred_options);
  return std::make_shared<S3Client>(config, std::move(credentials), std::move(options));
}

S3Client::S3Client(const AwsConfig& config, std::shared_ptr<AwsCredentialsProvider> credentials,
                   S3ClientOptions options)
    : credentials_(std::move(credentials)), region_(config.region()) {
  AwsEndpoint ep = config.endpoint("s3");
  endpoint_ = ep.url;
  while (!endpoint_.empty() && endpoint_.back() == '/') endpoint_.pop_back();
  path_style_ = ep.custom;
  net::parse_url(endpoint_);  // Error(Invalid) for a malformed endpoint, now rather than at the first request
  if (options.http.ca_bundle.empty()) options.http.ca_bundle = config.ca_bundle();
  pool_ = std::make_unique<net::HttpClientPool>(std::move(options.http));
}

S3Client::~S3Client() = default;

std::string S3Client::display(const std::string& bucket, const std::string& key) {
  return "s3://" + bucket + "/" + printable(key);
}

std::string S3Client::url(const std::string& bucket, const std::string& key, const std::string& query) const {
  std::string path = key.empty() ? std::string() : "/" + uri_encode(key, true);
  std::string out;
  if (path_style_ || bucket.find('.') != std::string::npos) {
    out = endpoint_ + "/" + bucket + path;
  } else {
    auto sep = endpoint_.find("://");
    out = endpoint_.substr(0, sep + 3) + bucket + "." + endpoint_.substr(sep + 3) + (path.empty() ? "/" : path);
  }
  if (!query.empty()) out += "?" + query;
  return out;
}

std::string S3Client::object_url(const std::string& bucket, const std::string& key) const {
  return url(bucket, key, "");
}

net::HttpResponse S3Client::send(net::HttpRequest request, const std::string& payload_sha256) {
  request.sign = [creds = credentials_, region = region_, payload = payload_sha256](net::HttpRequest& r) {
    SigningParams p;
    p.credentials = creds->get();
    p.region = region;
    p.service = "s3";
    p.time = std::chrono::system_clock::now();
    sign_request(r, payload, p);
  };
  auto client = pool_->acquire();
  return client->send(request);
}

void S3Client::fail(const net::HttpResponse& r, const std::string& bucket, const std::string& key) const {
  ErrorDoc doc = parse_error_doc(r.body);
  const std::string target = display(bucket, key);
  const std::string code = doc.code.empty() ? fmt::format("HTTP {}", r.status) : printable(doc.code);
  std::string detail = code;
  if (!doc.message.empty()) detail += ": " + printable(doc.message);
  const auto* bucket_region = r.header("x-amz-bucket-region");
  if (bucket_region && *bucket_region != region_ && (r.status == 301 || r.status == 400 || r.status == 307))
    throw Error(ErrorKind::Invalid, fmt::format("{}: the bucket is in region {}, not {}: set AWS_REGION={}", target,
                                                printable(*bucket_region), region_, printable(*bucket_region)));
  if (r.status == 401 || r.status == 403)
    throw Error(ErrorKind::Denied, fmt::format("{}: access denied ({})", target, detail));
  if (r.status == 404) {
    if (doc.code == "NoSuchBucket")
      throw Error(ErrorKind::NotFound,
                  fmt::format("s3://{}: no such bucket (NoSuchBucket; `sacker init` creates it)", bucket));
    throw Error(ErrorKind::NotFound, fmt::format("{}: not found ({})", target, detail));
  }
  if (r.status == 412) throw Error(ErrorKind::Conflict, fmt::format("{}: precondition failed ({})", target, code));
  if (doc.code == "XAmzContentSHA256Mismatch" || doc.code == "BadDigest" || doc.code == "InvalidDigest")
    throw Error(
        ErrorKind::Integrity,
        fmt::format("{}: the server refused the bytes: they do not hash to the declared sha256 ({})", target, code));
  const std::string hint = fmt::format(" and AWS_REGION ({})", region_);
  net::throw_for_status(r, {.target = target,
                            .detail = detail,
                            .endpoint = endpoint_,
                            .redirect_hint = hint,
                            .busy = doc.code == "SlowDown" || doc.code == "RequestTimeout"});
}

std::optional<S3ObjectInfo> S3Client::head(const std::string& bucket, const std::string& key) {
  net::HttpRequest req;
  req.method = "HEAD";
  req.url = url(bucket, key, "");
  req.idempotent = true;
  net::HttpResponse r = send(std::move(req), std::string(kEmptySha256));
  if (r.status == 200) return info_from(r);
  if (r.status == 404) return std::nullopt;  // HEAD has no body: NoSuchBucket shows later, on the write
  fail(r, bucket, key);
}

std::optional<S3Object> S3Client::get(const std::string& bucket, const std::string& key, std::size_t max_bytes) {
  net::HttpRequest req;
  req.method = "GET";
  req.url = url(bucket, key, "");
  req.idempotent = true;
  std::string body;
  req.sink = net::ResponseSink{
      [&](const char* d, std::size_t n) {
        if (n > max_bytes - body.size())
          throw Error(ErrorKind::Invalid, fmt::format("{}: larger than {} bytes", display(bucket, key), max_bytes));
        body.append(d, n);
      },
      [&] { body.clear(); }};
  net::HttpResponse r = send(std::move(req), std::string(kEmptySha256));
  if (r.status == 200) {
    S3Object obj;
    obj.info = info_from(r);
    obj.info.size = body.size();
    obj.body = std::move(body);
    return obj;
  }
  if (r.status == 404 && s3_error_code(r.body) != "NoSuchBucket") return std::nullopt;
  fail(r, bucket, key);
}

std::optional<S3ObjectInfo> S3Client::get_range(const std::string& bucket, const std::string& key, std::uint64_t first,
                                                std::uint64_t last,
                                                const std::function<void(const char*, std::size_t)>& write,
                                                const std::function<void()>& restart, const std::string& if_match) {
  net::HttpRequest req;
  req.method = "GET";
  req.url = url(bucket, key, "");
  req.idempotent = true;
  req.headers.emplace_back(
      "Range", last == UINT64_MAX ? fmt::format("bytes={}-", first) : fmt::format("bytes={}-{}", first, last));
  if (!if_match.empty()) req.headers.emplace_back("If-Match", if_match);
  req.sink = net::ResponseSink{write, restart};
  net::HttpResponse r = send(std::move(req), std::string(kEmptySha256));
  if (r.status == 206 || r.status == 200) {
    S3ObjectInfo info = info_from(r);
    if (r.status == 206) {
      // The answer must be the range asked for, clipped at the object's end (a
      // Content-Range that contradicts itself parses as none: net/http.h).
      const net::ContentRange range = net::content_range(r);
      const auto& total = range.total;
      if (!total || range.first != first || !range.last || *range.last != std::min<std::uint64_t>(last, *total - 1))
        throw Error(ErrorKind::Unavailable,
                    fmt::format("{}: ranged GET from byte {} answered 206 without a matching Content-Range",
                                display(bucket, key), first));
      info.size = *total;
    }
    return info;
  }
  if (r.status == 412 && !if_match.empty())
    throw Error(ErrorKind::Conflict,
                fmt::format("{}: changed since it was first read (its ETag no longer matches)", display(bucket, key)));
  if (r.status == 416) {  // the range starts at or past the end (e.g. an empty object)
    S3ObjectInfo info = info_from(r);
    info.size = net::content_range(r).total.value_or(0);
    return info;
  }
  if (r.status == 404 && s3_error_code(r.body) != "NoSuchBucket") return std::nullopt;
  fail(r, bucket, key);
}

// 200: written; 412: a precondition (If-None-Match) held nothing back; else the error.
S3PutResult S3Client::put_result(const net::HttpResponse& r, const std::string& bucket, const std::string& key) const {
  S3PutResult result;
  result.retried = r.attempts > 1;
  if (r.status == 200) {
    result.written = true;
    if (const auto* et = r.header("ETag")) result.etag = *et;
    return result;
  }
  if (r.status == 412) return result;
  fail(r, bucket, key);
}

S3PutResult S3Client::put(const std::string& bucket, const std::string& key, std::string body, S3PutOptions options) {
  net::HttpRequest req;
  req.method = "PUT";
  req.url = url(bucket, key, "");
  req.headers = std::move(options.headers);
  req.idempotent = true;
  std::string payload = options.payload_sha256.empty() ? sha256_hex(body) : options.payload_sha256;
  req.body = std::move(body);
  req.on_upload = std::move(options.on_upload);
  net::HttpResponse r = send(std::move(req), payload);
  return put_result(r, bucket, key);
}

S3PutResult S3Client::put_file(const std::string& bucket, const std::string& key, const net::FileRange& body,
                               S3PutOptions options) {
  if (options.payload_sha256.empty()) throw Error(ErrorKind::Internal, "S3Client::put_file needs the body's sha256");
  net::HttpRequest req;
  req.method = "PUT";
  req.url = url(bucket, key, "");
  req.headers = std::move(options.headers);
  req.idempotent = true;
  req.body_file = body;
  req.on_upload = std::move(options.on_upload);
  net::HttpResponse r = send(std::move(req), options.payload_sha256);
  return put_result(r, bucket, key);
}

void S3Client::touch(const std::string& bucket, const std::string& key, const net::HttpHeaders& headers) {
  net::HttpRequest req;
  req.method = "PUT";
  req.url = url(bucket, key, "");
  req.headers = headers;
  req.headers.emplace_back("x-amz-copy-source", "/" + bucket + "/" + uri_encode(key, true));
  req.headers.emplace_back("x-amz-metadata-directive", "REPLACE");
  req.idempotent = true;
  net::HttpResponse r = send(std::move(req), std::string(kEmptySha256));
  if (r.status == 200 && s3_error_code(r.body).empty()) return;
  if (r.status == 200) r.status = 500;  // an error document inside a 200 (S3 does that for copies)
  fail(r, bucket, key);
}

void S3Client::remove(const std::string& bucket, const std::string& key) {
  net::HttpRequest req;
  req.method = "DELETE";
  req.url = url(bucket, key, "");
  req.idempotent = true;
  net::HttpResponse r = send(std::move(req), std::string(kEmptySha256));
  if (r.status == 204 || r.status == 200) return;
  if (r.status == 404 && s3_error_code(r.body) != "NoSuchBucket") return;
  fail(r, bucket, key);
}

S3ListPage S3Client::list_page(const std::string& bucket, const S3ListRequest& q) {
  std::vector<std::pair<std::string, std::string>> params = {{"list-type", "2"}};
  if (!q.prefix.empty()) params.emplace_back("prefix", q.prefix);
  if (!q.delimiter.empty()) params.emplace_back("delimiter", q.delimiter);
  if (!q.start_after.empty()) params.emplace_back("start-after", q.start_after);
  if (!q.continuation_token.empty()) params.emplace_back("continuation-token", q.continuation_token);
  if (q.max_keys > 0) params.emplace_back("max-keys", std::to_string(q.max_keys));
  net::HttpRequest req;
  req.method = "GET";
  req.url = url(bucket, "", make_query(std::move(params)));
  req.idempotent = true;
  net::HttpResponse r = send(std::move(req), std::string(kEmptySha256));
  if (r.status != 200) fail(r, bucket, q.prefix);
  return parse_list_page(r.body, display(bucket, q.prefix), net::endpoint_host(endpoint_));
}

void S3Client::list_all(const std::string& bucket, S3ListRequest request,
                        const std::function<bool(S3ListPage&)>& on_page) {
  while (true) {
    S3ListPage page = list_page(bucket, request);
    std::string next = page.next_continuation_token;
    if (!on_page(page) || next.empty()) return;
    if (next == request.continuation_token)
      throw Error(ErrorKind::Unavailable, fmt::format("{}: the listing does not advance (same continuation token)",
                                                      display(bucket, request.prefix)));
    request.continuation_token = std::move(next);
  }
}

std::string S3Client::presign_get(const std::string& bucket, const std::string& key, std::chrono::seconds expires) {
  SigningParams p;
  p.credentials = credentials_->get();
  p.region = region_;
  p.service = "s3";
  p.time = std::chrono::system_clock::now();
  return presign_url("GET", object_url(bucket, key), expires, p);
}

void S3Client::create_bucket(const std::string& bucket) {
  {
    net::HttpRequest req;
    req.method = "HEAD";
    req.url = url(bucket, "", "");
    req.idempotent = true;
    net::HttpResponse r = send(std::move(req), std::string(kEmptySha256));
    if (r.status == 200) return;
  }
  net::HttpRequest req;
  req.method = "PUT";
  req.url = url(bucket, "", "");
  req.idempotent = true;
  if (!path_style_ && region_ != "us-east-1")
    req.body = fmt::format(
        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
        codec::xml_escape(region_));
  std::string payload = sha256_hex(req.body);
  net::HttpResponse r = send(std::move(req), payload);
  if (r.status == 200) return;
  std::string code = s3_error_code(r.body);
  if (r.status == 409 && code == "BucketAlreadyOwnedByYou") return;
  if (r.status == 409 && code == "BucketAlreadyExists")
    throw Error(ErrorKind::Conflict,
                fmt::format("s3://{}: the bucket name is taken by another account (BucketAlreadyExists)", bucket));
  fail(r, bucket, "");
}

bool S3Client::remove_conditional(const std::string& bucket, const std::string& key, const net::HttpHeaders& headers) {
  net::HttpRequest req;
  req.method = "DELETE";
  req.url = url(bucket, key, "");
  req.headers = headers;
  // Not repeated after it may have reached the server: a repeat of a delete that
  // landed would answer 412 and hide that it did.
  req.idempotent = false;
  net::HttpResponse r = send(std::move(req), std::string(kEmptySha256));
  if (r.status == 204 || r.status == 200) return true;
  if (r.status == 412) return false;
  if (r.status == 404 && s3_error_code(r.body) != "NoSuchBucket") return true;
  fail(r, bucket, key);
}

}  // namespace sacker::aws
