// The etcd ledger: etcd's v3 API through its JSON gateway (the wire: etcd_client.h).
//
// URI: etcd://[user[:password]@]host:port[,host:port...][/prefix][?tls=1&ca=/path/ca.pem]
// The prefix (default "sacker") is the root P of every key; with several endpoints
// a request that cannot reach one goes to the next.
//
// Layout (keys are bytes; package and tag names are [A-Za-z0-9._-] and never hold
// '/', so no name can reach outside its package's keys):
//   P/format                            "sacker-etcd-ledger 2" (init; a format-1 marker is upgraded)
//   P/counters/<pkg>                    decimal: the next version to hand out. Exists once
//                                       the package had a version; never lowered, so
//                                       removed numbers are never handed out again.
//                                       packages() lists these keys.
//   P/packages/<pkg>/v/<20 digits>      the record (record_to_json, signatures included);
//                                       zero-padded: key order = version order
//   P/packages/<pkg>/t/<tag>            {"version":V,"seq":S,"signatures":[...]}: S is the
//                                       event that set it; "signatures" only when there are
//                                       any. Format 1 wrote the bare decimal V: read as seq
//                                       0, no signatures.
//   P/packages/<pkg>/seq                decimal: the next event seq of the package
//   P/packages/<pkg>/events/<20 digits> the event (event_to_json) plus "op", a random id
//                                       of the writing attempt
//   P/packages/<pkg>/removed/<20 d.>    written by format 1's remove; ignored
// A format-1 ledger has no seq key and no events: its history starts at the first
// event written, with seq 1.
//
// Why it is race-free (every write is ONE txn; compares are on revisions):
// - Every change (add, set_tag, remove_tag, remove_version) reads what it decides
//   on plus the seq counter (value Q, mod_revision M) in one read, then sends one txn:
//   { its own compares, seq.mod == M, events/Q.create == 0 } -> { its writes, put
//   events/Q, put seq = Q+1 }. The event commits with the change or not at all, and
//   two changes of one package never get the same seq: the second fails the compare.
//   The failure branch returns the same reads, the highest event key and events/Q,
//   so the loser decides again (kit Retry, jittered) without another read; a seq
//   counter behind the events (tampering) is corrected from the highest event key.
// - add: compares counter.mod == read and v/N.create == 0; puts v/N and counter = N+1.
//   Of two writers that read the same N only one succeeds. A counter behind the
//   versions is corrected from the highest version key, read with it.
// - set_tag (CAS): compares v/N.mod == read (the version still exists) and the tag
//   key's mod_revision == read (create_revision == 0 when it was absent), so the
//   expectation checked on the read still holds at the write. remove_tag compares
//   the tag's mod_revision the same way.
// - remove_version: reads v/N and all tags at revision R; refuses if a tag points
//   to N; compares v/N.mod == read and "every key in P/packages/<pkg>/t/ has
//   mod_revision <= R". A set_tag between read and txn fails that compare (we read
//   again and refuse); one after it finds v/N gone (NotFound).
// - Signers (ctx.sign_record / sign_event) run inside the loop, once per attempt,
//   with the version and seq that attempt writes.
// - Lost responses: the HTTP layer repeats a txn whose answer was lost; the repeat
//   fails its compares. The failure branch holds events/Q: if its "op" is ours, the
//   first attempt went through and its event is returned. So a lost answer never
//   writes a change twice nor reports a done change as undone.
// - Verbatim writes (put_record, put_tag, put_event, import_batch) read the state
//   first and refuse before writing: a record or event that exists with other
//   content (Conflict), a tag on a missing version (NotFound). Then txns of at most
//   100 compares and 100 puts (etcd allows 128): create_revision == 0 for every
//   record and event key written, create_revision > 0 for a tag's version (unless
//   the same txn writes it), and counter/seq mod_revision == read where they are
//   raised to above what the txn writes (in the same txn, never lowered). A batch
//   that fits is all-or-nothing. A larger one is NOT: a lost race between two of
//   its txns re-reads and goes on with what is left; a conflict then, or a writer
//   killed midway, leaves the txns before it applied. Every verbatim write is
//   idempotent, so running the import again completes it.
#include "ledger/etcd_ledger.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

