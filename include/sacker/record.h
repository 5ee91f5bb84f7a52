// The ledger's records: versions, and the events of a package's history.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sacker {

using Metadata = std::map<std::string, std::string>;

// One version of one package: what `sacker info` shows.
struct VersionRecord {
  std::string package;
  std::uint64_t version = 0;  // assigned by the ledger; 0 means "not yet assigned"
  std::string sha256;         // 64 lowercase hex digits
  std::uint64_t size = 0;     // bytes
  std::string basename;       // file name used by `download` when no -o is given
  std::uint32_t mode = 0644;  // permission bits applied to downloaded files (<= 07777)
  std::int64_t created = 0;   // seconds since the Unix epoch, UTC (years 0000..9999)
  Metadata metadata;          // user metadata, --meta k=v
  // Signatures over this exact record: DSSE envelopes, each as canonical JSON text
  // (compact, keys sorted, as nlohmann::json::dump() writes it).
  // Stored with the record by every ledger; empty for unsigned versions.
  std::vector<std::string> signatures;

  bool operator==(const VersionRecord&) const = default;
};

// A tag and the version it points to.
struct TagRecord {
  std::string package;
  std::string tag;
  std::uint64_t version = 0;
  bool operator==(const TagRecord&) const = default;
};

// What a history event records (DESIGN.md invariant 8). Stable names, used in
// --json, export and the JSON-document ledgers: "add", "tag", "untag", "remove",
// "rollback" (a tag moved back by `sacker rollback`), "import" (a version or tag
// written by an import that carried no history of its own).
enum class EventAction { Add, Tag, Untag, Remove, Rollback, Import };
const char* action_name(EventAction action) noexcept;
// Throws Error(Invalid) for an unknown name.
EventAction parse_action(const std::string& name);

// One entry of a package's append-only history.
struct Event {
  std::uint64_t seq = 0;        // per package, strictly increasing, never reused; assigned by the ledger
  std::int64_t time = 0;        // Unix seconds, UTC
  std::string actor;            // who: --actor, $SACKER_ACTOR, the CI's user and job, or user@host
  EventAction action = EventAction::Add;
  std::string package;
  std::uint64_t version = 0;              // added/removed version, or the tag's new version; 0 for untag
  std::string tag;                        // for tag, untag, rollback (and import of a tag)
  std::optional<std::uint64_t> previous;  // the tag's version before a move or untag; none for a new tag
  std::string sha256;                     // of `version` (of `previous` for untag), when known
  std::string comment;
  std::string client;                     // "sacker 0.2.0 on host"
  std::vector<std::string> signatures;    // signed promotion statements (DSSE JSON), for tag events

  bool operator==(const Event&) const = default;
};

// JSON encoding of a record, as used by --json, export/import and by ledgers
// that store records as documents (git, etcd, ZooKeeper):
// {"package","version","sha256","size","basename","mode","created","metadata"}
// (+ "signatures" when there are any). `created` is RFC 3339 UTC ("2026-11-23T19:30:00Z").
std::string record_to_json(const VersionRecord& record);
// Parses and validates a record from a ledger or an import (hostile input):
// names, sha256 form, mode range. Throws Error(Invalid) saying which field is bad.
VersionRecord record_from_json(const std::string& json);

// Validates every field of a record read from an untrusted place (a ledger, an
// import): package name, version > 0, sha256 form, basename, mode, metadata,
// signatures (each a JSON object text of at most 64 KiB, at most 16 of them).
// Throws Error(Invalid) naming the field.
void validate_record(const VersionRecord& record);

// {"seq","time","actor","action","package","version","tag","previous","sha256",
//  "comment","client","signatures"}: empty strings, a version of 0, a missing
// previous and no signatures are left out. `time` is RFC 3339 UTC.
std::string event_to_json(const Event& event);
// Parses and validates an event from a ledger or an import (hostile input).
Event event_from_json(const std::string& json);
// Validates an event read from an untrusted place: names, action, sha256 form,
// free text (actor, comment, client: valid UTF-8, no control bytes, bounded).
void validate_event(const Event& event);

// RFC 3339 UTC ("2026-11-23T19:30:00Z", years 0000..9999) <-> Unix seconds. parse
// takes only that canonical form and throws Error(Invalid) for anything else.
std::string format_utc(std::int64_t unix_seconds);
std::int64_t parse_utc(const std::string& text);

}  // namespace sacker
