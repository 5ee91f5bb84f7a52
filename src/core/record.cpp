#include "sacker/record.h"

#include <fmt/core.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker {
namespace {

// `created` must be a time format_utc writes as RFC 3339 and parse_utc reads back: years 0000..9999.
constexpr std::int64_t kMinCreated = -62167219200;  // 0000-01-01T00:00:00Z
constexpr std::int64_t kMaxCreated = 253402300799;  // 9999-12-31T23:59:59Z

}  // namespace

std::string format_utc(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  // Four-digit years as RFC 3339 (and parse_utc) want them; strftime's %Y does not pad years before 1000.
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900LL, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

std::int64_t parse_utc(const std::string& text) {
  std::tm tm{};
  int y, mo, d, h, mi, s;
  char z = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &s, &z) != 7 || z != 'Z' ||
      text.size() != 20)
    throw Error(ErrorKind::Invalid, fmt::format("invalid time '{}': expected YYYY-MM-DDTHH:MM:SSZ", printable(text)));
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  const auto seconds = static_cast<std::int64_t>(timegm(&tm));
  // sscanf also takes signs, spaces and out-of-range fields ("2024-13-45T99:00:00Z"), which would not read back.
  if (format_utc(seconds) != text)
    throw Error(ErrorKind::Invalid, fmt::format("invalid time '{}': not a valid date and time", printable(text)));
  return seconds;
}

void validate_record(const VersionRecord& r) {
  validate_package_name(r.package);
  if (r.version == 0) throw Error(ErrorKind::Invalid, "malformed record: 'version' is not a positive integer");
  validate_sha256_hex(r.sha256, "malformed record: 'sha256'");
  validate_basename(r.basename);
  if (r.mode > 07777) throw Error(ErrorKind::Invalid, "malformed record: 'mode' is not a file mode");
  if (r.created < kMinCreated || r.created > kMaxCreated)
    throw Error(ErrorKind::Invalid, "malformed record: 'created' is not a time in the years 0000..9999");
  for (const auto& [k, v] : r.metadata) {
    validate_metadata_key(k);
    validate_metadata_value(v);
  }
}

std::string record_to_json(const VersionRecord& r) {
  nlohmann::ordered_json j;
  j["package"] = r.package;
  j["version"] = r.version;
  j["sha256"] = r.sha256;
  j["size"] = r.size;
  j["basename"] = r.basename;
  j["mode"] = r.mode;
  j["created"] = format_utc(r.created);
  j["metadata"] = nlohmann::ordered_json::object();
  for (const auto& [k, v] : r.metadata) j["metadata"][k] = v;
  return j.dump();
}

VersionRecord record_from_json(const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::Invalid, fmt::format("malformed record: not JSON ({})", e.what()));
  }
  if (!j.is_object()) throw Error(ErrorKind::Invalid, "malformed record: not a JSON object");
  auto field = [&](const char* name) -> const nlohmann::json& {
    auto it = j.find(name);
    if (it == j.end()) throw Error(ErrorKind::Invalid, fmt::format("malformed record: no '{}' field", name));
    return *it;
  };
  auto bad = [](const char* name, const char* why) {
    return Error(ErrorKind::Invalid, fmt::format("malformed record: '{}' {}", name, why));
  };
  VersionRecord r;
  const auto& package = field("package");
  if (!package.is_string()) throw bad("package", "is not a string");
  r.package = package.get<std::string>();
  validate_package_name(r.package);
  const auto& version = field("version");
  if (!version.is_number_unsigned() || version.get<std::uint64_t>() == 0)
    throw bad("version", "is not a positive integer");
  r.version = version.get<std::uint64_t>();
  const auto& sha = field("sha256");
  if (!sha.is_string()) throw bad("sha256", "is not a string");
  r.sha256 = sha.get<std::string>();
  validate_sha256_hex(r.sha256, "malformed record: 'sha256'");
  if (auto it = j.find("size"); it != j.end()) {
    if (!it->is_number_unsigned()) throw bad("size", "is not a non-negative integer");
    r.size = it->get<std::uint64_t>();
  }
  const auto& basename = field("basename");
  if (!basename.is_string()) throw bad("basename", "is not a string");
  r.basename = basename.get<std::string>();
  validate_basename(r.basename);
  if (auto it = j.find("mode"); it != j.end()) {
    if (!it->is_number_unsigned() || it->get<std::uint64_t>() > 07777) throw bad("mode", "is not a file mode");
    r.mode = it->get<std::uint32_t>();
  }
  if (auto it = j.find("created"); it != j.end()) {
    if (it->is_string())
      r.created = parse_utc(it->get<std::string>());
    else if (it->is_number_integer())
      r.created = it->get<std::int64_t>();
    else
      throw bad("created", "is not a time");
    if (r.created < kMinCreated || r.created > kMaxCreated)
      throw bad("created", "is not a time in the years 0000..9999");
  }
  if (auto it = j.find("metadata"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) throw bad("metadata", "is not an object");
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string()) throw bad("metadata", "has a value that is not a string");
      validate_metadata_key(k);
      validate_metadata_value(v.get<std::string>());
      r.metadata[k] = v.get<std::string>();
    }
  }
  return r;
}

}  // namespace sacker
