// Command-line and ledger strings: parse_spec, parse_version,
// parse_duration_seconds, every validator of names.h, printable.
// Invariants: printable gives a short, printable ASCII line; what a validator
// accepts has the documented form; a spec is exactly one of version, latest or
// a valid tag.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "sacker/names.h"
#include "sacker/spec.h"

using fuzz::check;

namespace {

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

bool accepted(void (*validate)(std::string_view), std::string_view s) {
  try {
    validate(s);
    return true;
  } catch (const sacker::Error&) {
    return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::as_text(data, size);

  const std::string shown = sacker::printable(text);
  check(shown.size() <= 80 * 4 + 3, "printable is bounded");
  for (unsigned char c : shown) check(c >= 0x20 && c < 0x7f, "printable prints ASCII only");

  try {
    const sacker::Spec spec = sacker::parse_spec(text);
    switch (spec.kind) {
      case sacker::Spec::Kind::Version: check(spec.version > 0, "a version spec is positive"); break;
      case sacker::Spec::Kind::Latest: check(text == sacker::kLatestTag, "only 'latest' is latest"); break;
      case sacker::Spec::Kind::Tag:
        check(spec.tag == text && accepted(sacker::validate_tag_name, text), "a tag spec is a valid tag");
        break;
    }
  } catch (const sacker::Error&) {
  }
  try {
    check(sacker::parse_version(text) > 0, "versions are positive");
  } catch (const sacker::Error&) {
  }
  try {
    check(sacker::parse_duration_seconds(text) >= 0, "durations are not negative");
  } catch (const sacker::Error&) {
  }

  if (accepted(sacker::validate_package_name, text)) {
    check(!text.empty() && text.size() <= sacker::kMaxNameLength, "package name length");
    for (char c : text) check(is_name_char(c), "package name characters");
    check(text.front() != '.' && text.front() != '-', "package name start");
  }
  if (accepted(sacker::validate_user_tag, text))
    check(accepted(sacker::validate_tag_name, text) && text != sacker::kLatestTag, "a user tag is a tag, not latest");
  if (accepted(sacker::validate_basename, text)) {
    check(!text.empty() && text.size() <= 255 && text != "." && text != "..", "basename form");
    for (unsigned char c : text) check(c != '/' && c != '\\' && c >= 0x20 && c != 0x7f, "basename characters");
  }
  if (accepted(sacker::validate_metadata_key, text)) {
    check(!text.empty() && text.size() <= sacker::kMaxNameLength, "metadata key length");
    for (char c : text) check(is_name_char(c), "metadata key characters");
  }
  if (accepted(sacker::validate_metadata_value, text))
    for (unsigned char c : text) check(c >= 0x20 && c != 0x7f, "metadata value characters");
  const bool hex = sacker::is_valid_sha256_hex(text);
  try {
    sacker::validate_sha256_hex(text, "fuzz");
    check(hex, "validate_sha256_hex agrees with is_valid_sha256_hex");
  } catch (const sacker::Error&) {
    check(!hex, "validate_sha256_hex agrees with is_valid_sha256_hex");
  }
  return 0;
}
