// A chain of stores: cache first, then remotes (chain_store.h).
//
// A blob counts as stored when every remote has it; the cache only ever holds
// verified bytes: a cache copy is checked before it is handed out, and a copy that
// does not hash to its name is evicted and read from the remotes instead.
// gc decides on the remotes' view (list merges them, newest modification time
// per blob) and deletes remote by remote with each one's conditional delete, so
// an add that re-uses the blob during gc keeps it in every remote.
#include "store/chain_store.h"

#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "core/files.h"
#include "sacker/error.h"
#include "sacker/sha256.h"
#include "store/gc_support.h"

namespace sacker {
namespace {

// Passes bytes on to the caller's sink and keeps a copy for the cache.
class TeeSink final : public BlobSink {
 public:
  TeeSink(BlobSink& out, TempFile& copy) : out_(out), copy_(copy) {}
  void write(const char* data, std::size_t size) override {
    out_.write(data, size);
    copy_.write(data, size);
    hash_.update(data, size);
    size_ += size;
  }
  void arrived(std::uint64_t offset, const char* data, std::size_t size) override {
    out_.arrived(offset, data, size);
  }
  std::string sha256() { return hash_.finish_hex(); }
  std::uint64_t size() const { return size_; }

 private:
  BlobSink& out_;
  TempFile& copy_;
  Sha256 hash_;
  std::uint64_t size_ = 0;
};

// Hashes what passes through and drops it (to check a cache copy).
class HashingSink final : public BlobSink {
 public:
  void write(const char* data, std::size_t size) override {
    hash_.update(data, size);
    size_ += size;
  }
  std::string sha256() { return hash_.finish_hex(); }
  std::uint64_t size() const { return size_; }

 private:
  Sha256 hash_;
  std::uint64_t size_ = 0;
};

class ChainStore final : public Store, public GcSupport {
 public:
  explicit ChainStore(std::vector<std::unique_ptr<Store>> stores) : stores_(std::move(stores)) {}

  void init() override {
    for (auto& s : stores_) s->init();
  }

  std::optional<bool> contains(const std::string& sha256) override {
    // The blob counts as stored only when every remote has it (the cache alone is not durable).
    bool unknown = false;
    for (std::size_t i = 1; i < stores_.size(); ++i) {
      auto has = stores_[i]->contains(sha256);
      if (has == false) return false;
      if (!has) unknown = true;
    }
    if (unknown) return std::nullopt;
    return true;
  }

  bool put_file(const std::string& sha256, const std::filesystem::path& source, std::uint64_t size,
                Progress* progress) override {
    return put_digested_file(source, FileDigest{sha256, size, 0, {}}, progress);
  }

  // The first remote that takes part digests sets their size; a remote with
  // another one ignores them (put_digested_file's contract) and hashes itself.
  std::uint64_t part_digest_size(std::uint64_t size) override {
    for (std::size_t i = 1; i < stores_.size(); ++i)
      if (const std::uint64_t part = stores_[i]->part_digest_size(size)) return part;
    return 0;
  }

  bool put_digested_file(const std::filesystem::path& source, const FileDigest& digest, Progress* progress) override {
    bool uploaded = false;
    for (std::size_t i = 1; i < stores_.size(); ++i)
      uploaded = stores_[i]->put_digested_file(source, digest, progress) || uploaded;
    stores_[0]->put_file(digest.sha256, source, digest.size, nullptr);
    return uploaded;
  }

  void get(const std::string& sha256, BlobSink& sink, Progress* progress) override {
    if (cache_copy_is_good(sha256)) return stores_[0]->get(sha256, sink, progress);
    for (std::size_t i = 1; i < stores_.size(); ++i) {
      if (stores_[i]->contains(sha256) == false) continue;
      TempFile copy(temp_directory(), sha256);
      TeeSink tee(sink, copy);
      try {
        stores_[i]->get(sha256, tee, progress);
      } catch (const Error& e) {
        if (e.kind() == ErrorKind::NotFound) continue;
        throw;
      }
      std::uint64_t size = tee.size();
      // Only verified bytes enter the cache; the caller verifies what it received itself.
      if (tee.sha256() == sha256) {
        try {
          stores_[0]->put_file(sha256, copy.path(), size, nullptr);
        } catch (const Error&) {
          // A cache that cannot be filled does not fail the download.
        }
      }
      return;
    }
    throw Error(ErrorKind::NotFound, fmt::format("blob {} is in none of the stores ({})", sha256, describe()));
  }

