// dynamo://region/table-prefix — the DynamoDB ledger, on the tables of the original
// Python sacker plus one for history, spoken through aws/dynamo_client.h.
// DynamoDB's TransactWriteItems is not used: dynalite 4.0, the test server, does not
// have it (tested: UnknownOperationException). Every step is one conditional write
// on one item, and a change and its event are made atomic by putting the event in
// the item the change writes.
//
// Layout (<prefix> = the URI path, a valid table name; items: dynamo_items.h):
//   table <prefix>          hash package_name (S), range version (N): one item per version
//       sha, basename, mode, metadata (S: a JSON object, as the original wrote it), size,
//       created; signatures (S: a JSON array); event (S: the add event, event_to_json).
//       The original wrote neither size nor created (read as 0) and stored the whole
//       st_mode (0100644): a regular-file type is masked off, anything else is Invalid.
//   table <prefix>-tags     hash package_name (S), range tag (S): version (N); seq (N, the
//       event that set it; absent: set before history, seq 0); signatures (S); event (S).
//       Per package one reserved item, tag "#next": allocated (N), the highest version
//       handed out, and last_seq (N), the highest event seq handed out.
//   table <prefix>-events   hash package_name (S), range seq (N): event (S), tag (S).
//       New with history: `init` creates it (an existing ledger needs `sacker init` once
//       before its first untag or remove; adds, tags and reads work without it).
// The first add or import to a ledger without tables creates them (as `init`).
//
// Versions (why they are unique):
//   add    1. UpdateItem "#next" ADD allocated 1, last_seq 1, returning both: (n, s). The
//             ADD is atomic and only counts up, so every n and every s goes to one caller,
//             never twice, whatever is removed later. (A repeat after a lost answer skips
//             a number, never repeats one.)
//          2. PutItem version n, carrying its add event (seq s), with
//             attribute_not_exists(version). It succeeds unless someone who does not
//             reserve wrote n (the original tool, an import, versions older than the
//             counter): then the counter is raised over the highest stored version (a
//             conditional SET that only raises) and the add starts over (kit Retry).
//          Concurrent adders never collide: 4 x 50 adds give exactly 1..200. An adder
//          that dies between 1 and 2 leaves a hole (like a removed version). A put that
//          the server refused outright hands its number back if nobody reserved after it.
//   put_record (import) raises the counter to >= v first, so later adds go above it.
//
// Events (why every change has exactly one, and never one without its change):
//   add        the event is in the version item: the one conditional PutItem makes both.
//   set_tag    compare-and-swap: read the tag item, reserve s (ADD last_seq), PutItem the
//              tag item carrying its event with the condition "the item is as read"
//              (attribute_not_exists(tag) for a new tag, else version = :read AND seq =
//              :read, or attribute_not_exists(seq) for a tag from before history); a lost
//              race reads again (kit Retry). The move and its event are one write.
//   remove_tag, remove_version  a DeleteItem carries nothing: the event item is put
//              right after the conditional delete. A writer killed in between leaves the
//              removal without its event (history ends at the tag's last move or the
//              version's add); never an event without its change.
//   Before a tag item or a version item is replaced or deleted, the event it carries is
//   copied to the events table (attribute_not_exists(seq): a repeat is a no-op), so no
//   event is lost with its item. `history` merges the events table with the events the
//   current version and tag items carry. seqs come from one atomic counter per package:
//   strictly increasing, in the order they were reserved; a move reserves its seq after
//   reading the tag item the previous move wrote, so a tag's history is always a chain.
//
// Tag versus remove (no transactions): set_tag checks the version, writes, and checks
// again; if a remove won, it puts the replaced tag item back (or deletes its own, both
// conditional on its seq) and answers NotFound. remove_version checks the tags, deletes
// (ReturnValues ALL_OLD), checks again, and puts the item back with Conflict if a tag
// arrived. Either way no tag is left on a removed version.
//
// Reads are ConsistentRead; Query and Scan follow LastEvaluatedKey. `latest` is one
// Query (descending, Limit 1). `packages` scans <prefix> projecting package_name.
// Imports are applied one write at a time (the default import_batch): an import that
// fails leaves what it wrote so far; running it again finishes it.
#include "ledger/dynamo_ledger.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "aws/dynamo_client.h"
#include "kit/ledger_kit.h"
#include "kit/retry.h"
#include "kit/uri_options.h"
#include "ledger/dynamo_items.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker {
namespace {

using namespace dynamo_items;
using namespace ledger_kit;

class DynamoLedger final : public Ledger {
 public:
  DynamoLedger(std::string region, std::string table, std::string describe, int page_size)
      : table_(std::move(table)),
        tags_table_(table_ + "-tags"),
        events_table_(table_ + "-events"),
        describe_(std::move(describe)),
        what_("dynamo ledger " + describe_),
        page_size_(page_size),
        client_(std::move(region), what_) {}

