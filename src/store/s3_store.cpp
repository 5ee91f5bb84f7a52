// s3://bucket[/prefix] — blobs as plain objects under <prefix><sha256 hex> (the
// original sacker's layout), readable by any S3 tool.
//
// How invariant 4 (no bytes under a sha they don't hash to) holds:
// - Single PUT (up to multipart_threshold): x-amz-content-sha256 is the blob's
//   sha256, i.e. the key itself, so the server hashes the body and refuses a
//   mismatch (RGW and AWS: XAmzContentSHA256Mismatch -> Error(Integrity)).
//   x-amz-checksum-sha256 is sent as well (AWS checks it; RGW 16 ignores it).
// - Multipart (store/s3_upload.h, resumable): each part is signed with its own
//   sha256, so the server verifies every part's bytes. The whole-object sha cannot
//   be checked by the server, so the part digests and the sha256 come from one
//   read of the file: the caller's (put_digested_file, Client::add's key hash) or
//   else the upload's own, which aborts before Complete if the sha differs. After
//   Complete it HEADs the object and checks the size. Every download verifies the
//   sha256 anyway (invariant 3).
// Write-only credentials (PutObject only): HEAD answers 403, which means "cannot
// tell"; the upload then goes with If-None-Match: * and a 412 means "already
// there". Every upload uses If-None-Match: * (so concurrent uploaders of one blob
// do not write it twice where the server honours it).
// A blob that is already there is not uploaded again; if its Last-Modified is
// older than an hour it is refreshed by a server-side self-copy, so gc's grace
// period protects it while the add that reuses it records its version.
// Downloads: a first ranged GET of one part learns the size; larger blobs continue
// with parallel ranged GETs, reassembled in order into the sink. Memory is
// bounded by (parts in flight x part size).
#include "store/s3_store.h"

#include <fmt/core.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "aws/s3_client.h"
#include "kit/parallel.h"
#include "kit/upload_progress.h"
#include "sacker/error.h"
#include "sacker/names.h"
#include "sacker/sha256.h"
#include "store/s3_location.h"
#include "store/s3_upload.h"

namespace sacker {
namespace {

using aws::S3Client;

constexpr std::uint64_t kMiB = 1ULL << 20;
constexpr std::uint64_t kGiB = 1ULL << 30;
// S3's limits.
constexpr std::uint64_t kMinPart = 5 * kMiB;
constexpr std::uint64_t kMaxPart = 5 * kGiB;
constexpr std::uint64_t kMaxParts = 10000;
constexpr std::uint64_t kMaxObject = 5ULL << 40;

// Defaults (see bench/README.md for the measurements behind them).
constexpr std::uint64_t kDefaultMultipartThreshold = 64 * kMiB;
constexpr std::uint64_t kDefaultUploadPart = 16 * kMiB;
constexpr std::uint64_t kDefaultDownloadPart = 8 * kMiB;
constexpr std::uint64_t kDefaultConcurrency = 8;
// The HTTP layer's low-speed limit (net::HttpOptions::low_speed_time).
constexpr std::int64_t kDefaultStallSeconds = 30;
// A reused blob older than this gets its Last-Modified refreshed.
constexpr std::int64_t kRefreshAfterSeconds = 3600;

struct Tuning {
  std::uint64_t multipart_threshold = kDefaultMultipartThreshold;
  std::uint64_t part_size = 0;  // 0: derived from the blob's size
  std::uint64_t download_part = kDefaultDownloadPart;
  std::size_t concurrency = kDefaultConcurrency;
  net::HttpHeaders acl;  // x-amz-acl on what we write, if asked for
  std::int64_t refresh_after = kRefreshAfterSeconds;
};

std::uint64_t round_up(std::uint64_t v, std::uint64_t unit) { return (v + unit - 1) / unit * unit; }

class S3Store final : public Store {
 public:
  S3Store(std::shared_ptr<S3Client> client, S3Uri uri, Tuning tuning)
      : client_(std::move(client)), uri_(std::move(uri)), tuning_(tuning) {}

  void init() override { client_->create_bucket(uri_.bucket); }

  std::optional<bool> contains(const std::string& sha256) override {
    try {
      return client_->head(uri_.bucket, key(sha256)).has_value();
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::Denied) return std::nullopt;  // write-only credentials
      throw;
    }
  }

  bool put_file(const std::string& sha256, const std::filesystem::path& source, std::uint64_t size,
                Progress* progress) override {
    return put_digested_file(source, FileDigest{sha256, size, 0, {}}, progress);
  }

