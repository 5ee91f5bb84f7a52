#include "store/file_store.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <vector>

#include "core/files.h"
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

  fs::path root_;
  std::string uri_;
};

}  // namespace

std::unique_ptr<Store> open_file_store(const Uri& uri) {
  std::string path = uri.authority + uri.path;
  if (path.empty())
    throw Error(ErrorKind::Invalid, fmt::format("invalid URI '{}': expected file:///path/to/blobs", uri.text));
  return std::make_unique<FileStore>(path, uri.text);
}

}  // namespace sacker
