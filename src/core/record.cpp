#include "sacker/record.h"

#include <fmt/core.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "core/codec.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker {
namespace {

// `created` must be a time format_utc writes as RFC 3339 and parse_utc reads back: years 0000..9999.
constexpr std::int64_t kMinCreated = -62167219200;  // 0000-01-01T00:00:00Z
constexpr std::int64_t kMaxCreated = 253402300799;  // 9999-12-31T23:59:59Z
constexpr std::size_t kMaxSignatures = 16;
constexpr std::size_t kMaxSignatureBytes = 64 * 1024;
constexpr std::size_t kMaxActorBytes = 256;
constexpr std::size_t kMaxCommentBytes = 4096;

// Canonical: what nlohmann::json's dump() writes (compact, keys sorted). A number no
// C++ type holds is not JSON here (parse throws out_of_range; accept() does not see it).
bool is_canonical_object(const std::string& text) {
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return false;
  try {
    return j.dump() == text;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

void validate_signatures(const std::vector<std::string>& signatures, const char* what) {
  if (signatures.size() > kMaxSignatures)
    throw Error(ErrorKind::Invalid, fmt::format("{}: more than {} signatures", what, kMaxSignatures));
  for (const auto& s : signatures) {
    // Canonical form (compact, keys sorted: nlohmann::json's dump()), so a record
    // compares equal to itself after a round trip through any ledger.
    if (s.size() > kMaxSignatureBytes || !codec::is_valid_utf8(s) || !is_canonical_object(s))
      throw Error(ErrorKind::Invalid,
                  fmt::format("{}: a signature is not a canonical JSON object of at most 64 KiB", what));
  }
}

// Free text of an event: valid UTF-8 without control bytes, bounded.
void validate_text(const std::string& text, std::size_t max, const char* what) {
  bool ok = text.size() <= max && codec::is_valid_utf8(text);
  for (unsigned char c : text)
    if (c < 0x20 || c == 0x7f) ok = false;
  if (!ok)
    throw Error(ErrorKind::Invalid, fmt::format("malformed event: '{}' must be at most {} bytes of UTF-8 text without "
                                                "control characters ('{}')",
                                                what, max, printable(text)));
}

nlohmann::json parse_object(const std::string& text, const char* what) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // Never nlohmann's message: it quotes the input ("last read: ..."), which may hold anything.
    throw Error(ErrorKind::Invalid, fmt::format("malformed {}: not JSON (syntax error at byte {})", what, e.byte));
  } catch (const nlohmann::json::exception&) {
    throw Error(ErrorKind::Invalid, fmt::format("malformed {}: not JSON", what));
  }
  if (!j.is_object()) throw Error(ErrorKind::Invalid, fmt::format("malformed {}: not a JSON object", what));
  return j;
}

std::vector<std::string> signatures_from_json(const nlohmann::json& j, const char* what) {
  std::vector<std::string> out;
  auto it = j.find("signatures");
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_array()) throw Error(ErrorKind::Invalid, fmt::format("malformed {}: 'signatures' is not an array", what));
  for (const auto& sig : *it) {
    if (!sig.is_object())
      throw Error(ErrorKind::Invalid, fmt::format("malformed {}: a signature is not a JSON object", what));
    out.push_back(sig.dump());
  }
  return out;
}

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
  validate_signatures(r.signatures, "malformed record");
}

namespace {
// Signatures are kept as canonical JSON texts; in a document they are objects.
nlohmann::ordered_json signature_array(const std::vector<std::string>& signatures) {
  auto out = nlohmann::ordered_json::array();
  for (const auto& sig : signatures) out.push_back(nlohmann::ordered_json::parse(sig));
  return out;
}
}  // namespace

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
  if (!r.signatures.empty()) j["signatures"] = signature_array(r.signatures);
  return j.dump();
}

VersionRecord record_from_json(const std::string& text) {
  const nlohmann::json j = parse_object(text, "record");
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
  r.signatures = signatures_from_json(j, "record");
  validate_signatures(r.signatures, "malformed record");
  return r;
}

const char* action_name(EventAction action) noexcept {
  switch (action) {
    case EventAction::Add: return "add";
    case EventAction::Tag: return "tag";
    case EventAction::Untag: return "untag";
    case EventAction::Remove: return "remove";
    case EventAction::Rollback: return "rollback";
    case EventAction::Import: return "import";
  }
  return "?";
}

