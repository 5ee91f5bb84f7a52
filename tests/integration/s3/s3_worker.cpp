// A process for the S3 ledger's cross-process tests, with the ledger's clock
// frozen so that every writer aims at the same millisecond:
//
//   s3_worker add-frozen URI PACKAGE COUNT CLOCK_MS WORKER   one version per line
//
// Credentials come from the environment (a test runs it with the admin's or with
// the write-only user's keys).
#include <cstdio>
#include <string>

#include "ledger/s3_ledger.h"
#include "sacker/error.h"
#include "sacker/sha256.h"

using namespace sacker;

int main(int argc, char** argv) {
  try {
    if (argc != 7 || std::string(argv[1]) != "add-frozen") {
      std::fprintf(stderr, "usage: s3_worker add-frozen URI PACKAGE COUNT CLOCK_MS WORKER\n");
      return 2;
    }
    const std::int64_t clock_ms = std::stoll(argv[5]);
    auto ledger = open_s3_ledger_with_clock(parse_uri(argv[2]), [clock_ms] { return clock_ms; });
    const int count = std::stoi(argv[4]);
    for (int i = 0; i < count; ++i) {
      VersionRecord r;
      r.package = argv[3];
      std::string id = std::string(argv[6]) + "-" + std::to_string(i);
      r.sha256 = Sha256::hex_of(id.data(), id.size());
      r.size = id.size();
      r.basename = id + ".bin";
      r.created = clock_ms / 1000;
      r.metadata = {{"worker", argv[6]}, {"seq", std::to_string(i)}};
      std::printf("%llu\n", static_cast<unsigned long long>(ledger->add(r)));
      std::fflush(stdout);
    }
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "s3_worker: %s\n", e.what());
    return exit_code(e.kind());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "s3_worker: %s\n", e.what());
    return 1;
  }
}
