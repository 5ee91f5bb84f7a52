// The store: blobs addressed only by their sha256 (64 lowercase hex digits).
//
// Contract for every backend (checked by tests/conformance/store_conformance.cpp):
// - The store never holds bytes under a sha they don't hash to (invariant 4):
//   `put_file` verifies, or lets the server verify, the content against the sha
//   before the blob becomes visible under it.
// - `put_file` of a blob that is already there is fine (OK not to upload again,
//   OK to overwrite with the same bytes).
// - A partially written blob is never visible (temp + rename, multipart complete,
//   or a single PUT).
// - Absent is not failed: `contains` answers nullopt when it cannot tell (a
//   write-only credential gets 403 on HEAD); `get` of a missing blob throws
//   Error(NotFound); denied/unreachable throw Denied/Unavailable.
// Thread-safety: one instance is used from one thread at a time (backends may use
// threads inside a call).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sacker/sha256.h"

namespace sacker {

// Reports transfer progress; called from the calling thread only.
class Progress {
 public:
  virtual ~Progress() = default;
  virtual void start(std::uint64_t total_bytes) = 0;
  virtual void advance(std::uint64_t bytes) = 0;
  virtual void finish() = 0;
};

// Where `get` writes a blob, in order, from offset 0.
class BlobSink {
 public:
  virtual ~BlobSink() = default;
  virtual void write(const char* data, std::size_t size) = 0;
  // Optional early copy of bytes [offset, offset + size) of the blob: a store that
  // fetches parts in parallel hands each part here as soon as it is complete, out of
  // order and from its worker threads (concurrently), and returns from it before
  // write() is given any of those bytes in order. A sink that persists them (the
  // resumable download) keeps them across a kill; they are unverified until the
  // in-order bytes hash to the blob. Default: ignored.
  virtual void arrived(std::uint64_t offset, const char* data, std::size_t size) {
    (void)offset, (void)data, (void)size;
  }
};

struct BlobInfo {
  std::string sha256;
  std::uint64_t size = 0;
  std::int64_t modified = 0;  // Unix seconds: when the blob was (last) written
  std::string etag;           // the store's version tag of the object (S3 ETag, ...); may be empty
};

// An upload the store's server keeps unfinished (an S3 multipart upload that a
// killed `add` left for the next one to resume).
struct IncompleteUpload {
  std::string key;
  std::string upload_id;
  std::int64_t initiated = 0;  // Unix seconds, 0 if unknown
};

// Transfer knobs (--parallel, --part-size, --stall-timeout, or the config file's
// "transfer"); 0 means the backend's default.
struct TransferOptions {
  std::size_t parallel = 0;        // parts in flight at once
  std::uint64_t part_size = 0;     // bytes per part (upload and ranged download)
  std::int64_t stall_timeout = 0;  // seconds without progress before a part is retried
};

class Store {
 public:
  virtual ~Store() = default;

  // Creates whatever the backend needs (directories, bucket). Idempotent.
  virtual void init() = 0;

  // true/false if the blob is there or not; nullopt if the store cannot tell.
  virtual std::optional<bool> contains(const std::string& sha256) = 0;

  // Stores the file at `source` (`size` bytes, expected to hash to `sha256`) unless
  // the blob is already there. Returns true if bytes were uploaded, false if the
  // blob was already stored (backends that can, refresh its modification time so
  // gc's grace period protects it; see Client::gc). Throws Error(Integrity) if the
  // content does not hash to `sha256`.
  virtual bool put_file(const std::string& sha256, const std::filesystem::path& source, std::uint64_t size,
                        Progress* progress) = 0;

  // The part size whose digests put_digested_file uses for a blob of `size` bytes
  // (an S3 multipart upload's part size), or 0 (the default) if it uses none.
  virtual std::uint64_t part_digest_size(std::uint64_t size);

  // put_file of a file hashed by the caller into `digest` (its sha256 and size, and
  // the sha256 of each part when digest.part_size is part_digest_size(digest.size);
  // digests of another part size are ignored). The part digests must come from the
  // same read as the sha256 (PartedSha256): a store whose server checks every
  // part's bytes against them then need not read the file to hash it again, and a
  // file changed since it was hashed is refused part by part (Error(Integrity)).
  // Default: put_file.
  virtual bool put_digested_file(const std::filesystem::path& source, const FileDigest& digest, Progress* progress);

  // Size, modification time and ETag of one blob; nullopt if it is absent.
  // Throws Error(Denied) when the store cannot tell (write-only credentials).
  virtual std::optional<BlobInfo> stat(const std::string& sha256) = 0;

  // Writes the blob to `sink` from the first byte to the last. The caller verifies
  // the sha256 of what it receives. Throws Error(NotFound) if the blob is absent.
  virtual void get(const std::string& sha256, BlobSink& sink, Progress* progress) = 0;

  // Writes bytes [offset, offset + length) of the blob to `sink`, in order (for
  // resumed downloads; like get, a long range may come in parallel parts, each
  // handed to sink.arrived() as it completes). If `if_match` is not empty and the
  // blob's ETag differs, throws Error(Conflict) (the object changed). A server answer
  // that is not exactly the requested range (a 200 to a Range request, a wrong
  // Content-Range, too few bytes) throws Error(Unavailable) after retries and
  // never reaches `sink` as if it were the range. Error(Invalid) for a range past
  // the end; Error(NotFound) if the blob is absent.
  virtual void get_range(const std::string& sha256, std::uint64_t offset, std::uint64_t length,
                         const std::string& if_match, BlobSink& sink) = 0;

  // Removes a blob. Returns false if it was not there.
  virtual bool remove(const std::string& sha256) = 0;

  // Every blob in the store (for gc), in no particular order.
  virtual std::vector<BlobInfo> list() = 0;

  // A URL that lets anyone GET the blob for `expires_seconds`, or nullopt if the
  // backend has no such thing.
  virtual std::optional<std::string> presigned_get_url(const std::string& sha256, std::int64_t expires_seconds);

  // Applies transfer knobs (ignored by backends without them). Error(Invalid) for
  // a value the backend cannot take (an S3 upload part under 5 MiB).
  virtual void set_transfer_options(const TransferOptions& options);
  // Incomplete uploads under the store's location (`sacker uploads`); none for
  // backends without them. abort_upload discards one (gone already is fine).
  virtual std::vector<IncompleteUpload> incomplete_uploads();
  virtual void abort_upload(const IncompleteUpload& upload);
  // A description for messages: the URI with any secret removed.
  virtual std::string describe() const = 0;
};

struct Uri;

// A store backend's entry in the scheme table: declared next to its factory in
// the backend's header, collected by the registry (src/client/registry.cpp).
struct StoreScheme {
  const char* scheme;   // "file"
  const char* example;  // "file:///path/to/blobs"
  std::unique_ptr<Store> (*open)(const Uri& uri);
};

}  // namespace sacker