  void init() override {
    const aws::DynamoKey package{"package_name", "S"};
    for (auto [table, range] :
         {std::pair{&table_, aws::DynamoKey{"version", "N"}}, std::pair{&tags_table_, aws::DynamoKey{"tag", "S"}},
          std::pair{&events_table_, aws::DynamoKey{"seq", "N"}}})
      client_.create_table(*table, package, range);
    for (auto [table, range] :
         {std::pair{&table_, aws::DynamoKey{"version", "N"}}, std::pair{&tags_table_, aws::DynamoKey{"tag", "S"}},
          std::pair{&events_table_, aws::DynamoKey{"seq", "N"}}})
      client_.wait_active(*table, package, range);
  }

  std::vector<std::string> packages() override {
    return or_absent<std::vector<std::string>>([&]() -> std::vector<std::string> {
      std::set<std::string> names;
      json req = {{"TableName", table_},
                  {"ProjectionExpression", "#p"},
                  {"ExpressionAttributeNames", {{"#p", "package_name"}}},
                  {"ConsistentRead", true}};
      client_.paginate("Scan", table_, req, page_size_, [&](const json& item) {
        names.insert(checked_package(what_, string_attr(item, "package_name", tables_.where(table_, "(scan)"))));
        return true;
      });
      return {names.begin(), names.end()};
    });
  }

  std::vector<std::uint64_t> versions(const std::string& package) override {
    return or_absent<std::vector<std::uint64_t>>([&]() -> std::vector<std::uint64_t> {
      std::vector<std::uint64_t> out;
      client_.paginate("Query", table_, tables_.by_package(table_, package, "version"), page_size_,
                       [&](const json& item) {
                         out.push_back(positive_attr(item, "version", tables_.where(table_, package)));
                         return true;
                       });
      return out;
    });
  }

  std::optional<std::uint64_t> latest(const std::string& package) override {
    return or_absent<std::optional<std::uint64_t>>([&]() -> std::optional<std::uint64_t> {
      json req = tables_.by_package(table_, package, "version");
      req["ScanIndexForward"] = false;
      req["Limit"] = 1;
      json resp = client_.call("Query", table_, req);
      const json& items = resp.value("Items", json::array());
      if (!items.is_array() || items.empty()) return std::nullopt;
      return positive_attr(items[0], "version", tables_.where(table_, package));
    });
  }

  std::optional<VersionRecord> get(const std::string& package, std::uint64_t version) override {
    return or_absent<std::optional<VersionRecord>>([&]() -> std::optional<VersionRecord> {
      auto item = tables_.read_version(package, version);
      if (!item) return std::nullopt;
      return std::move(item->record);
    });
  }

  std::vector<VersionRecord> records(const std::string& package) override {
    return or_absent<std::vector<VersionRecord>>([&]() -> std::vector<VersionRecord> {
      std::vector<VersionRecord> out;
      client_.paginate("Query", table_, tables_.by_package(table_, package), page_size_, [&](const json& item) {
        out.push_back(parse_version_item(item, package, tables_.where(table_, package)).record);
        return true;
      });
      return out;
    });
  }

  std::uint64_t add(const VersionRecord& record, const ChangeContext& ctx) override {
    std::uint64_t version = 0;
    with_tables([&] { version = add_once(record, ctx); });
    return version;
  }

