// The ZooKeeper ledger: zk://[user:password@]host:port[,host:port...]/chroot
//
// Layout under the chroot R (the URI path; created on `init` or first write):
//
//   R/packages/<pkg>                        package node, no data; never deleted
//   R/packages/<pkg>/next                   decimal: the next version number to hand out
//   R/packages/<pkg>/nextseq                decimal: the next event seq to hand out
//   R/packages/<pkg>/versions/<v:020>       record JSON (record_to_json, signatures included)
//   R/packages/<pkg>/tags                   no data; its data *version* is bumped by every tag write
//   R/packages/<pkg>/tags/<tag>             {"version":V,"seq":S[,"signatures":[...]]}
//   R/packages/<pkg>/events                 no data
//   R/packages/<pkg>/events/<seq:020>       event JSON (event_to_json) + "op_id"
//
// Numbers in names are zero-padded to 20 digits so that byte order is numeric order.
// Names reaching here are validated ([A-Za-z0-9._-], never "." or ".."), so a
// package or tag is exactly one path component and cannot escape R.
//
// Ledgers written before history (no nextseq, no events, tags holding a bare
// decimal, records with an "add_id") keep working: old tags read as seq 0, and the
// first write to such a package creates `events` and `nextseq` (starting at 1), so
// its history starts there. Clients of that older version cannot read the new tag
// nodes: upgrade every client of a ledger before its first tag move.
//
// Why it is race-free:
// - Every change is ONE zoo_multi holding the change, its event (create
//   events/S) and `set nextseq = S+1 if its znode version is still t`, where S
//   and t were read before. Two writers that read the same t cannot both commit,
//   so seqs are distinct and gap-free, and an event exists iff its change does.
// - add: the multi also creates versions/N and sets `next` = N+1 on the znode
//   version read with N. `next` only grows, so a number is never reused, even after
//   remove_version of the highest one. ctx.sign_record sees the record with N.
// - set_tag: {check versions/V exists, bump tags' data version, create tags/T (if it
//   was absent) or set it on the znode version read with its value, event, nextseq}.
//   The compare-and-swap expectation is checked against that same read, so a tag
//   moved in between fails the multi; the retry re-reads and re-checks (Conflict if
//   it no longer matches). The tag node stores the event's seq and signatures.
// - remove_tag: {delete tags/T on the znode version read, event, nextseq}.
// - remove_version lists the tags with the tags node's stat, refuses if one points
//   at V, then commits {delete versions/V, check tags' data version unchanged,
//   event, nextseq}: a concurrent set_tag makes it fail and retry.
// - Lost answers. A multi whose answer is lost (connection loss, session expiry)
//   may or may not have committed. Each operation has a random 128-bit op_id that
//   its event node carries; before every retry the operation reads `nextseq` and
//   the other nodes it needs, and *then* (in the same pipelined pass, which one
//   session's server answers in order) every event slot it tried while uncertain:
//   if one holds its op_id, that attempt committed and the operation returns its
//   event instead of writing a second one. Sound even when reads come from a
//   lagging server: a lost multi that commits after the pass moved nextseq's znode
//   version, so the next multi fails; one that committed before it is seen.
// - put_record / put_event (import) raise `next` / `nextseq` in the same multi as
//   the node they create, so later adds and events go above; equal content already
//   there is a no-op, so retrying them is safe. import_batch is one multi (all or
//   nothing) when it fits in one transaction (jute.maxbuffer); larger batches are
//   applied item by item, each atomic and idempotent, so re-running completes them.
#include "ledger/zk_ledger.h"

#include <fmt/core.h>

#include <algorithm>
#include <set>

#include "core/random.h"
#include "kit/ledger_kit.h"
#include "kit/retry.h"
#include "ledger/zk_nodes.h"
#include "ledger/zk_session.h"
#include "sacker/error.h"

