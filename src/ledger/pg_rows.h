// The rows of the PostgreSQL ledger's tables (layout: postgres_ledger.cpp) read back
// into records, tags and events, in the column order of the ledger's SELECTs
// (versions: package, version, sha256, size, basename, mode, created, metadata,
// signatures; tags: tag, version, seq, signatures; events: seq, tag, event). Every
// value goes through the kit's read-back checks: a row that does not fit is
// Error(Invalid) naming the ledger, the package and the column.
#pragma once

#include <climits>
#include <cstdint>
#include <string>
#include <utility>

#include "ledger/pg_session.h"
#include "sacker/ledger.h"
#include "sacker/record.h"

namespace sacker::pg_rows {

class Reader {
 public:
  // `ledger`: the ledger's describe(), for messages; it must outlive the reader.
  explicit Reader(const std::string& ledger) : ledger_(ledger) {}

  // A number column of the row about `key`, within [min, max].
  std::int64_t integer(const pg::Result& r, int row, int col, const std::string& key, std::int64_t min = INT64_MIN,
                       std::int64_t max = INT64_MAX) const;
  // A number column >= 1 of a row of `package`.
  std::uint64_t positive(const pg::Result& r, int row, int col, const std::string& package) const;
  VersionRecord record(const pg::Result& res, int row) const;
  std::pair<std::string, TagValue> tag(const pg::Result& r, int row, const std::string& package) const;
  // Columns seq, tag, event: the event's JSON must name the package, seq and tag of its row.
  Event event(const pg::Result& r, int row, const std::string& package) const;

 private:
  const std::string& ledger_;
};

}  // namespace sacker::pg_rows