EventAction parse_action(const std::string& name) {
  for (auto a : {EventAction::Add, EventAction::Tag, EventAction::Untag, EventAction::Remove, EventAction::Rollback,
                 EventAction::Import})
    if (name == action_name(a)) return a;
  throw Error(ErrorKind::Invalid, fmt::format("malformed event: unknown action '{}'", printable(name)));
}

void validate_event(const Event& e) {
  if (e.seq == 0) throw Error(ErrorKind::Invalid, "malformed event: 'seq' is not a positive integer");
  validate_package_name(e.package);
  if (e.time < kMinCreated || e.time > kMaxCreated)
    throw Error(ErrorKind::Invalid, "malformed event: 'time' is not a time in the years 0000..9999");
  const bool tag_event =
      e.action == EventAction::Tag || e.action == EventAction::Untag || e.action == EventAction::Rollback;
  if (tag_event && e.tag.empty()) throw Error(ErrorKind::Invalid, "malformed event: a tag event without 'tag'");
  if (!e.tag.empty()) validate_user_tag(e.tag);
  if ((e.action == EventAction::Add || e.action == EventAction::Remove || e.action == EventAction::Tag ||
       e.action == EventAction::Rollback) &&
      e.version == 0)
    throw Error(ErrorKind::Invalid, "malformed event: 'version' is not a positive integer");
  if (e.previous && *e.previous == 0)
    throw Error(ErrorKind::Invalid, "malformed event: 'previous' is not a positive integer");
  if (!e.sha256.empty()) validate_sha256_hex(e.sha256, "malformed event: 'sha256'");
  validate_text(e.actor, kMaxActorBytes, "actor");
  validate_text(e.client, kMaxActorBytes, "client");
  validate_text(e.comment, kMaxCommentBytes, "comment");
  validate_signatures(e.signatures, "malformed event");
}

std::string event_to_json(const Event& e) {
  nlohmann::ordered_json j;
  j["seq"] = e.seq;
  j["time"] = format_utc(e.time);
  if (!e.actor.empty()) j["actor"] = e.actor;
  j["action"] = action_name(e.action);
  j["package"] = e.package;
  if (e.version != 0) j["version"] = e.version;
  if (!e.tag.empty()) j["tag"] = e.tag;
  if (e.previous) j["previous"] = *e.previous;
  if (!e.sha256.empty()) j["sha256"] = e.sha256;
  if (!e.comment.empty()) j["comment"] = e.comment;
  if (!e.client.empty()) j["client"] = e.client;
  if (!e.signatures.empty()) j["signatures"] = signature_array(e.signatures);
  return j.dump();
}

Event event_from_json(const std::string& text) {
  const nlohmann::json j = parse_object(text, "event");
  auto bad = [](const char* name, const char* why) {
    return Error(ErrorKind::Invalid, fmt::format("malformed event: '{}' {}", name, why));
  };
  auto string_field = [&](const char* name, bool required) -> std::string {
    auto it = j.find(name);
    if (it == j.end() || it->is_null()) {
      if (required) throw bad(name, "is missing");
      return {};
    }
    if (!it->is_string()) throw bad(name, "is not a string");
    return it->get<std::string>();
  };
  auto number_field = [&](const char* name) -> std::optional<std::uint64_t> {
    auto it = j.find(name);
    if (it == j.end() || it->is_null()) return std::nullopt;
    if (!it->is_number_unsigned() || it->get<std::uint64_t>() == 0) throw bad(name, "is not a positive integer");
    return it->get<std::uint64_t>();
  };
  Event e;
  auto seq = number_field("seq");
  if (!seq) throw bad("seq", "is missing");
  e.seq = *seq;
  e.time = parse_utc(string_field("time", true));
  e.actor = string_field("actor", false);
  e.action = parse_action(string_field("action", true));
  e.package = string_field("package", true);
  e.version = number_field("version").value_or(0);
  e.tag = string_field("tag", false);
  e.previous = number_field("previous");
  e.sha256 = string_field("sha256", false);
  e.comment = string_field("comment", false);
  e.client = string_field("client", false);
  e.signatures = signatures_from_json(j, "event");
  validate_event(e);
  return e;
}

}  // namespace sacker
