// A spec names one version of a package: a version number ("23"), a tag ("live")
// or the reserved tag "latest" (always the highest version).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sacker {

struct Spec {
  enum class Kind { Version, Tag, Latest };
  Kind kind = Kind::Latest;
  std::uint64_t version = 0;  // for Kind::Version
  std::string tag;            // for Kind::Tag

  bool operator==(const Spec&) const = default;
};

// All digits -> Version (must fit in uint64 and be > 0); "latest" -> Latest;
// otherwise a tag name (validated). Throws Error(Invalid).
Spec parse_spec(std::string_view text);
// Parses a version number argument ("23"). Throws Error(Invalid).
std::uint64_t parse_version(std::string_view text);

// A duration: plain seconds ("3600") or a number with a unit s, m, h, d ("15m",
// "24h", "7d"). Throws Error(Invalid).
std::int64_t parse_duration_seconds(std::string_view text);

}  // namespace sacker
