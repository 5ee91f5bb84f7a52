// Local file helpers: atomic placement (temp file + fsync + rename + fsync of the
// directory), plain fd I/O that throws sacker::Error, the registry of this
// process's temp files that a SIGINT/SIGTERM handler removes, and the one test
// seam of the fault-injection tests.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "sacker/sha256.h"

namespace sacker {

// A temporary file created next to where it will be committed, so the final
// rename stays on one file system. Removed on destruction unless committed, and
// by the signal handler of install_cleanup_on_signals() if the process is
// interrupted while it exists.
class TempFile {
 public:
  // Creates temp_file_prefix(stem) + "XXXXXX" in `dir` with mode 0600 and holds an
  // flock on it for its lifetime. First removes what killed processes left under
  // that prefix: files no live process holds locked and not written to for a
  // minute. Throws Error(Denied) if the directory refuses, else Error(LocalIO)
  // (a directory that does not exist included: "cannot create a temporary file in ...").
  TempFile(const std::filesystem::path& dir, const std::string& stem);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  int fd() const { return fd_; }
  const std::filesystem::path& path() const { return path_; }
  void write(const char* data, std::size_t size);
  // fsync, fchmod to `mode` (on the descriptor: never through a path), close,
  // rename onto `destination`, fsync the directory. Whatever `destination` is
  // (a file, a symlink) is replaced, never followed.
  void commit(const std::filesystem::path& destination, unsigned mode);
  // Like commit, but fails (returns false, temp removed) if `destination` exists:
  // link() + unlink(), so an existing file is never replaced.
  bool commit_no_replace(const std::filesystem::path& destination, unsigned mode);

 private:
  void sync_and_close(unsigned mode);
  void forget();
  int fd_ = -1;
  int lock_fd_ = -1;  // a second descriptor, so the lock outlives sync_and_close
  int slot_ = -1;     // in the signal cleanup registry
  std::filesystem::path path_;
  bool done_ = false;
};

// ".<stem>.sacker-": the name of a TempFile without its 6 random characters. The
// stem is cut (at a UTF-8 boundary) so that the whole name fits in 255 bytes.
std::string temp_file_prefix(const std::string& stem);
// Whether `name` (a file name, no directory) is a TempFile's, of any stem.
bool is_temp_file_name(std::string_view name);
// Removes the temp files in `dir` (of `stem` only, if given) that no live process
// holds locked and that were not modified for `min_idle_seconds`. Best effort
// (errors are ignored); returns how many were removed.
std::size_t remove_abandoned_temp_files(const std::filesystem::path& dir, const std::optional<std::string>& stem,
                                        std::int64_t min_idle_seconds);

// Where spools go: $TMPDIR if set and not empty, else /tmp. Not checked here:
// creating a TempFile there says what is wrong (Error(LocalIO) if it is missing).
std::filesystem::path temp_directory();

// For main(): on SIGINT, SIGTERM and SIGHUP, removes every temp file of this
// process (destination temps, store temps, stdin spools: every live TempFile),
// then dies of the signal as it would have. Signals the process ignores (nohup)
// stay ignored. Idempotent.
void install_cleanup_on_signals();

// The test seam of the fault-injection tests (tests/e2e/crash_test.cpp): when
// $SACKER_TEST_STOP_AT equals `point`, the process stops itself there (SIGSTOP),
// so that a test can kill it at exactly that point. Nothing otherwise.
void test_stop_point(std::string_view point);

// The umask of the process, read without changing it.
mode_t current_umask();

void write_all(int fd, const char* data, std::size_t size, const std::string& what);
void fsync_directory(const std::filesystem::path& dir);
// Creates a directory and its parents; throws Error with the errno's kind (a
// path component that is a file: Error(LocalIO) "... is not a directory").
void make_directories(const std::filesystem::path& dir);

}  // namespace sacker
