// A small Azure Blob Storage client on the HTTP layer, for the azure store: block
// blobs (Put Blob, Put Block, Put Block List), Get Blob with x-ms-range, Get Blob
// Properties, Set Blob Metadata, Delete Blob, List Blobs, Create Container and
// read-only SAS URLs.
//
// Contract in brief:
// - Every request carries x-ms-version and is authorized with Shared Key (signed
//   again at each attempt, with a fresh x-ms-date) or carries the SAS token.
// - Blob names are percent-encoded ('/' kept) in the URL; what is signed is what is sent.
// - Errors: absent is nullopt/false where a method says so; otherwise one
//   sacker::Error whose message starts with "azure://account/container/blob: " and
//   names the service's error code (x-ms-error-code or the <Code> of the error
//   document), never a key, a SAS signature or the service's own message for a
//   refused signature (it quotes the string it signed): 401/403 (AuthenticationFailed,
//   AuthorizationFailure, ...) -> Denied, ContainerNotFound/BlobNotFound -> NotFound,
//   Md5Mismatch -> Integrity, 5xx/429/ServerBusy/OperationTimedOut (after the HTTP
//   layer's retries) -> Unavailable, 409/412 -> Conflict unless the method reports it
//   as a result, other 4xx -> Invalid.
// Thread-safety: every method may be called from several threads at once (one
// connection pool; connections are reused).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "azure/azure_account.h"
#include "net/http.h"

namespace sacker::azure {

struct BlobProperties {
  std::uint64_t size = 0;
  std::string etag;                // as the service sent it (quoted)
  std::int64_t last_modified = 0;  // Unix seconds, 0 if unknown
};

struct ListedBlob {
  std::string name;
  BlobProperties properties;
};

struct ListPage {
  std::vector<ListedBlob> blobs;
  std::string next_marker;  // empty: the last page
};

struct PutResult {
  // false: the blob already existed (409 BlobAlreadyExists / 412 to If-None-Match: *).
  bool written = false;
  // The HTTP layer sent the request more than once: "already there" may be our own
  // earlier attempt.
  bool retried = false;
};

// The answer to a ranged Get Blob.
struct RangeAnswer {
  BlobProperties properties;          // size = the whole blob's size (from Content-Range)
  std::uint64_t first = 0, last = 0;  // the range the service says it sent (inclusive)
  bool partial = false;               // 206 (false: a 200 with the whole blob)
  bool unsatisfiable = false;         // 416: the range starts at or past the end
};

class BlobClient {
 public:
  explicit BlobClient(AzureAccount account, net::HttpOptions http = {});
  ~BlobClient();
  BlobClient(const BlobClient&) = delete;
  BlobClient& operator=(const BlobClient&) = delete;

  const AzureAccount& account() const { return account_; }
  // "azure://account/container/blob", for messages.
  std::string display(const std::string& container, const std::string& blob = "") const;
  std::string blob_url(const std::string& container, const std::string& blob) const;

  // Get Blob Properties (HEAD). nullopt if the blob (or its container) is absent.
  std::optional<BlobProperties> properties(const std::string& container, const std::string& blob);

  // Put Blob of a block blob from memory with If-None-Match: * and Content-MD5
  // (base64 of the body's MD5; the service refuses other bytes).
  PutResult put_blob(const std::string& container, const std::string& blob, std::string body,
                     const std::string& content_md5, const std::function<void(std::uint64_t)>& on_upload = {});
  // Put Block: `block_id` is already base64; `body` is moved in and handed back.
  void put_block(const std::string& container, const std::string& blob, const std::string& block_id, std::string& body,
                 const std::string& content_md5);
  // Put Block List committing `block_ids` (base64, in order) with If-None-Match: *.
  // An InvalidBlockList answer is reported as Error(Conflict): another writer's
  // commit discarded our uncommitted blocks (the caller looks whether the blob is there).
  PutResult put_block_list(const std::string& container, const std::string& blob,
                           const std::vector<std::string>& block_ids);

  // Get Blob of bytes [first, last] (inclusive) with x-ms-range, If-Match when
  // `if_match` is not empty (412 -> Error(Conflict)). `write` receives the body;
  // `restart` is called before a retry that follows a partly delivered body. nullopt
  // if the blob is absent.
  std::optional<RangeAnswer> get_range(const std::string& container, const std::string& blob, std::uint64_t first,
                                       std::uint64_t last, const std::string& if_match,
                                       const std::function<void(const char*, std::size_t)>& write,
                                       const std::function<void()>& restart);

  // Set Blob Metadata (replaces all metadata; changes Last-Modified and the ETag).
  // false if the blob is absent.
  bool set_metadata(const std::string& container, const std::string& blob, const net::HttpHeaders& metadata);

  // Delete Blob (and its snapshots). false if it was absent. With `if_match`, a blob
  // whose ETag differs is kept: Error(Conflict).
  bool remove(const std::string& container, const std::string& blob, const std::string& if_match = "");

  // Delete Blob with If-Unmodified-Since `not_after` (Unix seconds) and, when given,
  // If-Match `if_match`: the service removes the blob only if its Last-Modified is at
  // most that (and its ETag is that one), atomically with any write (412
  // ConditionNotMet: it is kept). Last-Modified has whole seconds: only the ETag tells
  // a write in the same second.
  enum class ConditionalDelete { Removed, Absent, Kept };
  ConditionalDelete remove_if_unmodified_since(const std::string& container, const std::string& blob,
                                               std::int64_t not_after, const std::string& if_match = "");

  // One List Blobs page.
  ListPage list_page(const std::string& container, const std::string& prefix, const std::string& delimiter,
                     const std::string& marker);

  // Create Container; fine if it exists. A container that exists answers first to
  // Get Container Properties (so a SAS that may not create still passes).
  void create_container(const std::string& container);

  // A read-only (sp=r) blob service SAS URL valid from `now` for `expires`.
  // Error(Invalid) without an account key (a SAS token cannot sign another).
  std::string read_sas_url(const std::string& container, const std::string& blob, std::chrono::seconds expires,
                           std::chrono::system_clock::time_point now) const;

 private:
  // Adds x-ms-version and the authorization (re-signed at each attempt) to `request`, sends it.
  net::HttpResponse send(net::HttpRequest& request, std::uint64_t content_length);
  std::string url(const std::string& container, const std::string& blob, const std::string& query) const;
  [[noreturn]] void fail(const net::HttpResponse& response, const std::string& container,
                         const std::string& blob) const;
  PutResult put_result(const net::HttpResponse& response, const std::string& container, const std::string& blob) const;

  AzureAccount account_;
  std::unique_ptr<net::HttpClientPool> pool_;
};

// The error code of an answer: x-ms-error-code, else the <Code> of the body's error
// document, else "".
std::string error_code(const net::HttpResponse& response);

// The page a List Blobs answer describes (list_page's parser; pure, for tests).
// Error(Unavailable) naming `what` if the body is not one.
ListPage parse_list_page(const std::string& body, const std::string& what);

// base64 of MD5(data): the Content-MD5 of a body.
std::string content_md5(std::string_view data);

}  // namespace sacker::azure