#include "core/random.h"
#include "kit/ledger_kit.h"
#include "kit/retry.h"
#include "kit/uri_options.h"
#include "ledger/etcd_client.h"
#include "ledger/etcd_layout.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker {
namespace {

using namespace ledger_kit;
using etcd::check_number;
using etcd::Compare;
using etcd::Counter;
using etcd::Kv;
using etcd::Layout;
using etcd::Op;
using etcd::Range;
using etcd::RangeResult;

constexpr const char* kFormat = "sacker-etcd-ledger 2";
constexpr const char* kFormat1 = "sacker-etcd-ledger 1";

// What a change decides on: its own reads (at `revision`) and the next event seq.
struct State {
  std::vector<RangeResult> reads;
  std::int64_t revision = 0;
  Counter seq;
};

// What one attempt of a change writes, besides its event and the seq counter.
struct Attempt {
  Event event;
  std::vector<Compare> compares;
  std::vector<Op> ops;
};

class EtcdLedger final : public ledger_kit::BatchedVerbatimWrites {
 public:
  EtcdLedger(etcd::ClientConfig cfg, const std::string& root)
      : described_(cfg.described), layout_(root, cfg.described), etcd_(std::move(cfg)) {}

  void init() override {
    const std::string key = layout_.format_key();
    auto r = etcd_.txn({Compare::absent(key)}, {Op::put(key, kFormat)}, {Op::get(key)});
    if (r.succeeded || r.results.at(0).kvs.empty()) return;
    const Kv& kv = r.results[0].kvs[0];
    if (kv.value == kFormat) return;
    if (kv.value == kFormat1) {
      etcd_.txn({Compare::unchanged(key, kv.mod_revision)}, {Op::put(key, kFormat)}, {});
      return;
    }
    throw Error(ErrorKind::Invalid, fmt::format("{}: key '{}' holds '{}': the prefix is in use by something else "
                                                "than a sacker ledger",
                                                etcd_.where(), printable(kv.key), printable(kv.value)));
  }

  std::vector<std::string> packages() override {
    std::vector<std::string> candidates;
    for (const Kv& kv : etcd_.range_all(Range::under(layout_.counters_dir(), true)))
      candidates.push_back(layout_.package_of_counter(kv));
    // A package whose versions were all removed keeps its counter: count its versions.
    std::vector<Range> counts;
    for (const auto& p : candidates) {
      counts.push_back(Range::under(layout_.versions_dir(p), true));
      counts.back().count_only = true;
    }
    auto results = etcd_.read(counts);
    std::vector<std::string> out;
    for (std::size_t i = 0; i < candidates.size(); ++i)
      if (results.at(i).count > 0) out.push_back(candidates[i]);
    return out;
  }

  std::vector<std::uint64_t> versions(const std::string& package) override {
    std::vector<std::uint64_t> out;
    for (const Kv& kv : etcd_.range_all(Range::under(layout_.versions_dir(package), true)))
      out.push_back(layout_.number_in(kv.key, layout_.versions_dir(package)));
    return out;
  }

  std::optional<VersionRecord> get(const std::string& package, std::uint64_t version) override {
    check_number(version, "version");
    auto kv = etcd_.get(layout_.version_key(package, version));
    if (!kv) return std::nullopt;
    return layout_.record(*kv, package);
  }

  std::vector<VersionRecord> records(const std::string& package) override {
    std::vector<VersionRecord> out;
    for (const Kv& kv : etcd_.range_all(Range::under(layout_.versions_dir(package))))
      out.push_back(layout_.record(kv, package));
    return out;
  }

  std::optional<std::uint64_t> latest(const std::string& package) override {
    const auto last = etcd_.range(etcd::last_key(layout_.versions_dir(package)));
    if (!last.first()) return std::nullopt;
    return layout_.number_in(last.first()->key, layout_.versions_dir(package));
  }

