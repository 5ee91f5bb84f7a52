// The facade's queries and tag changes. Transfers (add, download) live in
// transfer.cpp, gc and prune in maintenance.cpp, export/import in migration.cpp,
// default_actor in actor.cpp; every read of the ledger goes through read_back.h.
#include "sacker/client.h"

#include <fmt/core.h>

#include <algorithm>
#include <ctime>

#include "client/read_back.h"
#include "kit/ledger_kit.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker {

using namespace client_detail;

namespace {

void validate_spec(const Spec& spec) {
  if (spec.kind == Spec::Kind::Version && spec.version == 0)
    throw Error(ErrorKind::Invalid, "invalid version 0: versions start at 1");
  if (spec.kind == Spec::Kind::Tag) validate_tag_name(spec.tag);
}

Spec normalized(Spec spec) {
  if (spec.kind == Spec::Kind::Tag && spec.tag == kLatestTag) spec = Spec{};
  return spec;
}

}  // namespace

Client::Client(std::unique_ptr<Ledger> ledger, std::unique_ptr<Store> store, Clock clock, ClientIdentity identity)
    : ledger_(std::move(ledger)), store_(std::move(store)), clock_(std::move(clock)), identity_(std::move(identity)) {
  validate_text(identity_.actor, kMaxActorBytes, "actor");
  validate_text(identity_.client, kMaxActorBytes, "client");
}
Client::~Client() = default;

void Client::set_identity(ClientIdentity identity) {
  validate_text(identity.actor, kMaxActorBytes, "actor");
  validate_text(identity.client, kMaxActorBytes, "client");
  identity_ = std::move(identity);
}

std::int64_t Client::now() const { return clock_ ? clock_() : static_cast<std::int64_t>(std::time(nullptr)); }

ChangeContext Client::context(const std::string& comment) const {
  validate_text(comment, kMaxCommentBytes, "comment");
  ChangeContext ctx;
  ctx.time = now();
  ctx.actor = identity_.actor;
  ctx.client = identity_.client;
  ctx.comment = comment;
  ctx.sign_record = signers_.sign_record;
  ctx.sign_event = signers_.sign_event;
  return ctx;
}

std::vector<std::string> Client::list() { return checked_packages(*ledger_); }

std::vector<std::uint64_t> Client::versions(const std::string& package) {
  validate_package_name(package);
  auto all = checked_versions(*ledger_, package);
  if (all.empty()) throw no_versions(package);
  return all;
}

std::map<std::string, std::uint64_t> Client::tags(const std::string& package) {
  validate_package_name(package);
  auto latest = checked_latest(*ledger_, package);
  if (!latest) throw no_versions(package);
  std::map<std::string, std::uint64_t> out;
  for (const auto& [tag, value] : checked_tag_values(*ledger_, package)) out[tag] = value.version;
  out[std::string(kLatestTag)] = *latest;
  return out;
}

std::vector<TagInfo> Client::tag_infos(const std::string& package) {
  validate_package_name(package);
  auto latest = checked_latest(*ledger_, package);
  if (!latest) throw no_versions(package);
  const auto values = checked_tag_values(*ledger_, package);
  // One read of the history (newest first): each tag's event is the one whose seq
  // the tag carries; "latest"'s is the newest add of the latest version.
  const auto events = checked_history(*ledger_, package, HistoryQuery{});
  std::vector<TagInfo> out;
  for (const auto& [tag, value] : values) {
    TagInfo info{tag, value.version, std::nullopt};
    for (const auto& e : events)
      if (value.seq != 0 && e.seq == value.seq && e.tag == tag) {
        info.last_event = e;
        break;
      }
    out.push_back(std::move(info));
  }
  TagInfo latest_info{std::string(kLatestTag), *latest, std::nullopt};
  for (const auto& e : events)
    if (e.action == EventAction::Add && e.version == *latest) {
      latest_info.last_event = e;
      break;
    }
  out.push_back(std::move(latest_info));
  std::sort(out.begin(), out.end(), [](const TagInfo& a, const TagInfo& b) { return a.tag < b.tag; });
  return out;
}

