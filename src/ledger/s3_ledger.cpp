// s3://bucket[/prefix] — the S3 ledger, in the layout of the original Python
// sacker (either tool reads what the other wrote), plus history:
//
//   <prefix><pkg>/versions/<version>  {"sha": hex, "basename": name, "mode": int, "size": int,
//     (generations/ with ?versions_dir= "created": "RFC 3339", "metadata": {k: v}, "nonce": hex,
//      generations, the original's code) "signatures": [...], "event": {the add event}}
//                                     + user metadata as x-amz-meta-<k> headers
//   <prefix><pkg>/tags/<tag>          {"version": N, "seq": S, "signatures": [...], "event": {...}}
//                                     (tags written before history, {"version": N}: seq 0)
//   <prefix><pkg>/tags/latest         {"version": N}: a hint (below)
//   <prefix><pkg>/events/<seq>        event_to_json; the seq zero-padded to 19 digits
//
// Numbers. Versions are millisecond stamps (13 digits, so key order is number
// order). An event's seq is a millisecond stamp times 10^6 plus an offset
// 0..999999 (19 digits: key order is seq order is time order). An add's seq is
// its version's slot, version * 10^6; every other event takes a random offset
// 1..999999 in the slot of max(the writer's clock, this process's last seq + 1,
// the seq of the event it follows + 1). So a process's events are ordered; across
// writers they are ordered by their clocks, and an event always comes after the
// one it depends on (a tag move after the move it replaces and after its
// version's add).
//
// Why two writers never overwrite each other's version:
// - `add` needs nothing but PutObject (write-only CI credentials). It picks
//   candidate = max(now_ms, what this process handed out + 1) and, when it may
//   list, above the highest version at or after that (one ListObjectsV2 with
//   start-after: a clock that is behind still goes above what exists). It writes
//   the version object with If-None-Match: *, an atomic exclusive create (AWS,
//   RGW). A 412 means the number is taken: it retries higher (kit Retry). A 412
//   that answers our own request sent twice is recognised by the random nonce in
//   the record, where the writer may read.
// - Then it writes tags/latest. Blind writers race, so the hint may be stale:
//   `latest()` lists versions/ from the hint, so "latest" never moves backwards for
//   a reader that may list; a reader that cannot list uses the hint alone.
// - Numbers only grow: the clock moves forward and If-None-Match forbids
//   overwriting. Imported versions (`put_record`) keep their numbers (up to 13
//   digits); later adds are above them.
//
// Why every change has its event, with no multi-object transactions:
// - add: the version object carries its add event, so the one If-None-Match PUT
//   that makes the version makes its event. events/<seq> is a copy written right
//   after (with the hint, in parallel). A writer killed before the copy leaves the
//   event in the version object only; `history` reads it from there (it reads the
//   versions added since the package's first event that have no events/ copy).
// - set_tag: compare-and-swap: PUT tags/<tag> with If-Match: <the ETag it read>
//   (If-None-Match: * when it read no tag), retried from the read when it loses.
//   The tag object carries the move's event, so the move and its event are one
//   conditional write. Before it replaces a tag object, a writer copies the event
//   that object carries to events/ (If-None-Match: *; a no-op when it is there),
//   so the next move never loses the previous one's event; `history` also reads
//   the current tag objects.
// - remove_tag, remove_version: a DELETE carries nothing, so the event is written
//   right after the DELETE succeeded. A writer killed in between leaves the removal
//   without its event (history then ends at the tag's last move or the version's
//   add; the tags and versions are right). No event is ever written before its
//   change, so history never shows a change that did not happen.
// - A seq collision (two writers, one millisecond, the same random offset: one in
//   a million) is caught by If-None-Match on events/<seq>; the loser renumbers its
//   event (a tag move rewrites its tag object, If-Match on the ETag it just wrote).
// - RadosGW 16 (tested): If-Match on PUT is honoured (against the bare ETag, so it
//   is sent without quotes); If-Match on DELETE is ignored. So untag is a
//   compare-and-swap where the server honours it (AWS) and last-writer-wins on RGW:
//   an untag racing a move of the same tag may delete the moved tag (both events
//   are recorded).
// - Tag versus remove of one version: `set_tag` checks the version, writes, and
//   looks again: a version removed meanwhile gets its tag taken back (the previous
//   tag object put back, If-Match on ours) and NotFound. `remove_version` checks the
//   tags, deletes, and looks again: a tag that arrived meanwhile gets the version
//   put back and Conflict. Either way no tag is left on a removed version.
// - `packages()` is one delimiter listing at the prefix, never a scan of the
//   bucket, plus a 1-key listing per package (in parallel): a package whose
//   versions were all removed keeps its events/ and so its prefix.
//
// Reads: `latest()` is two round trips: (1) tags/latest and the tag names; (2) the
// listing after the hint, the hinted record and the tag objects, in parallel. The
// record and the tags are kept (read ahead) for the `get` and `tag_values` that
// `info` and `download` send next: answered from there once, within 1 s of the
// reads (as if those calls had been sent then). So `info P latest` and `download
// P latest` cost 2 round trips when the hint is right.
#include "ledger/s3_ledger.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "core/random.h"
#include "kit/ledger_kit.h"
#include "kit/retry.h"
#include "kit/uri_options.h"
#include "ledger/s3_objects.h"
#include "ledger/s3_reads.h"
#include "sacker/error.h"
#include "sacker/names.h"
#include "store/s3_location.h"

