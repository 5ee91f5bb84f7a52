// azure://account/container[/prefix] — blobs as block blobs named <prefix><sha256 hex>
// (the S3 store's layout), readable by any Azure tool.
//
// KEY LAYOUT
//   <container>/<prefix><sha256>   the blob's bytes (x-ms-meta-sacker_reused: when an
//                                  add last re-used it, Unix seconds)
//
// WHY IT IS RACE-FREE
// - Names are content addresses: two writers of one name write the same bytes.
// - Every create is conditional: Put Blob and Put Block List carry If-None-Match: *,
//   so an existing blob is never overwritten (409 BlobAlreadyExists / 412 mean
//   "already there", which is fine: same sha, same bytes). Uncommitted blocks are
//   invisible, so a partial upload is never seen; block ids carry a random upload
//   id, so concurrent uploaders of one blob never mix each other's blocks (a commit
//   discards the others' uncommitted blocks: their Put Block List then fails and
//   they find the blob there).
// - Invariant 4: Azure checks no sha256, so this store hashes the bytes it sends.
//   Small blobs (<= put_blob_threshold) are read once into memory, hashed and sent
//   from that buffer; large ones are read block by block into buffers that are
//   hashed (sha256 of the whole, in order) and sent from memory. Each request
//   carries the Content-MD5 of its buffer and the service refuses other bytes, so
//   what is stored is exactly what was hashed; a whole-blob sha256 that differs from
//   the name leaves the blocks uncommitted (never visible; the service drops them
//   after a week). Downloads are verified by the facade (invariant 3).
// - gc (invariant 5): put_file of a blob that is already there sets its metadata,
//   which moves Last-Modified (and the ETag) forward, so gc's grace period protects
//   it; a 404 to that means gc removed it meanwhile, and it is uploaded again.
//   Credentials that may not write metadata (e.g. a create-only SAS) leave the
//   blob as it is (best effort, as in the S3 store).
// Downloads: a first ranged GET of one part learns the size and the ETag; larger
// blobs continue with parallel ranged GETs carrying If-Match, reassembled in order.
// Memory: (concurrency + 1) x block_size up, concurrency x download_part_size down.
#include "store/azure_store.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <mutex>
#include <unordered_map>

#include "azure/blob_client.h"
#include "core/codec.h"
#include "core/random.h"
#include "kit/parallel.h"
#include "kit/retry.h"
#include "kit/upload_progress.h"
#include "kit/uri_options.h"
#include "sacker/error.h"
#include "sacker/log.h"
#include "sacker/names.h"
#include "sacker/sha256.h"
#include "store/gc_support.h"

