// An LD_PRELOAD library for the end-to-end race tests: it holds a process at the
// first call that would delete or move a chosen file, so a test can put another
// command exactly in between a decision and the action that follows it, without
// sleeps and without a hook in the product.
//
// Environment of the process it is loaded into:
//   SACKER_PAUSE_MATCH  a substring of the path (e.g. a blob's sha256)
//   SACKER_PAUSE_READY  a FIFO: one byte is written to it when the call is reached
//   SACKER_PAUSE_GO     a FIFO: the call proceeds after one byte is read from it
//   SACKER_PAUSE_ON     "remove" (default): unlink, unlinkat, remove, rename, renameat,
//                       renameat2 of the path; "create": open/openat with O_CREAT of it
// Only the first matching call pauses; the others pass straight through.
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

std::atomic<bool> paused{false};

bool pausing_on(const char* calls) {
  const char* on = std::getenv("SACKER_PAUSE_ON");
  return std::strcmp(on && *on ? on : "remove", calls) == 0;
}

void pause_if_matching(const char* path, const char* calls = "remove") {
  if (!pausing_on(calls)) return;
  const char* match = std::getenv("SACKER_PAUSE_MATCH");
  if (!path || !match || !*match || !std::strstr(path, match)) return;
  if (paused.exchange(true)) return;
  const int saved = errno;
  const char* ready = std::getenv("SACKER_PAUSE_READY");
  const char* go = std::getenv("SACKER_PAUSE_GO");
  if (ready && go) {
    int fd = ::open(ready, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      char c = 'r';
      (void)!::write(fd, &c, 1);
      ::close(fd);
    }
    fd = ::open(go, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      char c;
      while (::read(fd, &c, 1) < 0 && errno == EINTR) {
      }
      ::close(fd);
    }
  }
  errno = saved;
}

template <typename Fn>
Fn next(const char* name) {
  return reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" {

int open(const char* path, int flags, ...) {
  static auto real = next<int (*)(const char*, int, ...)>("open");
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list ap;
    va_start(ap, flags);
    mode = static_cast<mode_t>(va_arg(ap, unsigned));
    va_end(ap);
    pause_if_matching(path, "create");
  }
  return real(path, flags, mode);
}

int open64(const char* path, int flags, ...) {
  static auto real = next<int (*)(const char*, int, ...)>("open64");
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list ap;
    va_start(ap, flags);
    mode = static_cast<mode_t>(va_arg(ap, unsigned));
    va_end(ap);
    pause_if_matching(path, "create");
  }
  return real(path, flags, mode);
}

int openat(int dirfd, const char* path, int flags, ...) {
  static auto real = next<int (*)(int, const char*, int, ...)>("openat");
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list ap;
    va_start(ap, flags);
    mode = static_cast<mode_t>(va_arg(ap, unsigned));
    va_end(ap);
    pause_if_matching(path, "create");
  }
  return real(dirfd, path, flags, mode);
}

int unlink(const char* path) {
  static auto real = next<int (*)(const char*)>("unlink");
  pause_if_matching(path);
  return real(path);
}

int unlinkat(int dirfd, const char* path, int flags) {
  static auto real = next<int (*)(int, const char*, int)>("unlinkat");
  pause_if_matching(path);
  return real(dirfd, path, flags);
}

int remove(const char* path) {
  static auto real = next<int (*)(const char*)>("remove");
  pause_if_matching(path);
  return real(path);
}

int rename(const char* from, const char* to) {
  static auto real = next<int (*)(const char*, const char*)>("rename");
  pause_if_matching(from);
  return real(from, to);
}

int renameat(int fromfd, const char* from, int tofd, const char* to) {
  static auto real = next<int (*)(int, const char*, int, const char*)>("renameat");
  pause_if_matching(from);
  return real(fromfd, from, tofd, to);
}

int renameat2(int fromfd, const char* from, int tofd, const char* to, unsigned flags) {
  static auto real = next<int (*)(int, const char*, int, const char*, unsigned)>("renameat2");
  pause_if_matching(from);
  return real(fromfd, from, tofd, to, flags);
}

}  // extern "C"