namespace sacker {
namespace {

using namespace ledger_kit;
using namespace s3_objects;

std::int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class S3Ledger final : public Ledger {
 public:
  S3Ledger(Objects objects, std::function<std::int64_t()> now_ms)
      : objects_(std::move(objects)), now_ms_(std::move(now_ms)) {}

  void init() override { objects_.client().create_bucket(objects_.bucket()); }

  std::vector<std::string> packages() override {
    auto names = objects_.package_names();
    std::vector<char> keep(names.size());
    std::vector<std::function<void()>> tasks;
    for (std::size_t i = 0; i < names.size(); ++i)
      tasks.push_back([&, i] { keep[i] = objects_.has_versions(names[i]); });
    run_parallel(std::move(tasks));
    std::vector<std::string> out;
    for (std::size_t i = 0; i < names.size(); ++i)
      if (keep[i]) out.push_back(checked_package(describe(), names[i]));
    return out;
  }

  std::vector<std::uint64_t> versions(const std::string& package) override {
    return objects_.list_versions(package, "");
  }

  std::optional<VersionRecord> get(const std::string& package, std::uint64_t version) override {
    if (read_ahead_.fresh(package) && read_ahead_.record && read_ahead_.record->version == version)
      return std::exchange(read_ahead_.record, std::nullopt);
    auto obj = objects_.read_version(package, version);
    if (!obj) return std::nullopt;
    return std::move(obj->record);
  }

  std::uint64_t add(const VersionRecord& record, const ChangeContext& ctx) override {
    const std::string& package = record.package;
    validate_package_name(package);
    read_ahead_ = {};
    Floor& floor = floors_[package];
    std::uint64_t candidate =
        std::max({static_cast<std::uint64_t>(now_ms_()), floor.version + 1, floor.seq / kSeqPerMs + 1});
    if (may_list_) {
      try {
        if (auto newer = objects_.highest_from(package, candidate)) candidate = std::max(candidate, *newer + 1);
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::Denied) throw;
        may_list_ = false;  // write-only credentials: If-None-Match alone keeps us safe
      }
    }
    Retry retry(RetryPolicy::contention(), fmt::format("{}: add to {}", describe(), package));
    VersionRecord r = record;
    Event e;
    for (;;) {
      if (candidate > kMaxVersion)
        throw Error(ErrorKind::Conflict, fmt::format("{}: cannot add to {}: no version number left after {}",
                                                     describe(), package, kMaxVersion));
      r.version = candidate;
      r.signatures = ctx.sign_record ? ctx.sign_record(r) : std::vector<std::string>{};
      e = make_event(EventAction::Add, ctx, package, candidate, {}, std::nullopt, r.sha256);
      e.seq = add_seq(candidate);
      const std::string nonce = random_hex(16);
      net::HttpHeaders headers = {{"If-None-Match", "*"}};
      add_metadata_headers(r.metadata, headers);
      auto result = objects_.put(objects_.version_key(package, candidate), version_body(r, nonce, &e), headers);
      // A 412 may answer our own request sent twice (the HTTP layer's retry, or
      // libcurl re-sending on a reused connection): the nonce tells.
      if (result.written || holds_nonce(package, candidate, nonce)) break;
      retry.failed(FailureCause::LostRace, fmt::format("version {} was taken by another writer", candidate));
      candidate = std::max<std::uint64_t>(static_cast<std::uint64_t>(now_ms_()), candidate + 1);
    }
    floor.version = candidate;
    floor.seq = std::max(floor.seq, e.seq);
    // The hint and the event's copy. The event is safe in the version object: a
    // copy refused to an old write-only policy (no PutObject on */events/*) or lost
    // is read from there by `history`.
    std::optional<Error> hint_error;
    run_parallel({[&] {
                    try {
                      objects_.put(objects_.tag_key(package, std::string(kLatestTag)), hint_body(candidate));
                    } catch (const Error& err) {
                      hint_error = err;
                    }
                  },
                  [&] {
                    try {
                      objects_.create_event(e);
                    } catch (const Error&) {
                    }
                  }});
    if (hint_error)
      throw Error(hint_error->kind(), fmt::format("{} version {} was recorded, but its tags/latest hint could not be "
                                                  "written: {}",
                                                  package, candidate, hint_error->what()));
    return candidate;
  }

