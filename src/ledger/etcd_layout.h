// The etcd ledger's keys and values (the layout is described at the top of
// etcd_ledger.cpp), with the read-back checks: what is parsed here came from the
// server and is untrusted. Hostile or corrupt content throws Error(Invalid)
// naming the ledger and the key (kit/ledger_kit.h's corrupt and checked_*).
// Pure (no network); tests/integration/etcd feeds it hostile keys and values.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "ledger/etcd_client.h"
#include "sacker/ledger.h"

namespace sacker::etcd {

// Error(Invalid) unless 1 <= n <= INT64_MAX (what etcd's layout and JSON can hold).
void check_number(std::uint64_t n, const char* what);

class Layout {
 public:
  // `root`: the prefix with its trailing '/'; `described`: the URI without secrets.
  Layout(std::string root, std::string described) : root_(std::move(root)), described_(std::move(described)) {}

  // --- keys (names are validated again here: the layout's own guard against escaping)
  const std::string& root() const { return root_; }
  std::string format_key() const { return root_ + "format"; }
  std::string counters_dir() const { return root_ + "counters/"; }
  std::string counter_key(const std::string& package) const;
  std::string versions_dir(const std::string& package) const { return package_dir(package) + "v/"; }
  std::string tags_dir(const std::string& package) const { return package_dir(package) + "t/"; }
  std::string events_dir(const std::string& package) const { return package_dir(package) + "events/"; }
  std::string seq_key(const std::string& package) const { return package_dir(package) + "seq"; }
  std::string version_key(const std::string& package, std::uint64_t version) const;
  std::string event_key(const std::string& package, std::uint64_t seq) const;
  std::string tag_key(const std::string& package, const std::string& tag) const;

  // --- values written
  static std::string tag_text(const TagValue& value);
  // The event as stored: event_to_json plus "op", the writing attempt's random id.
  static std::string event_text(const Event& event, const std::string& op);

  // --- values read back
  // "<described> key '<key>'": where a value was read, for messages.
  std::string at(const std::string& key) const;
  // The number a 20-digit key under `dir` stands for (a version or a seq).
  std::uint64_t number_in(const std::string& key, const std::string& dir) const;
  // A decimal counter as read (nullptr: absent, {1, 0}), raised above the highest
  // key under `dir` when that was read with it.
  Counter counter(const Kv* counter, const Kv* highest = nullptr, const std::string& dir = {}) const;
  std::string package_of_counter(const Kv& kv) const;
  VersionRecord record(const Kv& kv, const std::string& package) const;
  Event event(const Kv& kv, const std::string& package) const;
  // A tag key and value: tag_value_to_json's {"version","seq"[,"signatures"]}, or format 1's bare decimal
  // version (seq 0).
  std::pair<std::string, TagValue> tag(const Kv& kv, const std::string& package) const;

 private:
  std::string package_dir(const std::string& package) const;
  std::string root_, described_;
};

}  // namespace sacker::etcd
