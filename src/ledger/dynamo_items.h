// The items of the DynamoDB ledger (layout and protocol: dynamo_ledger.cpp): their
// keys and attributes, written and read back. Every read goes through the
// read-back checks: a hostile or corrupt item is Error(Invalid) naming the
// ledger, the table and the item's key.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "aws/dynamo_client.h"
#include "sacker/ledger.h"

namespace sacker::dynamo_items {

using nlohmann::json;

// The reserved item of a package in the tags table (tag names are
// [A-Za-z0-9._-], so '#' never collides): allocated (N), the highest version
// handed out; last_seq (N), the highest event seq handed out.
inline constexpr const char* kCounterTag = "#next";

json S(const std::string& s);
json N(std::uint64_t n);
json N(std::int64_t n);

// Where an item was read, for messages: "dynamo ledger <uri>: table <t> item <key>: <why>".
struct Where {
  const std::string& ledger;
  const std::string& table;
  std::string item;
};
[[noreturn]] void bad_item(const Where& where, const std::string& why);
std::string string_attr(const json& item, const char* name, const Where& where);
// A whole number attribute; nullopt if absent and not `required`.
std::optional<std::int64_t> number_attr(const json& item, const char* name, bool required, const Where& where);
// A number attribute that must be > 0.
std::uint64_t positive_attr(const json& item, const char* name, const Where& where);

json version_key(const std::string& package, std::uint64_t version);
json tag_key(const std::string& package, const std::string& tag);
json event_key(const std::string& package, std::uint64_t seq);

// A version item: the original tool's attributes (sha, basename, mode, metadata as
// a JSON string) plus size, created, signatures (S: a JSON array) and, for adds,
// event (S: the add event). Error(Invalid) for what DynamoDB cannot store (non-UTF-8).
json version_item(const VersionRecord& record, const Event* add);
struct VersionItem {
  VersionRecord record;
  std::optional<Event> event;
};
VersionItem parse_version_item(const json& item, const std::string& package, const Where& where);
// Only the event a version item carries (a projection of version and event).
std::optional<Event> parse_carried_add(const json& item, const std::string& package, const Where& where);

// A tag item: version (N) as the original wrote it, plus seq (N), signatures (S)
// and event (S: the move that set the tag).
json tag_item(const std::string& package, const std::string& tag, const TagValue& value, const Event* event);
struct TagItem {
  TagValue value;
  std::optional<Event> event;
};
TagItem parse_tag_item(const json& item, const std::string& package, const std::string& tag, const Where& where);

// An item of the events table: seq (N, the range key), event (S), tag (S, for
// filtering, when the event has one).
json event_item(const Event& event);
Event parse_event_item(const json& item, const std::string& package, const Where& where);

// The ledger's three tables and the reads and writes on their items. Every name
// is owned by the ledger, which outlives this.
class Tables {
 public:
  Tables(aws::DynamoClient& client, const std::string& versions, const std::string& tags, const std::string& events,
         const std::string& ledger, const int& page_size)
      : client_(client), versions_(versions), tags_(tags), events_(events), ledger_(ledger), page_size_(page_size) {}

  Where where(const std::string& table, const std::string& item) const { return Where{ledger_, table, item}; }
  // A Query request for the package's items (ConsistentRead), optionally of one attribute.
  json by_package(const std::string& table, const std::string& package, const char* projection = nullptr) const;

  std::optional<VersionItem> read_version(const std::string& package, std::uint64_t version);
  std::optional<TagItem> read_tag(const std::string& package, const std::string& tag);
  // The package's tags (the reserved "#" items left out).
  std::map<std::string, TagItem> tag_items(const std::string& package);
  // PutItem if no item has its key (`range`: the range key's name); false if one has.
  bool put_if_absent(const std::string& table, const json& item, const char* range);
  // After a failed conditional put: is the stored item exactly `item` (a repeat of
  // a request that had succeeded)?
  bool holds(const std::string& table, const json& key, const json& item);
  // The package's events that `query` selects: the events table merged with the
  // events the current items carry (not copied there yet), each read-back checked.
  // A ledger from before history (no events table) has only the carried ones.
  std::vector<Event> history(const std::string& package, const HistoryQuery& query);
  // Copies an event an item carries to the events table (before the item goes).
  void keep_event(const Event& e) { put_if_absent(events_, event_item(e), "seq"); }

 private:
  aws::DynamoClient& client_;
  const std::string &versions_, &tags_, &events_, &ledger_;
  const int& page_size_;
};

// The counters of a package's "#next" item in the tags table.
class Counters {
 public:
  Counters(aws::DynamoClient& client, const std::string& table, const std::string& ledger)
      : client_(client), table_(table), ledger_(ledger) {}
  // The next event seq (and with `version` the next version number, in the same
  // atomic update): {version or 0, seq}. Counts only up: each number goes to one caller.
  std::pair<std::uint64_t, std::uint64_t> reserve(const std::string& package, bool version);
  // Raises counter `name` ("allocated", "last_seq") to at least `at_least`; never lowers it.
  void raise(const std::string& package, const char* name, std::uint64_t at_least);
  // Best effort, never throws: hands `number` back if nobody reserved after it.
  void give_back(const std::string& package, std::uint64_t number);

 private:
  aws::DynamoClient& client_;
  const std::string& table_;
  const std::string& ledger_;
};

}  // namespace sacker::dynamo_items
