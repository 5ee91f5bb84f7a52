// The ledger: package name -> version -> record, tags, and each package's history.
//
// Contract for every backend (checked by tests/conformance/ledger_conformance.cpp):
// - Names reaching a ledger are already validated by the caller (names.h), but a
//   backend must still never let a name escape its key space.
// - Version numbers increase strictly per package and are never reused, not even
//   after `remove_version` of the highest one. Integer ledgers hand out 1, 2, 3...
//   (gap-free under concurrency); the S3 ledger uses 13-digit millisecond stamps.
// - `add` is safe under concurrent writers in other processes and hosts: every call
//   that returns gets a distinct version; a lost race is retried internally (kit/retry.h);
//   if retries run out it throws Error(Conflict) or Error(Unavailable) and has
//   recorded nothing. It never silently overwrites another writer's record.
// - History (DESIGN.md invariant 8): every add, set_tag, remove_tag and
//   remove_version that changes something writes exactly one Event, in the same
//   atomic step as the change wherever the backend can (a transaction, a multi-op,
//   one commit); a backend that cannot (S3) documents its ordering guarantee and
//   what a writer that dies between change and event leaves behind. Never an event
//   for a change that did not happen. Event seq numbers increase strictly per
//   package and are never reused. A change that changes nothing (a tag set to where
//   it points, a remove of something absent) writes no event.
// - Compare-and-swap tags: set_tag/remove_tag with a TagExpectation change the tag
//   only if it is in the expected state at the moment of the write; otherwise
//   Error(Conflict) and nothing changes (no event either).
// - Absent things are std::nullopt / empty / false; failures (denied, unreachable,
//   corrupt content) throw Error with the matching kind, never look like "absent".
// - "latest" is not stored by the caller: `latest()` is the highest version
//   (backends may keep a hint, as the S3 layout does, but must never move it back).
// - Everything read back from a backend is untrusted: records, events and names
//   go through the read-back checks of kit/ledger_kit.h (or record_from_json /
//   event_from_json) before they are returned.
// - Ledgers created before history existed keep working: their history starts at
//   the first event written, and their tags report seq 0.
// Thread-safety: one instance is used from one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sacker/record.h"

namespace sacker {

struct Uri;

// Who and why of a change. The facade fills it; the ledger copies it into the
// event it writes and adds the rest (seq, action, version, previous, sha256).
struct ChangeContext {
  std::int64_t time = 0;  // Unix seconds, UTC (the facade's clock)
  std::string actor;
  std::string comment;
  std::string client;     // "sacker 0.2.0 on host"
  bool rollback = false;  // set_tag only: record the move as EventAction::Rollback
  // Optional signers, called inside the change's atomic step, once per attempt
  // (a retried attempt may call them again with other numbers):
  // - sign_record (add): with the record as it will be stored, version assigned;
  //   the result becomes the stored record's `signatures`.
  // - sign_event (set_tag): with the event as it will be stored (seq, version,
  //   previous, sha256 filled in); the result becomes the event's and the tag's
  //   `signatures`.
  // They must not call back into the ledger. An exception aborts the change.
  std::function<std::vector<std::string>(const VersionRecord&)> sign_record;
  std::function<std::vector<std::string>(const Event&)> sign_event;
};

// The state a compare-and-swap expects a tag to be in.
struct TagExpectation {
  enum class Kind { Any, Absent, Version };
  Kind kind = Kind::Any;
  std::uint64_t version = 0;  // for Kind::Version

  static TagExpectation any() { return {}; }
  static TagExpectation absent() { return {Kind::Absent, 0}; }
  static TagExpectation at(std::uint64_t v) { return {Kind::Version, v}; }
  // Whether a tag currently at `current` (nullopt: absent) meets the expectation.
  bool met_by(const std::optional<std::uint64_t>& current) const;
};

// Where a tag points, and the event that put it there.
struct TagValue {
  std::uint64_t version = 0;
  std::uint64_t seq = 0;                // seq of the event that set it; 0 if set before history existed
  std::vector<std::string> signatures;  // the signatures stored with that event
  bool operator==(const TagValue&) const = default;
};

struct HistoryQuery {
  std::optional<std::string> tag;  // only events of this tag
  std::size_t limit = 0;           // at most this many (0: all)
  std::uint64_t before = 0;        // only events with seq < before (0: no bound), for paging
};

// What `import` writes, verbatim. Applied all-or-nothing by ledgers that have
// transactions (see each backend's header comment for what the others do).
struct ImportBatch {
  std::vector<VersionRecord> records;
  struct Tag {
    std::string package, tag;
    TagValue value;
  };
  std::vector<Tag> tags;
  std::vector<Event> events;  // seq 0: the ledger assigns the next one
};

class Ledger {
 public:
  virtual ~Ledger() = default;

  // Creates whatever the backend needs (tables, buckets, root nodes). Idempotent.
  // Backends that can create lazily also do so on first write.
  virtual void init() = 0;

