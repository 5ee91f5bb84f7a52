#include "ledger/pg_rows.h"

#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "kit/ledger_kit.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker::pg_rows {

using namespace ledger_kit;
using pg::Result;

std::int64_t Reader::integer(const Result& r, int row, int col, const std::string& key, std::int64_t min,
                             std::int64_t max) const {
  auto n = r.integer(row, col);
  if (!n || *n < min || *n > max)
    throw corrupt(ledger_, fmt::format("{} of {} is '{}'", r.column(col), key, printable(r.text(row, col))));
  return *n;
}
std::uint64_t Reader::positive(const Result& r, int row, int col, const std::string& package) const {
  return static_cast<std::uint64_t>(integer(r, row, col, printable(package), 1));
}

VersionRecord Reader::record(const Result& res, int row) const {
  VersionRecord r;
  r.package = res.text(row, 0);
  r.version = positive(res, row, 1, r.package);
  const std::string key = fmt::format("{} version {}", printable(r.package), r.version);
  r.sha256 = res.text(row, 2);
  r.size = static_cast<std::uint64_t>(integer(res, row, 3, key, 0));
  r.basename = res.text(row, 4);
  r.mode = static_cast<std::uint32_t>(integer(res, row, 5, key, 0, 07777));
  r.created = integer(res, row, 6, key);
  auto meta = nlohmann::json::parse(res.text(row, 7), nullptr, false);
  if (!meta.is_object()) throw corrupt(ledger_, "malformed metadata in " + key);
  for (const auto& [k, v] : meta.items()) {
    if (!v.is_string()) throw corrupt(ledger_, "malformed metadata in " + key);
    r.metadata[k] = v.get<std::string>();
  }
  r.signatures = checked_signatures(ledger_, key, res.text(row, 8));
  return checked_record(ledger_, std::move(r));
}

std::pair<std::string, TagValue> Reader::tag(const Result& r, int row, const std::string& package) const {
  std::string tag = checked_tag(ledger_, package, r.text(row, 0));
  const std::string key = fmt::format("tag '{}' of {}", printable(tag), printable(package));
  TagValue v{static_cast<std::uint64_t>(integer(r, row, 1, key, 1)),
             static_cast<std::uint64_t>(integer(r, row, 2, key, 0)), checked_signatures(ledger_, key, r.text(row, 3))};
  return {tag, checked_tag_value(ledger_, key, std::move(v))};
}

Event Reader::event(const Result& r, int row, const std::string& package) const {
  const auto seq = positive(r, row, 0, package);
  Event e;
  try {
    e = event_from_json(r.text(row, 2));
  } catch (const Error& err) {
    throw corrupt(ledger_, fmt::format("event {} of {} is refused: {}", seq, printable(package), err.what()));
  }
  if (e.package != package || e.seq != seq || e.tag != r.text(row, 1))
    throw corrupt(ledger_, fmt::format("event {} of {} holds event {} of {}", seq, printable(package), e.seq,
                                       printable(e.package)));
  return checked_event(ledger_, std::move(e));
}

}  // namespace sacker::pg_rows
