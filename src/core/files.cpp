#include "files.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <vector>

#include "sacker/error.h"

namespace sacker {

namespace {

constexpr std::size_t kMaxFileName = 255;
constexpr std::string_view kTempMarker = ".sacker-";
constexpr std::size_t kRandomChars = 6;

// --- the registry of live temp files, read by the signal handler -------------------
// Fixed slots and lock-free atomics only: the handler may run at any instruction
// of any thread, so it takes no lock and allocates nothing.
struct Slot {
  std::atomic<int> state{0};  // 0 free, 1 being filled, 2 holds a path
  char path[PATH_MAX];
};
constexpr int kSlots = 64;
Slot g_slots[kSlots];

int register_temp_path(const std::string& path) {
  if (path.size() >= PATH_MAX) return -1;
  for (int i = 0; i < kSlots; ++i) {
    int expected = 0;
    if (!g_slots[i].state.compare_exchange_strong(expected, 1)) continue;
    std::memcpy(g_slots[i].path, path.c_str(), path.size() + 1);
    g_slots[i].state.store(2);
    return i;
  }
  return -1;  // full: best effort, the file is still removed on normal exits
}

void unregister_temp_path(int slot) {
  if (slot >= 0) g_slots[slot].state.store(0);
}

constexpr int kCleanupSignals[] = {SIGINT, SIGTERM, SIGHUP};
struct sigaction g_previous[sizeof kCleanupSignals / sizeof kCleanupSignals[0]];

void cleanup_and_die(int sig) {
  const int saved = errno;
  for (auto& slot : g_slots)
    if (slot.state.load() == 2) ::unlink(slot.path);
  for (std::size_t i = 0; i < sizeof kCleanupSignals / sizeof kCleanupSignals[0]; ++i)
    if (kCleanupSignals[i] == sig) ::sigaction(sig, &g_previous[i], nullptr);
  errno = saved;
  ::raise(sig);  // delivered when the handler returns, with the previous disposition
}

// Holds SIGINT/SIGTERM/SIGHUP back while a temp file is created and registered: a
// signal that arrives in between is delivered when the file is in the registry, so
// the handler never misses a file that exists (a watcher may see it at once).
class CleanupSignalsHeld {
 public:
  CleanupSignalsHeld() {
    sigset_t held;
    sigemptyset(&held);
    for (int sig : kCleanupSignals) sigaddset(&held, sig);
    ::pthread_sigmask(SIG_BLOCK, &held, &previous_);
  }
  ~CleanupSignalsHeld() { ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  CleanupSignalsHeld(const CleanupSignalsHeld&) = delete;
  CleanupSignalsHeld& operator=(const CleanupSignalsHeld&) = delete;

 private:
  sigset_t previous_;
};

bool name_has_temp_shape(std::string_view name, std::string_view prefix) {
  if (name.size() != prefix.size() + kRandomChars || name.compare(0, prefix.size(), prefix) != 0) return false;
  for (char c : name.substr(prefix.size()))
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  return true;
}

}  // namespace

std::string temp_file_prefix(const std::string& stem) {
  const std::size_t room = kMaxFileName - 1 - kTempMarker.size() - kRandomChars;
  std::size_t cut = std::min(stem.size(), room);
  // Never split a UTF-8 sequence: back up to the start of the one that would be cut.
  if (cut < stem.size())
    while (cut > 0 && (static_cast<unsigned char>(stem[cut]) & 0xC0) == 0x80) --cut;
  return "." + stem.substr(0, cut) + std::string(kTempMarker);
}

bool is_temp_file_name(std::string_view name) {
  if (name.size() < 1 + kTempMarker.size() + kRandomChars || name.front() != '.') return false;
  const std::size_t marker = name.size() - kRandomChars - kTempMarker.size();
  return name.compare(marker, kTempMarker.size(), kTempMarker) == 0 &&
         name_has_temp_shape(name, name.substr(0, marker + kTempMarker.size()));
}

std::size_t remove_abandoned_temp_files(const std::filesystem::path& dir, const std::optional<std::string>& stem,
                                        std::int64_t min_idle_seconds) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return 0;  // best effort: the caller reports real problems itself
  const std::string prefix = stem ? temp_file_prefix(*stem) : std::string();
  const std::time_t now = std::time(nullptr);
  std::size_t removed = 0;
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    if (stem ? !name_has_temp_shape(name, prefix) : !is_temp_file_name(name)) continue;
    int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) continue;
    struct stat st {};
    // No flock held: the kernel dropped it with the process that made the file.
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime > min_idle_seconds &&
        ::flock(fd, LOCK_EX | LOCK_NB) == 0 && ::unlink(entry.path().c_str()) == 0)
      ++removed;
    ::close(fd);
  }
  return removed;
}

