// The file store: file:///path.
//
// Layout: <root>/<first two hex digits>/<sha256>, mode 0444; temp files
// ".<sha256>.sacker-XXXXXX" (core/files.h TempFile) beside the blobs while one is
// written.
//
// Why a blob is never wrong and never lost to gc:
// - put_file copies the source into a temp file while hashing it, checks sha256
//   and size, fsyncs, and links it into place (link() never replaces), so a blob
//   is never visible under a sha it does not hash to.
// - Re-use verifies: an existing blob is only re-used if its size and sha256 are
//   right; otherwise the verified new copy is renamed over it (a corrupt blob is
//   repaired by adding the original again).
// - Re-use and gc's conditional delete take an flock on the blob's inode: put_file
//   a shared one while it checks the blob and moves its mtime forward (always by
//   at least a second, so a gc that listed the blob sees the change), and while
//   it renames a repaired copy over a bad one; remove_if_not_modified_after an
//   exclusive one while it checks that the inode is still linked at the blob's
//   path with an mtime not after what gc listed, and unlinks it. So either the
//   re-use comes first (gc sees the new mtime and keeps the blob), or the delete
//   does (put_file finds the inode unlinked, nlink 0, and stores the blob again).
#include "store/file_store.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <filesystem>
#include <utility>
#include <vector>

#include "core/files.h"
#include "kit/uri_options.h"
#include "sacker/error.h"
#include "sacker/names.h"
#include "sacker/sha256.h"
#include "store/gc_support.h"

