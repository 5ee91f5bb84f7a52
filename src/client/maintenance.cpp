// gc (blobs no version references) and prune (version records the retention
// rules let go).
//
// gc never deletes a blob a version references or that an add is re-using
// (invariant 5): it reads the ledger, lists the store, reads the ledger again right
// before each batch of deletes, and deletes each candidate only if the store says
// it was not modified since it was listed (GcSupport::remove_if_not_modified_after:
// atomic against put_file's re-use in the file, mem and chain stores; stat +
// remove, with a window, in stores without it). An add uploads (or refreshes) its
// blob before it records the version, so a version gc has not seen yet has a blob
// younger than the grace period or one modified since gc listed it.
//
// prune plans from one read of each package (records, tags, history) and removes
// only version records it planned to remove, each with its own remove_version:
// versions added meanwhile are not in the plan; a version tagged or moved onto
// meanwhile is kept (the protections are read once more before the first remove,
// and the ledger refuses to remove a tagged version).
#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "client/read_back.h"
#include "core/codec.h"
#include "sacker/client.h"
#include "sacker/error.h"
#include "sacker/names.h"
#include "store/gc_support.h"

namespace sacker {

using namespace client_detail;

namespace {

// How many gc candidates are deleted after one re-read of the ledger.
constexpr std::size_t kGcBatch = 512;

std::set<std::string> referenced_blobs(Ledger& ledger) {
  std::set<std::string> shas;
  for (const auto& p : checked_packages(ledger))
    for (const auto& r : checked_records(ledger, p)) shas.insert(r.sha256);
  return shas;
}

std::string duration_text(std::int64_t seconds) {
  if (seconds % 86400 == 0) return fmt::format("{}d", seconds / 86400);
  if (seconds % 3600 == 0) return fmt::format("{}h", seconds / 3600);
  if (seconds % 60 == 0) return fmt::format("{}m", seconds / 60);
  return fmt::format("{}s", seconds);
}

// Why versions of one package must stay whatever the retention rules say:
// latest, tagged, or a place a tag pointed to in its last `moves` moves.
std::map<std::uint64_t, std::string> protections(std::uint64_t latest, const std::map<std::string, TagValue>& tags,
                                                 const std::vector<Event>& history, std::size_t moves) {
  std::map<std::uint64_t, std::string> why;
  why[latest] = "latest";
  for (const auto& [tag, value] : tags) {
    auto& reason = why[value.version];
    if (reason.empty())
      reason = "tagged " + tag;
    else if (reason.rfind("tagged ", 0) == 0)
      reason += ", " + tag;
  }
  std::map<std::string, std::size_t> seen;  // moves of each tag so far, newest first
  for (const auto& e : history) {
    if (e.tag.empty() || e.action == EventAction::Import) continue;
    const std::size_t n = ++seen[e.tag];
    if (n > moves || !e.previous) continue;
    why.emplace(*e.previous, fmt::format("{} pointed here {} move{} ago", e.tag, n, n == 1 ? "" : "s"));
  }
  return why;
}

// The tags, then the history (in that order: a move between the two reads shows
// up in the history, so its versions are protected either way).
std::map<std::uint64_t, std::string> read_protections(Ledger& ledger, const std::string& package,
                                                      std::uint64_t latest, std::size_t moves) {
  const auto tags = checked_tag_values(ledger, package);
  const auto history = checked_history(ledger, package, HistoryQuery{});
  return protections(latest, tags, history, moves);
}

}  // namespace

GcReport Client::gc(bool dry_run, std::int64_t grace_seconds) {
  if (grace_seconds < kMinGcGraceSeconds)
    throw Error(ErrorKind::Invalid,
                fmt::format("gc: a grace period of {} s is below the minimum of {} s (an add may still be uploading "
                            "a blob it has not recorded yet)",
                            grace_seconds, kMinGcGraceSeconds));
  GcReport report;
  std::set<std::string> referenced = referenced_blobs(*ledger_);
  const std::vector<BlobInfo> blobs = store_->list();
  const std::int64_t cutoff = now() - grace_seconds;
  std::vector<BlobInfo> candidates;
  for (const auto& b : blobs) {
    if (!is_valid_sha256_hex(b.sha256)) continue;  // not a blob of ours
    if (referenced.count(b.sha256))
      ++report.referenced;
    else if (b.modified > cutoff)
      ++report.young;
    else
      candidates.push_back(b);
  }
  if (!dry_run) report.temp_files = remove_abandoned_uploads(*store_, grace_seconds);
  for (std::size_t first = 0; first < candidates.size(); first += kGcBatch) {
    // Read the ledger again right before deleting: an import (or an add that
    // found its blob without refreshing it) that recorded a version keeps it.
    referenced = referenced_blobs(*ledger_);
    for (std::size_t i = first; i < std::min(candidates.size(), first + kGcBatch); ++i) {
      const BlobInfo& b = candidates[i];
      if (referenced.count(b.sha256)) {
        ++report.referenced;
      } else if (dry_run || remove_if_not_modified_after(*store_, b.sha256, b.modified)) {
        report.removed.push_back(b);
      } else {
        ++report.reused;
      }
    }
  }
  return report;
}

PruneReport Client::prune(const PruneRequest& request) {
  if (request.keep_newer_seconds < 0)
    throw Error(ErrorKind::Invalid, fmt::format("prune: keep_newer {} s is negative", request.keep_newer_seconds));
  if (request.keep_last == 0 && request.keep_newer_seconds == 0)
    throw Error(ErrorKind::Invalid,
                "prune: no retention rule (keep the newest N, or those newer than D): without one every untagged "
                "version but the latest would go");
  for (const auto& p : request.packages) validate_package_name(p);
  const ChangeContext ctx = context(request.comment.empty() ? std::string("prune") : request.comment);
  const std::vector<std::string> packages = request.packages.empty() ? checked_packages(*ledger_) : request.packages;
  const std::int64_t newer_than = now() - request.keep_newer_seconds;

  PruneReport report;
  for (const auto& package : packages) {
    const auto records = checked_records(*ledger_, package);
    if (records.empty()) {
      if (!request.packages.empty()) throw no_versions(package);
      continue;
    }
    const auto why = read_protections(*ledger_, package, records.back().version, request.keep_rollback);
    std::vector<PruneDecision> decisions;
    for (std::size_t i = 0; i < records.size(); ++i) {
      const VersionRecord& r = records[i];
      PruneDecision d{package, r.version, false, {}};
      if (auto it = why.find(r.version); it != why.end())
        d.reason = it->second;
      else if (records.size() - i <= request.keep_last)
        d.reason = fmt::format("one of the newest {}", request.keep_last);
      else if (request.keep_newer_seconds > 0 && r.created >= newer_than)
        d.reason = "newer than " + duration_text(request.keep_newer_seconds);
      else
        d.remove = true, d.reason = "older than the keep rules";
      decisions.push_back(std::move(d));
    }
    const bool any = std::any_of(decisions.begin(), decisions.end(), [](const auto& d) { return d.remove; });
    if (request.apply && any) {
      // What a tag did since the plan protects its versions too.
      const auto latest = checked_latest(*ledger_, package).value_or(records.back().version);
      const auto fresh = read_protections(*ledger_, package, latest, request.keep_rollback);
      for (auto& d : decisions) {
        if (!d.remove) continue;
        if (auto it = fresh.find(d.version); it != fresh.end()) {
          d.remove = false;
          d.reason = it->second + " (since the plan)";
          continue;
        }
        try {
          if (ledger_->remove_version(package, d.version, ctx))
            ++report.removed;
          else
            d.reason += " (already removed meanwhile)";
        } catch (const Error& e) {
          if (e.kind() != ErrorKind::Conflict) throw;
          d.remove = false;
          d.reason = "tagged since the plan";
        }
      }
    }
    report.decisions.insert(report.decisions.end(), decisions.begin(), decisions.end());
  }
  return report;
}

std::vector<VersionRecord> Client::find_by_sha256(std::string_view hex_prefix) {
  if (hex_prefix.size() < kMinShaPrefix || hex_prefix.size() > 64 ||
      !std::all_of(hex_prefix.begin(), hex_prefix.end(), [](unsigned char c) { return std::isxdigit(c); }))
    throw Error(ErrorKind::Invalid, fmt::format("a sha256 prefix is {} to 64 hex digits, not '{}'", kMinShaPrefix,
                                                printable(hex_prefix)));
  const std::string prefix = codec::to_lower(hex_prefix);
  std::vector<VersionRecord> out;
  auto packages = ledger_->packages();
  std::sort(packages.begin(), packages.end());
  for (const auto& package : packages)
    for (auto& r : checked_records(*ledger_, package))
      if (r.sha256.compare(0, prefix.size(), prefix) == 0) out.push_back(std::move(r));
  return out;
}

}  // namespace sacker
