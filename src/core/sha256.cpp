#include "sacker/sha256.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "sacker/error.h"

namespace sacker {

struct Sha256::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  if (!impl_->ctx || EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) != 1)
    throw Error(ErrorKind::Internal, "sha256: OpenSSL initialisation failed");
}

Sha256::~Sha256() { EVP_MD_CTX_free(impl_->ctx); }

void Sha256::update(const void* data, std::size_t size) {
  if (size && EVP_DigestUpdate(impl_->ctx, data, size) != 1) throw Error(ErrorKind::Internal, "sha256: update failed");
}

std::string Sha256::finish_raw() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(impl_->ctx, digest, &len) != 1) throw Error(ErrorKind::Internal, "sha256: final failed");
  return std::string(reinterpret_cast<char*>(digest), len);
}

std::string Sha256::finish_hex() {
  std::string raw = finish_raw();
  return to_hex(raw.data(), raw.size());
}

std::string Sha256::hex_of(const void* data, std::size_t size) {
  Sha256 h;
  h.update(data, size);
  return h.finish_hex();
}

std::string to_hex(const void* data, std::size_t size) {
  static const char digits[] = "0123456789abcdef";
  const auto* p = static_cast<const unsigned char*>(data);
  std::string out(size * 2, '0');
  for (std::size_t i = 0; i < size; ++i) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  return out;
}

PartedSha256::PartedSha256(std::uint64_t part_size) { digest_.part_size = part_size; }

void PartedSha256::update_whole(const void* data, std::size_t size) {
  whole_.update(data, size);
  digest_.size += size;
}

void PartedSha256::update_parts(const void* data, std::size_t size) {
  if (digest_.part_size == 0) return;
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    if (!part_) part_ = std::make_unique<Sha256>();
    const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(size, digest_.part_size - in_part_));
    part_->update(p, take);
    p += take;
    size -= take;
    in_part_ += take;
    if (in_part_ == digest_.part_size) {
      digest_.part_sha256.push_back(part_->finish_hex());
      part_.reset();
      in_part_ = 0;
    }
  }
}

FileDigest PartedSha256::finish() {
  if (part_) digest_.part_sha256.push_back(part_->finish_hex());  // the shorter last part
  part_.reset();
  digest_.sha256 = whole_.finish_hex();
  return std::move(digest_);
}

namespace {

// Reads up to buffer.size() bytes at `offset`; 0 at the end of the file.
std::size_t read_at(int fd, const std::string& what, std::uint64_t offset, std::vector<char>& buffer) {
  for (;;) {
    const ssize_t n = ::pread(fd, buffer.data(), buffer.size(), static_cast<off_t>(offset));
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EINTR) throw_errno("cannot read " + what, errno);
  }
}

// The part digests of sha256_of_fd on their own thread: the reader hands each
// filled buffer over after hashing it into the whole, and takes it back once the
// parts are hashed too. A few buffers in a ring keep both threads busy.
class PartHasher {
 public:
  explicit PartHasher(PartedSha256& hash) : hash_(hash), buffers_(kBuffers, std::vector<char>(kBufferSize)) {
    for (std::size_t i = 0; i < kBuffers; ++i) free_.push_back(i);
    thread_ = std::thread([this] { run(); });
  }
  ~PartHasher() { stop(); }

  // A buffer to read into (waits for one); throws what the part thread threw.
  std::size_t take() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !free_.empty() || error_; });
    if (error_) std::rethrow_exception(error_);
    const std::size_t i = free_.front();
    free_.pop_front();
    return i;
  }
  std::vector<char>& buffer(std::size_t i) { return buffers_[i]; }
  void hand_over(std::size_t i, std::size_t size) {
    std::lock_guard lock(mutex_);
    full_.emplace_back(i, size);
    changed_.notify_all();
  }
  // Waits for the part thread to hash everything handed over.
  void finish() {
    stop();
    if (error_) std::rethrow_exception(error_);
  }

 private:
  static constexpr std::size_t kBuffers = 4, kBufferSize = 4 << 20;

  void run() {
    for (;;) {
      std::pair<std::size_t, std::size_t> next;
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return !full_.empty() || done_; });
        if (full_.empty()) return;
        next = full_.front();
        full_.pop_front();
      }
      try {
        hash_.update_parts(buffers_[next.first].data(), next.second);
      } catch (...) {
        std::lock_guard lock(mutex_);
        error_ = std::current_exception();
        changed_.notify_all();
        return;
      }
      std::lock_guard lock(mutex_);
      free_.push_back(next.first);
      changed_.notify_all();
    }
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
      changed_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }

  PartedSha256& hash_;
  std::vector<std::vector<char>> buffers_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::size_t> free_;
  std::deque<std::pair<std::size_t, std::size_t>> full_;
  bool done_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace

FileDigest sha256_of_fd(int fd, const std::string& what, std::uint64_t part_size) {
  PartedSha256 hash(part_size);
  std::uint64_t offset = 0;
  if (part_size == 0) {
    std::vector<char> buf(1 << 20);
    while (const std::size_t n = read_at(fd, what, offset, buf)) {
      hash.update_whole(buf.data(), n);
      offset += n;
    }
    return hash.finish();
  }
  {
    PartHasher parts(hash);  // joined before `hash` finishes, also when a read throws
    for (;;) {
      const std::size_t i = parts.take();
      const std::size_t n = read_at(fd, what, offset, parts.buffer(i));
      if (n == 0) break;
      hash.update_whole(parts.buffer(i).data(), n);
      offset += n;
      parts.hand_over(i, n);
    }
    parts.finish();
  }
  return hash.finish();
}

FileDigest sha256_file(const std::filesystem::path& path, std::uint64_t part_size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("cannot open " + path.string(), errno);
  try {
    FileDigest d = sha256_of_fd(fd, path.string(), part_size);
    ::close(fd);
    return d;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

}  // namespace sacker
