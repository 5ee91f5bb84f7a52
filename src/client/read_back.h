// The facade's reads of the ledger: every name, number, record and event a ledger
// returns is checked again here before it reaches a caller, whatever the backend
// already checked (DESIGN.md invariant 7), so a hostile ledger of any kind never
// gets a control byte, a second "latest", an all-digit tag or a wrapped negative
// number onto a terminal. Failures are ledger_kit::corrupt (Error(Invalid)) naming
// the ledger, the package and the version. Also the facade's shared wording.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sacker/error.h"
#include "sacker/ledger.h"
#include "sacker/spec.h"

namespace sacker::client_detail {

// The largest version, size or seq any ledger can store (SQL integers are
// signed): anything above is a negative number read as unsigned.
inline constexpr std::uint64_t kMaxNumber = 0x7fffffffffffffffULL;

std::vector<std::string> checked_packages(Ledger& ledger);
std::vector<std::uint64_t> checked_versions(Ledger& ledger, const std::string& package);
std::optional<std::uint64_t> checked_latest(Ledger& ledger, const std::string& package);
// User tags only: "latest", all-digit and malformed names are refused.
std::map<std::string, TagValue> checked_tag_values(Ledger& ledger, const std::string& package);
std::optional<TagValue> checked_tag_value(Ledger& ledger, const std::string& package, const std::string& tag);
// The record of exactly (package, version), or nullopt.
std::optional<VersionRecord> checked_get(Ledger& ledger, const std::string& package, std::uint64_t version);
// All records of the package, strictly ascending.
std::vector<VersionRecord> checked_records(Ledger& ledger, const std::string& package);
std::vector<Event> checked_history(Ledger& ledger, const std::string& package, const HistoryQuery& query);

// "23", "live" or "latest".
std::string spec_text(const Spec& spec);
// NotFound: "package <p> has no versions".
Error no_versions(const std::string& package);
// NotFound: "package <p> has no tag '<t>'".
Error no_tag(const std::string& package, const std::string& tag);
// Free text the user gives (comments, the actor): Error(Invalid) "invalid <what>
// '<text>': ..." unless it is at most `max` bytes of UTF-8 without control characters.
void validate_text(const std::string& text, std::size_t max, const char* what);
inline constexpr std::size_t kMaxCommentBytes = 4096;
inline constexpr std::size_t kMaxActorBytes = 256;

}  // namespace sacker::client_detail