std::filesystem::path temp_directory() {
  const char* dir = std::getenv("TMPDIR");
  return dir && *dir ? std::filesystem::path(dir) : std::filesystem::path("/tmp");
}

void install_cleanup_on_signals() {
  static std::atomic<bool> installed{false};
  if (installed.exchange(true)) return;
  for (std::size_t i = 0; i < sizeof kCleanupSignals / sizeof kCleanupSignals[0]; ++i) {
    struct sigaction action {};
    action.sa_handler = cleanup_and_die;
    sigemptyset(&action.sa_mask);
    if (::sigaction(kCleanupSignals[i], nullptr, &g_previous[i]) != 0) continue;
    if (g_previous[i].sa_handler == SIG_IGN) continue;  // nohup: keep ignoring it
    ::sigaction(kCleanupSignals[i], &action, nullptr);
  }
}

void test_stop_point(std::string_view point) {
  static const char* const wanted = std::getenv("SACKER_TEST_STOP_AT");
  if (wanted && point == wanted) ::raise(SIGSTOP);
}

mode_t current_umask() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("Umask:", 0) == 0) return static_cast<mode_t>(std::strtoul(line.c_str() + 6, nullptr, 8) & 0777);
  // Kernels before 4.7 have no Umask line: read it by setting it (and back).
  const mode_t mask = ::umask(022);
  ::umask(mask);
  return mask;
}

TempFile::TempFile(const std::filesystem::path& dir, const std::string& stem) {
  const std::string prefix = temp_file_prefix(stem);
  remove_abandoned_temp_files(dir, stem, 60);
  std::string tmpl = (dir / (prefix + "XXXXXX")).string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  CleanupSignalsHeld held;  // until the file is in the registry
  fd_ = ::mkostemp(buf.data(), O_CLOEXEC);
  if (fd_ < 0) {
    const int err = errno;
    // A missing directory is not a "not found" of what the user asked for: local I/O.
    const ErrorKind kind = kind_from_errno(err) == ErrorKind::Denied ? ErrorKind::Denied : ErrorKind::LocalIO;
    throw Error(kind, "cannot create a temporary file in " + dir.string() + ": " + std::strerror(err));
  }
  path_ = buf.data();
  slot_ = register_temp_path(path_.string());
  lock_fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (lock_fd_ >= 0) ::flock(lock_fd_, LOCK_EX);
}

TempFile::~TempFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!done_) ::unlink(path_.c_str());
  forget();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

void TempFile::forget() {
  unregister_temp_path(slot_);
  slot_ = -1;
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
  forget();
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
  if (!ec) return;
  // A component that exists but is not a directory (a store root that is a file):
  // the path names something, so this is local I/O, not "not found".
  for (auto p = dir; !p.empty() && p != p.parent_path(); p = p.parent_path()) {
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode))
        throw Error(ErrorKind::LocalIO,
                    "cannot create directory " + dir.string() + ": " + p.string() + " exists and is not a directory");
      break;
    }
  }
  throw_errno("cannot create directory " + dir.string(), ec.value());
}

}  // namespace sacker
