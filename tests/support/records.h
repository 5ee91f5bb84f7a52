#pragma once
// Small helpers shared by the tests: a sample record and "the error this throws".
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>

#include "sacker/error.h"
#include "sacker/ledger.h"
#include "sacker/record.h"
#include "sacker/sha256.h"

namespace sacker::test {

// A valid record, distinct per (package, n): sha256 of "package/n", size 100 + n,
// basename build-n.jar, mode 0644, created 1700000000 + n, metadata {n: "n"}.
inline VersionRecord sample_record(const std::string& package, int n) {
  VersionRecord r;
  r.package = package;
  std::string content = package + "/" + std::to_string(n);
  r.sha256 = Sha256::hex_of(content.data(), content.size());
  r.size = 100 + static_cast<std::uint64_t>(n);
  r.basename = "build-" + std::to_string(n) + ".jar";
  r.mode = 0644;
  r.created = 1700000000 + n;
  r.metadata = {{"n", std::to_string(n)}};
  return r;
}

// A change by `actor` at a fixed time (1764600000), for ledger calls in tests.
inline ChangeContext change_by(const std::string& actor) {
  ChangeContext ctx;
  ctx.time = 1764600000;
  ctx.actor = actor;
  return ctx;
}

// The error fn throws; a test failure (and an Internal error) if it throws none.
inline Error error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "expected a sacker::Error";
  return Error(ErrorKind::Internal, "none");
}

// The kind of the error fn throws (and its message into *message); a test failure
// (and Internal) if it throws none.
inline ErrorKind kind_of(const std::function<void()>& fn, std::string* message = nullptr) {
  const Error e = error_of(fn);
  if (message) *message = e.what();
  return e.kind();
}

}  // namespace sacker::test
