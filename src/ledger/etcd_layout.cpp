#include "ledger/etcd_layout.h"

#include <fmt/core.h>

#include <algorithm>
#include <climits>
#include <nlohmann/json.hpp>

#include "core/codec.h"
#include "kit/ledger_kit.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker::etcd {

using namespace ledger_kit;
using nlohmann::json;

void check_number(std::uint64_t n, const char* what) {
  if (n == 0 || n > static_cast<std::uint64_t>(INT64_MAX))
    throw Error(ErrorKind::Invalid, fmt::format("{} {} is out of range for the etcd ledger", what, n));
}

std::string Layout::package_dir(const std::string& package) const {
  validate_package_name(package);
  return root_ + "packages/" + package + "/";
}

std::string Layout::counter_key(const std::string& package) const {
  validate_package_name(package);
  return counters_dir() + package;
}

std::string Layout::version_key(const std::string& package, std::uint64_t version) const {
  return versions_dir(package) + codec::zero_pad(version);
}

std::string Layout::event_key(const std::string& package, std::uint64_t seq) const {
  return events_dir(package) + codec::zero_pad(seq);
}

std::string Layout::tag_key(const std::string& package, const std::string& tag) const {
  validate_user_tag(tag);
  return tags_dir(package) + tag;
}

std::string Layout::tag_text(const TagValue& v) { return tag_value_to_json(v); }

std::string Layout::event_text(const Event& e, const std::string& op) {
  auto j = nlohmann::ordered_json::parse(event_to_json(e));
  j["op"] = op;
  return j.dump();
}

std::string Layout::at(const std::string& key) const { return fmt::format("{} key '{}'", described_, printable(key)); }

std::uint64_t Layout::number_in(const std::string& key, const std::string& dir) const {
  std::optional<std::uint64_t> n;
  if (key.size() == dir.size() + 20 && key.compare(0, dir.size(), dir) == 0)
    n = codec::parse_decimal(std::string_view(key).substr(dir.size()), INT64_MAX);
  if (!n || *n == 0) throw corrupt(at(key), "not a version or seq key");
  return *n;
}

Counter Layout::counter(const Kv* counter, const Kv* highest, const std::string& dir) const {
  Counter c;
  if (counter) {
    auto n = codec::parse_decimal(counter->value, INT64_MAX);
    if (!n || *n == 0)
      throw corrupt(at(counter->key), fmt::format("counter '{}' is not a positive number", printable(counter->value)));
    c = {*n, counter->mod_revision};
  }
  if (highest) c.next = std::max(c.next, number_in(highest->key, dir) + 1);
  check_number(c.next, "the next number");
  return c;
}

std::string Layout::package_of_counter(const Kv& kv) const {
  return checked_package(at(kv.key), kv.key.substr(std::min(kv.key.size(), counters_dir().size())));
}

VersionRecord Layout::record(const Kv& kv, const std::string& package) const {
  return stored_record(at(kv.key), kv.value, package, number_in(kv.key, versions_dir(package)));
}

Event Layout::event(const Kv& kv, const std::string& package) const {
  return stored_event(at(kv.key), kv.value, package, number_in(kv.key, events_dir(package)));
}

std::pair<std::string, TagValue> Layout::tag(const Kv& kv, const std::string& package) const {
  const std::string dir = tags_dir(package);
  std::string name = checked_tag(at(kv.key), package, kv.key.substr(std::min(kv.key.size(), dir.size())));
  const std::string where = fmt::format("key '{}'", printable(kv.key));
  if (auto n = codec::parse_decimal(kv.value))  // format 1: the version alone
    return {name, checked_tag_value(described_, where, TagValue{*n, 0, {}})};
  return {name, checked_tag_value(described_, where, kv.value)};
}

}  // namespace sacker::etcd
