// The in-memory ledger. Layout: one PackageState per package (versions, tags,
// events, counters) in a process-wide map keyed by the URI's name.
//
// Why it is race-free: every operation holds the state's mutex from its first
// read to its last write, so each is atomic; import_batch applies to a copy and
// swaps it in, so a failed batch leaves nothing behind.
#include "ledger/mem_ledger.h"

#include <fmt/core.h>

#include <mutex>

#include "kit/ledger_kit.h"
#include "kit/mem_registry.h"
#include "kit/uri_options.h"

namespace sacker {
namespace {

using namespace ledger_kit;

struct PackageState {
  std::map<std::uint64_t, VersionRecord> versions;
  std::uint64_t next_version = 1;
  std::map<std::string, TagValue> tags;
  std::map<std::uint64_t, Event> events;
  std::uint64_t next_seq = 1;
};
using State = std::map<std::string, PackageState>;

struct Shared {
  std::mutex mutex;
  State packages;
};

class MemLedger final : public Ledger {
 public:
  MemLedger(std::shared_ptr<Shared> shared, std::string uri) : shared_(std::move(shared)), uri_(std::move(uri)) {}

  void init() override {}

  std::vector<std::string> packages() override {
    std::lock_guard lock(shared_->mutex);
    std::vector<std::string> out;
    for (const auto& [name, p] : shared_->packages)
      if (!p.versions.empty()) out.push_back(name);
    return out;
  }

  std::vector<std::uint64_t> versions(const std::string& package) override {
    std::lock_guard lock(shared_->mutex);
    std::vector<std::uint64_t> out;
    if (const auto* p = find(package))
      for (const auto& [v, r] : p->versions) out.push_back(v);
    return out;
  }

  std::optional<VersionRecord> get(const std::string& package, std::uint64_t version) override {
    std::lock_guard lock(shared_->mutex);
    const auto* p = find(package);
    if (!p) return std::nullopt;
    auto it = p->versions.find(version);
    if (it == p->versions.end()) return std::nullopt;
    return it->second;
  }

  std::uint64_t add(const VersionRecord& record, const ChangeContext& ctx) override {
    std::lock_guard lock(shared_->mutex);
    auto& p = shared_->packages[record.package];
    VersionRecord r = record;
    r.version = p.next_version;
    r.signatures = ctx.sign_record ? ctx.sign_record(r) : std::vector<std::string>{};
    append(p, make_event(EventAction::Add, ctx, r.package, r.version, {}, std::nullopt, r.sha256));
    p.versions[r.version] = r;
    ++p.next_version;
    return r.version;
  }

  std::optional<Event> remove_version(const std::string& package, std::uint64_t version,
                                      const ChangeContext& ctx) override {
    std::lock_guard lock(shared_->mutex);
    auto* p = find(package);
    if (!p) return std::nullopt;
    auto it = p->versions.find(version);
    if (it == p->versions.end()) return std::nullopt;
    for (const auto& [tag, value] : p->tags)
      if (value.version == version) throw version_is_tagged(package, version, tag);
    Event e = append(*p, make_event(EventAction::Remove, ctx, package, version, {}, std::nullopt, it->second.sha256));
    p->versions.erase(it);
    return e;
  }

  std::map<std::string, TagValue> tag_values(const std::string& package) override {
    std::lock_guard lock(shared_->mutex);
    const auto* p = find(package);
    return p ? p->tags : std::map<std::string, TagValue>{};
  }

  std::optional<Event> set_tag(const std::string& package, const std::string& tag, std::uint64_t version,
                               const TagExpectation& expect, const ChangeContext& ctx) override {
    std::lock_guard lock(shared_->mutex);
    auto* p = find(package);
    auto record = p ? p->versions.find(version) : decltype(p->versions.end()){};
    if (!p || record == p->versions.end()) throw no_such_version(package, version);
    std::optional<std::uint64_t> current;
    if (auto it = p->tags.find(tag); it != p->tags.end()) current = it->second.version;
    if (!expect.met_by(current)) throw tag_not_as_expected(package, tag, expect, current);
    if (current == version) return std::nullopt;
    Event e = make_event(tag_action(ctx), ctx, package, version, tag, current, record->second.sha256);
    e.seq = p->next_seq;
    if (ctx.sign_event) e.signatures = ctx.sign_event(e);
    append(*p, e);
    p->tags[tag] = TagValue{version, e.seq, e.signatures};
    return e;
  }

