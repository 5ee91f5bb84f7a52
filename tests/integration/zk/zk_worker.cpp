// A writer process for the ZooKeeper failover test:
//   zk_worker URI PACKAGE WORKER_ID COUNT
// adds COUNT records (metadata worker=WORKER_ID, seq=1..COUNT) one after another and
// prints one line per add: "ok SEQ VERSION MICROSECONDS" or "fail SEQ KIND MESSAGE".
// Exits 0 when every line was printed, 2 on bad arguments.
//   zk_worker churn URI PACKAGE
// changes PACKAGE until it is killed: adds a version, moves "live" to it (compare-and-
// swap from what it read), every other round moves "devel" and untags "old".
#include <fmt/core.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "ledger/zk_ledger.h"
#include "sacker/error.h"

namespace {

int churn(sacker::Ledger& ledger, const std::string& package) {
  for (std::uint64_t round = 1; round < 1000000; ++round) {
    sacker::VersionRecord r;
    r.package = package;
    r.sha256 = fmt::format("{:0>64x}", round);
    r.basename = "churn.bin";
    r.created = 1700000000;
    sacker::ChangeContext ctx;
    ctx.actor = "churn";
    const auto v = ledger.add(r, ctx);
    auto live = ledger.tag(package, "live");
    ledger.set_tag(package, "live", v, live ? sacker::TagExpectation::at(*live) : sacker::TagExpectation::absent(),
                   ctx);
    if (round % 2 == 0) {
      ledger.set_tag(package, "devel", v - 1, sacker::TagExpectation::any(), ctx);
      ledger.remove_tag(package, "old", sacker::TagExpectation::any(), ctx);
    } else {
      ledger.set_tag(package, "old", v, sacker::TagExpectation::any(), ctx);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "churn") {
    try {
      return churn(*sacker::open_zk_ledger(sacker::parse_uri(argv[2])), argv[3]);
    } catch (const sacker::Error& e) {
      std::fprintf(stderr, "zk_worker: %s\n", e.what());
      return 1;
    }
  }
  if (argc != 5) {
    std::fprintf(stderr, "usage: zk_worker URI PACKAGE WORKER_ID COUNT\n");
    return 2;
  }
  const std::string worker = argv[3];
  const int count = std::stoi(argv[4]);
  std::unique_ptr<sacker::Ledger> ledger;
  try {
    ledger = sacker::open_zk_ledger(sacker::parse_uri(argv[1]));
  } catch (const sacker::Error& e) {
    std::fprintf(stderr, "zk_worker: %s\n", e.what());
    return 2;
  }
  for (int seq = 1; seq <= count; ++seq) {
    sacker::VersionRecord r;
    r.package = argv[2];
    r.sha256 = fmt::format("{:0>64}", fmt::format("{}{:06}", worker, seq));
    r.size = static_cast<std::uint64_t>(seq);
    r.basename = "w" + worker + ".bin";
    r.created = 1700000000 + seq;
    r.metadata = {{"worker", worker}, {"seq", std::to_string(seq)}};
    auto t0 = std::chrono::steady_clock::now();
    try {
      auto v = ledger->add(r);
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
      std::printf("ok %d %llu %lld\n", seq, static_cast<unsigned long long>(v), static_cast<long long>(us.count()));
    } catch (const sacker::Error& e) {
      std::printf("fail %d %s %s\n", seq, sacker::kind_name(e.kind()), e.what());
    }
    std::fflush(stdout);
  }
  return 0;
}
