// A small S3 client on the HTTP/SigV4/credentials layer, for the S3 store and
// ledger. Only what they need: objects (HEAD, GET, ranged GET, PUT from memory or
// a file range, DELETE), ListObjectsV2, multipart uploads, presigned GETs and
// bucket creation.
//
// Contract in brief:
// - Addressing: path style (endpoint/bucket/key) for a custom endpoint
//   (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, profile endpoint_url) and for bucket
//   names with dots; virtual-host style (bucket.s3.region.amazonaws.com) for AWS.
// - Every request is signed (SigV4, service "s3") and carries
//   x-amz-content-sha256: the body's real sha256 for bodies in memory, the hash the
//   caller gives for file bodies (RGW and AWS then verify the bytes).
// - Keys are percent-encoded as AWS wants (all but A-Za-z0-9-._~, '/' raw); query
//   parameters are sorted and encoded; what is signed is what is sent.
// - Errors: absent is nullopt/false where the method says so; otherwise one
//   sacker::Error whose message starts with "s3://bucket/key: " and carries the
//   S3 error code, never a secret: 403 -> Denied, NoSuchBucket -> NotFound, 5xx,
//   429 and SlowDown (after the HTTP layer's retries) -> Unavailable, 412 ->
//   Conflict unless the method reports it as a result, payload hash mismatches
//   (XAmzContentSHA256Mismatch, BadDigest) -> Integrity, other 4xx -> Invalid.
// Thread-safety: all methods may be called from several threads at once; each
// request takes a connection from an internal pool (connections are reused).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "aws/aws_config.h"
#include "aws/aws_credentials.h"
#include "net/http.h"
#include "sacker/uri.h"

namespace sacker::aws {

class S3Client;

struct S3ObjectInfo {
  std::uint64_t size = 0;          // the whole object's size (also for ranged GETs)
  std::string etag;                // as the server sent it (usually quoted)
  std::int64_t last_modified = 0;  // Unix seconds, 0 if unknown
  net::HttpHeaders headers;        // all response headers (x-amz-meta-*, ...)
};

struct S3Object {
  S3ObjectInfo info;
  std::string body;
};

struct S3ListRequest {
  std::string prefix;
  std::string delimiter;
  std::string start_after;
  std::string continuation_token;
  int max_keys = 0;  // 0: the server's default (1000)
};

struct S3ListEntry {
  std::string key;
  std::uint64_t size = 0;
  std::int64_t last_modified = 0;  // Unix seconds
  std::string etag;
};

struct S3ListPage {
  std::vector<S3ListEntry> objects;
  std::vector<std::string> common_prefixes;
  std::string next_continuation_token;  // empty: this was the last page
};

struct S3PutOptions {
  // Extra headers (Content-Type, If-None-Match, x-amz-meta-*, x-amz-checksum-*).
  net::HttpHeaders headers;
  // Lower-case hex sha256 of the body. Required for file bodies; computed here
  // for bodies in memory when empty.
  std::string payload_sha256;
  // Upload progress (see net::HttpRequest::on_upload).
  std::function<void(std::uint64_t sent)> on_upload;
};

struct S3PutResult {
  // false: the server answered 412 Precondition Failed (If-None-Match: * on an
  // existing key, or another precondition); nothing was written by this call.
  bool written = false;
  // The HTTP layer sent the request more than once: a 412 may then be the answer
  // to our own earlier attempt that did reach the server.
  bool retried = false;
  std::string etag;
};

struct S3CompletedPart {
  int number = 0;
  std::string etag;
  std::string checksum_sha256;  // base64; sent when the upload was created with ChecksumAlgorithm SHA256
};

// One part of ListParts.
struct S3Part {
  int number = 0;
  std::string etag;
  std::uint64_t size = 0;
  std::string checksum_sha256;  // base64, where the server keeps it (AWS; not RGW 16)
};

// One incomplete multipart upload of ListMultipartUploads.
struct S3MultipartUpload {
  std::string key;
  std::string upload_id;
  std::int64_t initiated = 0;  // Unix seconds, 0 if unknown
};

struct S3ClientOptions {
  net::HttpOptions http;  // retries, timeouts, log hook; ca_bundle defaults to AwsConfig's
};

class S3Client {
 public:
  // Region, endpoint, CA bundle and credentials from the environment and the
  // AWS shared files, as the AWS CLI resolves them.
  static std::shared_ptr<S3Client> from_environment(S3ClientOptions options = {});

  S3Client(const AwsConfig& config, std::shared_ptr<AwsCredentialsProvider> credentials, S3ClientOptions options = {});
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  const std::string& region() const { return region_; }
  const std::string& endpoint() const { return endpoint_; }
  bool path_style() const { return path_style_; }

  // "s3://bucket/key" (or "s3://bucket/" for an empty key), for messages.
  static std::string display(const std::string& bucket, const std::string& key);
  // The request URL of an object (no query).
  std::string object_url(const std::string& bucket, const std::string& key) const;

  // HEAD. nullopt if the object does not exist (404). A 403 throws Error(Denied):
  // callers that hold write-only credentials treat that as "cannot tell".
  std::optional<S3ObjectInfo> head(const std::string& bucket, const std::string& key);

  // GET of the whole object into memory (small objects: ledger records).
  // nullopt if it does not exist. An object larger than `max_bytes` throws
  // Error(Invalid) naming it (hostile content must not exhaust memory).
  std::optional<S3Object> get(const std::string& bucket, const std::string& key,
                              std::size_t max_bytes = std::size_t(-1));

