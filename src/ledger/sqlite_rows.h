// The rows of the sqlite ledger's tables (layout: sqlite_ledger.cpp) read back into
// records, tags and events, in the column order of the ledger's SELECTs (versions:
// package, version, sha256, size, basename, mode, created, metadata, signatures;
// tags: tag, version, seq, signatures; events: the event's JSON). Every value goes
// through the kit's read-back checks (ledger_kit.h): a row that does not fit is
// Error(Invalid) naming the ledger and the package.
#pragma once

#include <cstdint>
#include <string>

#include "ledger/sqlite_db.h"
#include "sacker/ledger.h"
#include "sacker/record.h"

namespace sacker::sqlite_rows {

class Reader {
 public:
  // `ledger`: the ledger's describe(), for messages; it must outlive the reader.
  explicit Reader(const std::string& ledger) : ledger_(ledger) {}

  // A number column that must be >= 1 (`what` names it).
  std::uint64_t positive(std::int64_t n, const std::string& package, const char* what) const;
  VersionRecord record(sqlite::Statement& s) const;
  // Columns 1-3 (version, seq, signatures) of a tags row of `package`.
  TagValue tag_value(sqlite::Statement& s, const std::string& package) const;
  // An event's JSON, which must belong to `package`.
  Event event(const std::string& json, const std::string& package) const;

 private:
  const std::string& ledger_;
};

}  // namespace sacker::sqlite_rows
