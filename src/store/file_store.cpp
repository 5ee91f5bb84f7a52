#include "store/file_store.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <vector>

#include "core/files.h"
#include "kit/uri_options.h"
#include "sacker/error.h"
#include "sacker/names.h"
#include "sacker/sha256.h"

namespace sacker {
namespace {

namespace fs = std::filesystem;
constexpr std::size_t kChunk = 1 << 20;

// Closes an fd on scope exit.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

class FileStore final : public Store {
 public:
  FileStore(fs::path root, std::string uri) : root_(std::move(root)), uri_(std::move(uri)) {}

  void init() override { make_directories(root_); }

  std::optional<bool> contains(const std::string& sha256) override {
    struct stat st {};
    if (::stat(blob_path(sha256).c_str(), &st) == 0) return S_ISREG(st.st_mode);
    if (errno == ENOENT || errno == ENOTDIR) return false;
    throw_errno(fmt::format("file store {}: cannot look up {}", uri_, sha256), errno);
  }

  bool put_file(const std::string& sha256, const fs::path& source, std::uint64_t size, Progress* progress) override {
    validate_sha256_hex(sha256, "file store put");
    fs::path dest = blob_path(sha256);
    if (contains(sha256) == true) {
      ::utimensat(AT_FDCWD, dest.c_str(), nullptr, 0);  // fresh for gc's grace period
      return false;
    }
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
    // An existing blob with this name was verified when it was written: keep it.
    tmp.commit_no_replace(dest, 0444);
    return true;
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
    if (::stat(blob_path(sha256).c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
      throw_errno(fmt::format("file store {}: cannot look up {}", uri_, sha256), errno);
    }
    if (!S_ISREG(st.st_mode)) return std::nullopt;
    return BlobInfo{sha256, static_cast<std::uint64_t>(st.st_size), static_cast<std::int64_t>(st.st_mtime),
                    etag_of(st)};
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
      throw Error(ErrorKind::Invalid,
                  fmt::format("blob {} in {}: range {}+{} is past its end ({} bytes)", sha256, uri_, offset, length, size));
    std::vector<char> buf(kChunk);
    while (length > 0) {
      ssize_t n = ::pread(in.fd, buf.data(), std::min<std::uint64_t>(buf.size(), length), static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_errno(fmt::format("file store {}: cannot read blob {}", uri_, sha256), errno);
      }
      if (n == 0) throw Error(ErrorKind::LocalIO, fmt::format("file store {}: blob {} shrank while read", uri_, sha256));
      sink.write(buf.data(), static_cast<std::size_t>(n));
      offset += static_cast<std::uint64_t>(n);
      length -= static_cast<std::uint64_t>(n);
    }
  }

  bool remove(const std::string& sha256) override {
    validate_sha256_hex(sha256, "file store remove");
    if (::unlink(blob_path(sha256).c_str()) == 0) return true;
    if (errno == ENOENT) return false;
    throw_errno(fmt::format("file store {}: cannot remove blob {}", uri_, sha256), errno);
  }

  std::vector<BlobInfo> list() override {
    std::vector<BlobInfo> out;
    std::error_code ec;
    if (!fs::exists(root_, ec)) return out;
    for (const auto& dir : fs::directory_iterator(root_, ec)) {
      if (!dir.is_directory()) continue;
      for (const auto& entry : fs::directory_iterator(dir.path(), ec)) {
        std::string name = entry.path().filename().string();
        if (!is_valid_sha256_hex(name) || name.compare(0, 2, dir.path().filename().string()) != 0) continue;
        struct stat st {};
        if (::stat(entry.path().c_str(), &st) != 0) continue;
        out.push_back({name, static_cast<std::uint64_t>(st.st_size), static_cast<std::int64_t>(st.st_mtime)});
      }
    }
    if (ec) throw_errno(fmt::format("file store {}: cannot list", uri_), ec.value());
    return out;
  }

  std::string describe() const override { return uri_; }

 private:
  fs::path blob_path(const std::string& sha256) const { return root_ / sha256.substr(0, 2) / sha256; }
  // Blobs are written once and linked into place, so a replaced blob has another
  // inode (the mtime is not part of it: re-use refreshes the mtime for gc).
  static std::string etag_of(const struct stat& st) {
    return fmt::format("{:x}-{:x}", static_cast<unsigned long long>(st.st_ino),
                       static_cast<unsigned long long>(st.st_size));
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
