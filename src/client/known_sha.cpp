#include "client/known_sha.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "core/files.h"
#include "sacker/names.h"

namespace sacker::client_detail {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kFormat = "sacker-sha256 1 ";
constexpr std::string_view kSidecarSuffix = ".sacker-sha256";
constexpr std::size_t kMaxEntry = 600;  // the format, 64 hex digits, 5 numbers, a name of at most 255 bytes

std::int64_t ns_of(const struct timespec& t) { return std::int64_t{t.tv_sec} * 1000000000 + t.tv_nsec; }

// The test seam for file systems without user xattrs: SACKER_TEST_NO_XATTR=1
// keeps every entry in the sidecar.
bool use_xattrs() {
  const char* v = std::getenv("SACKER_TEST_NO_XATTR");
  return !(v && *v && std::strcmp(v, "0") != 0);
}

fs::path directory_of(const fs::path& file) { return file.parent_path().empty() ? fs::path(".") : file.parent_path(); }

std::string xattr_name(const std::string& name) {
  std::uint64_t h = 14695981039346656037ULL;  // FNV-1a: a short, stable attribute name
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ULL;
  return fmt::format("user.sacker.sha256.{:016x}", h);
}

std::string encode(const std::string& name, const ContentKey& k, const std::string& sha) {
  return fmt::format("{}{} {} {} {} {} {} {}\n", kFormat, sha, k.dev, k.ino, k.size, k.mtime_ns, k.ctime_ns, name);
}

template <typename T>
bool take_number(std::string_view& s, T& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || end == s.data() + s.size() || *end != ' ') return false;
  s.remove_prefix(static_cast<std::size_t>(end - s.data()) + 1);
  return true;
}

// The sha256 of an entry whose name and key are `name` and `key`; nullopt for any
// other entry and for anything that does not parse.
std::optional<std::string> match(std::string_view text, const std::string& name, const ContentKey& key) {
  if (!text.starts_with(kFormat) || !text.ends_with('\n')) return std::nullopt;
  text.remove_prefix(kFormat.size());
  text.remove_suffix(1);
  if (text.size() < 65 || text[64] != ' ') return std::nullopt;
  std::string sha(text.substr(0, 64));
  if (!is_valid_sha256_hex(sha)) return std::nullopt;
  text.remove_prefix(65);
  ContentKey k;
  if (!take_number(text, k.dev) || !take_number(text, k.ino) || !take_number(text, k.size) ||
      !take_number(text, k.mtime_ns) || !take_number(text, k.ctime_ns))
    return std::nullopt;
  if (text != name || !(k == key)) return std::nullopt;
  return sha;
}

bool same_file_still(int fd, const ContentKey& before) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && content_key(st) == before;
}

// In the directory's xattr. Unsupported: the directory has no user xattrs to give (the
// sidecar then); TooRecent or Changed: nothing is kept anywhere this run.
enum class XattrOutcome { Kept, TooRecent, Changed, Unsupported };
XattrOutcome remember_in_xattr(const fs::path& dir, const std::string& name, int fd, const ContentKey& before,
                               const std::string& text) {
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return XattrOutcome::Unsupported;
  const std::string attr = xattr_name(name);
  XattrOutcome outcome = XattrOutcome::Unsupported;
  if (::fsetxattr(dfd, attr.c_str(), text.data(), text.size(), 0) == 0) {
    // The directory's ctime, just set by the file system for this write (an unchanged
    // value keeps an older one, which was checked when that value was written).
    struct stat dst {};
    const bool recent = !(::fstat(dfd, &dst) == 0 && before.ctime_ns < ns_of(dst.st_ctim));
    const bool changed = !same_file_still(fd, before);
    if (recent || changed) ::fremovexattr(dfd, attr.c_str());
    outcome = changed ? XattrOutcome::Changed : recent ? XattrOutcome::TooRecent : XattrOutcome::Kept;
  }
  ::close(dfd);
  return outcome;
}

Remembered remember_in_sidecar(const fs::path& file, int fd, const ContentKey& before, const std::string& text) {
  const fs::path sidecar = sha_sidecar_path(file), dir = sidecar.parent_path();
  if (sidecar.filename().string().size() > 255) return Remembered::NotKept;  // no entry for names this long
  try {
    TempFile tmp(dir, sidecar.filename().string());
    tmp.write(text.data(), text.size());
    tmp.commit(sidecar, 0600);
  } catch (const std::exception&) {
    return Remembered::NotKept;  // a read-only directory, a full disk: the next run re-hashes
  }
  struct stat sst {};
  // The sidecar's mtime: the file system's clock after the entry was written.
  if (::lstat(sidecar.c_str(), &sst) != 0 || !same_file_still(fd, before)) {
    ::unlink(sidecar.c_str());
    return Remembered::NotKept;
  }
  if (!(before.ctime_ns < ns_of(sst.st_mtim))) {
    ::unlink(sidecar.c_str());
    return Remembered::TooRecent;
  }
  return Remembered::Kept;
}

}  // namespace

ContentKey content_key(const struct stat& st) {
  return ContentKey{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                    static_cast<std::uint64_t>(st.st_size), ns_of(st.st_mtim), ns_of(st.st_ctim)};
}

fs::path sha_sidecar_path(const fs::path& file) {
  return directory_of(file) / ("." + file.filename().string() + std::string(kSidecarSuffix));
}

std::optional<std::string> remembered_sha256(const fs::path& file, const struct stat& st) {
  if (!S_ISREG(st.st_mode)) return std::nullopt;
  const std::string name = file.filename().string();
  const ContentKey key = content_key(st);
  char buf[kMaxEntry];
  if (use_xattrs()) {
    const ssize_t n = ::getxattr(directory_of(file).c_str(), xattr_name(name).c_str(), buf, sizeof buf);
    if (n > 0)
      if (auto sha = match(std::string_view(buf, static_cast<std::size_t>(n)), name, key)) return sha;
  }
  const int fd = ::open(sha_sidecar_path(file).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return std::nullopt;
  ssize_t n;
  do n = ::read(fd, buf, sizeof buf);
  while (n < 0 && errno == EINTR);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  return match(std::string_view(buf, static_cast<std::size_t>(n)), name, key);
}

Remembered remember_sha256(const fs::path& file, int fd, const ContentKey& before, const std::string& sha256) {
  if (sha256.size() != 64 || !same_file_still(fd, before)) return Remembered::NotKept;
  const fs::path dir = directory_of(file);
  const std::string name = file.filename().string();
  const std::string text = encode(name, before, sha256);
  if (use_xattrs()) {
    switch (remember_in_xattr(dir, name, fd, before, text)) {
      case XattrOutcome::Kept:
        ::unlink(sha_sidecar_path(file).c_str());  // an older entry from before the xattr worked
        return Remembered::Kept;
      case XattrOutcome::TooRecent:
        return Remembered::TooRecent;  // a sidecar would only litter the directory
      case XattrOutcome::Changed:
        return Remembered::NotKept;
      case XattrOutcome::Unsupported:
        break;
    }
  }
  return remember_in_sidecar(file, fd, before, text);
}

}  // namespace sacker::client_detail