namespace sacker {
namespace {

using namespace ledger_kit;
using zk::connection_trouble;
using zk::Counter;
using zk::kMaxNumber;
using zk::Multi;
using zk::MultiResult;
using zk::Reply;

// An event node: (package, seq).
using Slot = std::pair<std::string, std::uint64_t>;

// An operation's id, and the event slots of its attempts whose answer was lost.
struct Pending {
  std::string op_id = random_hex();
  std::vector<Slot> slots;
};

// Paths and node contents come from zk::Nodes (zk_nodes.h), the wire from zk::Session.
class ZkLedger final : public ledger_kit::BatchedVerbatimWrites, private zk::Nodes {
 public:
  ZkLedger(zk::SessionSettings s, std::string root, std::string uri)
      : Nodes(std::move(root), uri), session_(std::move(s), "zookeeper ledger " + uri), uri_(std::move(uri)) {}

  void init() override { session_.create_chain(packages_path()); }

  std::vector<std::string> packages() override {
    auto names = session_.children(packages_path());
    if (!names) return {};
    std::vector<std::string> paths;
    for (const auto& name : *names) paths.push_back(versions_path(checked_package(uri_, name)));
    auto stats = session_.exists(paths);
    std::vector<std::string> out;
    for (std::size_t i = 0; i < names->size(); ++i)
      if (stats[i].rc == ZOK && stats[i].stat.numChildren > 0) out.push_back((*names)[i]);
    std::sort(out.begin(), out.end());
    return out;
  }

  std::vector<std::uint64_t> versions(const std::string& package) override {
    return numbered_children(versions_path(package));
  }

  std::optional<VersionRecord> get(const std::string& package, std::uint64_t version) override {
    auto reply = session_.get({version_path(package, version)}).front();
    if (reply.rc == ZNONODE) return std::nullopt;
    return record_at(package, version, reply);
  }

  std::vector<VersionRecord> records(const std::string& package) override {
    auto all = versions(package);
    std::vector<std::string> paths;
    for (auto v : all) paths.push_back(version_path(package, v));
    auto replies = session_.get(paths);
    std::vector<VersionRecord> out;
    for (std::size_t i = 0; i < all.size(); ++i)
      if (replies[i].rc == ZOK) out.push_back(record_at(package, all[i], replies[i]));
    return out;
  }

  std::uint64_t add(const VersionRecord& record, const ChangeContext& ctx) override {
    const std::string& p = record.package;
    auto e = change(p, "add " + p, {next_path(p)}, [&](const Replies& r, const Seq& seq, Event& e, Multi& m) {
      auto next = counter(next_path(p), r[0]);
      if (!next || !seq) return Plan::Repair;
      VersionRecord v = record;
      v.version = next->value;
      v.signatures = ctx.sign_record ? ctx.sign_record(v) : std::vector<std::string>{};
      e = make_event(EventAction::Add, ctx, p, v.version, {}, std::nullopt, v.sha256);
      m.create(version_path(p, v.version), record_to_json(v));
      m.set(next_path(p), std::to_string(v.version + 1), next->version);
      return Plan::Commit;
    });
    return e->version;
  }

  std::optional<Event> remove_version(const std::string& package, std::uint64_t version,
                                      const ChangeContext& ctx) override {
    const std::string vpath = version_path(package, version);
    return change(package, fmt::format("remove {} version {}", package, version), {vpath},
                  [&](const Replies& r, const Seq& seq, Event& e, Multi& m) {
                    if (r[0].rc == ZNONODE) return Plan::Nothing;
                    Stat tags_stat{};
                    auto tags = read_tags(package, &tags_stat);
                    if (!tags || !seq) return Plan::Repair;
                    for (const auto& [tag, value] : *tags)
                      if (value.version == version) throw version_is_tagged(package, version, tag);
                    const auto record = record_at(package, version, r[0]);
                    e = make_event(EventAction::Remove, ctx, package, version, {}, std::nullopt, record.sha256);
                    m.remove(vpath, -1);
                    m.check(tags_path(package), tags_stat.version);
                    return Plan::Commit;
                  });
  }

  std::map<std::string, TagValue> tag_values(const std::string& package) override {
    return read_tags(package).value_or(std::map<std::string, TagValue>{});
  }