namespace sacker {
namespace {

namespace fs = std::filesystem;
constexpr std::size_t kChunk = 1 << 20;

// Closes an fd on scope exit.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd, o.fd);
    return *this;
  }
  Fd(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

void lock(int fd, int how) {
  while (::flock(fd, how) != 0)
    if (errno != EINTR) break;  // a file system without flock: no lock, as before
}

// The blob at a path, opened and locked; fd -1 if there is none (or it is being
// deleted), with `bad` if something that is not a usable blob is there.
struct Existing {
  Fd fd{-1};
  struct stat st {};
  bool bad = false;
};

class FileStore final : public Store, public GcSupport {
 public:
  FileStore(fs::path root, std::string uri) : root_(std::move(root)), uri_(std::move(uri)) {}

  void init() override { make_directories(root_); }

  std::optional<bool> contains(const std::string& sha256) override {
    struct stat st {};
    if (::lstat(blob_path(sha256).c_str(), &st) == 0) return S_ISREG(st.st_mode);
    if (errno == ENOENT || errno == ENOTDIR) return false;
    throw_errno(fmt::format("file store {}: cannot look up {}", uri_, sha256), errno);
  }

  bool put_file(const std::string& sha256, const fs::path& source, std::uint64_t size, Progress* progress) override {
    validate_sha256_hex(sha256, "file store put");
    const fs::path dest = blob_path(sha256);
    for (int attempt = 0;; ++attempt) {
      Existing existing = open_existing(dest, LOCK_SH);
      if (existing.fd.fd >= 0 && !existing.bad) {
        if (static_cast<std::uint64_t>(existing.st.st_size) == size &&
            sha256_of_fd(existing.fd.fd, dest.string()).sha256 == sha256) {
          refresh(existing, sha256);  // under the shared lock: gc either saw this or sees nlink 0 later
          return false;
        }
        existing.bad = true;
      }
      if (existing.bad) {
        // A blob that does not hash to its name: the verified copy replaces it, while
        // the lock keeps gc from deleting whatever is at the path in between.
        upload(sha256, source, size, progress, dest, /*replace=*/true);
        return true;
      }
      if (upload(sha256, source, size, progress, dest, /*replace=*/false)) return true;
      // Linked into place by a concurrent put since we looked: verify that one.
      if (attempt >= 2) return false;
    }
  }

  void get(const std::string& sha256, BlobSink& sink, Progress* progress) override {
    validate_sha256_hex(sha256, "file store get");
    fs::path path = blob_path(sha256);
    Fd in{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (in.fd < 0) {
      if (errno == ENOENT) throw Error(ErrorKind::NotFound, fmt::format("blob {} is not in {}", sha256, uri_));
      throw_errno(fmt::format("file store {}: cannot open blob {}", uri_, sha256), errno);
    }
    struct stat st {};
    ::fstat(in.fd, &st);
    if (progress) progress->start(static_cast<std::uint64_t>(st.st_size));
    std::vector<char> buf(kChunk);
    while (true) {
      ssize_t n = ::read(in.fd, buf.data(), buf.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_errno(fmt::format("file store {}: cannot read blob {}", uri_, sha256), errno);
      }
      if (n == 0) break;
      sink.write(buf.data(), static_cast<std::size_t>(n));
      if (progress) progress->advance(static_cast<std::uint64_t>(n));
    }
    if (progress) progress->finish();
  }

  std::optional<BlobInfo> stat(const std::string& sha256) override {
    validate_sha256_hex(sha256, "file store stat");
    struct stat st {};
    if (::lstat(blob_path(sha256).c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
      throw_errno(fmt::format("file store {}: cannot look up {}", uri_, sha256), errno);
    }
    if (!S_ISREG(st.st_mode)) return std::nullopt;
    return info_of(sha256, st);
  }

  void get_range(const std::string& sha256, std::uint64_t offset, std::uint64_t length, const std::string& if_match,
                 BlobSink& sink) override {
    validate_sha256_hex(sha256, "file store get");
    Fd in{::open(blob_path(sha256).c_str(), O_RDONLY | O_CLOEXEC)};
    if (in.fd < 0) {
      if (errno == ENOENT) throw Error(ErrorKind::NotFound, fmt::format("blob {} is not in {}", sha256, uri_));
      throw_errno(fmt::format("file store {}: cannot open blob {}", uri_, sha256), errno);
    }
    struct stat st {};
    if (::fstat(in.fd, &st) != 0) throw_errno(fmt::format("file store {}: cannot stat blob {}", uri_, sha256), errno);
    if (!if_match.empty() && if_match != etag_of(st))
      throw Error(ErrorKind::Conflict, fmt::format("blob {} in {} changed since it was first read", sha256, uri_));
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (offset > size || length > size - offset)
      throw Error(ErrorKind::Invalid, fmt::format("blob {} in {}: range {}+{} is past its end ({} bytes)", sha256, uri_,
                                                  offset, length, size));
    std::vector<char> buf(kChunk);
    while (length > 0) {
      ssize_t n = ::pread(in.fd, buf.data(), std::min<std::uint64_t>(buf.size(), length), static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_errno(fmt::format("file store {}: cannot read blob {}", uri_, sha256), errno);
      }
      if (n == 0)
        throw Error(ErrorKind::LocalIO, fmt::format("file store {}: blob {} shrank while read", uri_, sha256));
      sink.write(buf.data(), static_cast<std::size_t>(n));
      offset += static_cast<std::uint64_t>(n);
      length -= static_cast<std::uint64_t>(n);
    }
  }

  bool remove(const std::string& sha256) override {
    validate_sha256_hex(sha256, "file store remove");
    return remove_locked(sha256, std::nullopt);
  }

  bool remove_if_not_modified_after(const std::string& sha256, std::int64_t not_after) override {
    validate_sha256_hex(sha256, "file store remove");
    return remove_locked(sha256, not_after);
  }

  std::size_t remove_abandoned_uploads(std::int64_t min_idle_seconds) override {
    std::size_t removed = 0;
    std::error_code ec;
    for (const auto& dir : fs::directory_iterator(root_, ec))
      if (dir.is_directory(ec) && is_shard_name(dir.path().filename().string()))
        removed += remove_abandoned_temp_files(dir.path(), std::nullopt, min_idle_seconds);
    return removed;
  }

  std::vector<BlobInfo> list() override {
    std::vector<BlobInfo> out;
    struct stat root {};
    if (::stat(root_.c_str(), &root) != 0) {
      if (errno == ENOENT) return out;  // nothing stored yet
      throw_errno(fmt::format("file store {}: cannot list", uri_), errno);
    }
    if (!S_ISDIR(root.st_mode))
      throw Error(ErrorKind::LocalIO, fmt::format("file store {}: {} is not a directory", uri_, root_.string()));
    std::error_code ec;
    for (fs::directory_iterator dirs(root_, ec), end; !ec && dirs != end; dirs.increment(ec)) {
      const std::string shard = dirs->path().filename().string();
      if (!is_shard_name(shard) || !dirs->is_directory()) continue;
      std::error_code inner;
      for (fs::directory_iterator it(dirs->path(), inner), e; !inner && it != e; it.increment(inner)) {
        const std::string name = it->path().filename().string();
        if (!is_valid_sha256_hex(name) || name.compare(0, 2, shard) != 0) continue;
        struct stat st {};
        if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        out.push_back(info_of(name, st));
      }
      if (inner) throw_errno(fmt::format("file store {}: cannot list {}", uri_, dirs->path().string()), inner.value());
    }
    if (ec) throw_errno(fmt::format("file store {}: cannot list", uri_), ec.value());
    return out;
  }

  std::string describe() const override { return uri_; }

 private:
  fs::path blob_path(const std::string& sha256) const { return root_ / sha256.substr(0, 2) / sha256; }

  static bool is_shard_name(const std::string& name) {
    return name.size() == 2 && is_valid_sha256_hex(name + std::string(62, '0'));
  }

  // Blobs are written once and linked into place, so a replaced blob has another
  // inode (the mtime is not part of it: re-use refreshes the mtime for gc).
  static std::string etag_of(const struct stat& st) {
    return fmt::format("{:x}-{:x}", static_cast<unsigned long long>(st.st_ino),
                       static_cast<unsigned long long>(st.st_size));
  }
  static BlobInfo info_of(const std::string& sha256, const struct stat& st) {
    return BlobInfo{sha256, static_cast<std::uint64_t>(st.st_size), static_cast<std::int64_t>(st.st_mtime),
                    etag_of(st)};
  }

  Existing open_existing(const fs::path& path, int how) const {
    Existing e;
    e.fd = Fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)};
    if (e.fd.fd < 0) {
      if (errno == ENOENT || errno == ENOTDIR) return e;
      if (errno == ELOOP) {  // a symlink where a blob belongs: replace it
        e.bad = true;
        return e;
      }
      throw_errno(fmt::format("file store {}: cannot open {}", uri_, path.string()), errno);
    }
    lock(e.fd.fd, how);
    if (::fstat(e.fd.fd, &e.st) != 0)
      throw_errno(fmt::format("file store {}: cannot stat {}", uri_, path.string()), errno);
    if (e.st.st_nlink == 0) return Existing{};  // deleted while we waited for the lock
    if (!S_ISREG(e.st.st_mode)) e.bad = true;
    return e;
  }

  // Moves the blob's mtime to now, and at least a second past what it was, so
  // that a gc which listed it before cannot take it for unchanged.
  void refresh(const Existing& e, const std::string& sha256) const {
    struct timespec now {};
    ::clock_gettime(CLOCK_REALTIME, &now);
    if (now.tv_sec <= e.st.st_mtim.tv_sec) now = {e.st.st_mtim.tv_sec + 1, 0};
    const struct timespec times[2] = {now, now};
    if (::futimens(e.fd.fd, times) != 0)
      throw_errno(fmt::format("file store {}: cannot refresh blob {}", uri_, sha256), errno);
  }

  // Copies `source` into a verified temp file and links (or, with `replace`,
  // renames) it to `dest`. Returns false if !replace and `dest` appeared meanwhile.
  bool upload(const std::string& sha256, const fs::path& source, std::uint64_t size, Progress* progress,
              const fs::path& dest, bool replace) {
    make_directories(dest.parent_path());
    Fd in{::open(source.c_str(), O_RDONLY | O_CLOEXEC)};
    if (in.fd < 0) throw_errno("cannot open " + source.string(), errno);
    TempFile tmp(dest.parent_path(), sha256);
    Sha256 hash;
    std::vector<char> buf(kChunk);
    std::uint64_t copied = 0;
    if (progress) progress->start(size);
    while (true) {
      ssize_t n = ::read(in.fd, buf.data(), buf.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_errno("cannot read " + source.string(), errno);
      }
      if (n == 0) break;
      hash.update(buf.data(), static_cast<std::size_t>(n));
      tmp.write(buf.data(), static_cast<std::size_t>(n));
      copied += static_cast<std::uint64_t>(n);
      if (progress) progress->advance(static_cast<std::uint64_t>(n));
    }
    if (progress) progress->finish();
    std::string actual = hash.finish_hex();
    if (actual != sha256)
      throw Error(ErrorKind::Integrity,
                  fmt::format("cannot store {}: its content hashes to {} (it changed while being added?)",
                              source.string(), actual));
    if (copied != size)
      throw Error(ErrorKind::Integrity,
                  fmt::format("cannot store {}: read {} bytes, expected {}", source.string(), copied, size));
    test_stop_point("store.upload");
    if (replace) {
      tmp.commit(dest, 0444);
      return true;
    }
    return tmp.commit_no_replace(dest, 0444);
  }

  // Unlinks the blob under an exclusive lock on its inode if it is still linked
  // at its path and (with `not_after`) was not modified after that time.
  bool remove_locked(const std::string& sha256, std::optional<std::int64_t> not_after) {
    const fs::path path = blob_path(sha256);
    Existing e = open_existing(path, LOCK_EX);
    if (e.fd.fd < 0) {
      if (!e.bad) return false;
      // Not a blob (a symlink, say): only an unconditional remove takes it away.
      if (not_after) return false;
      return unlink_blob(path);
    }
    if (not_after && e.st.st_mtime > *not_after) return false;  // re-used since gc listed it
    struct stat now {};
    if (::lstat(path.c_str(), &now) != 0 || now.st_ino != e.st.st_ino || now.st_dev != e.st.st_dev)
      return false;  // replaced by a repaired copy: a new blob
    return unlink_blob(path);
  }

  bool unlink_blob(const fs::path& path) {
    if (::unlink(path.c_str()) == 0) return true;
    if (errno == ENOENT) return false;
    throw_errno(fmt::format("file store {}: cannot remove {}", uri_, path.string()), errno);
  }

  fs::path root_;
  std::string uri_;
};

}  // namespace

std::unique_ptr<Store> open_file_store(const Uri& uri) {
  UriOptions(uri).finish();
  return std::make_unique<FileStore>(local_path(uri, "file:///path/to/blobs"), redact_uri(uri.text));
}

}  // namespace sacker
