#include "client/read_back.h"

#include <fmt/core.h>

#include "core/codec.h"
#include "kit/ledger_kit.h"
#include "sacker/names.h"

namespace sacker::client_detail {

namespace {

std::uint64_t checked_number(const Ledger& ledger, std::uint64_t n, const std::string& package, const char* what) {
  if (n > kMaxNumber)
    throw ledger_kit::corrupt(
        ledger.describe(),
        fmt::format("{} of {} read from the ledger is {} (a negative number?): refused", what, printable(package), n));
  return n;
}

VersionRecord checked(const Ledger& ledger, VersionRecord r, const std::string& package) {
  r = ledger_kit::checked_record(ledger.describe(), std::move(r));
  checked_number(ledger, r.version, package, "a version");
  checked_number(ledger, r.size, fmt::format("{} version {}", package, r.version), "the size");
  if (r.package != package)
    throw ledger_kit::corrupt(ledger.describe(), fmt::format("a record of {} version {} was returned for {}",
                                                             printable(r.package), r.version, package));
  return r;
}

TagValue checked(const Ledger& ledger, TagValue v, const std::string& package) {
  checked_number(ledger, v.version, package, "a tag's version");
  checked_number(ledger, v.seq, package, "a tag's seq");
  if (v.version == 0) throw ledger_kit::corrupt(ledger.describe(), fmt::format("a tag of {} points to 0", package));
  return v;
}

}  // namespace

std::vector<std::string> checked_packages(Ledger& ledger) {
  std::vector<std::string> out;
  for (auto& name : ledger.packages()) out.push_back(ledger_kit::checked_package(ledger.describe(), std::move(name)));
  return out;
}

std::vector<std::uint64_t> checked_versions(Ledger& ledger, const std::string& package) {
  auto out = ledger.versions(package);
  for (std::size_t i = 0; i < out.size(); ++i) {
    checked_number(ledger, out[i], package, "a version");
    if (out[i] == 0 || (i > 0 && out[i] <= out[i - 1]))
      throw ledger_kit::corrupt(ledger.describe(),
                                fmt::format("the versions of {} are not positive and ascending", package));
  }
  return out;
}

std::optional<std::uint64_t> checked_latest(Ledger& ledger, const std::string& package) {
  auto latest = ledger.latest(package);
  if (latest) {
    checked_number(ledger, *latest, package, "the latest version");
    if (*latest == 0) throw ledger_kit::corrupt(ledger.describe(), fmt::format("the latest of {} is 0", package));
  }
  return latest;
}

std::map<std::string, TagValue> checked_tag_values(Ledger& ledger, const std::string& package) {
  std::map<std::string, TagValue> out;
  for (auto& [tag, value] : ledger.tag_values(package))
    out[ledger_kit::checked_tag(ledger.describe(), package, tag)] = checked(ledger, value, package);
  return out;
}

std::optional<TagValue> checked_tag_value(Ledger& ledger, const std::string& package, const std::string& tag) {
  auto value = ledger.tag_value(package, tag);
  if (value) value = checked(ledger, *value, package);
  return value;
}

std::optional<VersionRecord> checked_get(Ledger& ledger, const std::string& package, std::uint64_t version) {
  auto r = ledger.get(package, version);
  if (!r) return r;
  auto out = checked(ledger, std::move(*r), package);
  if (out.version != version)
    throw ledger_kit::corrupt(ledger.describe(), fmt::format("{} version {} was asked for, version {} came back",
                                                             package, version, out.version));
  return out;
}

std::vector<VersionRecord> checked_records(Ledger& ledger, const std::string& package) {
  std::vector<VersionRecord> out;
  for (auto& r : ledger.records(package)) {
    out.push_back(checked(ledger, std::move(r), package));
    if (out.size() > 1 && out.back().version <= out[out.size() - 2].version)
      throw ledger_kit::corrupt(ledger.describe(), fmt::format("the records of {} are not ascending", package));
  }
  return out;
}

std::vector<Event> checked_history(Ledger& ledger, const std::string& package, const HistoryQuery& query) {
  std::vector<Event> out;
  for (auto& e : ledger.history(package, query)) {
    e = ledger_kit::checked_event(ledger.describe(), std::move(e));
    checked_number(ledger, e.seq, package, "an event's seq");
    checked_number(ledger, e.version, package, "an event's version");
    if (e.previous) checked_number(ledger, *e.previous, package, "an event's previous version");
    if (e.package != package)
      throw ledger_kit::corrupt(ledger.describe(),
                                fmt::format("an event of {} was returned for {}", printable(e.package), package));
    out.push_back(std::move(e));
  }
  return out;
}

std::string spec_text(const Spec& spec) {
  switch (spec.kind) {
    case Spec::Kind::Version: return std::to_string(spec.version);
    case Spec::Kind::Tag: return spec.tag;
    case Spec::Kind::Latest: return "latest";
  }
  return "";
}

Error no_versions(const std::string& package) {
  return Error(ErrorKind::NotFound, fmt::format("package {} has no versions", package));
}

Error no_tag(const std::string& package, const std::string& tag) {
  return Error(ErrorKind::NotFound, fmt::format("package {} has no tag '{}'", package, printable(tag)));
}

void validate_text(const std::string& text, std::size_t max, const char* what) {
  if (text.size() > max)
    throw Error(ErrorKind::Invalid, fmt::format("invalid {} '{}': longer than {} bytes", what, printable(text), max));
  if (!codec::is_valid_utf8(text))
    throw Error(ErrorKind::Invalid, fmt::format("invalid {} '{}': not valid UTF-8", what, printable(text)));
  for (unsigned char c : text)
    if (c < 0x20 || c == 0x7f)
      throw Error(ErrorKind::Invalid,
                  fmt::format("invalid {} '{}': must not contain control characters", what, printable(text)));
}

}  // namespace sacker::client_detail