  std::optional<Event> remove_version(const std::string& package, std::uint64_t version,
                                      const ChangeContext& ctx) override {
    if (version == 0 || version > kMaxVersion) return std::nullopt;
    read_ahead_ = {};
    std::map<std::string, TagValue> tags;
    std::optional<aws::S3Object> removed;
    run_parallel({[&] { tags = tag_values(package); }, [&] { removed = objects_.read_raw_version(package, version); }});
    for (const auto& [t, value] : tags)
      if (value.version == version) throw version_is_tagged(package, version, t);
    if (!removed) return std::nullopt;
    const std::string key = objects_.version_key(package, version);
    const VersionObject obj = parse_version_object(describe(), key, package, version, *removed);
    if (obj.event) objects_.create_event(*obj.event);  // the add's event outlives the object
    objects_.client().remove(objects_.bucket(), key);
    // A `tag` that checked this version before the delete may have written its
    // tag after our check: look again, and if a tag points here, put the record
    // back and refuse, as if the tag had come first.
    for (const auto& [t, value] : tag_values(package))
      if (value.version == version) {
        objects_.restore_version(key, *removed);
        throw Error(
            ErrorKind::Conflict,
            fmt::format("{} version {} was tagged '{}' while being removed: untag it first", package, version, t));
      }
    Event e = make_event(EventAction::Remove, ctx, package, version, {}, std::nullopt, obj.record.sha256);
    record_event(e, add_seq(version));
    floors_[package].version = std::max(floors_[package].version, version);
    keep_hint_after_remove(package, version);
    return e;
  }

  std::map<std::string, TagValue> tag_values(const std::string& package) override {
    if (read_ahead_.fresh(package) && read_ahead_.tags) return *std::exchange(read_ahead_.tags, std::nullopt);
    std::map<std::string, TagValue> out;
    for (auto& [tag, state] : objects_.read_tags(package, user_tags(objects_.tag_names(package))))
      out[tag] = state.object.value;
    return out;
  }

  std::optional<TagValue> tag_value(const std::string& package, const std::string& tag) override {
    auto state = objects_.read_tag(package, tag);
    if (!state) return std::nullopt;
    return state->object.value;
  }