namespace sacker {
namespace {

using azure::BlobClient;

constexpr std::uint64_t kMiB = 1ULL << 20;
// Azure's limits: 50,000 blocks of at most 4000 MiB. We buffer blocks, so we cap them lower.
constexpr std::uint64_t kMaxBlocks = 50000;
constexpr std::uint64_t kMaxBlock = 256 * kMiB;
constexpr std::uint64_t kMaxBlob = kMaxBlocks * kMaxBlock;

struct Tuning {
  std::uint64_t put_blob_threshold = 32 * kMiB;
  std::uint64_t block_size = 16 * kMiB;
  std::uint64_t download_part = 8 * kMiB;
  std::size_t concurrency = 8;
};

class Fd {
 public:
  explicit Fd(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (fd_ < 0) throw_errno("cannot open " + path, errno);
  }
  ~Fd() { ::close(fd_); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  // Fills `buf` (resized to `length`) from `offset`.
  void read(const std::string& path, std::uint64_t offset, std::uint64_t length, std::string& buf) const {
    buf.resize(static_cast<std::size_t>(length));
    std::size_t done = 0;
    while (done < buf.size()) {
      ssize_t n = ::pread(fd_, buf.data() + done, buf.size() - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_errno("cannot read " + path, errno);
      if (n == 0) throw Error(ErrorKind::LocalIO, fmt::format("cannot read {}: the file became shorter", path));
      done += static_cast<std::size_t>(n);
    }
  }

 private:
  int fd_;
};

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class AzureStore final : public Store, public GcSupport {
 public:
  AzureStore(std::unique_ptr<BlobClient> client, std::string container, std::string prefix, std::string display,
             Tuning tuning)
      : client_(std::move(client)),
        container_(std::move(container)),
        prefix_(std::move(prefix)),
        display_(std::move(display)),
        tuning_(tuning) {}

  void init() override { client_->create_container(container_); }

  std::optional<bool> contains(const std::string& sha256) override {
    try {
      return client_->properties(container_, name(sha256)).has_value();
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::Denied) return std::nullopt;  // create-only credentials
      throw;
    }
  }

  bool put_file(const std::string& sha256, const std::filesystem::path& source, std::uint64_t size,
                Progress* progress) override {
    const std::string blob = name(sha256);
    if (size > kMaxBlob)
      throw Error(ErrorKind::Invalid, fmt::format("cannot store {}: {} bytes is more than the azure store's limit "
                                                  "of {} bytes",
                                                  source.string(), size, kMaxBlob));
    std::optional<azure::BlobProperties> existing;
    try {
      existing = client_->properties(container_, blob);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::Denied) throw;  // cannot tell: upload, If-None-Match keeps what is there
    }
    if (existing && existing->size != size) {
      // Not the bytes of this sha (written by something else): replace it, unless it changed meanwhile.
      log_verbose(fmt::format("azure: {} holds {} bytes instead of {}: replacing it",
                              client_->display(container_, blob), existing->size, size));
      client_->remove(container_, blob, existing->etag);
      existing.reset();
    }
    if (existing && refresh(blob)) return false;
    if (size <= tuning_.put_blob_threshold) return put_small(sha256, blob, source.string(), size, progress);
    return put_blocks(sha256, blob, source.string(), size, progress);
  }

  std::optional<BlobInfo> stat(const std::string& sha256) override {
    auto p = client_->properties(container_, name(sha256));
    if (!p) return std::nullopt;
    return BlobInfo{sha256, p->size, p->last_modified, p->etag};
  }

  void get(const std::string& sha256, BlobSink& sink, Progress* progress) override {
    const std::string blob = name(sha256);
    std::string first;
    first.reserve(static_cast<std::size_t>(tuning_.download_part));  // virtual until written
    auto a = client_->get_range(
        container_, blob, 0, tuning_.download_part - 1, "", [&](const char* d, std::size_t n) { first.append(d, n); },
        [&] { first.clear(); });
    if (!a) throw not_found(sha256);
    if (a->unsatisfiable) {  // an empty blob has no byte 0
      auto p = client_->properties(container_, blob);
      if (!p) throw not_found(sha256);
      if (p->size != 0) throw wrong_answer(sha256, "416 to the first range of a blob that is not empty");
      if (progress) progress->start(0), progress->finish();
      return;
    }
    const std::uint64_t total = a->partial ? a->properties.size : first.size();
    if (a->partial && (a->first != 0 || first.size() != a->last + 1))
      throw wrong_answer(sha256,
                         fmt::format("asked for bytes 0-{}, got {} bytes", tuning_.download_part - 1, first.size()));
    const std::string etag = a->properties.etag;
    download_in_parts(sink, progress, 0, total, std::move(first), tuning_.download_part, tuning_.concurrency,
                      [&](std::uint64_t offset, std::uint64_t length, std::string& buf) {
                        fetch_exact(sha256, offset, length, etag, buf);
                      });
  }

  void get_range(const std::string& sha256, std::uint64_t offset, std::uint64_t length, const std::string& if_match,
                 BlobSink& sink) override {
    if (length == 0) {
      auto p = client_->properties(container_, name(sha256));
      if (!p) throw not_found(sha256);
      if (!if_match.empty() && p->etag != if_match)
        throw Error(ErrorKind::Conflict, fmt::format("blob {} in {} changed (its ETag is no longer {})", sha256,
                                                     display_, printable(if_match)));
      if (offset > p->size) throw past_end(sha256, offset, length, p->size);
      return;
    }
    download_in_parts(sink, nullptr, offset, offset + length, {}, tuning_.download_part, tuning_.concurrency,
                      [&](std::uint64_t at, std::uint64_t n, std::string& buf) {
                        fetch_exact(sha256, at, n, if_match, buf);
                      });
  }