  std::uint64_t part_digest_size(std::uint64_t size) override {
    return size > tuning_.multipart_threshold && size <= kMaxObject ? upload_part_size(size) : 0;
  }

  bool put_digested_file(const std::filesystem::path& source, const FileDigest& digest, Progress* progress) override {
    const std::string& sha256 = digest.sha256;
    const std::uint64_t size = digest.size;
    const std::string k = key(sha256);
    if (size > kMaxObject)
      throw Error(ErrorKind::Invalid,
                  fmt::format("cannot store {}: {} bytes is more than S3's 5 TiB object limit", source.string(), size));
    std::optional<aws::S3ObjectInfo> existing;
    try {
      existing = client_->head(uri_.bucket, k);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::Denied) throw;  // write-only credentials: cannot tell, upload below
    }
    if (existing) {
      refresh(k, *existing);
      return false;
    }
    if (size <= tuning_.multipart_threshold) return single_put(sha256, k, source.string(), size, progress);
    return multipart_put(digest, k, source.string(), progress);
  }

  void get(const std::string& sha256, BlobSink& sink, Progress* progress) override {
    const std::string k = key(sha256);
    const std::uint64_t part = tuning_.download_part;
    std::string first;
    auto info = client_->get_range(
        uri_.bucket, k, 0, part - 1, [&](const char* d, std::size_t n) { first.append(d, n); }, [&] { first.clear(); });
    if (!info) throw Error(ErrorKind::NotFound, fmt::format("blob {} is not in {}", sha256, uri_.display));
    const std::uint64_t total = std::max<std::uint64_t>(info->size, first.size());
    download_in_parts(sink, progress, 0, total, std::move(first), part, tuning_.concurrency,
                      [&](std::uint64_t offset, std::uint64_t length, std::string& data) {
                        fetch_part(k, offset, length, total, data);
                      });
  }

  std::optional<BlobInfo> stat(const std::string& sha256) override {
    auto info = client_->head(uri_.bucket, key(sha256));
    if (!info) return std::nullopt;
    return BlobInfo{sha256, info->size, info->last_modified, info->etag};
  }

  // One ranged GET (If-Match when an ETag is given: a changed object is Conflict);
  // only a 206 whose Content-Range starts at `offset` with exactly `length` bytes is
  // delivered, and only once all of them arrived.
  void get_range(const std::string& sha256, std::uint64_t offset, std::uint64_t length, const std::string& if_match,
                 BlobSink& sink) override {
    if (length == 0) {
      auto info = stat(sha256);
      if (!info) throw Error(ErrorKind::NotFound, fmt::format("blob {} is not in {}", sha256, uri_.display));
      if (!if_match.empty() && info->etag != if_match)
        throw Error(ErrorKind::Conflict,
                    fmt::format("blob {} in {} changed (its ETag no longer matches)", sha256, uri_.display));
      if (offset > info->size)
        throw Error(ErrorKind::Invalid, fmt::format("blob {} in {}: offset {} is past its end ({} bytes)", sha256,
                                                    uri_.display, offset, info->size));
      return;
    }
    const std::string k = key(sha256);
    download_in_parts(sink, nullptr, offset, offset + length, {}, tuning_.download_part, tuning_.concurrency,
                      [&](std::uint64_t at, std::uint64_t n, std::string& got) {
                        auto info = client_->get_range(
                            uri_.bucket, k, at, at + n - 1,
                            [&](const char* d, std::size_t size) { append_at_most(got, d, size, n, sha256, at); },
                            [&] { got.clear(); }, if_match);
                        if (!info)
                          throw Error(ErrorKind::NotFound, fmt::format("blob {} is not in {}", sha256, uri_.display));
                        if (at + n > info->size)
                          throw Error(ErrorKind::Invalid,
                                      fmt::format("blob {} in {}: {} bytes at {} go past its end ({} bytes)", sha256,
                                                  uri_.display, n, at, info->size));
                        if (got.size() != n)
                          throw Error(ErrorKind::Unavailable, fmt::format("blob {} in {}: asked for {} bytes at {}, got {}",
                                                                          sha256, uri_.display, n, at, got.size()));
                      });
  }

  bool remove(const std::string& sha256) override {
    const std::string k = key(sha256);
    if (!client_->head(uri_.bucket, k)) return false;
    client_->remove(uri_.bucket, k);
    return true;
  }

