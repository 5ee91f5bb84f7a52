#include "ledger/sqlite_rows.h"

#include <fmt/core.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "kit/ledger_kit.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker::sqlite_rows {

using namespace ledger_kit;
using sqlite::Statement;

std::uint64_t Reader::positive(std::int64_t n, const std::string& package, const char* what) const {
  if (n <= 0) throw corrupt(ledger_, fmt::format("{} of {} is {}", what, printable(package), n));
  return static_cast<std::uint64_t>(n);
}

TagValue Reader::tag_value(Statement& s, const std::string& package) const {
  TagValue v;
  v.version = positive(s.integer(1), package, "a tag's version");
  if (s.integer(2) < 0) throw corrupt(ledger_, fmt::format("a tag of {} has seq {}", printable(package), s.integer(2)));
  v.seq = static_cast<std::uint64_t>(s.integer(2));
  const std::string where = fmt::format("a tag of {}", printable(package));
  v.signatures = checked_signatures(ledger_, where, s.text(3));
  return checked_tag_value(ledger_, where, std::move(v));
}

Event Reader::event(const std::string& json, const std::string& package) const {
  try {
    Event e = event_from_json(json);
    if (e.package != package) throw Error(ErrorKind::Invalid, "it belongs to another package");
    return checked_event(ledger_, std::move(e));
  } catch (const Error& e) {
    throw corrupt(ledger_,
                  fmt::format("an event of {} read from the ledger is refused: {}", printable(package), e.what()));
  }
}

VersionRecord Reader::record(Statement& s) const {
  VersionRecord r;
  r.package = s.text(0);
  if (s.integer(1) <= 0 || s.integer(3) < 0 || s.integer(5) < 0)
    throw corrupt(ledger_, fmt::format("{} has a record with version {}, size {}, mode {}", printable(r.package),
                                       s.integer(1), s.integer(3), s.integer(5)));
  r.version = static_cast<std::uint64_t>(s.integer(1));
  r.sha256 = s.text(2);
  r.size = static_cast<std::uint64_t>(s.integer(3));
  r.basename = s.text(4);
  r.mode = static_cast<std::uint32_t>(std::min<std::int64_t>(s.integer(5), 0xffffffff));
  r.created = s.integer(6);
  try {
    auto meta = nlohmann::json::parse(s.text(7));
    for (const auto& [k, v] : meta.items()) r.metadata[k] = v.get<std::string>();
  } catch (const nlohmann::json::exception&) {
    throw corrupt(ledger_, fmt::format("malformed metadata in {} version {}", printable(r.package), r.version));
  }
  r.signatures = checked_signatures(ledger_, fmt::format("{} version {}", printable(r.package), r.version), s.text(8));
  return checked_record(ledger_, std::move(r));
}

}  // namespace sacker::sqlite_rows