  std::optional<Event> remove_tag(const std::string& package, const std::string& tag, const TagExpectation& expect,
                                  const ChangeContext& ctx) override {
    std::lock_guard lock(shared_->mutex);
    auto* p = find(package);
    std::optional<std::uint64_t> current;
    auto it = p ? p->tags.find(tag) : decltype(p->tags.end()){};
    if (p && it != p->tags.end()) current = it->second.version;
    if (!expect.met_by(current)) throw tag_not_as_expected(package, tag, expect, current);
    if (!current) return std::nullopt;
    std::string sha;
    if (auto r = p->versions.find(*current); r != p->versions.end()) sha = r->second.sha256;
    Event e = append(*p, make_event(EventAction::Untag, ctx, package, 0, tag, current, sha));
    p->tags.erase(it);
    return e;
  }

  std::vector<Event> history(const std::string& package, const HistoryQuery& query) override {
    std::lock_guard lock(shared_->mutex);
    std::vector<Event> all;
    if (const auto* p = find(package))
      for (const auto& [seq, e] : p->events) all.push_back(e);
    return select_history(std::move(all), query);
  }

  void put_record(const VersionRecord& record) override {
    std::lock_guard lock(shared_->mutex);
    put_record_locked(shared_->packages, record);
  }

  void put_tag(const std::string& package, const std::string& tag, const TagValue& value) override {
    std::lock_guard lock(shared_->mutex);
    put_tag_locked(shared_->packages, package, tag, value);
  }

  void put_event(const Event& event) override {
    std::lock_guard lock(shared_->mutex);
    put_event_locked(shared_->packages, event);
  }

  void import_batch(const ImportBatch& batch) override {
    std::lock_guard lock(shared_->mutex);
    State copy = shared_->packages;
    for (const auto& r : batch.records) put_record_locked(copy, r);
    for (const auto& t : batch.tags) put_tag_locked(copy, t.package, t.tag, t.value);
    for (const auto& e : batch.events) put_event_locked(copy, e);
    shared_->packages = std::move(copy);
  }

  std::string describe() const override { return uri_; }

 private:
  PackageState* find(const std::string& package) {
    auto it = shared_->packages.find(package);
    return it == shared_->packages.end() ? nullptr : &it->second;
  }

  // Assigns the next seq (unless `e` has one) and stores the event.
  static Event append(PackageState& p, Event e) {
    if (e.seq == 0) e.seq = p.next_seq;
    p.next_seq = std::max(p.next_seq, e.seq + 1);
    p.events[e.seq] = e;
    return e;
  }

  static void put_record_locked(State& state, const VersionRecord& record) {
    auto& p = state[record.package];
    if (auto it = p.versions.find(record.version); it != p.versions.end()) {
      if (it->second == record) return;
      throw version_exists_differently(record.package, record.version);
    }
    p.versions[record.version] = record;
    p.next_version = std::max(p.next_version, record.version + 1);
  }

  static void put_tag_locked(State& state, const std::string& package, const std::string& tag,
                             const TagValue& value) {
    auto& p = state[package];
    if (!p.versions.count(value.version)) throw no_such_version(package, value.version);
    p.tags[tag] = value;
  }

  static void put_event_locked(State& state, const Event& event) {
    auto& p = state[event.package];
    if (event.seq != 0) {
      if (auto it = p.events.find(event.seq); it != p.events.end()) {
        if (it->second == event) return;
        throw event_exists_differently(event.package, event.seq);
      }
    }
    append(p, event);
  }

  std::shared_ptr<Shared> shared_;
  std::string uri_;
};

}  // namespace

std::unique_ptr<Ledger> open_mem_ledger(const Uri& uri) {
  return std::make_unique<MemLedger>(mem_instance<Shared>(uri), redact_uri(uri.text));
}

}  // namespace sacker
