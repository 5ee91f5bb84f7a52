#include "sacker/spec.h"

#include <fmt/core.h>

#include <charconv>
#include <cstdint>
#include <utility>

#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker {

std::uint64_t parse_version(std::string_view text) {
  std::uint64_t value = 0;
  bool digits = !text.empty();
  for (char c : text) digits = digits && c >= '0' && c <= '9';
  if (!digits)
    throw Error(ErrorKind::Invalid, fmt::format("invalid version '{}': must be a positive number", printable(text)));
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size())
    throw Error(ErrorKind::Invalid, fmt::format("invalid version '{}': too large", printable(text)));
  if (value == 0) throw Error(ErrorKind::Invalid, "invalid version '0': versions start at 1");
  return value;
}

Spec parse_spec(std::string_view text) {
  Spec spec;
  if (text.empty()) throw Error(ErrorKind::Invalid, "invalid spec '': give a version number or a tag");
  bool digits = true;
  for (char c : text) digits = digits && c >= '0' && c <= '9';
  if (digits) {
    spec.kind = Spec::Kind::Version;
    spec.version = parse_version(text);
  } else if (text == kLatestTag) {
    spec.kind = Spec::Kind::Latest;
  } else {
    validate_tag_name(text);
    spec.kind = Spec::Kind::Tag;
    spec.tag = std::string(text);
  }
  return spec;
}

std::int64_t parse_duration_seconds(std::string_view text) {
  std::string_view number = text;
  std::int64_t unit = 1;
  constexpr std::pair<char, std::int64_t> kUnits[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
  for (const auto& [suffix, seconds] : kUnits) {
    if (!text.empty() && text.back() == suffix) {
      unit = seconds;
      number.remove_suffix(1);
    }
  }
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (number.empty() || ec != std::errc() || end != number.data() + number.size() || value < 0 ||
      value > (INT64_MAX / 86400))
    throw Error(ErrorKind::Invalid,
                fmt::format("invalid duration '{}': use seconds or a number with s, m, h or d (e.g. 15m, 24h)",
                            printable(text)));
  return value * unit;
}

}  // namespace sacker