  std::optional<Event> set_tag(const std::string& package, const std::string& tag, std::uint64_t version,
                               const TagExpectation& expect, const ChangeContext& ctx) override {
    validate_user_tag(tag);
    if (version == 0 || version > kMaxVersion) throw no_such_version(package, version);
    read_ahead_ = {};
    const std::string key = objects_.tag_key(package, tag);
    Retry retry(RetryPolicy::contention(), fmt::format("{}: tag {} {} {}", describe(), package, version, tag));
    for (;;) {
      std::optional<TagState> current;
      std::optional<VersionObject> target;
      run_parallel({[&] { current = objects_.read_tag(package, tag); },
                    [&] { target = objects_.read_version(package, version); }});
      if (!target) throw no_such_version(package, version);
      const auto now = current ? std::optional(current->object.value.version) : std::nullopt;
      if (!expect.met_by(now)) throw tag_not_as_expected(package, tag, expect, now);
      if (now == version) return std::nullopt;
      Event e = make_event(tag_action(ctx), ctx, package, version, tag, now, target->record.sha256);
      e.seq = unique_seq(package, std::max(current ? current->object.value.seq : 0, add_seq(version)));
      if (ctx.sign_event) e.signatures = ctx.sign_event(e);
      if (current && current->object.event) objects_.create_event(*current->object.event);
      std::string body = tag_body(TagValue{version, e.seq, e.signatures}, &e);
      auto put = objects_.put(key, body, cas_headers(current));
      if (!put.written && !(put.retried && objects_.holds(key, body, put.etag))) {
        retry.failed(FailureCause::LostRace, "the tag moved meanwhile");
        continue;
      }
      // A `remove` of this version may have run between the check and the write:
      // look again, and put back what we replaced.
      if (!objects_.client().head(objects_.bucket(), objects_.version_key(package, version))) {
        take_back(key, current, put.etag);
        throw Error(ErrorKind::NotFound,
                    fmt::format("{} has no version {} (removed while being tagged)", package, version));
      }
      record_tag_event(e, key, put.etag, ctx);
      return e;
    }
  }

  std::optional<Event> remove_tag(const std::string& package, const std::string& tag, const TagExpectation& expect,
                                  const ChangeContext& ctx) override {
    validate_user_tag(tag);
    read_ahead_ = {};
    const std::string key = objects_.tag_key(package, tag);
    Retry retry(RetryPolicy::contention(), fmt::format("{}: untag {} {}", describe(), package, tag));
    for (;;) {
      auto current = objects_.read_tag(package, tag);
      const auto now = current ? std::optional(current->object.value.version) : std::nullopt;
      if (!expect.met_by(now)) throw tag_not_as_expected(package, tag, expect, now);
      if (!now) return std::nullopt;
      const auto& carried = current->object.event;
      std::string sha = carried && carried->version == *now ? carried->sha256 : std::string();
      run_parallel({[&] {
                      if (carried) objects_.create_event(*carried);
                    },
                    [&] {
                      if (sha.empty())
                        if (auto r = objects_.read_version(package, *now)) sha = r->record.sha256;
                    }});
      if (!objects_.client().remove_conditional(objects_.bucket(), key, {{"If-Match", bare_etag(current->etag)}})) {
        retry.failed(FailureCause::LostRace, "the tag moved meanwhile");
        continue;
      }
      Event e = make_event(EventAction::Untag, ctx, package, 0, tag, now, sha);
      record_event(e, current->object.value.seq);
      return e;
    }
  }

  std::vector<Event> history(const std::string& package, const HistoryQuery& query) override {
    return read_history(objects_, package, query);
  }

