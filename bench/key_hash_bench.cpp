// The key hash of `sacker add` on a large file, against its floor: one SHA-256
// pass (what sha256sum does) over the same bytes, in one run. An S3 multipart
// add also digests every part (the server checks each against its sha256), so
// its pass computes two hashes per byte; sha256_of_fd runs the parts on a second
// thread from the same read buffers. Printed: median wall and CPU seconds (user +
// sys of this process) per GiB, and wall as a ratio to the floor.
//
//   build/bench/key_hash_bench [-m SIZE_MIB] [-r RUNS] [-d DIR]
//
// The file (random bytes) is written to DIR (default /dev/shm, so the page cache
// holds it and the disk is not what is measured) and removed at the end.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "sacker/sha256.h"

namespace {

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Result {
  double wall = 0, cpu = 0;
};

Result measure(int runs, const std::function<void()>& f) {
  std::vector<double> wall, cpu;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = cpu_seconds();
    f();
    wall.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    cpu.push_back(cpu_seconds() - c0);
  }
  return {median(wall), median(cpu)};
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t mib = 1024;
  int runs = 5;
  std::string dir = "/dev/shm";
  for (int opt; (opt = ::getopt(argc, argv, "m:r:d:")) != -1;) {
    if (opt == 'm') mib = std::strtoull(optarg, nullptr, 10);
    else if (opt == 'r') runs = std::atoi(optarg);
    else if (opt == 'd') dir = optarg;
    else {
      std::fprintf(stderr, "usage: key_hash_bench [-m SIZE_MIB] [-r RUNS] [-d DIR]\n");
      return 2;
    }
  }
  if (mib == 0 || runs < 1) {
    std::fprintf(stderr, "key_hash_bench: -m and -r must be positive\n");
    return 2;
  }
  const std::string path = dir + "/sacker-key-hash-bench." + std::to_string(::getpid());
  {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
      std::perror(path.c_str());
      return 1;
    }
    std::vector<char> buf(1 << 20);
    std::uint64_t state = 0x9e3779b97f4a7c15ULL;
    for (std::uint64_t m = 0; m < mib; ++m) {
      for (char& c : buf) state = state * 6364136223846793005ULL + 1, c = static_cast<char>(state >> 56);
      if (::write(fd, buf.data(), buf.size()) != static_cast<ssize_t>(buf.size())) {
        std::perror(path.c_str());
        return 1;
      }
    }
    ::close(fd);
  }
  constexpr std::uint64_t kPart = 16ULL << 20;  // the S3 store's default upload part
  const Result floor = measure(runs, [&] { sacker::sha256_file(path); });
  const Result one_thread = measure(runs, [&] {
    const int fd = ::open(path.c_str(), O_RDONLY);
    sacker::PartedSha256 hash(kPart);
    std::vector<char> buf(1 << 20);
    for (ssize_t n; (n = ::read(fd, buf.data(), buf.size())) > 0;) hash.update(buf.data(), static_cast<std::size_t>(n));
    hash.finish();
    ::close(fd);
  });
  const Result two_threads = measure(runs, [&] { sacker::sha256_file(path, kPart); });
  ::unlink(path.c_str());

  const double gib = static_cast<double>(mib) / 1024.0;
  std::printf("key hash of %llu MiB in %s, median of %d runs\n\n", static_cast<unsigned long long>(mib), dir.c_str(),
              runs);
  std::printf("| pass                         | wall s/GiB | CPU s/GiB | wall / floor |\n");
  std::printf("|------------------------------|-----------:|----------:|-------------:|\n");
  auto row = [&](const char* name, const Result& r) {
    std::printf("| %-28s | %10.3f | %9.3f | %12.2f |\n", name, r.wall / gib, r.cpu / gib, r.wall / floor.wall);
  };
  row("sha256 only (the floor)", floor);
  row("sha256 + parts, one thread", one_thread);
  row("sha256 + parts, two threads", two_threads);
  return 0;
}