  std::uint64_t add_once(const VersionRecord& record, const ChangeContext& ctx) {
    (void)version_item(record, nullptr);  // refuses what DynamoDB cannot store before a number is reserved
    Retry retry(RetryPolicy::contention(), fmt::format("{}: add to {}", what_, record.package));
    VersionRecord r = record;
    for (;;) {
      auto [version, seq] = counters_.reserve(r.package, true);
      r.version = version;
      r.signatures = ctx.sign_record ? ctx.sign_record(r) : std::vector<std::string>{};
      Event e = make_event(EventAction::Add, ctx, r.package, r.version, {}, std::nullopt, r.sha256);
      e.seq = seq;
      const json item = version_item(r, &e);
      bool written = false;
      try {
        written = tables_.put_if_absent(table_, item, "version");
      } catch (const Error& err) {
        // Refused outright (nothing written): give the number back if it is still the last one.
        if (err.kind() == ErrorKind::Denied || err.kind() == ErrorKind::Invalid || err.kind() == ErrorKind::NotFound)
          counters_.give_back(r.package, r.version);
        throw;
      }
      if (written || tables_.holds(table_, version_key(r.package, r.version), item)) return r.version;
      // Written by someone who does not reserve: lift the counter over what is stored.
      if (auto highest = latest(r.package)) counters_.raise(r.package, "allocated", *highest);
      retry.failed(FailureCause::LostRace,
                   fmt::format("version {} was taken by a writer without the counter", version));
    }
  }

  std::optional<Event> remove_version(const std::string& package, std::uint64_t version,
                                      const ChangeContext& ctx) override {
    refuse_if_tagged(package, version, "");
    auto existing = tables_.read_version(package, version);
    if (!existing) return std::nullopt;  // and leave the counter alone
    require_events_table();
    counters_.raise(package, "allocated", version);
    const std::uint64_t seq = counters_.reserve(package, false).second;
    if (existing->event) tables_.keep_event(*existing->event);
    json resp =
        client_.call("DeleteItem", table_,
                     {{"TableName", table_}, {"Key", version_key(package, version)}, {"ReturnValues", "ALL_OLD"}});
    if (!resp.contains("Attributes") || !resp["Attributes"].is_object() || resp["Attributes"].empty())
      return std::nullopt;  // removed by someone else meanwhile: theirs to record
    try {
      refuse_if_tagged(package, version, " meanwhile");
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::Conflict) throw;
      tables_.put_if_absent(table_, resp["Attributes"], "version");  // a set_tag raced us: put the record back
      throw;
    }
    Event e = make_event(EventAction::Remove, ctx, package, version, {}, std::nullopt, existing->record.sha256);
    e.seq = seq;
    tables_.put_if_absent(events_table_, event_item(e), "seq");
    return e;
  }

  std::map<std::string, TagValue> tag_values(const std::string& package) override {
    return or_absent<std::map<std::string, TagValue>>([&]() -> std::map<std::string, TagValue> {
      std::map<std::string, TagValue> out;
      for (auto& [tag, item] : tables_.tag_items(package)) out[tag] = item.value;
      return out;
    });
  }

  std::optional<TagValue> tag_value(const std::string& package, const std::string& tag) override {
    return or_absent<std::optional<TagValue>>([&]() -> std::optional<TagValue> {
      auto item = tables_.read_tag(package, tag);
      if (!item) return std::nullopt;
      return item->value;
    });
  }

  std::optional<Event> set_tag(const std::string& package, const std::string& tag, std::uint64_t version,
                               const TagExpectation& expect, const ChangeContext& ctx) override {
    check_user_tag(tag);
    Retry retry(RetryPolicy::contention(), fmt::format("{}: tag {} {} {}", what_, package, version, tag));
    for (;;) {
      auto target = tables_.read_version(package, version);
      if (!target) throw no_such_version(package, version);
      auto current = tables_.read_tag(package, tag);
      const auto now = current ? std::optional(current->value.version) : std::nullopt;
      if (!expect.met_by(now)) throw tag_not_as_expected(package, tag, expect, now);
      if (now == version) return std::nullopt;
      Event e = make_event(tag_action(ctx), ctx, package, version, tag, now, target->record.sha256);
      e.seq = counters_.reserve(package, false).second;
      if (ctx.sign_event) e.signatures = ctx.sign_event(e);
      if (current && current->event) tables_.keep_event(*current->event);
      json request = {{"TableName", tags_table_}, {"Item", tag_item(package, tag, {version, e.seq, e.signatures}, &e)}};
      as_read(request, current);
      if (!client_.call_conditional("PutItem", tags_table_, request)) {
        retry.failed(FailureCause::LostRace, "the tag moved meanwhile");
        continue;
      }
      if (!tables_.read_version(package, version)) {
        // A remove_version won the race: put back what we replaced, if ours is still there.
        json undo = {{"TableName", tags_table_},
                     {"ConditionExpression", "#s = :s"},
                     {"ExpressionAttributeNames", {{"#s", "seq"}}},
                     {"ExpressionAttributeValues", {{":s", N(e.seq)}}}};
        if (current) {
          undo["Item"] = tag_item(package, tag, current->value, current->event ? &*current->event : nullptr);
          client_.call_conditional("PutItem", tags_table_, undo);
        } else {
          undo["Key"] = tag_key(package, tag);
          client_.call_conditional("DeleteItem", tags_table_, undo);
        }
        throw Error(ErrorKind::NotFound,
                    fmt::format("{} has no version {} (removed while being tagged)", package, version));
      }
      return e;
    }
  }

