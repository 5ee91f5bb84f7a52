// Local file helpers: atomic placement (temp file + fsync + rename + fsync of the
// directory) and plain fd I/O that throws sacker::Error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace sacker {

// A temporary file created next to where it will be committed, so the final
// rename stays on one file system. Removed on destruction unless committed.
class TempFile {
 public:
  // Creates "<dir>/.<stem>.sacker-XXXXXX" with mode 0600 and holds an flock on it
  // for its lifetime. First removes what killed processes left under that pattern:
  // files no live process holds locked and that were not written to for a minute.
  TempFile(const std::filesystem::path& dir, const std::string& stem);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  int fd() const { return fd_; }
  const std::filesystem::path& path() const { return path_; }
  void write(const char* data, std::size_t size);
  // fsync, chmod to `mode`, close, rename onto `destination`, fsync the directory.
  void commit(const std::filesystem::path& destination, unsigned mode);
  // Like commit, but fails (returns false, temp removed) if `destination` exists:
  // link() + unlink(), so an existing file is never replaced.
  bool commit_no_replace(const std::filesystem::path& destination, unsigned mode);

 private:
  void sync_and_close(unsigned mode);
  int fd_ = -1;
  int lock_fd_ = -1;  // a second descriptor, so the lock outlives sync_and_close
  std::filesystem::path path_;
  bool done_ = false;
};

void write_all(int fd, const char* data, std::size_t size, const std::string& what);
void fsync_directory(const std::filesystem::path& dir);
// Creates a directory and its parents; throws Error with the errno's kind.
void make_directories(const std::filesystem::path& dir);

}  // namespace sacker
