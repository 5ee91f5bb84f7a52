// An LD_PRELOAD library for the end-to-end tests: counts the calls to fsync and
// fdatasync a process makes and, when it exits, writes the count to the file named by
// $SACKER_COUNT_SYNCS. A commit of the SQLite ledger (synchronous=FULL) costs at least
// one, so the count tells one transaction from a transaction per record.
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace {

std::atomic<long> syncs{0};

template <typename Fn>
Fn next(const char* name) {
  return reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, name));
}

struct Report {
  ~Report() {
    const char* path = std::getenv("SACKER_COUNT_SYNCS");
    if (!path || !*path) return;
    if (std::FILE* f = std::fopen(path, "w")) {
      std::fprintf(f, "%ld\n", syncs.load());
      std::fclose(f);
    }
  }
} report;

}  // namespace

extern "C" {

int fsync(int fd) {
  static auto real = next<int (*)(int)>("fsync");
  ++syncs;
  return real(fd);
}

int fdatasync(int fd) {
  static auto real = next<int (*)(int)>("fdatasync");
  ++syncs;
  return real(fd);
}

}  // extern "C"
