// export / import: the whole ledger as JSON Lines, for backup and for moving
// between any two ledgers. Line types (one JSON object per line, "type" first):
//   {"type":"version", <record_to_json fields>}                     one per record
//   {"type":"tag","package","tag","version","seq"[,"signatures"]}    one per user tag
//   {"type":"event", <event_to_json fields>}                         one per event, oldest first
// per package, packages in byte order. Exports written before history existed
// hold only version and tag lines (tags without seq); they still import.
//
// import reads and checks the whole stream first (every line, the stream against
// itself, the stream against the ledger), then writes everything in ONE
// Ledger::import_batch: all or nothing on ledgers with transactions.
#include <fmt/core.h>

#include <istream>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>

#include "client/read_back.h"
#include "sacker/client.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker {

using namespace client_detail;

namespace {

std::string line_of(const char* type, const std::string& object_json) {
  // object_json is a JSON object ("{...}"): the type goes first.
  return fmt::format("{{\"type\":\"{}\"{}{}\n", type, object_json.size() > 2 ? "," : "", object_json.substr(1));
}

std::string tag_line(const std::string& package, const std::string& tag, const TagValue& value) {
  nlohmann::ordered_json j;
  j["package"] = package;
  j["tag"] = tag;
  j["version"] = value.version;
  j["seq"] = value.seq;
  if (!value.signatures.empty()) {
    j["signatures"] = nlohmann::ordered_json::array();
    for (const auto& s : value.signatures) j["signatures"].push_back(nlohmann::ordered_json::parse(s));
  }
  return line_of("tag", j.dump());
}

std::uint64_t bounded(std::uint64_t n, const char* what) {
  if (n > kMaxNumber) throw Error(ErrorKind::Invalid, fmt::format("'{}' is {}: too large", what, n));
  return n;
}

ImportBatch::Tag parse_tag(const nlohmann::json& j) {
  auto string_field = [&](const char* name) {
    auto it = j.find(name);
    if (it == j.end() || !it->is_string())
      throw Error(ErrorKind::Invalid, fmt::format("a tag line needs a string \"{}\"", name));
    return it->get<std::string>();
  };
  ImportBatch::Tag t;
  t.package = string_field("package");
  t.tag = string_field("tag");
  validate_package_name(t.package);
  validate_user_tag(t.tag);
  auto version = j.find("version");
  if (version == j.end() || !version->is_number_unsigned() || version->get<std::uint64_t>() == 0)
    throw Error(ErrorKind::Invalid, "a tag line needs a positive integer \"version\"");
  t.value.version = bounded(version->get<std::uint64_t>(), "version");
  if (auto seq = j.find("seq"); seq != j.end() && !seq->is_null()) {
    if (!seq->is_number_unsigned()) throw Error(ErrorKind::Invalid, "'seq' is not a non-negative integer");
    t.value.seq = bounded(seq->get<std::uint64_t>(), "seq");
  }
  if (auto sigs = j.find("signatures"); sigs != j.end() && !sigs->is_null()) {
    if (!sigs->is_array()) throw Error(ErrorKind::Invalid, "'signatures' is not an array");
    for (const auto& s : *sigs) {
      if (!s.is_object()) throw Error(ErrorKind::Invalid, "a signature is not a JSON object");
      t.value.signatures.push_back(s.dump());
    }
    // The signatures' rules are the events' (they are copied from the tag's event).
    Event probe;
    probe.seq = 1;
    probe.action = EventAction::Tag;
    probe.package = t.package;
    probe.tag = t.tag;
    probe.version = t.value.version;
    probe.signatures = t.value.signatures;
    validate_event(probe);
  }
  return t;
}

template <typename T>
struct Numbered {
  std::size_t line;
  T value;
};

// The stream, checked line by line and against itself.
struct Stream {
  std::map<std::pair<std::string, std::uint64_t>, Numbered<VersionRecord>> versions;
  std::map<std::pair<std::string, std::string>, Numbered<TagValue>> tags;
  std::map<std::pair<std::string, std::uint64_t>, Numbered<Event>> events;
  std::set<std::string> packages;
  std::set<std::string> with_events;
};

Error at_line(std::size_t line, const Error& e) {
  return Error(e.kind(), fmt::format("import: line {}: {}", line, e.what()));
}

void read_line(Stream& s, std::size_t number, const std::string& line) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::parse_error& e) {
    // Never the parser's own message: it quotes the input, which may hold anything.
    throw Error(ErrorKind::Invalid, fmt::format("not JSON (syntax error at byte {})", e.byte));
  } catch (const nlohmann::json::exception&) {
    // out_of_range: a number no C++ type holds ("1e4649"; found by fuzz_import).
    throw Error(ErrorKind::Invalid, "not JSON (a number out of range)");
  }
  if (!j.is_object()) throw Error(ErrorKind::Invalid, "not a JSON object");
  auto type = j.find("type");
  if (type == j.end() || !type->is_string()) throw Error(ErrorKind::Invalid, "no \"type\" field");
  const std::string kind = type->get<std::string>();
  auto clash = [](const char* what, std::size_t first) {
    return Error(ErrorKind::Conflict,
                 fmt::format("{} appears twice with different content (first on line {})", what, first));
  };
  if (kind == "version") {
    VersionRecord r = record_from_json(line);
    bounded(r.version, "version");
    bounded(r.size, "size");
    s.packages.insert(r.package);
    auto [it, fresh] = s.versions.try_emplace({r.package, r.version}, Numbered<VersionRecord>{number, r});
    if (!fresh && !(it->second.value == r))
      throw clash(fmt::format("{} version {}", r.package, r.version).c_str(), it->second.line);
  } else if (kind == "tag") {
    ImportBatch::Tag t = parse_tag(j);
    s.packages.insert(t.package);
    auto [it, fresh] = s.tags.try_emplace({t.package, t.tag}, Numbered<TagValue>{number, t.value});
    if (!fresh && !(it->second.value == t.value))
      throw clash(fmt::format("tag '{}' of {}", t.tag, t.package).c_str(), it->second.line);
  } else if (kind == "event") {
    Event e = event_from_json(line);
    bounded(e.seq, "seq");
    bounded(e.version, "version");
    s.packages.insert(e.package);
    s.with_events.insert(e.package);
    auto [it, fresh] = s.events.try_emplace({e.package, e.seq}, Numbered<Event>{number, e});
    if (!fresh && !(it->second.value == e))
      throw clash(fmt::format("event {} of {}", e.seq, e.package).c_str(), it->second.line);
  } else {
    throw Error(ErrorKind::Invalid, fmt::format("unknown type \"{}\" (known: version, tag, event)", printable(kind)));
  }
}

}  // namespace

