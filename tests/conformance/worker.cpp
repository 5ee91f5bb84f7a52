// A separate process for the cross-process concurrency tests of the conformance
// suites. Talks to a backend through the same library as sacker.
//
//   conformance_worker add URI PACKAGE COUNT WORKER      one version per line, in call order
//   conformance_worker tag URI PACKAGE COUNT WORKER V... moves "live" among V..., sets/removes w<WORKER>
//   conformance_worker tag-race URI PACKAGE COUNT WORKER V...  points w<WORKER> at V... in turn (skips removed V)
//   conformance_worker cas URI PACKAGE COUNT WORKER V...  COUNT compare-and-swap moves of "live" among V...;
//                                                          prints "SEQ VERSION" of each accepted move
//   conformance_worker remove URI PACKAGE COUNT V...     tries COUNT rounds to remove each V; prints the removed
//   conformance_worker latency URI PACKAGE COUNT         microseconds per add, one per line
//   conformance_worker tag-latency URI PACKAGE COUNT     adds 2 versions, then microseconds per move of
//                                                        "live" between them, one per line
//   conformance_worker history-latency URI PACKAGE COUNT microseconds per history(limit 20), one per line
//   conformance_worker add-at-once URIS PACKAGE WORKER READY GO0 GO1
//                                                        for each ledger URI in the file URIS (one a line,
//                                                        a round each): open it and read from it (sessions,
//                                                        repository open), write one byte to the FIFO READY,
//                                                        wait for one byte from the FIFO GO<round % 2> (the
//                                                        barrier), add one version; prints it, one line a round.
//                                                        A 'q' from GO instead: stop there, exit 0
//   conformance_worker put URI FILE SHA256 SIZE          store put; prints 1 if uploaded, 0 if already there
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "sacker/backends.h"
#include "sacker/error.h"
#include "sacker/sha256.h"

using namespace sacker;

