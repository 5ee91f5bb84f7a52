// A barrier on the file system's clock (not a sleep): returns once a file written
// in `dir` gets an mtime later than `path`'s ctime, so that a sha256 remembered
// from now on is not "racily clean" (client/known_sha.h) for `path`'s current state.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "support/test_env.h"

namespace sacker::test {

inline void wait_until_fs_clock_passes(const std::filesystem::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;
  const auto probe = path.parent_path() / ".fs-clock-probe";
  for (int i = 0; i < 1'000'000; ++i) {
    write_file(probe, std::to_string(i));
    struct stat p {};
    if (::lstat(probe.c_str(), &p) == 0 &&
        (p.st_mtim.tv_sec > st.st_ctim.tv_sec ||
         (p.st_mtim.tv_sec == st.st_ctim.tv_sec && p.st_mtim.tv_nsec > st.st_ctim.tv_nsec)))
      break;
  }
  std::filesystem::remove(probe);
}

}  // namespace sacker::test