  std::optional<TagValue> tag_value(const std::string& package, const std::string& tag) override {
    auto reply = session_.get({tag_path(package, tag)}).front();
    if (reply.rc == ZNONODE) return std::nullopt;
    return tag_at(tag_path(package, tag), reply);
  }

  std::optional<Event> set_tag(const std::string& package, const std::string& tag, std::uint64_t version,
                               const TagExpectation& expect, const ChangeContext& ctx) override {
    const std::string tpath = tag_path(package, tag), vpath = version_path(package, version);
    return change(package, fmt::format("tag {} {} {}", package, version, tag), {vpath, tpath},
                  [&](const Replies& r, const Seq& seq, Event& e, Multi& m) {
                    if (r[0].rc == ZNONODE) throw no_such_version(package, version);
                    const auto record = record_at(package, version, r[0]);
                    std::optional<std::uint64_t> now;
                    if (r[1].rc == ZOK) now = tag_at(tpath, r[1]).version;
                    if (!expect.met_by(now)) throw tag_not_as_expected(package, tag, expect, now);
                    if (now == version) return Plan::Nothing;
                    if (!seq) return Plan::Repair;
                    e = make_event(tag_action(ctx), ctx, package, version, tag, now, record.sha256);
                    e.seq = seq->value;
                    if (ctx.sign_event) e.signatures = ctx.sign_event(e);
                    const std::string value = tag_value_to_json(TagValue{version, e.seq, e.signatures});
                    m.check(vpath, -1);
                    m.touch(tags_path(package));
                    if (now)
                      m.set(tpath, value, r[1].stat.version);
                    else
                      m.create(tpath, value);
                    return Plan::Commit;
                  });
  }

  std::optional<Event> remove_tag(const std::string& package, const std::string& tag, const TagExpectation& expect,
                                  const ChangeContext& ctx) override {
    const std::string tpath = tag_path(package, tag);
    return change(package, fmt::format("untag {} {}", package, tag), {tpath},
                  [&](const Replies& r, const Seq& seq, Event& e, Multi& m) {
                    std::optional<std::uint64_t> now;
                    if (r[0].rc == ZOK) now = tag_at(tpath, r[0]).version;
                    if (!expect.met_by(now)) throw tag_not_as_expected(package, tag, expect, now);
                    if (!now) return Plan::Nothing;
                    if (!seq) return Plan::Repair;
                    auto record = get(package, *now);
                    e = make_event(EventAction::Untag, ctx, package, 0, tag, now, record ? record->sha256 : "");
                    m.remove(tpath, r[0].stat.version);
                    return Plan::Commit;
                  });
  }

  std::vector<Event> history(const std::string& package, const HistoryQuery& query) override {
    auto seqs = numbered_children(events_path(package));
    std::erase_if(seqs, [&](std::uint64_t s) { return query.before != 0 && s >= query.before; });
    std::reverse(seqs.begin(), seqs.end());
    std::vector<Event> out;
    // Newest first, in pipelined pages: a limit without a filter reads only what it returns.
    for (std::size_t at = 0; at < seqs.size();) {
      const std::size_t left = query.limit == 0 ? seqs.size() : query.limit - out.size();
      const std::size_t n = std::min(seqs.size() - at, query.tag ? std::max<std::size_t>(left, 256) : left);
      std::vector<std::string> paths;
      for (std::size_t i = at; i < at + n; ++i) paths.push_back(event_path(package, seqs[i]));
      auto replies = session_.get(paths);
      for (std::size_t i = 0; i < n; ++i) {
        if (replies[i].rc != ZOK) continue;
        Event e = event_at(package, seqs[at + i], replies[i]);
        if (query.tag && e.tag != *query.tag) continue;
        out.push_back(std::move(e));
        if (query.limit != 0 && out.size() >= query.limit) return out;
      }
      at += n;
    }
    return out;
  }

  // Verbatim writes: batches of one (BatchedVerbatimWrites), each one multi.

