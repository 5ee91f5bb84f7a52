#include "kit/ledger_kit.h"

#include <fmt/core.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "sacker/names.h"

namespace sacker {

bool TagExpectation::met_by(const std::optional<std::uint64_t>& current) const {
  switch (kind) {
    case Kind::Any: return true;
    case Kind::Absent: return !current.has_value();
    case Kind::Version: return current == version;
  }
  return false;
}

std::optional<std::uint64_t> Ledger::latest(const std::string& package) {
  auto all = versions(package);
  if (all.empty()) return std::nullopt;
  return all.back();
}

std::optional<TagValue> Ledger::tag_value(const std::string& package, const std::string& tag) {
  auto all = tag_values(package);
  auto it = all.find(tag);
  if (it == all.end()) return std::nullopt;
  return it->second;
}

std::optional<std::uint64_t> Ledger::tag(const std::string& package, const std::string& tag) {
  auto value = tag_value(package, tag);
  if (!value) return std::nullopt;
  return value->version;
}

std::map<std::string, std::uint64_t> Ledger::tags(const std::string& package) {
  std::map<std::string, std::uint64_t> out;
  for (const auto& [tag, value] : tag_values(package)) out[tag] = value.version;
  return out;
}

std::vector<VersionRecord> Ledger::records(const std::string& package) {
  std::vector<VersionRecord> out;
  for (auto v : versions(package))
    if (auto r = get(package, v)) out.push_back(std::move(*r));
  return out;
}

void Ledger::import_batch(const ImportBatch& batch) {
  for (const auto& r : batch.records) put_record(r);
  for (const auto& t : batch.tags) put_tag(t.package, t.tag, t.value);
  for (const auto& e : batch.events) put_event(e);
}

namespace ledger_kit {

namespace {

std::string expectation_text(const TagExpectation& expect) {
  switch (expect.kind) {
    case TagExpectation::Kind::Any: return "anything";
    case TagExpectation::Kind::Absent: return "no such tag";
    case TagExpectation::Kind::Version: return std::to_string(expect.version);
  }
  return "?";
}

}  // namespace

Error version_exists_differently(const std::string& package, std::uint64_t version) {
  return Error(ErrorKind::Conflict, fmt::format("{} version {} already exists with other content", package, version));
}

Error version_is_tagged(const std::string& package, std::uint64_t version, const std::string& tag) {
  return Error(ErrorKind::Conflict,
               fmt::format("{} version {} is tagged '{}': untag it first", package, version, printable(tag)));
}

Error no_such_version(const std::string& package, std::uint64_t version) {
  return Error(ErrorKind::NotFound, fmt::format("{} has no version {}", package, version));
}

Error tag_not_as_expected(const std::string& package, const std::string& tag, const TagExpectation& expect,
                          const std::optional<std::uint64_t>& current) {
  return Error(ErrorKind::Conflict,
               fmt::format("{} tag '{}' {} (expected {}); nothing changed", package, printable(tag),
                           current ? "points to " + std::to_string(*current) : std::string("does not exist"),
                           expectation_text(expect)));
}

Error event_exists_differently(const std::string& package, std::uint64_t seq) {
  return Error(ErrorKind::Conflict, fmt::format("{} event {} already exists with other content", package, seq));
}

Error corrupt(const std::string& ledger, const std::string& what) {
  return Error(ErrorKind::Invalid, fmt::format("{}: {} (hostile or corrupt ledger content)", ledger, what));
}

std::string checked_package(const std::string& ledger, std::string name) {
  try {
    validate_package_name(name);
  } catch (const Error& e) {
    throw corrupt(ledger, fmt::format("a package name read from the ledger is refused: {}", e.what()));
  }
  return name;
}

std::string checked_tag(const std::string& ledger, const std::string& package, std::string tag) {
  try {
    validate_user_tag(tag);
  } catch (const Error& e) {
    throw corrupt(ledger, fmt::format("a tag of {} read from the ledger is refused: {}", package, e.what()));
  }
  return tag;
}

VersionRecord checked_record(const std::string& ledger, VersionRecord record) {
  try {
    validate_record(record);
  } catch (const Error& e) {
    throw corrupt(ledger, fmt::format("the record of {} version {} read from the ledger is refused: {}",
                                      printable(record.package), record.version, e.what()));
  }
  return record;
}

Event checked_event(const std::string& ledger, Event event) {
  try {
    validate_event(event);
  } catch (const Error& e) {
    throw corrupt(ledger, fmt::format("event {} of {} read from the ledger is refused: {}", event.seq,
                                      printable(event.package), e.what()));
  }
  return event;
}

namespace {

// The one set of rules for a tag's value read back, whatever form it was stored in:
// a version > 0 and the signatures of the event that set it under that event's rules
// (each a canonical JSON object of at most 64 KiB, at most 16). With a package and a
// tag, their names too. Throws validate_event's Error.
void check_tag_value(const TagValue& value, const std::string& package, const std::string& tag) {
  if (value.version == 0) throw Error(ErrorKind::Invalid, "'version' is not a positive integer");
  Event e;
  e.seq = 1;
  e.action = tag.empty() ? EventAction::Import : EventAction::Tag;
  e.package = package.empty() ? "p" : package;
  e.tag = tag;
  e.version = value.version;
  e.signatures = value.signatures;
  validate_event(e);
}

}  // namespace

TagValue checked_tag_value(const std::string& ledger, const std::string& package, const std::string& tag,
                           TagValue value) {
  try {
    check_tag_value(value, package, tag);
  } catch (const Error& err) {
    throw corrupt(ledger, fmt::format("tag '{}' of {} read from the ledger is refused: {}", printable(tag),
                                      printable(package), err.what()));
  }
  return value;
}

Event make_event(EventAction action, const ChangeContext& ctx, const std::string& package, std::uint64_t version,
                 const std::string& tag, std::optional<std::uint64_t> previous, const std::string& sha256) {
  Event e;
  e.time = ctx.time;
  e.actor = ctx.actor;
  e.comment = ctx.comment;
  e.client = ctx.client;
  e.action = action;
  e.package = package;
  e.version = version;
  e.tag = tag;
  e.previous = previous;
  e.sha256 = sha256;
  return e;
}

EventAction tag_action(const ChangeContext& ctx) { return ctx.rollback ? EventAction::Rollback : EventAction::Tag; }

std::vector<Event> select_history(std::vector<Event> events, const HistoryQuery& query) {
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.seq > b.seq; });
  std::vector<Event> out;
  for (auto& e : events) {
    if (query.before != 0 && e.seq >= query.before) continue;
    if (query.tag && e.tag != *query.tag) continue;
    out.push_back(std::move(e));
    if (query.limit != 0 && out.size() >= query.limit) break;
  }
  return out;
}