  bool remove(const std::string& sha256) override { return client_->remove(container_, name(sha256)); }

  // gc: Delete Blob with If-Match on the ETag this store listed (and If-Unmodified-Since
  // `not_after`). A re-use by put_file sets the blob's metadata, which changes the ETag
  // first (kept: 412), or finds the blob gone and uploads it again; the service orders
  // the two. Last-Modified alone has whole seconds, so a re-use in the second of the
  // listed write would pass If-Unmodified-Since: the listed ETag is what makes it atomic.
  // A blob this instance did not list is deleted on If-Unmodified-Since alone.
  bool remove_if_not_modified_after(const std::string& sha256, std::int64_t not_after) override {
    std::string etag;
    if (auto it = listed_.find(sha256); it != listed_.end()) {
      if (it->second.modified > not_after) return false;
      etag = it->second.etag;
    }
    return client_->remove_if_unmodified_since(container_, name(sha256), not_after, etag) ==
           BlobClient::ConditionalDelete::Removed;
  }

  // Uncommitted blocks of dead writers are not blobs: the service drops them after a week.
  std::size_t remove_abandoned_uploads(std::int64_t /*min_idle_seconds*/) override { return 0; }

  std::vector<BlobInfo> list() override {
    std::vector<BlobInfo> out;
    listed_.clear();
    std::string marker;
    do {
      // The delimiter keeps blobs of other tools under deeper "directories" out of the listing.
      auto page = client_->list_page(container_, prefix_, "/", marker);
      for (auto& b : page.blobs) {
        if (b.name.size() != prefix_.size() + 64 || b.name.compare(0, prefix_.size(), prefix_) != 0) continue;
        std::string sha = b.name.substr(prefix_.size());
        if (!is_valid_sha256_hex(sha)) continue;
        listed_[sha] = Listed{b.properties.last_modified, b.properties.etag};
        out.push_back(BlobInfo{std::move(sha), b.properties.size, b.properties.last_modified, b.properties.etag});
      }
      if (!page.next_marker.empty() && page.next_marker == marker)
        throw Error(ErrorKind::Unavailable, fmt::format("{}: the listing does not advance (same marker)", display_));
      marker = page.next_marker;
    } while (!marker.empty());
    return out;
  }

  std::optional<std::string> presigned_get_url(const std::string& sha256, std::int64_t expires_seconds) override {
    return client_->read_sas_url(container_, name(sha256), std::chrono::seconds(expires_seconds),
                                 std::chrono::system_clock::now());
  }

  std::string describe() const override { return display_; }

 private:
  std::string name(const std::string& sha256) const {
    validate_sha256_hex(sha256, "blob");
    return prefix_ + sha256;
  }

  Error not_found(const std::string& sha256) const {
    return Error(ErrorKind::NotFound, fmt::format("blob {} is not in {}", sha256, display_));
  }
  Error wrong_answer(const std::string& sha256, const std::string& why) const {
    return Error(ErrorKind::Unavailable,
                 fmt::format("blob {} in {}: a wrong answer to a ranged GET ({})", sha256, display_, why));
  }
  Error past_end(const std::string& sha256, std::uint64_t offset, std::uint64_t length, std::uint64_t size) const {
    return Error(ErrorKind::Invalid, fmt::format("blob {} in {}: range {}+{} is past its end ({} bytes)", sha256,
                                                 display_, offset, length, size));
  }