  void import_batch(const ImportBatch& batch) override {
    std::set<std::string> packages;
    for (const auto& r : batch.records) packages.insert(r.package);
    for (const auto& t : batch.tags) packages.insert(t.package);
    for (const auto& e : batch.events) packages.insert(e.package);
    Pending pending;
    Retry retry(RetryPolicy::contention(), fmt::format("{}: import", where()));
    while (!packages.empty()) {
      // One pass: counters, then every node the batch would write, then uncertain slots.
      std::vector<std::string> paths;
      for (const auto& p : packages) paths.insert(paths.end(), {next_path(p), nextseq_path(p)});
      for (const auto& r : batch.records) paths.push_back(version_path(r.package, r.version));
      for (const auto& t : batch.tags)
        paths.insert(paths.end(), {version_path(t.package, t.value.version), tag_path(t.package, t.tag)});
      for (const auto& e : batch.events) paths.push_back(event_path(e.package, e.seq));
      auto [replies, mine] = read_for_change(std::move(paths), pending);
      if (mine) return;
      auto reply = replies.begin();
      struct Plan {
        Counter next, seq;
        std::uint64_t next_value = 0, seq_value = 0;
      };
      std::map<std::string, Plan> plan;
      bool missing = false;
      for (const auto& p : packages) {
        auto next = counter(next_path(p), *reply++), seq = counter(nextseq_path(p), *reply++);
        if (!next || !seq) {
          ensure_package(p);
          missing = true;
        } else {
          plan[p] = Plan{*next, *seq, next->value, seq->value};
        }
      }
      if (missing) {
        retry.failed(FailureCause::LostRace, "a package misses a node (repaired)");
        continue;
      }
      Multi m;
      std::map<std::string, const VersionRecord*> created;  // by path
      for (const auto& r : batch.records) {
        const std::string path = version_path(r.package, r.version);
        const Reply& existing = *reply++;
        const VersionRecord* same = created.count(path) ? created[path] : nullptr;
        if (r.version >= kMaxNumber)
          throw corrupt(uri_, fmt::format("{} version {} is too large to import", r.package, r.version));
        plan[r.package].next_value = std::max(plan[r.package].next_value, r.version + 1);
        if (existing.rc == ZOK || same) {
          if ((same ? *same : record_at(r.package, r.version, existing)) != r)
            throw version_exists_differently(r.package, r.version);
          continue;
        }
        m.create(path, record_to_json(r));
        created[path] = &r;
      }
      std::set<std::string> tag_nodes;
      for (const auto& t : batch.tags) {
        const std::string vpath = version_path(t.package, t.value.version), tpath = tag_path(t.package, t.tag);
        const Reply &target = *reply++, &current = *reply++;
        if (target.rc != ZOK && !created.count(vpath)) throw no_such_version(t.package, t.value.version);
        if (current.rc == ZOK && !tag_nodes.count(tpath) && tag_at(tpath, current) == t.value) continue;
        if (target.rc == ZOK) m.check(vpath, -1);
        m.touch(tags_path(t.package));
        if (current.rc == ZOK || tag_nodes.count(tpath))
          m.set(tpath, tag_value_to_json(t.value), tag_nodes.count(tpath) ? -1 : current.stat.version);
        else
          m.create(tpath, tag_value_to_json(t.value));
        tag_nodes.insert(tpath);
      }
      std::map<std::string, const Event*> events;  // by path
      std::optional<Slot> marker;                  // the slot of a seq-0 event
      for (const auto& event : batch.events) {
        const Reply& existing = *reply++;
        Plan& pp = plan[event.package];
        Event e = event;
        if (e.seq == 0) {
          e.seq = pp.seq_value;
          if (!marker) marker.emplace(e.package, e.seq);
        }
        if (e.seq >= kMaxNumber) throw corrupt(uri_, fmt::format("{} event {} is too large", e.package, e.seq));
        pp.seq_value = std::max(pp.seq_value, e.seq + 1);
        const std::string path = event_path(e.package, e.seq);
        if (event.seq != 0 && (existing.rc == ZOK || events.count(path))) {
          const Event* same = events.count(path) ? events[path] : nullptr;
          if ((same ? *same : event_at(e.package, e.seq, existing)) != e)
            throw event_exists_differently(e.package, e.seq);
          continue;
        }
        m.create(path, encode_event(e, pending.op_id));
        events[path] = &event;
      }
      for (const auto& [p, pp] : plan) {
        if (pp.next_value > pp.next.value) m.set(next_path(p), std::to_string(pp.next_value), pp.next.version);
        if (pp.seq_value > pp.seq.value) m.set(nextseq_path(p), std::to_string(pp.seq_value), pp.seq.version);
      }
      if (m.empty()) return;
      if (m.bytes() > zk::kMaxRequestBytes && batch.records.size() + batch.tags.size() + batch.events.size() > 1)
        return Ledger::import_batch(batch);  // item by item
      auto result = session_.commit(m);
      if (result.ok()) return;
      // Without seq-0 events there is no marker, and none is needed: a retry finds equal nodes.
      retry_after(packages, m, result, marker, pending, retry);
    }
  }