  void put_record(const VersionRecord& record) override {
    validate_record(record);
    if (record.version > kMaxVersion)
      throw Error(ErrorKind::Invalid, fmt::format("{}: cannot import {} version {}: the S3 ledger keeps version "
                                                  "numbers of up to 13 digits",
                                                  describe(), record.package, record.version));
    read_ahead_ = {};
    net::HttpHeaders headers = {{"If-None-Match", "*"}};
    add_metadata_headers(record.metadata, headers);
    auto result =
        objects_.put(objects_.version_key(record.package, record.version), version_body(record, "", nullptr), headers);
    if (!result.written) {
      auto existing = get(record.package, record.version);
      if (!existing || !(*existing == record)) throw version_exists_differently(record.package, record.version);
    }
    Floor& floor = floors_[record.package];
    floor.version = std::max(floor.version, record.version);
    auto hint = objects_.read_tag(record.package, std::string(kLatestTag));
    if (!hint || hint->object.value.version < record.version)
      objects_.put(objects_.tag_key(record.package, std::string(kLatestTag)), hint_body(record.version));
  }

  void put_tag(const std::string& package, const std::string& tag, const TagValue& value) override {
    validate_user_tag(tag);
    read_ahead_ = {};
    if (value.version == 0 || value.version > kMaxVersion ||
        !objects_.client().head(objects_.bucket(), objects_.version_key(package, value.version)))
      throw no_such_version(package, value.version);
    if (value.seq > kMaxSeq)
      throw Error(ErrorKind::Invalid, fmt::format("{}: tag {} of {}: seq {} does not fit the S3 ledger", describe(),
                                                  tag, package, value.seq));
    if (auto current = objects_.read_tag(package, tag); current && current->object.event)
      objects_.create_event(*current->object.event);
    objects_.put(objects_.tag_key(package, tag), tag_body(value, nullptr));
    floors_[package].seq = std::max(floors_[package].seq, value.seq);
  }

  void put_event(const Event& event) override {
    read_ahead_ = {};
    if (event.seq == 0) {
      Event e = event;
      record_event(e, 0);
      return;
    }
    if (!objects_.create_event(event)) throw event_exists_differently(event.package, event.seq);
    floors_[event.package].seq = std::max(floors_[event.package].seq, event.seq);
  }

  // Imports: records, then tags, then events, one by one (the default). S3 writes
  // one object atomically, never several: an import that fails leaves what it
  // wrote so far; running it again finishes it (every write is idempotent).

  std::optional<std::uint64_t> latest(const std::string& package) override {
    const auto at = std::chrono::steady_clock::now();
    auto read = read_latest(objects_, package);
    read_ahead_ = {package, at, std::move(read.record), std::move(read.tags)};
    return read.version;
  }

  std::vector<VersionRecord> records(const std::string& package) override {
    auto all = versions(package);
    std::vector<std::optional<VersionRecord>> got(all.size());
    std::vector<std::function<void()>> tasks;
    for (std::size_t i = 0; i < all.size(); ++i) tasks.push_back([&, i] { got[i] = get(package, all[i]); });
    run_parallel(std::move(tasks));
    std::vector<VersionRecord> out;
    for (auto& r : got)
      if (r) out.push_back(std::move(*r));  // removed since the listing: skip
    return out;
  }

  std::string describe() const override { return objects_.display(); }

 private:
  struct Floor {
    std::uint64_t version = 0;  // the highest version this process saw go
    std::uint64_t seq = 0;      // the highest seq this process handed out or saw
  };

  // A seq for a new event after `after`: see "Numbers" at the top of the file.
  std::uint64_t unique_seq(const std::string& package, std::uint64_t after) {
    Floor& floor = floors_[package];
    const std::uint64_t low = std::max({static_cast<std::uint64_t>(now_ms_()) * kSeqPerMs, floor.seq, after}) + 1;
    std::uint64_t seq = low + random_u64() % (kSeqPerMs - 1);
    if (seq % kSeqPerMs == 0) ++seq;  // offset 0 is the slot's add
    if (seq > kMaxSeq)
      throw Error(ErrorKind::Conflict, fmt::format("{}: {} has no event number left", describe(), package));
    floor.seq = seq;
    return seq;
  }

  // Stores the event of a change that happened (remove, untag, an import's event
  // without a seq) under a fresh seq after `after`, renumbering on a collision.
  void record_event(Event& e, std::uint64_t after) {
    do e.seq = unique_seq(e.package, std::max(after, e.seq));
    while (!objects_.create_event(e));
  }