  std::uint64_t add(const VersionRecord& record, const ChangeContext& ctx) override {
    const std::string& pkg = record.package;
    const std::string counter = layout_.counter_key(pkg);
    auto e = change("add " + pkg, pkg, {Range{counter}},
                    [&](const State& s) {
                      const Counter c =
                          layout_.counter(s.reads[0].first(), s.reads[1].first(), layout_.versions_dir(pkg));
                      VersionRecord r = record;
                      r.version = c.next;
                      r.signatures = ctx.sign_record ? ctx.sign_record(r) : std::vector<std::string>{};
                      const std::string key = layout_.version_key(pkg, r.version);
                      return std::optional<Attempt>(
                          Attempt{make_event(EventAction::Add, ctx, pkg, r.version, {}, std::nullopt, r.sha256),
                                  {Compare::unchanged(counter, c.mod), Compare::absent(key)},
                                  {Op::put(key, record_to_json(r)), Op::put(counter, std::to_string(r.version + 1))}});
                    },
                    {etcd::last_key(layout_.versions_dir(pkg))});
    return e->version;
  }

  std::optional<Event> remove_version(const std::string& package, std::uint64_t version,
                                      const ChangeContext& ctx) override {
    check_number(version, "version");
    const std::string key = layout_.version_key(package, version), tags = layout_.tags_dir(package);
    return change("remove " + package, package, {Range{key}, Range{tags, etcd::prefix_end(tags)}},
                  [&](const State& s) -> std::optional<Attempt> {
                    const Kv* kv = s.reads[0].first();
                    if (!kv) return std::nullopt;
                    VersionRecord r = layout_.record(*kv, package);
                    for (const Kv& t : s.reads[1].kvs)
                      if (auto [name, value] = layout_.tag(t, package); value.version == version)
                        throw version_is_tagged(package, version, name);
                    return Attempt{make_event(EventAction::Remove, ctx, package, version, {}, std::nullopt, r.sha256),
                                   {Compare::unchanged(key, kv->mod_revision),
                                    Compare::none_written_after(tags, etcd::prefix_end(tags), s.revision)},
                                   {Op::erase(key)}};
                  });
  }

  std::map<std::string, TagValue> tag_values(const std::string& package) override {
    std::map<std::string, TagValue> out;
    for (const Kv& kv : etcd_.range_all(Range::under(layout_.tags_dir(package)))) out.insert(layout_.tag(kv, package));
    return out;
  }

  std::optional<TagValue> tag_value(const std::string& package, const std::string& tag) override {
    auto kv = etcd_.get(layout_.tag_key(package, tag));
    if (!kv) return std::nullopt;
    return layout_.tag(*kv, package).second;
  }

  std::optional<Event> set_tag(const std::string& package, const std::string& tag, std::uint64_t version,
                               const TagExpectation& expect, const ChangeContext& ctx) override {
    check_number(version, "version");
    const std::string vkey = layout_.version_key(package, version), tkey = layout_.tag_key(package, tag);
    return change("tag " + package, package, {Range{vkey}, Range{tkey}}, [&](const State& s) -> std::optional<Attempt> {
      const Kv* kv = s.reads[0].first();
      if (!kv) throw no_such_version(package, version);
      const VersionRecord r = layout_.record(*kv, package);
      const auto now = version_of_tag(s.reads[1], package);
      if (!expect.met_by(now)) throw tag_not_as_expected(package, tag, expect, now);
      if (now == version) return std::nullopt;
      Attempt a{make_event(tag_action(ctx), ctx, package, version, tag, now, r.sha256), {}, {}};
      a.event.seq = s.seq.next;
      if (ctx.sign_event) a.event.signatures = ctx.sign_event(a.event);
      a.compares = {Compare::unchanged(vkey, kv->mod_revision), tag_unchanged(tkey, s.reads[1])};
      a.ops = {Op::put(tkey, Layout::tag_text(TagValue{version, a.event.seq, a.event.signatures}))};
      return a;
    });
  }

