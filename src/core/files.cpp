#include "files.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <vector>

#include "sacker/error.h"

namespace sacker {

namespace {

// Temp files of a killed sacker: no flock held (the kernel drops it with the
// process) and idle for a minute (covers the moment between mkostemp and flock).
void remove_abandoned_temp_files(const std::filesystem::path& dir, const std::string& prefix) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return;  // best effort: the caller reports real problems itself
  const std::time_t now = std::time(nullptr);
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    if (name.size() != prefix.size() + 6 || name.compare(0, prefix.size(), prefix) != 0) continue;
    int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) continue;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime > 60 && ::flock(fd, LOCK_EX | LOCK_NB) == 0)
      ::unlink(entry.path().c_str());
    ::close(fd);
  }
}

}  // namespace

TempFile::TempFile(const std::filesystem::path& dir, const std::string& stem) {
  const std::string prefix = "." + stem + ".sacker-";
  remove_abandoned_temp_files(dir, prefix);
  std::string tmpl = (dir / (prefix + "XXXXXX")).string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  fd_ = ::mkostemp(buf.data(), O_CLOEXEC);
  if (fd_ < 0) throw_errno("cannot create a temporary file in " + dir.string(), errno);
  path_ = buf.data();
  lock_fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (lock_fd_ >= 0) ::flock(lock_fd_, LOCK_EX);
}

TempFile::~TempFile() {
  if (fd_ >= 0) ::close(fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
  if (!done_) ::unlink(path_.c_str());
}

void TempFile::write(const char* data, std::size_t size) { write_all(fd_, data, size, path_.string()); }

void TempFile::sync_and_close(unsigned mode) {
  if (::fchmod(fd_, mode) != 0) throw_errno("cannot set the mode of " + path_.string(), errno);
  if (::fsync(fd_) != 0) throw_errno("cannot sync " + path_.string(), errno);
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) throw_errno("cannot close " + path_.string(), errno);
}

void TempFile::commit(const std::filesystem::path& destination, unsigned mode) {
  sync_and_close(mode);
  if (::rename(path_.c_str(), destination.c_str()) != 0) throw_errno("cannot write " + destination.string(), errno);
  done_ = true;
  fsync_directory(destination.parent_path().empty() ? "." : destination.parent_path());
}

bool TempFile::commit_no_replace(const std::filesystem::path& destination, unsigned mode) {
  sync_and_close(mode);
  if (::link(path_.c_str(), destination.c_str()) != 0) {
    if (errno == EEXIST) return false;
    throw_errno("cannot write " + destination.string(), errno);
  }
  fsync_directory(destination.parent_path());
  return true;
}

void write_all(int fd, const char* data, std::size_t size, const std::string& what) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot write " + what, errno);
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

void fsync_directory(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: some file systems refuse to open directories
  ::fsync(fd);
  ::close(fd);
}

void make_directories(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw_errno("cannot create directory " + dir.string(), ec.value());
}

}  // namespace sacker