  std::optional<Event> remove_tag(const std::string& package, const std::string& tag, const TagExpectation& expect,
                                  const ChangeContext& ctx) override {
    check_user_tag(tag);
    Retry retry(RetryPolicy::contention(), fmt::format("{}: untag {} {}", what_, package, tag));
    for (;;) {
      auto current = tables_.read_tag(package, tag);
      const auto now = current ? std::optional(current->value.version) : std::nullopt;
      if (!expect.met_by(now)) throw tag_not_as_expected(package, tag, expect, now);
      if (!now) return std::nullopt;
      require_events_table();
      std::string sha = current->event && current->event->version == *now ? current->event->sha256 : "";
      if (sha.empty())
        if (auto r = tables_.read_version(package, *now)) sha = r->record.sha256;
      const std::uint64_t seq = counters_.reserve(package, false).second;
      if (current->event) tables_.keep_event(*current->event);
      json request = {{"TableName", tags_table_}, {"Key", tag_key(package, tag)}};
      as_read(request, current);
      if (!client_.call_conditional("DeleteItem", tags_table_, request)) {
        retry.failed(FailureCause::LostRace, "the tag moved meanwhile");
        continue;
      }
      Event e = make_event(EventAction::Untag, ctx, package, 0, tag, now, sha);
      e.seq = seq;
      tables_.put_if_absent(events_table_, event_item(e), "seq");
      return e;
    }
  }

  std::vector<Event> history(const std::string& package, const HistoryQuery& query) override {
    return or_absent<std::vector<Event>>([&] { return tables_.history(package, query); });
  }

  void put_record(const VersionRecord& record) override {
    with_tables([&] { put_record_once(record); });
  }

  void put_record_once(const VersionRecord& record) {
    if (record.version == 0) throw Error(ErrorKind::Invalid, "put_record: version must be positive");
    const json item = version_item(record, nullptr);
    counters_.raise(record.package, "allocated", record.version);
    Retry retry(RetryPolicy::contention(), fmt::format("{}: import {} {}", what_, record.package, record.version));
    for (;;) {
      if (tables_.put_if_absent(table_, item, "version")) return;
      if (auto existing = get(record.package, record.version)) {
        if (*existing == record) return;
        throw version_exists_differently(record.package, record.version);
      }
      retry.failed(FailureCause::LostRace, "removed meanwhile");
    }
  }

  void put_tag(const std::string& package, const std::string& tag, const TagValue& value) override {
    check_user_tag(tag);
    if (!tables_.read_version(package, value.version)) throw no_such_version(package, value.version);
    if (auto current = tables_.read_tag(package, tag); current && current->event) tables_.keep_event(*current->event);
    client_.call("PutItem", tags_table_,
                 {{"TableName", tags_table_}, {"Item", tag_item(package, tag, value, nullptr)}});
    if (value.seq > 0) counters_.raise(package, "last_seq", value.seq);
  }

  void put_event(const Event& event) override {
    Event e = event;
    if (e.seq == 0)
      e.seq = counters_.reserve(e.package, false).second;
    else
      counters_.raise(e.package, "last_seq", e.seq);
    if (tables_.put_if_absent(events_table_, event_item(e), "seq")) return;
    json resp =
        client_.call("GetItem", events_table_,
                     {{"TableName", events_table_}, {"Key", event_key(e.package, e.seq)}, {"ConsistentRead", true}});
    if (!resp.contains("Item") ||
        parse_event_item(resp["Item"], e.package, tables_.where(events_table_, e.package)) != e)
      throw event_exists_differently(e.package, e.seq);
  }