  std::optional<Event> remove_tag(const std::string& package, const std::string& tag, const TagExpectation& expect,
                                  const ChangeContext& ctx) override {
    const std::string tkey = layout_.tag_key(package, tag);
    return change("untag " + package, package, {Range{tkey}}, [&](const State& s) -> std::optional<Attempt> {
      const auto now = version_of_tag(s.reads[0], package);
      if (!expect.met_by(now)) throw tag_not_as_expected(package, tag, expect, now);
      if (!now) return std::nullopt;
      auto record = get(package, *now);
      return Attempt{make_event(EventAction::Untag, ctx, package, 0, tag, now, record ? record->sha256 : ""),
                     {tag_unchanged(tkey, s.reads[0])},
                     {Op::erase(tkey)}};
    });
  }

  std::vector<Event> history(const std::string& package, const HistoryQuery& query) override {
    const std::string dir = layout_.events_dir(package);
    Range r{dir, query.before != 0 ? layout_.event_key(package, query.before) : etcd::prefix_end(dir)};
    r.descending = true;
    auto kvs = etcd_.range_all(
        r, query.limit, [&](const Kv& kv) { return !query.tag || layout_.event(kv, package).tag == *query.tag; });
    std::vector<Event> out;
    for (const Kv& kv : kvs) out.push_back(layout_.event(kv, package));
    return out;
  }


  // See the top: all-or-nothing when it fits one txn; otherwise txn by txn.
  void import_batch(const ImportBatch& batch) override {
    for (const auto& r : batch.records) check_number(r.version, "version");
    for (const auto& t : batch.tags) check_number(t.value.version, "version");
    const std::string op = random_hex(8);
    std::vector<bool> written(batch.events.size());  // seq-0 events an earlier pass wrote
    Retry retry(RetryPolicy::contention(), etcd_.where() + ": import");
    while (!import_pass(batch, op, written))
      retry.failed(FailureCause::LostRace, "another writer changed a counter during the import");
  }

  std::string describe() const override { return described_; }

 private:
  std::optional<std::uint64_t> version_of_tag(const RangeResult& r, const std::string& package) const {
    if (!r.first()) return std::nullopt;
    return layout_.tag(*r.first(), package).second.version;
  }
  static Compare tag_unchanged(const std::string& key, const RangeResult& read) {
    return read.first() ? Compare::unchanged(key, read.first()->mod_revision) : Compare::absent(key);
  }

  // --- the one loop of every change (see the top) -----------------------------------

  // `reads` are read for every attempt, `on_failure` only after a lost race (both
  // reach `plan` in State::reads, the latter empty on the first attempt).
  template <class Plan>
  std::optional<Event> change(const std::string& what, const std::string& package, std::vector<Range> reads, Plan plan,
                              const std::vector<Range>& on_failure = {}) {
    const std::string skey = layout_.seq_key(package);
    const std::string op = random_hex(8);
    reads.insert(reads.end(), on_failure.begin(), on_failure.end());
    const std::size_t own = reads.size();
    std::vector<Op> first, failure;
    for (const auto& r : reads) failure.push_back(Op::get(r));
    failure.push_back(Op::get(skey));
    failure.push_back(Op::get(etcd::last_key(layout_.events_dir(package))));
    for (std::size_t i = 0; i < own - on_failure.size(); ++i) first.push_back(Op::get(reads[i]));
    first.push_back(Op::get(skey));
    auto res = etcd_.txn({}, first, {});
    res.results.insert(res.results.end() - 1, on_failure.size(), RangeResult{});
    Retry retry(RetryPolicy::contention(), fmt::format("{}: {}", etcd_.where(), what));
    for (;;) {
      State s{{res.results.begin(), res.results.begin() + static_cast<std::ptrdiff_t>(own)},
              res.revision,
              layout_.counter(res.results.at(own).first(),
                              res.results.size() > own + 1 ? res.results[own + 1].first() : nullptr,
                              layout_.events_dir(package))};
      std::optional<Attempt> a = plan(s);
      if (!a) return std::nullopt;
      Event& e = a->event;
      e.seq = s.seq.next;
      check_number(e.seq, "seq");
      const std::string ekey = layout_.event_key(package, e.seq);
      a->compares.push_back(Compare::unchanged(skey, s.seq.mod));
      a->compares.push_back(Compare::absent(ekey));
      const std::string value = Layout::event_text(e, op);
      a->ops.push_back(Op::put(ekey, value));
      a->ops.push_back(Op::put(skey, std::to_string(e.seq + 1)));
      auto f = failure;
      f.push_back(Op::get(ekey));
      res = etcd_.txn(a->compares, a->ops, f);
      if (res.succeeded || (res.results.back().first() && res.results.back().first()->value == value)) return e;
      retry.failed(FailureCause::LostRace, "another writer changed the package first");
    }
  }

