// The fixture of the ledger conformance suite, shared by its files
// (ledger_conformance.cpp: records, tags, concurrency; history_conformance.cpp:
// history, compare-and-swap, signatures, verbatim import).
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "sacker/backends.h"
#include "sacker/error.h"
#include "sacker/ledger.h"
#include "sacker/sha256.h"
#include "support/records.h"
#include "support/test_env.h"

namespace sacker {

inline VersionRecord sample(const std::string& package, int n) {
  VersionRecord r;
  r.package = package;
  std::string content = package + "#" + std::to_string(n);
  r.sha256 = Sha256::hex_of(content.data(), content.size());
  r.size = 1000 + static_cast<std::uint64_t>(n);
  r.basename = "artifact " + std::to_string(n) + ".tar.gz";
  r.mode = n % 2 ? 0755 : 0644;
  r.created = 1700000000 + n;
  r.metadata = {{"commit", "abc" + std::to_string(n)}, {"branch", "main"}, {"note", "caf\xc3\xa9 + spaces = ok"}};
  return r;
}

using test::kind_of;

class LedgerConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    test::load_test_env();
    const char* tmpl = std::getenv("SACKER_TEST_LEDGER");
    ASSERT_TRUE(tmpl && *tmpl) << "set SACKER_TEST_LEDGER to a ledger URI template";
    unique_ = test::unique_token();
    uri_ = test::expand_template(tmpl, unique_);
    ledger_ = open_ledger(uri_);
    ledger_->init();
  }

  // In-process backends (mem://) cannot be shared with worker processes.
  bool in_process() const { return uri_.rfind("mem://", 0) == 0; }

  // Integer ledgers start at 1; timestamp ledgers (S3) at a 13-digit number.
  bool integer_versions(std::uint64_t first) const { return first < 1000000000000ULL; }

  std::vector<std::uint64_t> add_n(const std::string& package, int n) {
    std::vector<std::uint64_t> out;
    for (int i = 0; i < n; ++i) out.push_back(ledger_->add(sample(package, i)));
    return out;
  }

  std::string unique_;
  std::string uri_;
  std::unique_ptr<Ledger> ledger_;
};

inline std::vector<std::uint64_t> parse_versions(const std::string& out) {
  std::vector<std::uint64_t> v;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) v.push_back(std::stoull(line));
  return v;
}

inline std::string worker_path() {
  const char* w = std::getenv("SACKER_TEST_WORKER");
  return w ? w : "conformance_worker";
}


// Cross-process tests need a backend another process can reach.
#define SKIP_IF_IN_PROCESS() \
  if (in_process()) GTEST_SKIP() << "an in-process backend cannot be shared with other processes"

}  // namespace sacker