  // The copy of a tag move's event. On a seq collision the move is renumbered: its
  // tag object rewritten (If-Match on the ETag we wrote) with a new seq.
  void record_tag_event(Event& e, const std::string& key, std::string etag, const ChangeContext& ctx) {
    while (!objects_.create_event(e)) {
      e.seq = unique_seq(e.package, e.seq);
      if (ctx.sign_event) e.signatures = ctx.sign_event(e);
      auto put =
          objects_.put(key, tag_body(TagValue{e.version, e.seq, e.signatures}, &e), {{"If-Match", bare_etag(etag)}});
      if (!put.written) return;  // moved on already: our event went with the object
      etag = put.etag;
    }
  }

  // set_tag lost to a remove: put back what the tag was (If-Match on ours), or
  // delete ours if there was none and ours is still there.
  void take_back(const std::string& key, const std::optional<TagState>& previous, const std::string& ours) {
    if (previous) {
      objects_.put(key, previous->body, {{"If-Match", bare_etag(ours)}});
      return;
    }
    auto now = objects_.client().head(objects_.bucket(), key);
    if (now && now->etag == ours)
      objects_.client().remove_conditional(objects_.bucket(), key, {{"If-Match", bare_etag(ours)}});
  }

  // After a remove: keep the hint on a version that exists, and let a package
  // without versions lose its tags (there can only be the hint, or tags left
  // dangling by a killed writer).
  void keep_hint_after_remove(const std::string& package, std::uint64_t removed) {
    auto remaining = objects_.list_versions(package, "");
    const std::string latest(kLatestTag);
    if (remaining.empty()) {
      for (auto& [tag, state] : objects_.read_tags(package, objects_.tag_names(package))) {
        if (state.object.event) objects_.create_event(*state.object.event);
        objects_.client().remove(objects_.bucket(), objects_.tag_key(package, tag));
      }
      return;
    }
    auto hint = objects_.read_tag(package, latest);
    if (!hint || hint->object.value.version == removed || hint->object.value.version > remaining.back())
      objects_.put(objects_.tag_key(package, latest), hint_body(remaining.back()));
  }

  bool holds_nonce(const std::string& package, std::uint64_t version, const std::string& nonce) {
    if (!may_read_) return false;
    try {
      auto obj = objects_.read_version(package, version);
      return obj && obj->nonce == nonce;
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::Denied && e.kind() != ErrorKind::Invalid) throw;
      if (e.kind() == ErrorKind::Denied) may_read_ = false;  // write-only: cannot tell, take a new number
      return false;
    }
  }

  Objects objects_;
  std::function<std::int64_t()> now_ms_;
  bool may_list_ = true;
  bool may_read_ = true;
  std::map<std::string, Floor> floors_;
  ReadAhead read_ahead_;
};

std::unique_ptr<Ledger> make(const Uri& uri, std::function<std::int64_t()> now_ms) {
  S3Uri s3 = parse_s3_uri(uri, {"page_size", "acl", "versions_dir"});
  const int page_size = static_cast<int>(s3_size_option(s3, "page_size", 0, 1, 1000));
  // The original Python sacker's code keeps version objects under <pkg>/generations/;
  // DESIGN.md's layout (the default) under <pkg>/versions/. Everything else is shared.
  const std::string versions_dir = s3.options.count("versions_dir") ? s3.options.at("versions_dir") : "versions";
  if (versions_dir != "versions" && versions_dir != "generations")
    throw_invalid_uri(uri, "versions_dir must be 'versions' or 'generations'");
  return std::make_unique<S3Ledger>(Objects(aws::shared_s3_client(), std::move(s3), page_size, versions_dir),
                                    std::move(now_ms));
}

}  // namespace

std::unique_ptr<Ledger> open_s3_ledger(const Uri& uri) { return make(uri, system_now_ms); }

std::unique_ptr<Ledger> open_s3_ledger_with_clock(const Uri& uri, std::function<std::int64_t()> now_ms) {
  return make(uri, std::move(now_ms));
}

}  // namespace sacker