  // --- verbatim import (see the top) --------------------------------------------------

  // One pass: reads, refuses what conflicts, writes txn by txn. False if a txn lost
  // a race (the caller retries; what was written is then found in place).
  bool import_pass(const ImportBatch& batch, const std::string& op, std::vector<bool>& written);

  std::string described_;
  Layout layout_;
  etcd::Client etcd_;
};

bool EtcdLedger::import_pass(const ImportBatch& batch, const std::string& op, std::vector<bool>& written) {
  // 1. Read every key the batch touches.
  std::map<std::string, std::optional<Kv>> seen;
  std::vector<Range> ranges;
  auto want = [&](const std::string& key) {
    if (seen.emplace(key, std::nullopt).second) ranges.push_back(Range{key});
  };
  std::set<std::string> event_packages;
  for (const auto& r : batch.records)
    want(layout_.version_key(r.package, r.version)), want(layout_.counter_key(r.package));
  for (const auto& t : batch.tags) want(layout_.version_key(t.package, t.value.version));
  for (const auto& e : batch.events) {
    if (e.seq != 0) want(layout_.event_key(e.package, e.seq));
    if (event_packages.insert(e.package).second) want(layout_.seq_key(e.package));
  }
  const std::size_t singles = ranges.size();
  for (const auto& p : event_packages) ranges.push_back(etcd::last_key(layout_.events_dir(p)));
  auto results = etcd_.read(ranges);
  for (std::size_t i = 0; i < singles; ++i)
    if (const Kv* kv = results.at(i).first()) seen[ranges[i].key] = *kv;
  std::map<std::string, Counter> counters;  // counter and seq keys, as read
  auto counter = [&](const std::string& key, const Kv* highest = nullptr, const std::string& dir = {}) {
    const auto& kv = seen.at(key);
    return counters[key] = layout_.counter(kv ? &*kv : nullptr, highest, dir);
  };

  // 2. Decide, refusing before anything is written.
  std::vector<etcd::GuardedPut> writes;
  std::map<std::size_t, std::size_t> assigned_event;  // write -> index of the seq-0 event it writes
  std::map<std::string, const VersionRecord*> records;
  for (const auto& r : batch.records) {
    const std::string key = layout_.version_key(r.package, r.version);
    counter(layout_.counter_key(r.package));
    const auto& have = seen.at(key);
    if (have ? layout_.record(*have, r.package) != r : records.count(key) && *records.at(key) != r)
      throw version_exists_differently(r.package, r.version);
    if (have || !records.emplace(key, &r).second) continue;
    writes.push_back({.key = key,
                      .value = record_to_json(r),
                      .guard = Compare::absent(key),
                      .counter = layout_.counter_key(r.package),
                      .at_least = r.version + 1});
  }
  std::map<std::string, std::size_t> tags;  // tag key -> its write (the batch's last value wins)
  for (const auto& t : batch.tags) {
    const std::string vkey = layout_.version_key(t.package, t.value.version), tkey = layout_.tag_key(t.package, t.tag);
    if (!seen.at(vkey) && !records.count(vkey)) throw no_such_version(t.package, t.value.version);
    etcd::GuardedPut w{.key = tkey,
                       .value = Layout::tag_text(checked_tag_value(
                           described_, fmt::format("tag '{}' of {}", printable(t.tag), printable(t.package)), t.value)),
                       .guard = Compare::exists(vkey),
                       .unless = vkey};
    if (auto [it, fresh] = tags.emplace(tkey, writes.size()); !fresh)
      writes[it->second] = std::move(w);
    else
      writes.push_back(std::move(w));
  }
  std::map<std::string, Counter> seqs;  // package -> the next seq, as events are assigned
  std::size_t n = singles;
  for (const auto& p : event_packages) {
    seqs[p] = counter(layout_.seq_key(p), results.at(n++).first(), layout_.events_dir(p));
  }
  std::map<std::string, Event> events;
  for (std::size_t i = 0; i < batch.events.size(); ++i) {
    if (written[i]) continue;
    Event e = batch.events[i];
    Counter& c = seqs[e.package];
    const bool assigned = e.seq == 0;
    if (assigned) e.seq = c.next;
    check_number(e.seq, "seq");
    c.next = std::max(c.next, e.seq + 1);
    const std::string key = layout_.event_key(e.package, e.seq);
    const auto stored = seen.find(key);
    const bool have = stored != seen.end() && stored->second;
    if (have ? layout_.event(*stored->second, e.package) != e : events.count(key) && events.at(key) != e)
      throw event_exists_differently(e.package, e.seq);
    if (have || !events.emplace(key, e).second) continue;
    if (assigned) assigned_event[writes.size()] = i;
    writes.push_back({.key = key,
                      .value = Layout::event_text(e, op + "-" + std::to_string(i)),
                      .guard = Compare::absent(key),
                      .counter = layout_.seq_key(e.package),
                      .at_least = e.seq + 1,
                      .unique = assigned});
  }
  // 3. Write (see the top), and remember the seq-0 events that are in place.
  const std::size_t done = etcd_.put_guarded(writes, counters);
  for (const auto& [w, i] : assigned_event)
    if (w < done) written[i] = true;
  return done == writes.size();
}

}  // namespace

