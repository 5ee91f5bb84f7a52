// The ledger's records.
#pragma once

#include <cstdint>
#include <map>
#include <string>

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

  bool operator==(const VersionRecord&) const = default;
};

// A tag and the version it points to.
struct TagRecord {
  std::string package;
  std::string tag;
  std::uint64_t version = 0;
  bool operator==(const TagRecord&) const = default;
};

// JSON encoding of a record, as used by --json, export/import and by ledgers
// that store records as documents (git, etcd, ZooKeeper):
// {"package","version","sha256","size","basename","mode","created","metadata"}.
// `created` is written as RFC 3339 UTC ("2026-11-23T19:30:00Z").
std::string record_to_json(const VersionRecord& record);
// Parses and validates a record from a ledger or an import (hostile input):
// names, sha256 form, mode range. Throws Error(Invalid) saying which field is bad.
VersionRecord record_from_json(const std::string& json);

// Validates every field of a record read from an untrusted place (a ledger, an
// import): package name, version > 0, sha256 form, basename, mode, metadata.
// Throws Error(Invalid) naming the field.
void validate_record(const VersionRecord& record);

// RFC 3339 UTC ("2026-11-23T19:30:00Z", years 0000..9999) <-> Unix seconds. parse
// takes only that canonical form and throws Error(Invalid) for anything else.
std::string format_utc(std::int64_t unix_seconds);
std::int64_t parse_utc(const std::string& text);

}  // namespace sacker
