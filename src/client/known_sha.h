// Cheap polling (issue 10 point 6): a download destination's sha256, remembered
// under the stat fields that identify its content on disk, so that `download` of
// an unchanged destination does not re-hash it.
//
// The key is (st_dev, st_ino, st_size, mtime ns, ctime ns). Any write, truncation,
// chmod, rename onto the name or replacement changes the ctime (which no user can
// set), so an entry whose key does not match the file exactly is never used, and
// a forged or stale entry is harmless unless its key matches the file as it is
// now. An entry is kept only if the file's ctime is older than a timestamp the
// same file system gave after the entry was written (the "racily clean" rule of
// git's index): a change in the same clock tick as the remembered state would
// otherwise keep the key.
//
// Where an entry lives: an extended attribute of the destination's directory,
// user.sacker.sha256.<16 hex digits of the name's FNV-1a>, where the directory
// has user xattrs; else the sidecar file <dir>/.<name>.sacker-sha256 (0600).
// Never an xattr of the file itself: setting one changes the file's ctime, the
// very field the key needs. The entry names the file, so a hash collision of two
// names is a miss. Everything here is best effort: a failure to remember is
// silent and only costs the next run a re-hash.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace sacker::client_detail {

struct ContentKey {
  std::uint64_t dev = 0, ino = 0, size = 0;
  std::int64_t mtime_ns = 0, ctime_ns = 0;
  bool operator==(const ContentKey&) const = default;
};
ContentKey content_key(const struct stat& st);

// The remembered sha256 (lower-case hex) of `file` if an entry for its name has
// exactly the key `st` (the file's lstat/fstat now); nullopt otherwise.
std::optional<std::string> remembered_sha256(const std::filesystem::path& file, const struct stat& st);

// Remembers that `fd`, open on `file`, held `sha256` when it had the key `before`
// (fstat taken before its bytes were hashed or written). Nothing is kept if the
// file changed since (`fd`'s key now differs) or if the change is too recent for
// its ctime to tell a later one apart (TooRecent: the same call succeeds once the
// file system's clock has moved past that ctime).
enum class Remembered { Kept, TooRecent, NotKept };
Remembered remember_sha256(const std::filesystem::path& file, int fd, const ContentKey& before,
                           const std::string& sha256);

// The sidecar's path (also when the entry is in an xattr).
std::filesystem::path sha_sidecar_path(const std::filesystem::path& file);

}  // namespace sacker::client_detail