  std::string describe() const override { return uri_; }

 private:
  const std::string& where() const { return session_.where(); }

  struct Pass {
    std::vector<Reply> replies;
    std::optional<Event> mine;  // the event of one of `pending`'s attempts, if it committed
  };
  // Reads `paths`, then the slots of `pending`, in one pass (see "Lost answers").
  Pass read_for_change(std::vector<std::string> paths, const Pending& pending) {
    const std::size_t n = paths.size();
    for (const auto& [p, seq] : pending.slots) paths.push_back(event_path(p, seq));
    Pass pass{session_.get(paths), std::nullopt};
    for (std::size_t i = 0; i < pending.slots.size(); ++i) {
      const Reply& slot = pass.replies[n + i];
      if (slot.rc == ZOK && op_id_of(slot.data) == pending.op_id)
        pass.mine = event_at(pending.slots[i].first, pending.slots[i].second, slot);
    }
    pass.replies.resize(n);
    return pass;
  }

  enum class Plan { Nothing, Commit, Repair };
  using Replies = std::vector<Reply>;
  using Seq = std::optional<Counter>;

  // One change (see "Why it is race-free"). Each attempt reads `nextseq`, `paths`
  // and the slots of uncertain attempts in one pass; `plan` checks the change
  // against what it read (and throws if it is refused), then returns Nothing (no
  // change, no event), Repair (the package misses a node it needs: ensure_package
  // and read again) or Commit, with its ops in `m` and its event in `e`. The event
  // node and the nextseq step join the multi here. The change's event is returned.
  template <typename PlanFn>
  std::optional<Event> change(const std::string& package, const std::string& what, std::vector<std::string> paths,
                              PlanFn&& plan) {
    paths.insert(paths.begin(), nextseq_path(package));
    Pending pending;
    Retry retry(RetryPolicy::contention(), fmt::format("{}: {}", where(), what));
    for (;;) {
      auto [replies, mine] = read_for_change(paths, pending);
      if (mine) return mine;
      const Seq seq = counter(paths[0], replies[0]);
      replies.erase(replies.begin());
      Event e;
      Multi m;
      const Plan decided = plan(replies, seq, e, m);
      if (decided == Plan::Nothing) return std::nullopt;
      if (decided == Plan::Repair || !seq) {
        ensure_package(package);
        retry.failed(FailureCause::LostRace, "the package misses a node (repaired)");
        continue;
      }
      e.seq = seq->value;
      m.create(event_path(package, e.seq), encode_event(e, pending.op_id));
      m.set(nextseq_path(package), std::to_string(e.seq + 1), seq->version);
      auto result = session_.commit(m);
      if (result.ok()) return e;
      retry_after({package}, m, result, Slot{package, e.seq}, pending, retry);
    }
  }

  // After a multi failed: remembers an attempt whose answer was lost, repairs what
  // can be repaired, waits for the next attempt, or throws.
  void retry_after(const std::set<std::string>& packages, const Multi& m, const MultiResult& result,
                   const std::optional<Slot>& slot, Pending& pending, Retry& retry) {
    if (connection_trouble(result.rc)) {
      if (slot) pending.slots.push_back(*slot);
      return retry.failed(
          FailureCause::ServerTrouble,
          fmt::format("{} (an attempt may have been recorded; the next one checks)", zerror(result.rc)));
    }
    if (result.rc == ZNODEEXISTS && result.failed < m.size()) {
      step_past(m.path(result.failed));
    } else if (result.rc == ZNONODE) {  // a version or tag went away, or a package misses a node
      for (const auto& p : packages) ensure_package(p);
    } else if (result.rc != ZBADVERSION) {
      session_.fail("write", result.failed < m.size() ? m.path(result.failed) : packages_path(), result.rc);
    }
    retry.failed(FailureCause::LostRace, zerror(result.rc));
  }