  // GET of bytes [first, last] (inclusive; last = UINT64_MAX: to the end) into
  // `write`. `restart` is called before a retry that follows a partly delivered
  // body: the receiver must drop what it got. Returns the object's info (size =
  // the whole object's size), nullopt if the object does not exist. A range that
  // starts past the end (e.g. any range of an empty object) returns the info with
  // nothing written and `size` 0 when the server does not say more. A 206 whose
  // Content-Range does not start at `first` is Error(Unavailable). With `if_match`
  // (an ETag as stat/head returned it) the GET carries If-Match, and an object that
  // changed since is Error(Conflict) (412), with nothing written.
  std::optional<S3ObjectInfo> get_range(const std::string& bucket, const std::string& key, std::uint64_t first,
                                        std::uint64_t last, const std::function<void(const char*, std::size_t)>& write,
                                        const std::function<void()>& restart, const std::string& if_match = {});

  // PUT from memory / from a file range. See S3PutResult for 412.
  S3PutResult put(const std::string& bucket, const std::string& key, std::string body, S3PutOptions options = {});
  S3PutResult put_file(const std::string& bucket, const std::string& key, const net::FileRange& body,
                       S3PutOptions options);

  // CopyObject of an object onto itself with its metadata replaced by `headers`:
  // gives it a new Last-Modified without moving its bytes through the client.
  // Objects up to 5 GiB (S3's single-copy limit).
  void touch(const std::string& bucket, const std::string& key, const net::HttpHeaders& headers);

  // DeleteObject. S3 answers the same whether or not the key existed.
  void remove(const std::string& bucket, const std::string& key);

  // One ListObjectsV2 page.
  S3ListPage list_page(const std::string& bucket, const S3ListRequest& request);
  // Every page in order; `on_page` returns false to stop early.
  void list_all(const std::string& bucket, S3ListRequest request, const std::function<bool(S3ListPage&)>& on_page);

  // Multipart upload (s3_multipart.cpp). `headers` of create: Content-Type,
  // x-amz-checksum-algorithm, x-amz-meta-*...
  std::string create_multipart(const std::string& bucket, const std::string& key, const net::HttpHeaders& headers);
  // Uploads one part from a file range, signed with its sha256 (the server checks
  // the bytes against it). `headers`: x-amz-checksum-sha256... Returns its ETag.
  // An upload that no longer exists is Error(NotFound) (NoSuchUpload).
  std::string upload_part(const std::string& bucket, const std::string& key, const std::string& upload_id,
                          int part_number, const net::FileRange& body, const std::string& sha256_hex,
                          const net::HttpHeaders& headers = {});
  // Completes an upload. `headers`: e.g. If-None-Match: * (AWS honours it; RGW
  // ignores it). written=false on 412. An error document inside a 200 answer is
  // treated as the error it names.
  S3PutResult complete_multipart(const std::string& bucket, const std::string& key, const std::string& upload_id,
                                 const std::vector<S3CompletedPart>& parts, const net::HttpHeaders& headers = {});
  // AbortMultipartUpload; an upload that is gone already is fine.
  void abort_upload(const std::string& bucket, const std::string& key, const std::string& upload_id);
  // Best effort: never throws.
  void abort_multipart(const std::string& bucket, const std::string& key, const std::string& upload_id) noexcept;
  // Every part of an upload (ListParts, all pages); nullopt if the upload is gone
  // (NoSuchUpload). PutObject-only credentials get Error(Denied).
  std::optional<std::vector<S3Part>> list_parts(const std::string& bucket, const std::string& key,
                                                const std::string& upload_id);
  // Every incomplete multipart upload under `prefix` (ListMultipartUploads, all pages).
  std::vector<S3MultipartUpload> list_multipart_uploads(const std::string& bucket, const std::string& prefix);

  // A presigned GET URL valid for `expires` (1 s .. 7 days).
  std::string presign_get(const std::string& bucket, const std::string& key, std::chrono::seconds expires);

  // CreateBucket; fine if we own it already. Error(Conflict) if someone else does.
  void create_bucket(const std::string& bucket);

  // DeleteObject with preconditions in `headers` (If-Match: <etag>). false on 412:
  // the precondition failed and nothing was deleted. A server that ignores the
  // header (RadosGW 16 does, tested) deletes unconditionally.
  bool remove_conditional(const std::string& bucket, const std::string& key, const net::HttpHeaders& headers);

 private:
  net::HttpResponse send(net::HttpRequest request, const std::string& payload_sha256);
  std::string url(const std::string& bucket, const std::string& key, const std::string& query) const;
  [[noreturn]] void fail(const net::HttpResponse& response, const std::string& bucket, const std::string& key) const;
  S3PutResult put_result(const net::HttpResponse& response, const std::string& bucket, const std::string& key) const;

  std::shared_ptr<AwsCredentialsProvider> credentials_;
  std::string region_;
  std::string endpoint_;  // scheme://host[:port][/base], no trailing '/'
  bool path_style_ = true;
  std::unique_ptr<net::HttpClientPool> pool_;
};

// The process-wide client built from the environment (so a ledger and a store
// share connections and resolve credentials once).
std::shared_ptr<S3Client> shared_s3_client();

// The query of a request: (name, value) pairs, encoded and sorted as the signer
// wants them (it canonicalises again; the result is the same).
std::string make_query(std::vector<std::pair<std::string, std::string>> params);

// Lower-case hex of a 64-hex-digit sha256 -> base64 of the raw 32 bytes (for
// x-amz-checksum-sha256).
std::string sha256_hex_to_base64(const std::string& hex);

// The <Code> of an S3 error document, or "" if the body is not one.
std::string s3_error_code(const std::string& body);

// The page a ListObjectsV2 answer body describes (list_page's parser; pure, for
// tests and fuzzing). Error(Unavailable) "<what>: malformed ListObjectsV2 answer
// from <host> (<why>)" if the body is not one.
S3ListPage parse_list_page(const std::string& body, const std::string& what, const std::string& host);

}  // namespace sacker::aws
