// Helpers shared by the fuzz targets. A sacker::Error is the expected answer to
// bad input; anything else that escapes LLVMFuzzerTestOneInput (another
// exception, a crash, a sanitizer report) or a broken invariant checked here is a
// bug, and libFuzzer saves the input that caused it.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sacker/error.h"

namespace fuzz {

// A broken invariant: say which and abort, so libFuzzer records the input.
[[noreturn]] inline void fail(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "\n*** fuzz invariant broken: %s%s%s\n", what, detail.empty() ? "" : ": ", detail.c_str());
  std::abort();
}

inline void check(bool ok, const char* what, const std::string& detail = {}) {
  if (!ok) fail(what, detail);
}

// Runs `fn`, which must succeed: a sacker::Error here breaks an invariant too.
template <class F>
auto must_succeed(const char* what, F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const sacker::Error& e) {
    fail(what, e.what());
  }
}

inline std::string_view as_text(const unsigned char* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace fuzz
