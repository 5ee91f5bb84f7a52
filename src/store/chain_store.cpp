#include "store/chain_store.h"

#include <fmt/core.h>

#include <filesystem>

#include "core/files.h"
#include "sacker/error.h"
#include "sacker/sha256.h"

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
  std::string sha256() { return hash_.finish_hex(); }
  std::uint64_t size() const { return size_; }

 private:
  BlobSink& out_;
  TempFile& copy_;
  Sha256 hash_;
  std::uint64_t size_ = 0;
};

class ChainStore final : public Store {
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
    bool uploaded = false;
    for (std::size_t i = 1; i < stores_.size(); ++i)
      uploaded = stores_[i]->put_file(sha256, source, size, progress) || uploaded;
    stores_[0]->put_file(sha256, source, size, nullptr);
    return uploaded;
  }

  void get(const std::string& sha256, BlobSink& sink, Progress* progress) override {
    if (stores_[0]->contains(sha256) == true) return stores_[0]->get(sha256, sink, progress);
    for (std::size_t i = 1; i < stores_.size(); ++i) {
      if (stores_[i]->contains(sha256) == false) continue;
      TempFile copy(std::filesystem::temp_directory_path(), sha256);
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

  std::vector<BlobInfo> list() override {
    // gc decides on the remotes' view; the cache is trimmed with them.
    std::vector<BlobInfo> out;
    for (std::size_t i = 1; i < stores_.size(); ++i) {
      auto part = stores_[i]->list();
      out.insert(out.end(), part.begin(), part.end());
    }
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
  std::vector<std::unique_ptr<Store>> stores_;
};

}  // namespace

std::unique_ptr<Store> make_chain_store(std::vector<std::unique_ptr<Store>> stores) {
  if (stores.empty()) throw Error(ErrorKind::Invalid, "store list is empty");
  if (stores.size() == 1) return std::move(stores.front());
  return std::make_unique<ChainStore>(std::move(stores));
}

}  // namespace sacker
