// The S3 ledger's reads that take several requests (layout and protocol:
// s3_ledger.cpp): `latest` with what it reads ahead, and `history`, merged from
// events/ and from the events that version and tag objects carry.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ledger/s3_objects.h"

namespace sacker::s3_objects {

// What `latest()` read beyond the number, kept for the calls that follow it.
struct ReadAhead {
  std::string package;
  std::chrono::steady_clock::time_point at;  // when its reads were sent
  std::optional<VersionRecord> record;
  std::optional<std::map<std::string, TagValue>> tags;
  // Whether it may answer for `p` now: within 1 s of its reads.
  bool fresh(const std::string& p) const {
    return p == package && std::chrono::steady_clock::now() - at < std::chrono::seconds(1);
  }
};

struct LatestRead {
  std::optional<std::uint64_t> version;
  // Read ahead in the same round trips: the record of `version` (when the hint
  // named it) and the package's tags (when every tag read succeeded).
  std::optional<VersionRecord> record;
  std::optional<std::map<std::string, TagValue>> tags;
};

// Two round trips when there is a 13-digit hint: (1) the hint and the tag names;
// (2) the listing from the hint, the hinted record and the tag objects. A reader
// that may read but not list gets the hint.
LatestRead read_latest(Objects& objects, const std::string& package);

// The package's events, newest first, as `query` asks. Sources: events/<seq>;
// the event each current tag object carries; the add event each version object
// added since the package's first event carries, where events/ has no copy.
std::vector<Event> read_history(Objects& objects, const std::string& package, const HistoryQuery& query);

}  // namespace sacker::s3_objects