namespace {

VersionRecord record_at(Ledger& ledger, const std::string& package, const Spec& spec, std::uint64_t version) {
  auto record = checked_get(ledger, package, version);
  if (record) return *record;
  if (spec.kind == Spec::Kind::Version)
    throw Error(ErrorKind::NotFound, fmt::format("package {} has no version {}", package, version));
  throw Error(ErrorKind::NotFound, fmt::format("package {}: '{}' points to version {}, which does not exist", package,
                                               spec_text(spec), version));
}

}  // namespace

ResolvedRecord Client::resolve_unchecked(const std::string& package, const Spec& requested) {
  validate_package_name(package);
  const Spec spec = normalized(requested);
  validate_spec(spec);
  ResolvedRecord out;
  std::uint64_t version = spec.version;
  if (spec.kind == Spec::Kind::Latest) {
    auto latest = checked_latest(*ledger_, package);
    if (!latest) throw no_versions(package);
    version = *latest;
  } else if (spec.kind == Spec::Kind::Tag) {
    out.tag_value = checked_tag_value(*ledger_, package, spec.tag);
    if (!out.tag_value) throw no_tag(package, spec.tag);
    out.tag = spec.tag;
    version = out.tag_value->version;
  }
  out.record = record_at(*ledger_, package, spec, version);
  return out;
}

VersionRecord Client::resolve(const std::string& package, const Spec& spec) {
  ResolvedRecord resolved = resolve_unchecked(package, spec);
  if (record_check_) record_check_(resolved);
  return std::move(resolved.record);
}

VersionInfo Client::info(const std::string& package, const Spec& requested) {
  validate_package_name(package);
  const Spec spec = normalized(requested);
  validate_spec(spec);
  // One read each of latest and the tags; the spec is resolved from the same reads.
  const auto latest = checked_latest(*ledger_, package);
  if (!latest) throw no_versions(package);
  const auto values = checked_tag_values(*ledger_, package);
  std::uint64_t version = spec.version;
  if (spec.kind == Spec::Kind::Latest) version = *latest;
  if (spec.kind == Spec::Kind::Tag) {
    auto it = values.find(spec.tag);
    if (it == values.end()) throw no_tag(package, spec.tag);
    version = it->second.version;
  }
  VersionInfo out;
  out.record = record_at(*ledger_, package, spec, version);
  if (record_check_) {
    ResolvedRecord resolved{out.record, "", std::nullopt};
    if (spec.kind == Spec::Kind::Tag) resolved = {out.record, spec.tag, values.at(spec.tag)};
    record_check_(resolved);
  }
  if (version == *latest) out.tags.emplace_back(kLatestTag);
  for (const auto& [tag, value] : values)
    if (value.version == version) out.tags.push_back(tag);
  return out;
}

std::optional<Event> Client::tag(const TagRequest& request) {
  validate_package_name(request.package);
  validate_user_tag(request.tag);
  if (request.version == 0 || request.version > kMaxNumber)
    throw Error(ErrorKind::Invalid, fmt::format("invalid version {}", request.version));
  return ledger_->set_tag(request.package, request.tag, request.version, request.expect, context(request.comment));
}

Event Client::untag(const std::string& package, const std::string& tag, const std::string& comment,
                    TagExpectation expect) {
  validate_package_name(package);
  validate_user_tag(tag);
  auto e = ledger_->remove_tag(package, tag, expect, context(comment));
  if (!e) throw no_tag(package, tag);
  return *e;
}

