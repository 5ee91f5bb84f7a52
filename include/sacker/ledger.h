// The ledger: package name -> version -> record, plus tags.
//
// Contract for every backend (checked by tests/conformance/ledger_conformance.cpp):
// - Names reaching a ledger are already validated by the caller (names.h), but a
//   backend must still never let a name escape its key space.
// - Version numbers increase strictly per package and are never reused, not even
//   after `remove_version` of the highest one. Integer ledgers hand out 1, 2, 3...
//   (gap-free under concurrency); the S3 ledger uses 13-digit millisecond stamps.
// - `add` is safe under concurrent writers in other processes and hosts: every call
//   that returns gets a distinct version; a lost race is retried internally with
//   backoff; if retries run out it throws Error(Conflict) or Error(Unavailable) and
//   has recorded nothing. It never silently overwrites another writer's record.
// - Absent things are std::nullopt / empty / false; failures (denied, unreachable,
//   corrupt content) throw Error with the matching kind, never look like "absent".
// - "latest" is not stored by the caller: `latest()` is the highest version
//   (backends may keep a hint, as the S3 layout does, but must never move it back).
// - Records read back from a backend are untrusted: backends parse them with
//   record_from_json or validate equivalently.
// Thread-safety: one instance is used from one thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sacker/record.h"

namespace sacker {

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

  // Records a new version of `record.package` and returns its number. Ignores
  // record.version. The blob must already be in the store (the facade does that).
  virtual std::uint64_t add(const VersionRecord& record) = 0;

  // Records `record` under exactly record.version (import/migration). If that
  // version exists with equal content it does nothing; with other content it throws
  // Error(Conflict). Later `add`s must return higher numbers than any imported one.
  virtual void put_record(const VersionRecord& record) = 0;

  // Removes one version record (not the blob). Returns false if it did not exist.
  // Throws Error(Conflict) if a tag points to it (untag first). The number is not reused.
  virtual bool remove_version(const std::string& package, std::uint64_t version) = 0;

  // Tags of a package (without "latest"), tag -> version; empty if none.
  virtual std::map<std::string, std::uint64_t> tags(const std::string& package) = 0;

  // Points `tag` at `version`, replacing where it pointed before. The version must
  // exist: otherwise Error(NotFound). `tag` is never "latest".
  virtual void set_tag(const std::string& package, const std::string& tag, std::uint64_t version) = 0;

  // Removes a tag. Returns false if it did not exist.
  virtual bool remove_tag(const std::string& package, const std::string& tag) = 0;

  // --- derived operations: defaults built on the above; backends override when
  // --- they can answer in fewer round trips.

  // The highest version, or nullopt if the package has none.
  virtual std::optional<std::uint64_t> latest(const std::string& package);
  // The version a tag points to, or nullopt. `tag` is never "latest".
  virtual std::optional<std::uint64_t> tag(const std::string& package, const std::string& tag);
  // All records of a package, ascending by version.
  virtual std::vector<VersionRecord> records(const std::string& package);

  // A description for messages: the URI with any secret removed.
  virtual std::string describe() const = 0;
};

}  // namespace sacker