  std::vector<BlobInfo> list() override {
    std::vector<BlobInfo> out;
    aws::S3ListRequest q;
    q.prefix = uri_.prefix;
    q.delimiter = "/";  // a ledger sharing the prefix lives in sub-"directories"
    client_->list_all(uri_.bucket, q, [&](aws::S3ListPage& page) {
      for (auto& o : page.objects) {
        if (o.key.size() != uri_.prefix.size() + 64 || o.key.compare(0, uri_.prefix.size(), uri_.prefix) != 0) continue;
        BlobInfo info;
        info.sha256.assign(o.key, uri_.prefix.size(), 64);
        if (!is_valid_sha256_hex(info.sha256)) continue;
        info.size = o.size;
        info.modified = o.last_modified;
        out.push_back(std::move(info));
      }
      return true;
    });
    return out;
  }

  std::optional<std::string> presigned_get_url(const std::string& sha256, std::int64_t expires_seconds) override {
    return client_->presign_get(uri_.bucket, key(sha256), std::chrono::seconds(expires_seconds));
  }

  // --parallel and --part-size set the tuning; a --stall-timeout other than the
  // shared client's gives this store its own client with that low-speed limit
  // (libcurl: less than 1 byte/s for that long aborts the attempt, and the part
  // or chunk is retried like any broken idempotent request).
  void set_transfer_options(const TransferOptions& o) override {
    if (o.parallel) tuning_.concurrency = std::clamp<std::size_t>(o.parallel, 1, 64);
    if (o.part_size) {
      if (o.part_size < kMinPart || o.part_size > kMaxPart)
        throw Error(ErrorKind::Invalid, fmt::format("--part-size: S3 parts are 5 MiB to 5 GiB ({})", uri_.display));
      tuning_.part_size = o.part_size;
      tuning_.download_part = std::min(o.part_size, kGiB);
    }
    if (o.stall_timeout > 0 && o.stall_timeout != kDefaultStallSeconds) {
      aws::S3ClientOptions options;
      options.http.low_speed_time = std::chrono::seconds(o.stall_timeout);
      client_ = S3Client::from_environment(std::move(options));
    }
  }

  std::vector<IncompleteUpload> incomplete_uploads() override {
    std::vector<IncompleteUpload> out;
    for (auto& u : client_->list_multipart_uploads(uri_.bucket, uri_.prefix))
      out.push_back({std::move(u.key), std::move(u.upload_id), u.initiated});
    return out;
  }

  void abort_upload(const IncompleteUpload& upload) override {
    client_->abort_upload(uri_.bucket, upload.key, upload.upload_id);
  }

  std::string describe() const override { return uri_.display; }

 private:
  std::string key(const std::string& sha256) const {
    validate_sha256_hex(sha256, "blob");
    return uri_.prefix + sha256;
  }