RollbackResult Client::rollback(const std::string& package, const std::string& tag, const std::string& comment,
                                std::optional<std::uint64_t> expect_seq) {
  validate_package_name(package);
  validate_user_tag(tag);
  const ChangeContext ctx = [&] {
    ChangeContext c = context(comment);
    c.rollback = true;
    return c;
  }();
  auto last = checked_history(*ledger_, package, HistoryQuery{tag, 1, 0});
  if (last.empty())
    throw Error(
        ErrorKind::NotFound,
        fmt::format("package {}: tag '{}' has no history to roll back (no move of it was recorded)", package, tag));
  const Event& move = last.front();
  if (expect_seq && move.seq != *expect_seq)
    throw Error(ErrorKind::Conflict,
                fmt::format("package {}: tag '{}' moved since event {} (its latest move is event {}, to {}): nothing "
                            "changed",
                            package, tag, *expect_seq, move.seq,
                            move.action == EventAction::Untag ? std::string("removed")
                                                              : "version " + std::to_string(move.version)));
  if (!move.previous)
    throw Error(ErrorKind::NotFound,
                fmt::format("package {}: tag '{}' was created by its latest move (to version {}); there is no earlier "
                            "version to roll back to",
                            package, tag, move.version));
  // The tag must still be where its latest recorded move left it; the set_tag below
  // compares and swaps against that state, so a move in between is a Conflict too.
  const auto current = checked_tag_value(*ledger_, package, tag);
  const std::optional<std::uint64_t> now = current ? std::optional(current->version) : std::nullopt;
  const std::optional<std::uint64_t> recorded =
      move.action == EventAction::Untag ? std::nullopt : std::optional(move.version);
  if (now != recorded || (current && current->seq != 0 && current->seq != move.seq))
    throw Error(ErrorKind::Conflict,
                fmt::format("package {}: tag '{}' {} but its latest recorded move (event {}) left it {}; it moved "
                            "since: nothing changed",
                            package, tag, now ? "points to " + std::to_string(*now) : std::string("does not exist"),
                            move.seq, recorded ? "at " + std::to_string(*recorded) : std::string("removed")));
  const TagExpectation expect = now ? TagExpectation::at(*now) : TagExpectation::absent();
  std::optional<Event> e;
  try {
    e = ledger_->set_tag(package, tag, *move.previous, expect, ctx);
  } catch (const Error& err) {
    if (err.kind() != ErrorKind::NotFound) throw;
    throw Error(ErrorKind::NotFound, fmt::format("package {}: cannot roll tag '{}' back to version {}: {}", package,
                                                 tag, *move.previous, err.what()));
  }
  if (!e) throw Error(ErrorKind::Internal, "rollback: the ledger made no move");
  return RollbackResult{*e};
}

Event Client::remove(const std::string& package, std::uint64_t version, const std::string& comment) {
  validate_package_name(package);
  auto e = ledger_->remove_version(package, version, context(comment));
  if (!e) throw Error(ErrorKind::NotFound, fmt::format("package {} has no version {}", package, version));
  return *e;
}

std::vector<Event> Client::history(const std::string& package, const HistoryQuery& query) {
  validate_package_name(package);
  if (query.tag) validate_user_tag(*query.tag);
  auto events = checked_history(*ledger_, package, query);
  if (events.empty() && !checked_latest(*ledger_, package) &&
      checked_history(*ledger_, package, HistoryQuery{std::nullopt, 1, 0}).empty())
    throw Error(ErrorKind::NotFound, fmt::format("package {} has no versions and no history", package));
  return events;
}

void Client::init() {
  ledger_->init();
  store_->init();
}

std::string Client::presigned_url(const std::string& package, const Spec& spec, std::int64_t expires_seconds) {
  VersionRecord r = resolve(package, spec);
  auto url = store_->presigned_get_url(r.sha256, expires_seconds);
  if (!url)
    throw Error(ErrorKind::Invalid,
                fmt::format("url: the store {} cannot make download URLs (an s3:// store can)", store_->describe()));
  return *url;
}

}  // namespace sacker
