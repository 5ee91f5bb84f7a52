// The ledger half of the backend kit: the invariant errors every ledger raises
// (one wording, one kind each), the read-back checks for what a backend returns
// (hostile or corrupt content becomes Error(Invalid) naming the ledger, the
// package and the version), and the one way to build the event a change writes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sacker/error.h"
#include "sacker/ledger.h"

namespace sacker::ledger_kit {

// Conflict: "<package> version <v> already exists with other content".
Error version_exists_differently(const std::string& package, std::uint64_t version);
// Conflict: "<package> version <v> is tagged '<tag>': untag it first".
Error version_is_tagged(const std::string& package, std::uint64_t version, const std::string& tag);
// NotFound: "<package> has no version <v>".
Error no_such_version(const std::string& package, std::uint64_t version);
// Conflict: "<package> tag '<tag>' points to <now> (expected <expect>); nothing changed".
Error tag_not_as_expected(const std::string& package, const std::string& tag, const TagExpectation& expect,
                          const std::optional<std::uint64_t>& current);
// Conflict: "<package> event <seq> already exists with other content".
Error event_exists_differently(const std::string& package, std::uint64_t seq);
// Invalid: "<ledger>: <what> (hostile or corrupt ledger content)". `ledger` is describe().
Error corrupt(const std::string& ledger, const std::string& what);

// Read-back checks. Each returns its argument when it is valid and otherwise
// throws corrupt(ledger, ...) saying what was read where and why it is refused.
std::string checked_package(const std::string& ledger, std::string name);
// A user tag (never "latest", never all digits).
std::string checked_tag(const std::string& ledger, const std::string& package, std::string tag);
VersionRecord checked_record(const std::string& ledger, VersionRecord record);
Event checked_event(const std::string& ledger, Event event);
// A tag's value read back from `where` (a key, an item, a row): version
// 1..INT64_MAX, seq 0..INT64_MAX (0: set before history existed), signatures as a
// tag event may carry them (validate_event's limits). The tag's name is
// checked_tag's. Otherwise throws corrupt(ledger, "<where> holds a tag value ...").
TagValue checked_tag_value(const std::string& ledger, const std::string& where, TagValue value);

// A record / an event stored as its JSON (record_to_json / event_to_json) at `where`
// (a path or key, for messages), read back: parsed, required to be `package`'s
// version `version` / event `seq` (the place it was found says which), then
// checked_record / checked_event. Otherwise throws corrupt(where, ...).
VersionRecord stored_record(const std::string& where, const std::string& json, const std::string& package,
                            std::uint64_t version);
Event stored_event(const std::string& where, const std::string& json, const std::string& package, std::uint64_t seq);

// Signatures (canonical JSON object texts) as one JSON array text, for ledgers
// that keep them in a column or a field; and back. Each element comes back in
// canonical form (as nlohmann::json::dump() writes it: compact, keys sorted), so a
// store that reorders keys (PostgreSQL's JSONB) still round-trips. Anything but an
// array of objects throws corrupt(ledger, "malformed signatures in <where>").
// The limits are checked_record's / checked_event's / checked_tag_value's.
std::string signatures_to_json(const std::vector<std::string>& signatures);
std::vector<std::string> checked_signatures(const std::string& ledger, const std::string& where,
                                            const std::string& json_text);

// The event of a change, as every backend writes it: `ctx` supplies time, actor,
// comment and client; the backend supplies seq and the change's facts.
Event make_event(EventAction action, const ChangeContext& ctx, const std::string& package, std::uint64_t version,
                 const std::string& tag = {}, std::optional<std::uint64_t> previous = std::nullopt,
                 const std::string& sha256 = {});

// The action of a set_tag event: Tag, or Rollback when ctx.rollback.
EventAction tag_action(const ChangeContext& ctx);

// Newest first, filtered and limited as `query` says, from events in any order.
std::vector<Event> select_history(std::vector<Event> events, const HistoryQuery& query);

// A tag's value as the ledgers that store documents keep it:
// {"version":V,"seq":S} plus "signatures" (canonical JSON objects) when there are any.
std::string tag_value_to_json(const TagValue& value);
// Reads one back (hostile input): a JSON object with an unsigned "version", and
// "seq" (default 0) and "signatures" (checked_signatures; default none) if present,
// then the checks of checked_tag_value above. Otherwise throws corrupt(ledger, "<where> ...").
TagValue checked_tag_value(const std::string& ledger, const std::string& where, const std::string& json);

// A base for ledgers whose import_batch is their one verbatim write path:
// put_record, put_tag and put_event are batches of one.
class BatchedVerbatimWrites : public Ledger {
 public:
  void put_record(const VersionRecord& record) override { import_batch(ImportBatch{{record}, {}, {}}); }
  void put_tag(const std::string& package, const std::string& tag, const TagValue& value) override {
    import_batch(ImportBatch{{}, {{package, tag, value}}, {}});
  }
  void put_event(const Event& event) override { import_batch(ImportBatch{{}, {}, {event}}); }
};

}  // namespace sacker::ledger_kit