std::string tag_value_to_json(const TagValue& value) {
  nlohmann::ordered_json j;
  j["version"] = value.version;
  j["seq"] = value.seq;
  if (!value.signatures.empty()) {
    j["signatures"] = nlohmann::ordered_json::array();
    for (const auto& s : value.signatures) j["signatures"].push_back(nlohmann::ordered_json::parse(s));
  }
  return j.dump();
}

TagValue checked_tag_value(const std::string& ledger, const std::string& where, const std::string& json) {
  auto refused = [&](const std::string& why) {
    return corrupt(ledger, fmt::format("{} holds a tag value that is refused: {}", where, why));
  };
  const auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw refused("not a JSON object");
  TagValue value;
  auto version = j.find("version");
  if (version == j.end() || !version->is_number_unsigned()) throw refused("'version' is not a positive integer");
  value.version = version->get<std::uint64_t>();
  if (auto seq = j.find("seq"); seq != j.end()) {
    if (!seq->is_number_unsigned()) throw refused("'seq' is not a non-negative integer");
    value.seq = seq->get<std::uint64_t>();
  }
  if (auto signatures = j.find("signatures"); signatures != j.end()) {
    if (!signatures->is_array()) throw refused("'signatures' is not an array");
    for (const auto& s : *signatures) {
      if (!s.is_object()) throw refused("a signature is not a JSON object");
      value.signatures.push_back(s.dump());
    }
  }
  try {
    check_tag_value(value, {}, {});
  } catch (const Error& e) {
    throw refused(e.what());
  }
  return value;
}

}  // namespace ledger_kit
}  // namespace sacker