std::unique_ptr<Ledger> open_etcd_ledger(const Uri& uri) {
  UriOptions options(uri);
  const auto ca = options.take("ca");
  const bool tls = options.take_bool("tls", ca.has_value());
  options.finish();
  if (ca && (ca->empty() || !tls)) throw_invalid_uri(uri, "option 'ca' needs a PEM file's path (and TLS)");
  HostList hosts = parse_host_list(uri, 2379);
  etcd::ClientConfig cfg;
  cfg.user = hosts.user;
  cfg.password = hosts.password;
  if (const char* env = std::getenv("ETCDCTL_USER"); cfg.user.empty() && env && *env) {  // as etcdctl: name[:password]
    std::string_view u(env);
    cfg.user = std::string(u.substr(0, u.find(':')));
    if (u.find(':') != std::string_view::npos) cfg.password = std::string(u.substr(u.find(':') + 1));
  }
  if (const char* env = std::getenv("ETCDCTL_PASSWORD"); !cfg.user.empty() && cfg.password.empty() && env)
    cfg.password = env;
  for (const auto& h : hosts.hosts)
    cfg.endpoints.push_back(fmt::format("{}://{}:{}", tls ? "https" : "http",
                                        h.host.find(':') != std::string::npos ? "[" + h.host + "]" : h.host, h.port));
  cfg.ca_bundle = ca.value_or("");
  cfg.described = redact_uri(uri.text);
  std::string_view prefix = uri.path;
  while (!prefix.empty() && prefix.front() == '/') prefix.remove_prefix(1);
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  std::string root = (prefix.empty() ? std::string("sacker") : std::string(prefix)) + "/";
  cfg.key_space = root;
  return std::make_unique<EtcdLedger>(std::move(cfg), root);
}

}  // namespace sacker