  // Exactly bytes [offset, offset + length) into `out` (replaced), or an error; an
  // answer that is not exactly that range is retried, then Error(Unavailable).
  void fetch_exact(const std::string& sha256, std::uint64_t offset, std::uint64_t length, const std::string& if_match,
                   std::string& out) {
    const std::uint64_t last = offset + length - 1;
    Retry retry(RetryPolicy{}, fmt::format("blob {} in {}: bytes {}-{}", sha256, display_, offset, last));
    for (;;) {
      out.clear();
      auto a = client_->get_range(
          container_, name(sha256), offset, last, if_match, [&](const char* d, std::size_t n) { out.append(d, n); },
          [&] { out.clear(); });
      if (!a) throw not_found(sha256);
      if (a->unsatisfiable) throw past_end(sha256, offset, length, a->properties.size);
      std::string why;
      if (!a->partial)
        why = "the whole blob (200) instead of the range";
      else if (a->properties.size < offset + length)
        throw past_end(sha256, offset, length, a->properties.size);
      else if (a->first != offset || a->last != last)
        why = fmt::format("Content-Range {}-{}", a->first, a->last);
      else if (out.size() != length)
        why = fmt::format("{} bytes", out.size());
      if (why.empty()) return;
      out.clear();
      retry.failed(FailureCause::ServerTrouble, why);
    }
  }

  // Moves a re-used blob's Last-Modified forward (see the top comment). false if it is gone.
  bool refresh(const std::string& blob) {
    try {
      return client_->set_metadata(container_, blob, {{"x-ms-meta-sacker_reused", std::to_string(unix_now())}});
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::Denied) throw;
      return true;
    }
  }

  Error changed(const std::string& path, const std::string& sha256, const std::string& actual) const {
    return Error(ErrorKind::Integrity,
                 fmt::format("cannot store {} as {}: its content hashes to {} (did it change?); nothing was stored",
                             path, sha256, actual));
  }

  bool put_small(const std::string& sha256, const std::string& blob, const std::string& path, std::uint64_t size,
                 Progress* progress) {
    std::string body;
    Fd(path).read(path, 0, size, body);
    const std::string actual = Sha256::hex_of(body.data(), body.size());
    if (actual != sha256) throw changed(path, sha256, actual);
    UploadProgress bar(progress, size);
    const std::string md5 = azure::content_md5(body);
    auto result = client_->put_blob(container_, blob, std::move(body), md5, bar.on_upload());
    bar.finish();
    return result.written || result.retried;
  }

  std::uint64_t block_size(std::uint64_t size) const {
    const std::uint64_t needed = (size + kMaxBlocks - 1) / kMaxBlocks;
    return std::min(kMaxBlock, std::max(tuning_.block_size, (needed + kMiB - 1) / kMiB * kMiB));
  }

  bool put_blocks(const std::string& sha256, const std::string& blob, const std::string& path, std::uint64_t size,
                  Progress* progress) {
    const std::uint64_t block = block_size(size);
    const auto count = static_cast<std::size_t>((size + block - 1) / block);
    const std::string upload = random_hex(8);
    std::vector<std::string> ids(count);
    for (std::size_t i = 0; i < count; ++i)
      ids[i] = codec::base64_encode(fmt::format("sacker-{}-{:06d}", upload, i));  // one length for all
    Fd fd(path);
    Sha256 whole;
    std::mutex pool_mutex;
    std::vector<std::string> pool;  // buffers of finished blocks
    std::atomic<std::uint64_t> sent{0};
    UploadProgress bar(progress, size);
    auto report = [&] { bar.reach(sent.load()); };
    {
      ParallelTasks tasks(tuning_.concurrency);
      for (std::size_t i = 0; i < count; ++i) {
        tasks.wait_until([&] { return tasks.unfinished() < tuning_.concurrency; }, report);
        std::string buf;
        {
          std::lock_guard lock(pool_mutex);
          if (!pool.empty()) buf = std::move(pool.back()), pool.pop_back();
        }
        const std::uint64_t offset = i * block;
        fd.read(path, offset, std::min(block, size - offset), buf);
        whole.update(buf.data(), buf.size());  // the bytes this block sends (see the top comment)
        tasks.submit([&, i, buf = std::move(buf)]() mutable {
          const std::string md5 = azure::content_md5(buf);
          client_->put_block(container_, blob, ids[i], buf, md5);
          sent += buf.size();
          std::lock_guard lock(pool_mutex);
          pool.push_back(std::move(buf));
        });
      }
      tasks.wait_all(report);
    }
    report();
    const std::string actual = whole.finish_hex();
    if (actual != sha256) throw changed(path, sha256, actual);
    azure::PutResult result;
    try {
      result = client_->put_block_list(container_, blob, ids);
    } catch (const Error& e) {
      // Another uploader committed first and its commit discarded our blocks.
      if (e.kind() != ErrorKind::Conflict || !client_->properties(container_, blob)) throw;
      result.written = false;
    }
    bar.finish();
    if (!result.written && !result.retried) return false;
    auto p = client_->properties(container_, blob);
    if (!p)
      throw Error(ErrorKind::Unavailable, fmt::format("{}: the block list was committed but the blob is not there",
                                                      client_->display(container_, blob)));
    if (p->size != size)
      throw Error(ErrorKind::Integrity, fmt::format("{}: the committed blob has {} bytes instead of {}",
                                                    client_->display(container_, blob), p->size, size));
    return true;
  }