  // The first store (cache first) that has the blob answers.
  std::optional<BlobInfo> stat(const std::string& sha256) override {
    for (auto& s : stores_)
      if (auto info = s->stat(sha256)) return info;
    return std::nullopt;
  }

  void get_range(const std::string& sha256, std::uint64_t offset, std::uint64_t length, const std::string& if_match,
                 BlobSink& sink) override {
    for (auto& s : stores_) {
      auto info = s->stat(sha256);
      if (!info) continue;
      if (!if_match.empty() && info->etag != if_match) continue;  // the ETag belongs to another store of the chain
      return s->get_range(sha256, offset, length, if_match, sink);
    }
    throw Error(if_match.empty() ? ErrorKind::NotFound : ErrorKind::Conflict,
                fmt::format("blob {} is in none of the stores ({}){}", sha256, describe(),
                            if_match.empty() ? "" : " with that ETag"));
  }

  bool remove(const std::string& sha256) override {
    bool any = false;
    for (auto& s : stores_) any = s->remove(sha256) || any;
    return any;
  }

  // Remote by remote: the first that keeps the blob (re-used since gc listed it)
  // stops the delete, and the add that re-used it puts it back into the remotes
  // before it (their conditional deletes ran first, so its put finds them empty).
  bool remove_if_not_modified_after(const std::string& sha256, std::int64_t not_after) override {
    bool removed = false;
    for (std::size_t i = 1; i < stores_.size(); ++i) {
      if (sacker::remove_if_not_modified_after(*stores_[i], sha256, not_after))
        removed = true;
      else if (stores_[i]->contains(sha256) != false)
        return false;
    }
    stores_[0]->remove(sha256);  // the cache is trimmed with the remotes
    return removed;
  }

  std::size_t remove_abandoned_uploads(std::int64_t min_idle_seconds) override {
    std::size_t removed = 0;
    for (auto& s : stores_) removed += sacker::remove_abandoned_uploads(*s, min_idle_seconds);
    return removed;
  }

  std::vector<BlobInfo> list() override {
    // gc decides on the remotes' view: one entry per blob, with the latest time
    // any remote last wrote it.
    std::map<std::string, BlobInfo> merged;
    for (std::size_t i = 1; i < stores_.size(); ++i)
      for (auto& b : stores_[i]->list()) {
        auto [it, fresh] = merged.emplace(b.sha256, b);
        if (!fresh) it->second.modified = std::max(it->second.modified, b.modified);
      }
    std::vector<BlobInfo> out;
    out.reserve(merged.size());
    for (auto& [sha, b] : merged) out.push_back(std::move(b));
    return out;
  }

  std::optional<std::string> presigned_get_url(const std::string& sha256, std::int64_t expires) override {
    for (std::size_t i = 1; i < stores_.size(); ++i)
      if (auto url = stores_[i]->presigned_get_url(sha256, expires)) return url;
    return std::nullopt;
  }

  std::string describe() const override {
    std::string out;
    for (const auto& s : stores_) out += (out.empty() ? "" : " -> ") + s->describe();
    return out;
  }

 private:
  // A cache copy is handed out only after it was read once and hashed to its
  // name (local reads are cheap next to a wrong deploy); a bad one is evicted.
  bool cache_copy_is_good(const std::string& sha256) {
    Store& cache = *stores_[0];
    if (cache.contains(sha256) != true) return false;
    HashingSink check;
    try {
      cache.get(sha256, check, nullptr);
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::NotFound) return false;
      throw;
    }
    if (check.sha256() == sha256) return true;
    cache.remove(sha256);
    return false;
  }

  std::vector<std::unique_ptr<Store>> stores_;
};

}  // namespace

std::unique_ptr<Store> make_chain_store(std::vector<std::unique_ptr<Store>> stores) {
  if (stores.empty()) throw Error(ErrorKind::Invalid, "store list is empty");
  if (stores.size() == 1) return std::move(stores.front());
  return std::make_unique<ChainStore>(std::move(stores));
}

}  // namespace sacker