void Client::export_jsonl(std::ostream& out) {
  auto check = [&out] {
    if (!out) throw Error(ErrorKind::LocalIO, "export: cannot write the output");
  };
  for (const auto& p : checked_packages(*ledger_)) {
    for (const auto& r : checked_records(*ledger_, p)) out << line_of("version", record_to_json(r));
    for (const auto& [tag, value] : checked_tag_values(*ledger_, p)) out << tag_line(p, tag, value);
    auto events = checked_history(*ledger_, p, HistoryQuery{});
    for (auto it = events.rbegin(); it != events.rend(); ++it) out << line_of("event", event_to_json(*it));
    check();
  }
  out.flush();
  check();
}

ImportReport Client::import_jsonl(std::istream& in) {
  Stream s;
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      read_line(s, number, line);
    } catch (const Error& e) {
      throw at_line(number, e);
    }
  }
  if (in.bad()) throw Error(ErrorKind::LocalIO, fmt::format("import: cannot read the input after line {}", number));

  // Against the ledger, one read of each package: nothing is written until all of it holds.
  ImportReport report;
  ImportBatch batch;
  const ChangeContext ctx = context("import");
  for (const auto& package : s.packages) {
    std::map<std::uint64_t, VersionRecord> existing;
    for (auto& r : checked_records(*ledger_, package)) existing.emplace(r.version, std::move(r));
    const auto existing_tags = checked_tag_values(*ledger_, package);
    std::map<std::uint64_t, Event> existing_events;
    if (s.with_events.count(package))
      for (auto& e : checked_history(*ledger_, package, HistoryQuery{})) existing_events.emplace(e.seq, std::move(e));
    const bool make_events = !s.with_events.count(package);
    auto import_event = [&](std::uint64_t version, const std::string& tag, const std::string& sha) {
      Event e;
      e.time = ctx.time;
      e.actor = ctx.actor;
      e.client = ctx.client;
      e.comment = ctx.comment;
      e.action = EventAction::Import;
      e.package = package;
      e.version = version;
      e.tag = tag;
      e.sha256 = sha;
      batch.events.push_back(std::move(e));
      ++report.events;
    };

    std::map<std::uint64_t, std::string> sha_of;  // every version the ledger will hold
    for (const auto& [v, r] : existing) sha_of[v] = r.sha256;
    for (auto it = s.versions.lower_bound({package, 0}); it != s.versions.end() && it->first.first == package; ++it) {
      const auto& [line, r] = it->second;
      if (auto e = existing.find(r.version); e != existing.end()) {
        if (!(e->second == r))
          throw at_line(line, Error(ErrorKind::Conflict, fmt::format("{} version {} exists in the ledger with other "
                                                                     "content (sha256 {})",
                                                                     package, r.version, e->second.sha256)));
        ++report.unchanged;
        continue;
      }
      sha_of[r.version] = r.sha256;
      batch.records.push_back(r);
      ++report.versions;
      if (make_events) import_event(r.version, {}, r.sha256);
    }
    for (auto it = s.tags.lower_bound({package, ""}); it != s.tags.end() && it->first.first == package; ++it) {
      const std::string& tag = it->first.second;
      const auto& [line, value] = it->second;
      if (!sha_of.count(value.version))
        throw at_line(line, Error(ErrorKind::NotFound, fmt::format("tag '{}' of {} points to version {}, which is "
                                                                   "neither in the import nor in the ledger",
                                                                   tag, package, value.version)));
      if (auto e = existing_tags.find(tag); e != existing_tags.end()) {
        if (e->second.version != value.version)
          throw at_line(line, Error(ErrorKind::Conflict, fmt::format("tag '{}' of {} points to {} in the ledger, to "
                                                                     "{} in the import (untag it first to import)",
                                                                     tag, package, e->second.version, value.version)));
        ++report.unchanged;  // same place; the ledger's own seq and signatures stay
        continue;
      }
      batch.tags.push_back(ImportBatch::Tag{package, tag, value});
      ++report.tags;
      if (make_events) import_event(value.version, tag, sha_of[value.version]);
    }
    for (auto it = s.events.lower_bound({package, 0}); it != s.events.end() && it->first.first == package; ++it) {
      const auto& [line, event] = it->second;
      if (auto e = existing_events.find(event.seq); e != existing_events.end()) {
        if (!(e->second == event))
          throw at_line(line, Error(ErrorKind::Conflict, fmt::format("event {} of {} exists in the ledger with other "
                                                                     "content",
                                                                     event.seq, package)));
        ++report.unchanged;
        continue;
      }
      batch.events.push_back(event);
      ++report.events;
    }
  }
  if (!batch.records.empty() || !batch.tags.empty() || !batch.events.empty()) ledger_->import_batch(batch);
  return report;
}

}  // namespace sacker
