// A version record as JSON, the form ledgers (git, etcd, ZooKeeper) store and
// `import` reads: record_from_json, plus parse_utc on the raw input.
// Invariants: what record_from_json accepts passes validate_record, encodes with
// record_to_json and decodes back to the same record; a time parse_utc accepts
// formats with format_utc and parses back to the same second.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "fuzz_check.h"
#include "sacker/record.h"

using fuzz::check;
using fuzz::must_succeed;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(fuzz::as_text(data, size));

  std::optional<sacker::VersionRecord> record;
  try {
    record = sacker::record_from_json(text);
  } catch (const sacker::Error&) {
  }
  if (record) {
    must_succeed("a parsed record is valid", [&] { sacker::validate_record(*record); });
    const std::string json = sacker::record_to_json(*record);
    const auto back = must_succeed("record_to_json output parses", [&] { return sacker::record_from_json(json); });
    check(back == *record, "the record survives a JSON round trip", json);
  }

  std::optional<std::int64_t> seconds;
  try {
    seconds = sacker::parse_utc(text);
  } catch (const sacker::Error&) {
  }
  if (seconds) {
    const std::string formatted = sacker::format_utc(*seconds);
    check(must_succeed("format_utc output parses", [&] { return sacker::parse_utc(formatted); }) == *seconds,
          "a time survives format_utc/parse_utc", formatted);
  }
  return 0;
}
