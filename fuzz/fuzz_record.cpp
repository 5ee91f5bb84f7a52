// A version record or a history event as JSON, the forms ledgers (git, etcd,
// ZooKeeper, SQLite's events table) store and `import` reads: record_from_json,
// event_from_json, plus parse_utc on the raw input.
// Invariants: what record_from_json / event_from_json accept passes validate_record /
// validate_event, encodes and decodes back to the same value; a time parse_utc
// accepts formats with format_utc and parses back to the same second.
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

  std::optional<sacker::Event> event;
  try {
    event = sacker::event_from_json(text);
  } catch (const sacker::Error&) {
  }
  if (event) {
    must_succeed("a parsed event is valid", [&] { sacker::validate_event(*event); });
    const std::string json = sacker::event_to_json(*event);
    const auto back = must_succeed("event_to_json output parses", [&] { return sacker::event_from_json(json); });
    check(back == *event, "the event survives a JSON round trip", json);
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