  // A blob that is reused gets a fresh Last-Modified, so gc's grace period protects
  // it while the add that reuses it records its version (see Client::gc). Best
  // effort: a copy that is not allowed (e.g. no GetObject) changes nothing.
  void refresh(const std::string& k, const aws::S3ObjectInfo& info) {
    const auto now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    if (info.last_modified == 0 || now - info.last_modified < tuning_.refresh_after || info.size > kMaxPart) return;
    net::HttpHeaders headers = {{"Content-Type", "application/octet-stream"}};
    headers.insert(headers.end(), tuning_.acl.begin(), tuning_.acl.end());
    try {
      client_->touch(uri_.bucket, k, headers);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::Denied && e.kind() != ErrorKind::Invalid) throw;
    }
  }

  bool single_put(const std::string& sha256, const std::string& k, const std::string& path, std::uint64_t size,
                  Progress* progress) {
    aws::S3PutOptions o;
    o.payload_sha256 = sha256;  // the server verifies the bytes against the key
    o.headers = {{"Content-Type", "application/octet-stream"},
                 {"x-amz-checksum-sha256", aws::sha256_hex_to_base64(sha256)},
                 {"If-None-Match", "*"}};
    o.headers.insert(o.headers.end(), tuning_.acl.begin(), tuning_.acl.end());
    UploadProgress bar(progress, size);
    o.on_upload = bar.on_upload();
    auto result = client_->put_file(uri_.bucket, k, net::FileRange{path, 0, size}, std::move(o));
    bar.finish();
    // 412: someone stored it first (or, after a retry, our own first attempt did).
    return result.written || result.retried;
  }

  std::uint64_t upload_part_size(std::uint64_t size) const {
    std::uint64_t p = tuning_.part_size ? tuning_.part_size : kDefaultUploadPart;
    p = std::max({p, kMinPart, round_up((size + kMaxParts - 1) / kMaxParts, kMiB)});
    return std::min(p, kMaxPart);
  }

  bool multipart_put(const FileDigest& digest, const std::string& k, const std::string& path, Progress* progress) {
    const std::uint64_t size = digest.size;
    S3UploadJob job{uri_.bucket,
                    k,
                    "s3://" + uri_.bucket + "/" + uri_.prefix,
                    digest.sha256,
                    path,
                    size,
                    upload_part_size(size),
                    tuning_.concurrency,
                    {{"Content-Type", "application/octet-stream"}},
                    {}};
    job.create_headers.insert(job.create_headers.end(), tuning_.acl.begin(), tuning_.acl.end());
    if (digest.part_size == job.part_size && digest.part_sha256.size() == (size + job.part_size - 1) / job.part_size)
      job.part_sha256 = digest.part_sha256;
    if (!s3_resumable_multipart_upload(*client_, job, progress)) return false;
    check_size(k, size);
    return true;
  }

  // After a multipart upload: the object has the size we sent (where we may look).
  void check_size(const std::string& k, std::uint64_t size) {
    std::optional<aws::S3ObjectInfo> info;
    try {
      info = client_->head(uri_.bucket, k);
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::Denied) return;  // write-only: downloads verify
      throw;
    }
    if (!info)
      throw Error(ErrorKind::Unavailable, fmt::format("{}: the multipart upload completed but the object is not there",
                                                      client_->display(uri_.bucket, k)));
    if (info->size != size)
      throw Error(ErrorKind::Integrity, fmt::format("{}: the multipart upload stored {} bytes instead of {}",
                                                    client_->display(uri_.bucket, k), info->size, size));
  }

  // The body of a ranged GET into `into`, refusing more than the `length` bytes
  // asked for: a server (or a proxy) that ignores Range answers 200 with the whole
  // object, which must neither fill the memory nor pass for the range. Integrity:
  // what came is not the bytes asked for, so a resumed download starts clean.
  void append_at_most(std::string& into, const char* d, std::size_t n, std::uint64_t length, const std::string& what,
                      std::uint64_t offset) const {
    if (n > length - into.size())
      throw Error(ErrorKind::Integrity,
                  fmt::format("{} in {}: a ranged GET of {} bytes at {} answered more than that (the server ignored "
                              "Range)",
                              what, uri_.display, length, offset));
    into.append(d, n);
  }

  // One part of a parallel download (kit's download_in_parts): a ranged GET of
  // [offset, offset + length) into `data`, of a blob that must still be `total` bytes.
  void fetch_part(const std::string& k, std::uint64_t offset, std::uint64_t length, std::uint64_t total,
                  std::string& data) {
    auto info = client_->get_range(
        uri_.bucket, k, offset, offset + length - 1,
        [&](const char* d, std::size_t n) { append_at_most(data, d, n, length, k, offset); }, [&data] { data.clear(); });
    if (!info)
      throw Error(ErrorKind::NotFound,
                  fmt::format("{}: the blob disappeared during the download", client_->display(uri_.bucket, k)));
    if (data.size() != length || info->size != total)
      throw Error(ErrorKind::Integrity, fmt::format("{}: the blob changed during the download (part of {} bytes at {})",
                                                    client_->display(uri_.bucket, k), data.size(), offset));
  }

  std::shared_ptr<S3Client> client_;
  S3Uri uri_;
  Tuning tuning_;
};

}  // namespace

std::unique_ptr<Store> open_s3_store(const Uri& uri) {
  S3Uri s3 = parse_s3_uri(
      uri, {"multipart_threshold", "part_size", "download_part_size", "concurrency", "acl", "refresh_after"});
  Tuning t;
  t.multipart_threshold = s3_size_option(s3, "multipart_threshold", kDefaultMultipartThreshold, 0, kMaxPart);
  t.part_size = s3_size_option(s3, "part_size", 0, kMinPart, kMaxPart);
  t.download_part = s3_size_option(s3, "download_part_size", kDefaultDownloadPart, 64 << 10, kGiB);
  t.concurrency = static_cast<std::size_t>(s3_size_option(s3, "concurrency", kDefaultConcurrency, 1, 64));
  t.acl = s3_acl_headers(s3);
  t.refresh_after =
      static_cast<std::int64_t>(s3_size_option(s3, "refresh_after", kRefreshAfterSeconds, 0, 10ULL * 365 * 24 * 3600));
  return std::make_unique<S3Store>(aws::shared_s3_client(), std::move(s3), t);
}

}  // namespace sacker
