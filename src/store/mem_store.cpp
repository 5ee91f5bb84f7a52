// The in-memory store: sha256 -> bytes in a process-wide map keyed by the URI's
// name. put_file hashes the source before the blob becomes visible (invariant 4)
// and re-uses a blob only if its bytes hash to its name (else it replaces them);
// every call holds the map's mutex, so each is atomic, gc's conditional remove
// included. Re-use moves `modified` forward by at least a second, as the file
// store does, so a gc that listed the blob sees that it was re-used.
#include "store/mem_store.h"

#include <fmt/core.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <map>
#include <mutex>

#include "kit/mem_registry.h"
#include "kit/uri_options.h"
#include "sacker/error.h"
#include "sacker/names.h"
#include "sacker/sha256.h"
#include "store/gc_support.h"

namespace sacker {
namespace {

struct Blob {
  std::string bytes;
  std::int64_t modified = 0;
};
struct Shared {
  std::mutex mutex;
  std::map<std::string, Blob> blobs;
};

class MemStore final : public Store, public GcSupport {
 public:
  MemStore(std::shared_ptr<Shared> shared, std::string uri) : shared_(std::move(shared)), uri_(std::move(uri)) {}

  void init() override {}

  std::optional<bool> contains(const std::string& sha256) override {
    std::lock_guard lock(shared_->mutex);
    return shared_->blobs.count(sha256) > 0;
  }

  std::optional<BlobInfo> stat(const std::string& sha256) override {
    std::lock_guard lock(shared_->mutex);
    auto it = shared_->blobs.find(sha256);
    if (it == shared_->blobs.end()) return std::nullopt;
    return BlobInfo{sha256, it->second.bytes.size(), it->second.modified, sha256};
  }

  bool put_file(const std::string& sha256, const std::filesystem::path& source, std::uint64_t size,
                Progress* progress) override {
    validate_sha256_hex(sha256, "mem store put");
    {
      std::lock_guard lock(shared_->mutex);
      auto it = shared_->blobs.find(sha256);
      if (it != shared_->blobs.end() && it->second.bytes.size() == size &&
          Sha256::hex_of(it->second.bytes.data(), it->second.bytes.size()) == sha256) {
        // Fresh for gc's grace period, and later than any time gc listed.
        it->second.modified = std::max<std::int64_t>(std::time(nullptr), it->second.modified + 1);
        return false;
      }
    }
    std::ifstream in(source, std::ios::binary);
    if (!in) throw Error(ErrorKind::NotFound, fmt::format("cannot open {}", source.string()));
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (progress) {
      progress->start(bytes.size());
      progress->advance(bytes.size());
      progress->finish();
    }
    if (Sha256::hex_of(bytes.data(), bytes.size()) != sha256 || bytes.size() != size)
      throw Error(ErrorKind::Integrity, fmt::format("cannot store {}: its content does not hash to {} ({} bytes)",
                                                    source.string(), sha256, size));
    std::lock_guard lock(shared_->mutex);
    shared_->blobs[sha256] = Blob{std::move(bytes), std::time(nullptr)};
    return true;
  }

  void get(const std::string& sha256, BlobSink& sink, Progress* progress) override {
    std::string bytes = copy_of(sha256);
    if (progress) progress->start(bytes.size());
    sink.write(bytes.data(), bytes.size());
    if (progress) {
      progress->advance(bytes.size());
      progress->finish();
    }
  }

  void get_range(const std::string& sha256, std::uint64_t offset, std::uint64_t length, const std::string& if_match,
                 BlobSink& sink) override {
    std::string bytes = copy_of(sha256);
    if (!if_match.empty() && if_match != sha256)
      throw Error(ErrorKind::Conflict, fmt::format("blob {} in {} changed (ETag)", sha256, uri_));
    if (offset > bytes.size() || length > bytes.size() - offset)
      throw Error(ErrorKind::Invalid, fmt::format("blob {} in {}: range {}+{} is past its end ({} bytes)", sha256, uri_,
                                                  offset, length, bytes.size()));
    sink.write(bytes.data() + offset, static_cast<std::size_t>(length));
  }

  bool remove(const std::string& sha256) override {
    std::lock_guard lock(shared_->mutex);
    return shared_->blobs.erase(sha256) > 0;
  }

  bool remove_if_not_modified_after(const std::string& sha256, std::int64_t not_after) override {
    std::lock_guard lock(shared_->mutex);
    auto it = shared_->blobs.find(sha256);
    if (it == shared_->blobs.end() || it->second.modified > not_after) return false;
    shared_->blobs.erase(it);
    return true;
  }

  std::size_t remove_abandoned_uploads(std::int64_t) override { return 0; }  // uploads are never half done

  std::vector<BlobInfo> list() override {
    std::lock_guard lock(shared_->mutex);
    std::vector<BlobInfo> out;
    for (const auto& [sha, blob] : shared_->blobs) out.push_back({sha, blob.bytes.size(), blob.modified, sha});
    return out;
  }

  std::string describe() const override { return uri_; }

 private:
  std::string copy_of(const std::string& sha256) {
    std::lock_guard lock(shared_->mutex);
    auto it = shared_->blobs.find(sha256);
    if (it == shared_->blobs.end()) throw Error(ErrorKind::NotFound, fmt::format("blob {} is not in {}", sha256, uri_));
    return it->second.bytes;
  }

  std::shared_ptr<Shared> shared_;
  std::string uri_;
};

}  // namespace

std::unique_ptr<Store> open_mem_store(const Uri& uri) {
  return std::make_unique<MemStore>(mem_instance<Shared>(uri), redact_uri(uri.text));
}

}  // namespace sacker