namespace {

VersionRecord make_record(const std::string& package, const std::string& worker, int seq) {
  VersionRecord r;
  r.package = package;
  std::string id = worker + "-" + std::to_string(seq);
  r.sha256 = Sha256::hex_of(id.data(), id.size());
  r.size = id.size();
  r.basename = "blob-" + id + ".bin";
  r.mode = 0644;
  // Fixed, so that two workers given the same name add identical records.
  r.created = 1700000000 + seq;
  r.metadata = {{"worker", worker}, {"seq", std::to_string(seq)}};
  return r;
}

int run(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: conformance_worker add|tag|latency|put URI ...\n");
    return 2;
  }
  std::string cmd = argv[1], uri = argv[2];
  if (cmd == "add" && argc == 6) {
    auto ledger = open_ledger(uri);
    int count = std::stoi(argv[4]);
    for (int i = 0; i < count; ++i) {
      auto v = ledger->add(make_record(argv[3], argv[5], i));
      std::printf("%llu\n", static_cast<unsigned long long>(v));
      std::fflush(stdout);
    }
    return 0;
  }
  if (cmd == "add-at-once" && argc == 8) {
    std::ifstream uris(uri);
    const std::string package = argv[3], worker = argv[4];
    int ready = ::open(argv[5], O_WRONLY | O_CLOEXEC);
    // Two, used by turns: a worker done with round k cannot take a byte meant for round k.
    int go[2] = {::open(argv[6], O_RDONLY | O_CLOEXEC), ::open(argv[7], O_RDONLY | O_CLOEXEC)};
    if (!uris || ready < 0 || go[0] < 0 || go[1] < 0) {
      std::fprintf(stderr, "conformance_worker: cannot open %s or the barrier FIFOs\n", uri.c_str());
      return 1;
    }
    int round = 0;
    for (std::string line; std::getline(uris, line); ++round) {
      auto ledger = open_ledger(line);
      ledger->latest(package);  // warm up: after the barrier only the adds race
      char c = 'r';
      if (::write(ready, &c, 1) != 1) return 1;
      ssize_t n;
      while ((n = ::read(go[round % 2], &c, 1)) < 0 && errno == EINTR) {
      }
      if (n != 1) return 1;
      if (c == 'q') return 0;
      auto v = ledger->add(make_record(package, worker, round));
      std::printf("%llu\n", static_cast<unsigned long long>(v));
      std::fflush(stdout);
    }
    return 0;
  }
  if (cmd == "tag" && argc >= 7) {
    auto ledger = open_ledger(uri);
    int count = std::stoi(argv[4]);
    std::string own = std::string("w") + argv[5];
    std::vector<std::uint64_t> targets;
    for (int i = 6; i < argc; ++i) targets.push_back(std::stoull(argv[i]));
    for (int i = 0; i < count; ++i) {
      auto v = targets[static_cast<std::size_t>(i) % targets.size()];
      ledger->set_tag(argv[3], "live", v);
      ledger->set_tag(argv[3], own, v);
      if (i % 2 == 1 && !ledger->remove_tag(argv[3], own)) {
        std::fprintf(stderr, "remove_tag %s returned false right after set_tag\n", own.c_str());
        return 1;
      }
    }
    std::printf("ok\n");
    return 0;
  }
  if (cmd == "tag-race" && argc >= 7) {
    auto ledger = open_ledger(uri);
    int count = std::stoi(argv[4]);
    std::string own = std::string("w") + argv[5];
    for (int i = 0; i < count; ++i) {
      auto v = std::stoull(argv[6 + i % (argc - 6)]);
      try {
        ledger->set_tag(argv[3], own, v);
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::NotFound) throw;  // the remover got there first
      }
    }
    std::printf("ok\n");
    return 0;
  }
  if (cmd == "cas" && argc >= 7) {
    auto ledger = open_ledger(uri);
    const int count = std::stoi(argv[4]), worker = std::stoi(argv[5]);
    std::vector<std::uint64_t> targets;
    for (int i = 6; i < argc; ++i) targets.push_back(std::stoull(argv[i]));
    ChangeContext ctx;
    ctx.actor = std::string("w") + argv[5];
    for (int i = 0; i < count; ++i) {
      auto current = ledger->tag(argv[3], "live");
      auto target = targets[static_cast<std::size_t>(i + worker) % targets.size()];
      if (target == current) target = targets[static_cast<std::size_t>(i + worker + 1) % targets.size()];
      try {
        auto e = ledger->set_tag(argv[3], "live", target,
                                 current ? TagExpectation::at(*current) : TagExpectation::absent(), ctx);
        if (e)
          std::printf("%llu %llu\n", static_cast<unsigned long long>(e->seq), static_cast<unsigned long long>(target));
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::Conflict) throw;  // another worker moved it first
      }
      std::fflush(stdout);
    }
    return 0;
  }
  if (cmd == "remove" && argc >= 6) {
    auto ledger = open_ledger(uri);
    int rounds = std::stoi(argv[4]);
    std::vector<std::uint64_t> pending;
    for (int i = 5; i < argc; ++i) pending.push_back(std::stoull(argv[i]));
    for (int round = 0; round < rounds && !pending.empty(); ++round) {
      for (auto it = pending.begin(); it != pending.end();) {
        bool removed = false;
        try {
          removed = ledger->remove_version(argv[3], *it);
        } catch (const Error& e) {
          if (e.kind() != ErrorKind::Conflict) throw;  // tagged right now: try again later
        }
        if (removed) {
          std::printf("%llu\n", static_cast<unsigned long long>(*it));
          it = pending.erase(it);
        } else {
          ++it;
        }
      }
    }
    return 0;
  }
  if (cmd == "latency" && argc == 5) {
    auto ledger = open_ledger(uri);
    int count = std::stoi(argv[4]);
    for (int i = 0; i < count; ++i) {
      auto start = std::chrono::steady_clock::now();
      ledger->add(make_record(argv[3], "latency", i));
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
      std::printf("%lld\n", static_cast<long long>(us.count()));
    }
    return 0;
  }
  if ((cmd == "tag-latency" || cmd == "history-latency") && argc == 5) {
    auto ledger = open_ledger(uri);
    const int count = std::stoi(argv[4]);
    const std::uint64_t targets[2] = {ledger->add(make_record(argv[3], "latency", 0)),
                                      ledger->add(make_record(argv[3], "latency", 1))};
    if (cmd == "history-latency")  // something to read: 2 adds and 20 moves
      for (int i = 0; i < 20; ++i) ledger->set_tag(argv[3], "live", targets[i % 2]);
    for (int i = 0; i < count; ++i) {
      auto start = std::chrono::steady_clock::now();
      if (cmd == "tag-latency") {
        ledger->set_tag(argv[3], "live", targets[i % 2]);
      } else {
        HistoryQuery query;
        query.limit = 20;
        if (ledger->history(argv[3], query).empty()) {
          std::fprintf(stderr, "conformance_worker: history is empty after 22 changes\n");
          return 1;
        }
      }
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
      std::printf("%lld\n", static_cast<long long>(us.count()));
    }
    return 0;
  }
  if (cmd == "put" && argc == 6) {
    std::vector<std::string> uris;  // several, space-separated: a chain
    std::istringstream words(uri);
    for (std::string w; words >> w;) uris.push_back(w);
    auto store = open_store_chain(uris);
    bool uploaded = store->put_file(argv[4], argv[3], std::stoull(argv[5]), nullptr);
    std::printf("%d\n", uploaded ? 1 : 0);
    return 0;
  }
  std::fprintf(stderr, "conformance_worker: bad arguments\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const Error& e) {
    std::fprintf(stderr, "conformance_worker: %s (%s)\n", e.what(), kind_name(e.kind()));
    return exit_code(e.kind());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "conformance_worker: %s\n", e.what());
    return 1;
  }
}
