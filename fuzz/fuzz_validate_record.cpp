// A record assembled field by field from untrusted pieces, as ledgers that do not
// store JSON build it (S3 object headers, SQL columns, DynamoDB items) before
// calling validate_record. Invariant: whatever validate_record accepts can be
// shown and exported: record_to_json does not throw and record_from_json reads
// the same record back.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "sacker/record.h"

using fuzz::check;
using fuzz::must_succeed;

namespace {

// Mostly plausible values, so the fuzzer gets past the early checks.
std::string sha256_like(FuzzedDataProvider& in) {
  if (!in.ConsumeBool()) return in.ConsumeRandomLengthString(80);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 64; ++i) out += kHex[in.ConsumeIntegral<std::uint8_t>() & 15];
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  sacker::VersionRecord r;
  r.package = in.ConsumeRandomLengthString(140);
  r.version = in.ConsumeIntegral<std::uint64_t>();
  r.sha256 = sha256_like(in);
  r.size = in.ConsumeIntegral<std::uint64_t>();
  r.basename = in.ConsumeRandomLengthString(300);
  r.mode = in.ConsumeIntegral<std::uint32_t>();
  r.created = in.ConsumeIntegral<std::int64_t>();
  for (int n = in.ConsumeIntegralInRange(0, 3); n > 0; --n) {
    std::string key = in.ConsumeRandomLengthString(140);
    r.metadata[key] = in.ConsumeRandomLengthString(1100);
  }

  try {
    sacker::validate_record(r);
  } catch (const sacker::Error&) {
    return 0;
  }
  const std::string json = sacker::record_to_json(r);  // --json and export: must not throw
  const auto back =
      must_succeed("record_to_json output of a valid record parses", [&] { return sacker::record_from_json(json); });
  check(back == r, "a valid record survives a JSON round trip", json);
  return 0;
}
