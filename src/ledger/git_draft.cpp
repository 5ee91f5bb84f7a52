#include "ledger/git_draft.h"

#include <fmt/core.h>

#include <algorithm>
#include <set>

#include "kit/ledger_kit.h"
#include "ledger/git_layout.h"
#include "sacker/names.h"

namespace sacker::git {

using namespace ledger_kit;
using namespace git_layout;

namespace {

std::vector<std::uint64_t> numbered_files(Draft& v, const std::string& dir, const char* what) {
  std::vector<std::uint64_t> out;
  for (const auto& name : v.list(dir, false)) {
    auto n = numbered_json(name);
    if (!n) throw corrupt(v.at(dir + "/" + name), fmt::format("is not <20-digit {}>.json", what));
    out.push_back(*n);
  }
  return out;  // ascending: the names are sorted and all of one length
}

}  // namespace

std::optional<std::string> Draft::read(const std::string& path) {
  if (auto it = commit_.files.find(path); it != commit_.files.end()) return it->second;
  return repo_.read_file(base_, path);
}

std::vector<std::string> Draft::list(const std::string& dir, bool dirs) {
  std::set<std::string> names;
  for (const auto& e : repo_.list_dir(base_, dir)) {
    if (e.is_dir != dirs) throw corrupt(repo_.at(dir + "/" + e.name), dirs ? "is not a directory" : "is not a file");
    names.insert(e.name);
  }
  const std::string prefix = dir + "/";
  for (auto it = commit_.files.lower_bound(prefix); it != commit_.files.end() && it->first.starts_with(prefix); ++it) {
    const std::string rest = it->first.substr(prefix.size());
    const auto slash = rest.find('/');
    if (dirs && slash != std::string::npos) names.insert(rest.substr(0, slash));
    if (dirs || slash != std::string::npos) continue;
    if (it->second)
      names.insert(rest);
    else
      names.erase(rest);
  }
  return {names.begin(), names.end()};
}

std::vector<std::uint64_t> versions_in(Draft& v, const std::string& pkg) {
  return numbered_files(v, versions_dir(pkg), "version");
}
std::vector<std::uint64_t> event_seqs(Draft& v, const std::string& pkg) {
  return numbered_files(v, events_dir(pkg), "seq");
}
std::uint64_t highest_in(Draft& v, const std::string& pkg) {
  auto all = versions_in(v, pkg);
  return all.empty() ? 0 : all.back();
}
std::uint64_t next_seq(Draft& v, const std::string& pkg) {
  auto all = event_seqs(v, pkg);
  return all.empty() ? 1 : all.back() + 1;
}

std::optional<VersionRecord> record_in(Draft& v, const std::string& pkg, std::uint64_t version) {
  const std::string path = record_path(pkg, version);
  auto text = v.read(path);
  if (!text) return std::nullopt;
  return stored_record(v.at(path), *text, pkg, version);
}

std::uint64_t counter_in(Draft& v, const std::string& pkg) {
  auto text = v.read(counter_path(pkg));
  if (!text) return 1;
  auto n = parse_number_file(*text);
  if (!n) throw corrupt(v.at(counter_path(pkg)), "is not a version number");
  return *n;
}

std::optional<TagValue> tag_in(Draft& v, const std::string& pkg, const std::string& tag) {
  const std::string path = tag_path(pkg, tag);
  auto text = v.read(path);
  if (!text) return std::nullopt;
  auto value = parse_tag_file(*text);
  if (!value) throw corrupt(v.at(path), "is neither a version number nor {\"version\", \"seq\", \"signatures\"}");
  checked_tag(v.at(path), pkg, tag);
  return checked_tag_value(v.at(path), "the file " + path, std::move(*value));
}

std::map<std::string, TagValue> tag_values_in(Draft& v, const std::string& pkg) {
  const std::string dir = tags_dir(pkg);
  std::map<std::string, TagValue> out;
  for (const auto& name : v.list(dir, false)) {
    checked_tag(v.at(dir + "/" + name), pkg, name);
    out[name] = *tag_in(v, pkg, name);
  }
  return out;
}

std::optional<Event> event_in(Draft& v, const std::string& pkg, std::uint64_t seq) {
  const std::string path = event_path(pkg, seq);
  auto text = v.read(path);
  if (!text) return std::nullopt;
  return stored_event(v.at(path), *text, pkg, seq);
}

void write_record(Draft& v, const VersionRecord& r) {
  v.write(record_path(r.package, r.version), record_file(r));
  v.write(counter_path(r.package), number_file(std::max(counter_in(v, r.package), r.version + 1)));
}

Event append_event(Draft& v, Event e) {
  if (e.seq == 0) e.seq = next_seq(v, e.package);
  validate_event(e);
  v.write(event_path(e.package, e.seq), event_file(e));
  return e;
}

bool put_record_in(Draft& v, const VersionRecord& record) {
  if (auto existing = record_in(v, record.package, record.version)) {
    if (*existing == record) return false;
    throw version_exists_differently(record.package, record.version);
  }
  write_record(v, record);
  return true;
}

bool put_tag_in(Draft& v, const std::string& pkg, const std::string& tag, const TagValue& value) {
  if (!record_in(v, pkg, value.version)) throw no_such_version(pkg, value.version);
  if (tag_in(v, pkg, tag) == value) return false;
  v.write(tag_path(pkg, tag), tag_file(value));
  return true;
}

std::optional<Event> put_event_in(Draft& v, const Event& event) {
  if (event.seq != 0) {
    if (auto existing = event_in(v, event.package, event.seq)) {
      if (*existing == event) return std::nullopt;
      throw event_exists_differently(event.package, event.seq);
    }
  }
  return append_event(v, event);
}

}  // namespace sacker::git