  std::string describe() const override { return describe_; }

 private:
  static void check_user_tag(const std::string& tag) {
    if (!tag.empty() && tag[0] == '#')
      throw Error(ErrorKind::Invalid, fmt::format("tag '{}' is reserved by the dynamo ledger", printable(tag)));
  }

  // The condition "the tag item is as `current` says" (absent, or this version and seq).
  static void as_read(json& request, const std::optional<TagItem>& current) {
    request["ExpressionAttributeNames"] = {{"#t", "tag"}};
    if (!current) {
      request["ConditionExpression"] = "attribute_not_exists(#t)";
      return;
    }
    request["ExpressionAttributeNames"] = {{"#v", "version"}, {"#s", "seq"}};
    request["ExpressionAttributeValues"] = {{":v", N(current->value.version)}};
    if (current->value.seq == 0) {
      request["ConditionExpression"] = "#v = :v AND attribute_not_exists(#s)";
    } else {
      request["ConditionExpression"] = "#v = :v AND #s = :s";
      request["ExpressionAttributeValues"][":s"] = N(current->value.seq);
    }
  }

  // The first write to a ledger nobody initialised creates its tables (concurrent
  // first writers all may: CreateTable of an existing table is fine) and tries
  // again. Without the right to create tables the NotFound stands ("run sacker init").
  void with_tables(const std::function<void()>& write) {
    try {
      write();
    } catch (const aws::DynamoMissingTable& e) {
      try {
        init();
      } catch (const Error&) {
        throw e;
      }
      write();
    }
  }

  // A ledger nobody initialised holds nothing: its reads are empty, not errors.
  template <typename T>
  static T or_absent(const std::function<T()>& read) {
    try {
      return read();
    } catch (const aws::DynamoMissingTable&) {
      return T{};
    }
  }

  // A removal writes its event after the delete: the events table must be there
  // first (a ledger from before history gets it from `sacker init`).
  void require_events_table() {
    if (!events_table_ok_) client_.call("DescribeTable", events_table_, {{"TableName", events_table_}});
    events_table_ok_ = true;
  }

  void refuse_if_tagged(const std::string& package, std::uint64_t version, const char* when) {
    for (const auto& [tag, v] : tag_values(package))
      if (v.version == version)
        throw Error(ErrorKind::Conflict,
                    fmt::format("{} version {} is tagged '{}'{}: untag it first", package, version, tag, when));
  }

  std::string table_, tags_table_, events_table_, describe_, what_;
  int page_size_ = 0;
  aws::DynamoClient client_;
  Tables tables_{client_, table_, tags_table_, events_table_, what_, page_size_};
  Counters counters_{client_, tags_table_, what_};
  bool events_table_ok_ = false;
};

bool valid_name(std::string_view name, std::size_t min, std::size_t max, bool upper_dot_underscore) {
  return name.size() >= min && name.size() <= max && std::all_of(name.begin(), name.end(), [&](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                  (upper_dot_underscore && ((c >= 'A' && c <= 'Z') || c == '_' || c == '.'));
         });
}

}  // namespace

std::unique_ptr<Ledger> open_dynamo_ledger(const Uri& uri) {
  UriOptions options(uri);
  const int page_size = static_cast<int>(options.take_uint("page_size", 0, 1, 10000));
  options.finish();
  if (!uri.authority.empty() && !valid_name(uri.authority, 1, 64, false))
    throw_invalid_uri(uri, "the region must be like us-east-1 (dynamo://region/table-prefix)");
  const std::string table = uri.path.empty() ? std::string() : uri.path.substr(1);
  // 248 + "-events" is DynamoDB's limit of 255.
  if (!valid_name(table, 3, 248, true))
    throw_invalid_uri(uri,
                      "the table prefix must be 3-248 characters of A-Z a-z 0-9 _ . - (dynamo://region/table-prefix; "
                      "the other tables are <prefix>-tags and <prefix>-events)");
  return std::make_unique<DynamoLedger>(uri.authority, table, redact_uri(uri.text), page_size);
}

}  // namespace sacker