  // A version or event node where its counter says the number is free (written by
  // something other than this code): steps the counter past it, unless it moved.
  void step_past(const std::string& path) {
    const std::string dir = path.substr(0, path.rfind('/')), package = dir.substr(0, dir.rfind('/'));
    const bool version = dir.ends_with("/versions");
    if (!version && !dir.ends_with("/events")) return;  // a tag that appeared meanwhile: just read again
    const std::string counter_path = package + (version ? "/next" : "/nextseq");
    const auto n = number_name(dir, path.substr(dir.size() + 1));
    auto c = counter(counter_path, session_.get({counter_path}).front());
    if (c && c->value == n) session_.set(counter_path, std::to_string(n + 1), c->version);
  }

  // Creates the package's nodes in one multi; adds what a package misses (one
  // written before history, or interrupted while being created).
  void ensure_package(const std::string& p) {
    Multi m;
    for (const auto& path : {package_path(p), versions_path(p), tags_path(p), events_path(p)}) m.create(path);
    m.create(next_path(p), "1");
    m.create(nextseq_path(p), "1");
    Retry retry(RetryPolicy::contention(), fmt::format("{}: create {}", where(), package_path(p)));
    for (MultiResult result; !(result = session_.commit(m)).failed_at(0, ZNODEEXISTS);) {
      if (result.ok()) return;
      if (result.rc == ZNONODE) {
        session_.create_chain(packages_path());
        continue;
      }
      if (!connection_trouble(result.rc)) session_.fail("create", package_path(p), result.rc);
      retry.failed(FailureCause::ServerTrouble, zerror(result.rc));
    }
    for (const auto& dir : {versions_path(p), tags_path(p), events_path(p)}) session_.create(dir);
    auto counters = session_.exists({next_path(p), nextseq_path(p)});
    if (counters[0].rc == ZNONODE) session_.create(next_path(p), std::to_string(latest(p).value_or(0) + 1));
    if (counters[1].rc == ZNONODE) {
      auto seqs = numbered_children(events_path(p));
      session_.create(nextseq_path(p), std::to_string(seqs.empty() ? 1 : seqs.back() + 1));
    }
  }

  // The tags of a package, nullopt if it has no tags node; `stat`: that node's.
  std::optional<std::map<std::string, TagValue>> read_tags(const std::string& package, Stat* stat = nullptr) {
    auto names = session_.children(tags_path(package), stat);
    if (!names) return std::nullopt;
    std::vector<std::string> paths;
    for (const auto& name : *names) paths.push_back(tag_path(package, checked_tag(uri_, package, name)));
    auto replies = session_.get(paths);
    std::map<std::string, TagValue> out;
    for (std::size_t i = 0; i < names->size(); ++i)
      if (replies[i].rc == ZOK) out[(*names)[i]] = tag_at(paths[i], replies[i]);
    return out;
  }

  // The numbers named by the children of `dir` (20-digit names), ascending.
  std::vector<std::uint64_t> numbered_children(const std::string& dir) {
    std::vector<std::uint64_t> out;
    for (const auto& name : session_.children(dir).value_or(std::vector<std::string>{}))
      out.push_back(number_name(dir, name));
    std::sort(out.begin(), out.end());
    return out;
  }

  zk::Session session_;
  std::string uri_;
};

}  // namespace

std::unique_ptr<Ledger> open_zk_ledger(const Uri& uri) {
  auto endpoint = zk::parse_endpoint(uri);
  return std::make_unique<ZkLedger>(std::move(endpoint.settings), endpoint.chroot, redact_uri(uri.text));
}

}  // namespace sacker