  std::unique_ptr<BlobClient> client_;
  std::string container_;
  std::string prefix_;  // "" or ends with '/'
  std::string display_;
  Tuning tuning_;
  // What the last list() saw of each blob: gc's conditional delete matches its ETag.
  struct Listed {
    std::int64_t modified = 0;
    std::string etag;
  };
  std::unordered_map<std::string, Listed> listed_;
};

// Azure's naming rules: account 3-24 lower-case letters and digits; container 3-63
// of lower-case letters, digits and single hyphens, starting and ending with a
// letter or digit.
bool valid_account(const std::string& a) {
  return a.size() >= 3 && a.size() <= 24 &&
         std::all_of(a.begin(), a.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
}
bool valid_container(const std::string& c) {
  if (c.size() < 3 || c.size() > 63 || c.front() == '-' || c.back() == '-' || c.find("--") != std::string::npos)
    return false;
  return std::all_of(c.begin(), c.end(),
                     [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'; });
}

}  // namespace

std::unique_ptr<Store> open_azure_store(const Uri& uri) {
  const char* example = "azure://account/container[/prefix]";
  if (!valid_account(uri.authority))
    throw_invalid_uri(uri, fmt::format("'{}' is not an Azure storage account name (3 to 24 lower-case letters and "
                                       "digits; expected {})",
                                       printable(uri.authority), example));
  std::string path = uri.path;
  while (!path.empty() && path.front() == '/') path.erase(path.begin());
  const auto slash = path.find('/');
  std::string container = path.substr(0, slash);
  std::string prefix = slash == std::string::npos ? "" : path.substr(slash + 1);
  if (!valid_container(container))
    throw_invalid_uri(uri, fmt::format("'{}' is not a container name (3 to 63 lower-case letters, digits and single "
                                       "hyphens; expected {})",
                                       printable(container), example));
  for (unsigned char c : prefix)
    if (c < 0x20 || c == 0x7f) throw_invalid_uri(uri, "the prefix contains a control character");
  if (prefix.find("//") != std::string::npos) throw_invalid_uri(uri, "the prefix contains an empty path segment");
  if (!prefix.empty() && prefix.back() != '/') prefix += '/';

  UriOptions options(uri);
  auto endpoint = options.take("endpoint");
  Tuning t;
  t.put_blob_threshold = options.take_size("put_blob_threshold", t.put_blob_threshold, 0, kMaxBlock);
  t.block_size = options.take_size("block_size", t.block_size, 64 << 10, kMaxBlock);
  t.download_part = options.take_size("download_part_size", t.download_part, 64 << 10, kMaxBlock);
  t.concurrency = static_cast<std::size_t>(options.take_uint("concurrency", t.concurrency, 1, 64));
  options.finish();

  azure::AzureAccount account = azure::resolve_account(uri.authority, endpoint, process_env());
  log_verbose(fmt::format("azure: account {} at {}, credentials from {}", account.name, account.endpoint,
                          account.source.empty() ? "nowhere (none set)" : account.source));
  auto client = std::make_unique<BlobClient>(std::move(account));
  return std::make_unique<AzureStore>(std::move(client), std::move(container), std::move(prefix), redact_uri(uri.text),
                                      t);
}

}  // namespace sacker