  // Every package with at least one version, sorted ascending (byte order).
  virtual std::vector<std::string> packages() = 0;

  // The package's versions, ascending; empty if the package has none.
  virtual std::vector<std::uint64_t> versions(const std::string& package) = 0;

  // The record of one version, or nullopt if there is none.
  virtual std::optional<VersionRecord> get(const std::string& package, std::uint64_t version) = 0;

  // Records a new version of `record.package` and returns its number, with its
  // Add event. Ignores record.version and record.signatures (ctx.sign_record
  // supplies those). The blob must already be in the store (the facade does that).
  virtual std::uint64_t add(const VersionRecord& record, const ChangeContext& ctx) = 0;

  // Removes one version record (not the blob) with its Remove event. Returns the
  // event, or nullopt if the version did not exist (nothing written). Throws
  // Error(Conflict) if a tag points to it (untag first). The number is not reused.
  virtual std::optional<Event> remove_version(const std::string& package, std::uint64_t version,
                                              const ChangeContext& ctx) = 0;

  // Tags of a package (without "latest"); empty if none.
  virtual std::map<std::string, TagValue> tag_values(const std::string& package) = 0;

  // Points `tag` at `version` if the tag meets `expect`, with its Tag (or
  // Rollback) event, and returns that event. Error(NotFound) if the version does
  // not exist; Error(Conflict) if the tag does not meet `expect` (message: where it
  // points now). A tag already at `version` (and meeting `expect`) is left alone and
  // nullopt is returned. `tag` is never "latest".
  virtual std::optional<Event> set_tag(const std::string& package, const std::string& tag, std::uint64_t version,
                                       const TagExpectation& expect, const ChangeContext& ctx) = 0;

  // Removes a tag that meets `expect`, with its Untag event. Returns nullopt if
  // the tag did not exist and `expect` allows that (Any or Absent); a missing tag
  // with expect Version(v) is Error(Conflict).
  virtual std::optional<Event> remove_tag(const std::string& package, const std::string& tag,
                                          const TagExpectation& expect, const ChangeContext& ctx) = 0;

  // The package's events, newest first, filtered by `query`. Empty for a package
  // with no history (also one from before history existed).
  virtual std::vector<Event> history(const std::string& package, const HistoryQuery& query) = 0;

  // --- import and migration: verbatim writes that record no event of their own.

  // Records `record` under exactly record.version. If that version exists with
  // equal content it does nothing; with other content it throws Error(Conflict).
  // Later `add`s return higher numbers than any imported one.
  virtual void put_record(const VersionRecord& record) = 0;
  // Sets a tag to exactly `value` (its version must exist: else Error(NotFound)).
  virtual void put_tag(const std::string& package, const std::string& tag, const TagValue& value) = 0;
  // Appends `event` as it is. seq 0: the ledger assigns the next seq. seq > 0: an
  // existing equal event is a no-op, a different one with that seq Error(Conflict);
  // later events get higher seqs.
  virtual void put_event(const Event& event) = 0;
  // Records, then tags, then events. The default applies them one by one (not
  // atomic); backends with transactions override it to apply all or nothing.
  virtual void import_batch(const ImportBatch& batch);

  // --- derived operations: defaults built on the above; backends override when
  // --- they can answer in fewer round trips.

  // The highest version, or nullopt if the package has none.
  virtual std::optional<std::uint64_t> latest(const std::string& package);
  // One tag, or nullopt. `tag` is never "latest".
  virtual std::optional<TagValue> tag_value(const std::string& package, const std::string& tag);
  // All records of a package, ascending by version.
  virtual std::vector<VersionRecord> records(const std::string& package);

  // A description for messages: the URI with any secret removed.
  virtual std::string describe() const = 0;

  // --- conveniences for tools and tests (no actor, no comment, no CAS).
  std::uint64_t add(const VersionRecord& record) { return add(record, ChangeContext{}); }
  bool remove_version(const std::string& package, std::uint64_t version) {
    return remove_version(package, version, ChangeContext{}).has_value();
  }
  void set_tag(const std::string& package, const std::string& tag, std::uint64_t version) {
    set_tag(package, tag, version, TagExpectation::any(), ChangeContext{});
  }
  bool remove_tag(const std::string& package, const std::string& tag) {
    return remove_tag(package, tag, TagExpectation::any(), ChangeContext{}).has_value();
  }
  // tag -> version, from tag_values.
  std::map<std::string, std::uint64_t> tags(const std::string& package);
  // The version a tag points to, from tag_value.
  std::optional<std::uint64_t> tag(const std::string& package, const std::string& tag);
};

// A ledger backend's entry in the scheme table: declared next to its factory in
// the backend's header, collected by the registry (src/client/registry.cpp).
struct LedgerScheme {
  const char* scheme;   // "sqlite"
  const char* example;  // "sqlite:///path/ledger.db"
  std::unique_ptr<Ledger> (*open)(const Uri& uri);
};

}  // namespace sacker
