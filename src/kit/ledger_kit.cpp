#include "kit/ledger_kit.h"

#include <fmt/core.h>

#include <algorithm>
#include <climits>
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

// `parse(json)`, its Error as corrupt(where, ...).
template <typename Parse>
auto parsed(const std::string& where, const std::string& json, Parse parse) -> decltype(parse(json)) {
  try {
    return parse(json);
  } catch (const Error& e) {
    throw corrupt(where, e.what());
  }
}

}  // namespace

VersionRecord stored_record(const std::string& where, const std::string& json, const std::string& package,
                            std::uint64_t version) {
  VersionRecord r = parsed(where, json, [](const std::string& text) { return record_from_json(text); });
  if (r.package != package || r.version != version)
    throw corrupt(where, fmt::format("it holds the record of {} version {}", printable(r.package), r.version));
  return checked_record(where, std::move(r));
}

Event stored_event(const std::string& where, const std::string& json, const std::string& package, std::uint64_t seq) {
  Event e = parsed(where, json, [](const std::string& text) { return event_from_json(text); });
  if (e.package != package || e.seq != seq)
    throw corrupt(where, fmt::format("it holds event {} of {}", e.seq, printable(e.package)));
  return checked_event(where, std::move(e));
}

TagValue checked_tag_value(const std::string& ledger, const std::string& where, TagValue value) {
  auto refused = [&](const std::string& why) {
    return corrupt(ledger, fmt::format("{} holds a tag value that is refused: {}", where, why));
  };
  constexpr auto kMax = static_cast<std::uint64_t>(INT64_MAX);
  if (value.version == 0 || value.version > kMax)
    throw refused(fmt::format("version {} is not in 1..{}", value.version, kMax));
  if (value.seq > kMax) throw refused(fmt::format("seq {} is not in 0..{}", value.seq, kMax));
  // The rules for signatures (how many, how large, canonical) are validate_event's.
  Event probe;
  probe.seq = 1;
  probe.package = "p";
  probe.action = EventAction::Import;
  probe.signatures = value.signatures;
  try {
    validate_event(probe);
  } catch (const Error& e) {
    throw refused(e.what());
  }
  return value;
}

std::string signatures_to_json(const std::vector<std::string>& signatures) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& s : signatures) a.push_back(nlohmann::json::parse(s));
  return a.dump();
}

std::vector<std::string> checked_signatures(const std::string& ledger, const std::string& where,
                                            const std::string& json_text) {
  const auto a = nlohmann::json::parse(json_text, nullptr, false);
  if (!a.is_array()) throw corrupt(ledger, fmt::format("malformed signatures in {}", where));
  std::vector<std::string> out;
  for (const auto& s : a) {
    if (!s.is_object()) throw corrupt(ledger, fmt::format("malformed signatures in {}", where));
    out.push_back(s.dump());
  }
  return out;
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
  if (auto signatures = j.find("signatures"); signatures != j.end())
    value.signatures = checked_signatures(ledger, where, signatures->dump());
  return checked_tag_value(ledger, where, std::move(value));
}

}  // namespace ledger_kit
}  // namespace sacker
