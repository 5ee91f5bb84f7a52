// An LD_PRELOAD library for the crash tests (crash_test.cpp): it stops the process
// (SIGSTOP) right before its Nth call that changes a file, so that a test can
// SIGKILL it at exactly that point, and at every such point in turn. No sleeps, no
// hook in the product: the points are the libc calls themselves.
//
// Environment of the process it is loaded into:
//   SACKER_STOP_AT_CALL  N (1-based): stop before the Nth counted call; unset or 0:
//                        count nothing
// Counted: write, pwrite, pwrite64, writev, fsync, fdatasync, ftruncate(64), fchmod,
// rename, renameat, renameat2, link, linkat, unlink, unlinkat. (stdio writes to
// stdout/stderr go through libc-internal calls and are not counted.)
#include <dlfcn.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>

namespace {

long stop_at() {
  static const long n = [] {
    const char* v = std::getenv("SACKER_STOP_AT_CALL");
    return v ? std::strtol(v, nullptr, 10) : 0L;
  }();
  return n;
}

std::atomic<long> calls{0};

void count_call() {
  const long n = stop_at();
  if (n <= 0) return;
  if (calls.fetch_add(1) + 1 != n) return;
  const int saved = errno;
  ::raise(SIGSTOP);  // the test kills the process here (or lets it go on with SIGCONT)
  errno = saved;
}

template <typename Fn>
Fn next(const char* name) {
  return reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" {

ssize_t write(int fd, const void* buf, size_t n) {
  static auto real = next<ssize_t (*)(int, const void*, size_t)>("write");
  count_call();
  return real(fd, buf, n);
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t offset) {
  static auto real = next<ssize_t (*)(int, const void*, size_t, off_t)>("pwrite");
  count_call();
  return real(fd, buf, n, offset);
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off64_t offset) {
  static auto real = next<ssize_t (*)(int, const void*, size_t, off64_t)>("pwrite64");
  count_call();
  return real(fd, buf, n, offset);
}

ssize_t writev(int fd, const struct iovec* iov, int count) {
  static auto real = next<ssize_t (*)(int, const struct iovec*, int)>("writev");
  count_call();
  return real(fd, iov, count);
}

int fsync(int fd) {
  static auto real = next<int (*)(int)>("fsync");
  count_call();
  return real(fd);
}

int fdatasync(int fd) {
  static auto real = next<int (*)(int)>("fdatasync");
  count_call();
  return real(fd);
}

int ftruncate(int fd, off_t length) {
  static auto real = next<int (*)(int, off_t)>("ftruncate");
  count_call();
  return real(fd, length);
}

int ftruncate64(int fd, off64_t length) {
  static auto real = next<int (*)(int, off64_t)>("ftruncate64");
  count_call();
  return real(fd, length);
}

int fchmod(int fd, mode_t mode) {
  static auto real = next<int (*)(int, mode_t)>("fchmod");
  count_call();
  return real(fd, mode);
}

int rename(const char* from, const char* to) {
  static auto real = next<int (*)(const char*, const char*)>("rename");
  count_call();
  return real(from, to);
}

int renameat(int fromfd, const char* from, int tofd, const char* to) {
  static auto real = next<int (*)(int, const char*, int, const char*)>("renameat");
  count_call();
  return real(fromfd, from, tofd, to);
}

int renameat2(int fromfd, const char* from, int tofd, const char* to, unsigned flags) {
  static auto real = next<int (*)(int, const char*, int, const char*, unsigned)>("renameat2");
  count_call();
  return real(fromfd, from, tofd, to, flags);
}

int link(const char* from, const char* to) {
  static auto real = next<int (*)(const char*, const char*)>("link");
  count_call();
  return real(from, to);
}

int linkat(int fromfd, const char* from, int tofd, const char* to, int flags) {
  static auto real = next<int (*)(int, const char*, int, const char*, int)>("linkat");
  count_call();
  return real(fromfd, from, tofd, to, flags);
}

int unlink(const char* path) {
  static auto real = next<int (*)(const char*)>("unlink");
  count_call();
  return real(path);
}

int unlinkat(int dirfd, const char* path, int flags) {
  static auto real = next<int (*)(int, const char*, int)>("unlinkat");
  count_call();
  return real(dirfd, path, flags);
}

}  // extern "C"
