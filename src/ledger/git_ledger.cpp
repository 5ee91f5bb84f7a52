// The git ledger: one branch (default "main") of a bare git repository holds the
// ledger as files; every change is one commit, so `git log` is the audit trail.
// The libgit2 side (repository, tree reads, commits, compare-and-swap) is git_repo.h;
// a change being built, and the files below read and written through it, git_draft.h.
//
// Tree of the branch:
//   packages/<pkg>/versions/<v, 20 digits>.json  the record (record_to_json, indented; with
//                                                "signatures" when signed)
//   packages/<pkg>/tags/<tag>                    {"version": v, "seq": s, "signatures": [...]}:
//                                                where the tag points, the event that set it and
//                                                that event's signatures. Written before history
//                                                existed: "<version>\n" (read as seq 0, unsigned)
//   packages/<pkg>/next                          "<next version>\n": the allocation counter. It
//                                                only grows, so a removed number is never
//                                                handed out again
//   packages/<pkg>/events/<seq, 20 digits>.json  one event (event_to_json, indented). Never
//                                                removed: the next seq is the highest + 1
// Package and tag names are validated ([A-Za-z0-9._-], not starting with '.' or '-'),
// so each is exactly one path component and can neither escape nor meet the fixed names.
// Everything read back goes through the kit's read-back checks: a file name, an object
// type, a number, a tag value, a record or an event that does not fit this layout is
// Error(Invalid) naming its path. Ledgers written before history keep working as they
// are (no upgrade step): their history starts at the first event written, their tags
// report seq 0 until they are next moved.
//
// Why it is race-free: a change reads the branch tip T, computes its files from T's tree
// (add: v = max(next, highest + 1), then next = v + 1; the event's seq = highest + 1; a
// tag's compare-and-swap checks the tag file in T's tree), writes one commit whose parent
// is T holding the change AND its event, and moves the branch from T to that commit with
// a compare-and-swap (git_repo.h), never otherwise. T may be "no branch yet": then the
// expected old id is the all-zero id, so even the first commit of a fresh ledger is a
// compare-and-swap against a known state, "absent". Checked in the sources of what runs
// here (Debian 12: libgit2 1.5.1, git 2.39; Debian's patches do not touch refs or push):
//   - local: git_reference_create_matching(force=1, old_id=T or zero) -> reference__create
//     -> refdb_fs_backend__write: reference_path_available (with force: no "exists?"
//     look, only name collisions with packed refs), then loose_lock takes
//     refs/heads/<branch>.lock with O_CREAT|O_EXCL (held: GIT_ELOCKED), then, under that
//     lock, write_tail -> cmp_old_ref reads the ref afresh (loose, then packed-refs): absent
//     matches only the zero id, present matches only its own id, anything else is
//     GIT_EMODIFIED and nothing is written; the lock file, holding the new value, is
//     then renamed over the ref. (Issue 7: the old code's non-forced create without an old
//     id did its "exists?" look in reference_path_available, before the lock, and
//     cmp_old_ref then compared nothing: two first writers could both pass, and the
//     second overwrote the first.) The only other refs written are forced on purpose
//     and are not the ledger: the cache's hint ref and a push's own random source ref.
//   - remote: git_remote_upload on the receive-pack connection T was read from (a
//     connected remote is reused, not reconnected); git_push_finish takes the refs this
//     connection advertised, calculate_work makes each command's old id the advertised
//     one (zero when the branch is not advertised), our push_negotiation callback
//     refuses to send unless that old id is exactly T, and the command "T new ref" goes
//     out. receive-pack's update() passes that old id to ref_transaction_update, and the
//     files backend checks it under the ref's lock (check_old_oid: the null id means
//     "must not exist", refused with "reference already exists"); a refusal comes back
//     as "ng ... failed to update ref", a lost race.
// Tests that pin both: Hardening.P01 (three CLI adds held at the ref lock of a fresh
// local ledger), GitLedgerTest.AWriterOvertakenBeforeItPublishesRebuildsOnTheNewTip
// (a writer overtaken on the very first commit, locally and through git daemon) and the
// conformance first-write barrier race (git and git-remote).
// A lost race published nothing; the change is rebuilt from the new tip (kit Retry,
// contention policy: Conflict when it runs out). So every version and seq comes from
// exactly one successful swap from a tip that allowed it, a tag moves only from the
// value its expectation was checked against, and a change and its event are in the
// same commit or neither is. The signers run inside each attempt, on the numbers that
// attempt would publish.
//
// libgit2's push to a file:// or plain-path remote overwrites the ref without checking
// its old value, so such a remote is not pushed to: the ledger operates on that repository
// directly, exactly like git:///path (see docs/ledgers/git.md).
#include "ledger/git_ledger.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstdlib>

#include "kit/ledger_kit.h"
#include "kit/retry.h"
#include "kit/uri_options.h"
#include "ledger/git_draft.h"
#include "ledger/git_layout.h"
#include "ledger/git_repo.h"
#include "sacker/names.h"
#include "sacker/sha256.h"

namespace sacker {
namespace {

using namespace ledger_kit;
using namespace git_layout;

// A change's build step: edits the draft and returns the commit message, or nullopt
// when there is nothing to change.
using Build = std::function<std::optional<std::string>(git::Draft&)>;

class GitLedger final : public Ledger {
 public:
  GitLedger(git::Location location, std::string description)
      : contention_(contention_policy(location)), repo_(std::move(location)), description_(std::move(description)) {}

  void init() override { repo_.init(); }

  std::vector<std::string> packages() override {
    git::Draft v = view();
    std::vector<std::string> out;
    for (auto& name : v.list("packages", true)) {
      checked_package(repo_.at(package_dir(name)), name);
      if (!v.list(versions_dir(name), false).empty()) out.push_back(std::move(name));
    }
    return out;
  }

  std::vector<std::uint64_t> versions(const std::string& package) override {
    git::Draft v = view();
    return versions_in(v, input_package(package));
  }

  std::optional<VersionRecord> get(const std::string& package, std::uint64_t version) override {
    git::Draft v = view();
    return record_in(v, input_package(package), version);
  }

  std::vector<VersionRecord> records(const std::string& package) override {
    const std::string& pkg = input_package(package);
    git::Draft v = view();
    std::vector<VersionRecord> out;
    for (auto version : versions_in(v, pkg)) out.push_back(*record_in(v, pkg, version));
    return out;
  }

  std::uint64_t add(const VersionRecord& record, const ChangeContext& ctx) override {
    const std::string& pkg = input_package(record.package);
    VersionRecord r;
    change("add to " + pkg, [&](git::Draft& v) -> std::optional<std::string> {
      r = record;
      r.version = std::max(counter_in(v, pkg), highest_in(v, pkg) + 1);
      if (r.version == UINT64_MAX)
        throw Error(ErrorKind::Conflict, fmt::format("{}: {} has no version numbers left", describe(), pkg));
      r.signatures = ctx.sign_record ? ctx.sign_record(r) : std::vector<std::string>{};
      validate_record(r);
      write_record(v, r);
      Event e = append_event(v, make_event(EventAction::Add, ctx, pkg, r.version, {}, std::nullopt, r.sha256));
      return commit_message(e, record_details(r));
    });
    return r.version;
  }

  std::optional<Event> remove_version(const std::string& package, std::uint64_t version,
                                      const ChangeContext& ctx) override {
    const std::string& pkg = input_package(package);
    std::optional<Event> event;
    change(fmt::format("remove {} {}", pkg, version), [&](git::Draft& v) -> std::optional<std::string> {
      event.reset();
      auto record = record_in(v, pkg, version);
      if (!record) return std::nullopt;
      for (const auto& [tag, value] : tag_values_in(v, pkg))
        if (value.version == version) throw version_is_tagged(pkg, version, tag);
      v.remove(record_path(pkg, version));
      // Keep the counter above the removed number even in ledgers written without one.
      v.write(counter_path(pkg), number_file(std::max(counter_in(v, pkg), version + 1)));
      event = append_event(v, make_event(EventAction::Remove, ctx, pkg, version, {}, std::nullopt, record->sha256));
      return commit_message(*event);
    });
    return event;
  }

  std::map<std::string, TagValue> tag_values(const std::string& package) override {
    git::Draft v = view();
    return tag_values_in(v, input_package(package));
  }

  std::optional<TagValue> tag_value(const std::string& package, const std::string& tag) override {
    git::Draft v = view();
    return tag_in(v, input_package(package), input_tag(tag));
  }

  std::optional<Event> set_tag(const std::string& package, const std::string& tag, std::uint64_t version,
                               const TagExpectation& expect, const ChangeContext& ctx) override {
    const std::string& pkg = input_package(package);
    input_tag(tag);
    std::optional<Event> event;
    change(fmt::format("tag {} {} {}", pkg, version, tag), [&](git::Draft& v) -> std::optional<std::string> {
      event.reset();
      auto record = record_in(v, pkg, version);
      if (!record) throw no_such_version(pkg, version);
      auto now = version_of(tag_in(v, pkg, tag));
      if (!expect.met_by(now)) throw tag_not_as_expected(pkg, tag, expect, now);
      if (now == version) return std::nullopt;
      Event e = make_event(tag_action(ctx), ctx, pkg, version, tag, now, record->sha256);
      e.seq = next_seq(v, pkg);
      if (ctx.sign_event) e.signatures = ctx.sign_event(e);
      event = append_event(v, e);
      v.write(tag_path(pkg, tag), tag_file(TagValue{version, e.seq, e.signatures}));
      return commit_message(*event);
    });
    return event;
  }

  std::optional<Event> remove_tag(const std::string& package, const std::string& tag, const TagExpectation& expect,
                                  const ChangeContext& ctx) override {
    const std::string& pkg = input_package(package);
    input_tag(tag);
    std::optional<Event> event;
    change(fmt::format("untag {} {}", pkg, tag), [&](git::Draft& v) -> std::optional<std::string> {
      event.reset();
      auto now = version_of(tag_in(v, pkg, tag));
      if (!expect.met_by(now)) throw tag_not_as_expected(pkg, tag, expect, now);
      if (!now) return std::nullopt;
      auto record = record_in(v, pkg, *now);
      v.remove(tag_path(pkg, tag));
      event = append_event(v, make_event(EventAction::Untag, ctx, pkg, 0, tag, now, record ? record->sha256 : ""));
      return commit_message(*event);
    });
    return event;
  }

  std::vector<Event> history(const std::string& package, const HistoryQuery& query) override {
    const std::string& pkg = input_package(package);
    git::Draft v = view();
    auto seqs = event_seqs(v, pkg);
    std::vector<Event> out;
    for (auto it = seqs.rbegin(); it != seqs.rend(); ++it) {
      if (query.before != 0 && *it >= query.before) continue;
      Event e = *event_in(v, pkg, *it);
      if (query.tag && e.tag != *query.tag) continue;
      out.push_back(std::move(e));
      if (query.limit != 0 && out.size() >= query.limit) break;
    }
    return out;
  }

  void put_record(const VersionRecord& record) override {
    check_import(record);
    change(fmt::format("import {} {}", record.package, record.version),
           [&](git::Draft& v) -> std::optional<std::string> {
             if (!put_record_in(v, record)) return std::nullopt;
             return fmt::format("import {} {}\n\n{}", record.package, record.version, record_details(record));
           });
  }

  void put_tag(const std::string& package, const std::string& tag, const TagValue& value) override {
    const std::string& pkg = input_package(package);
    input_tag(tag);
    change(fmt::format("import tag {} {}", pkg, tag), [&](git::Draft& v) -> std::optional<std::string> {
      if (!put_tag_in(v, pkg, tag, value)) return std::nullopt;
      return fmt::format("import tag {} {} {}", pkg, value.version, tag);
    });
  }

  void put_event(const Event& event) override {
    input_package(event.package);
    change(fmt::format("import event {} {}", event.package, event.seq),
           [&](git::Draft& v) -> std::optional<std::string> {
             auto stored = put_event_in(v, event);
             if (!stored) return std::nullopt;
             return fmt::format("import event {} {} ({})", stored->package, stored->seq, action_name(stored->action));
           });
  }

  // One commit: the whole batch is published by one compare-and-swap, or nothing is.
  void import_batch(const ImportBatch& batch) override {
    for (const auto& r : batch.records) check_import(r);
    for (const auto& t : batch.tags) {
      input_package(t.package);
      input_tag(t.tag);
    }
    for (const auto& e : batch.events) input_package(e.package);
    change("import", [&](git::Draft& v) -> std::optional<std::string> {
      std::size_t records = 0, tags = 0, events = 0;
      for (const auto& r : batch.records) records += put_record_in(v, r);
      for (const auto& t : batch.tags) tags += put_tag_in(v, t.package, t.tag, t.value);
      for (const auto& e : batch.events) events += put_event_in(v, e).has_value();
      if (records + tags + events == 0) return std::nullopt;
      return fmt::format("import {} records, {} tags, {} events", records, tags, events);
    });
  }

  std::string describe() const override { return description_; }

 private:
  // The kit's policy for lost races; through a server, where one attempt is a
  // fetch and a push (0.3 s idle, seconds under load), three minutes instead of
  // one: 4 writers adding in a loop through one git daemon kept one of them
  // losing for over 60 s on a loaded machine (WritersWithTheirOwnCaches...).
  static RetryPolicy contention_policy(const git::Location& location) {
    RetryPolicy policy = RetryPolicy::contention();
    if (!location.remote.empty()) policy.deadline = std::chrono::seconds(180);
    return policy;
  }

  git::Draft view() { return git::Draft(repo_, repo_.read()); }

  // Runs `build` on the current tip until its commit is published by compare-and-swap,
  // or `build` decides there is nothing to do (nullopt) or throws.
  void change(const std::string& what, const Build& build) {
    Retry retry(contention_, fmt::format("git ledger {}: {}", describe(), what));
    for (std::string lost;;) {
      bool done = repo_.try_write(
          [&](const git::Snapshot& tip) -> std::optional<git::Commit> {
            git::Draft v(repo_, tip);
            auto message = build(v);
            if (!message) return std::nullopt;
            return v.take(std::move(*message));
          },
          lost);
      if (done) return;
      retry.failed(FailureCause::LostRace, lost);
    }
  }

  // Names reach us validated; checking again keeps every path one component per name.
  static const std::string& input_package(const std::string& name) {
    validate_package_name(name);
    return name;
  }
  static const std::string& input_tag(const std::string& name) {
    validate_user_tag(name);
    return name;
  }
  static void check_import(const VersionRecord& record) {
    validate_record(record);
    if (record.version == UINT64_MAX)
      throw Error(ErrorKind::Invalid, fmt::format("{} version {} is too large", record.package, record.version));
  }
  static std::optional<std::uint64_t> version_of(const std::optional<TagValue>& value) {
    return value ? std::optional(value->version) : std::nullopt;
  }

  RetryPolicy contention_;
  git::Repo repo_;
  std::string description_;
};

bool is_local_url(const std::string& url) {
  return url.find("://") == std::string::npos || url.rfind("file://", 0) == 0;
}

std::string default_cache_dir(const std::string& remote) {
  std::string base;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    base = xdg;
  else if (const char* home = std::getenv("HOME"); home && *home)
    base = std::string(home) + "/.cache";
  else
    throw Error(ErrorKind::Invalid,
                "git ledger: no cache directory for the remote: set XDG_CACHE_HOME or HOME, or give ?cache=PATH");
  return fmt::format("{}/sacker/git/{}.git", base, Sha256::hex_of(remote.data(), remote.size()).substr(0, 24));
}

}  // namespace

std::unique_ptr<Ledger> open_git_ledger(const Uri& uri) {
  UriOptions options(uri);
  const std::string branch = options.take_or("branch", "main");
  const auto remote_option = options.take("remote");
  const auto cache = options.take("cache");
  options.finish();
  if (!git::is_valid_branch_name(branch))
    throw_invalid_uri(uri, fmt::format("'{}' is not a valid branch name", printable(branch)));

  git::Location location;
  location.branch = branch;
  if (uri.authority.empty()) {
    // git:///path/ledger.git, or git:///path/cache.git?remote=URL
    location.path = uri.path;
    if (location.path.size() < 2) throw_invalid_uri(uri, "expected git:///path/to/ledger.git or git://host/repo.git");
    if (cache) throw_invalid_uri(uri, "'cache' goes with git://host/repo.git; here the path is the cache");
    if (remote_option) {
      if (remote_option->empty()) throw_invalid_uri(uri, "'remote' is empty");
      location.remote = *remote_option;
      if (is_local_url(location.remote)) {
        // Operated on directly: see the top of this file.
        location.path = location.remote.rfind("file://", 0) == 0 ? location.remote.substr(7) : location.remote;
        location.remote.clear();
        if (location.path.empty() || location.path[0] != '/')
          throw_invalid_uri(uri, "a local remote must be an absolute path");
      }
    }
  } else {
    // git://host[:port]/path/repo.git: a git daemon; the local cache is ?cache= or per user.
    if (remote_option) throw_invalid_uri(uri, "'remote' goes with git:///path/cache.git");
    if (uri.path.size() < 2) throw_invalid_uri(uri, "expected git://host[:port]/repo.git");
    location.remote = "git://" + uri.authority + uri.path;
    location.path = cache ? *cache : default_cache_dir(location.remote);
    if (location.path.empty() || location.path[0] != '/') throw_invalid_uri(uri, "'cache' must be an absolute path");
  }
  if (location.path[0] != '/') throw_invalid_uri(uri, "the repository path must be absolute");
  while (location.path.size() > 1 && location.path.back() == '/') location.path.pop_back();
  // redact_uri does not look inside ?remote=URL: a password there is redacted here.
  std::string description = redact_uri(uri.text.substr(0, uri.text.find('?')));
  char sep = '?';
  for (const auto& [key, value] : uri.query) {
    description += fmt::format("{}{}={}", sep, key, key == "remote" ? redact_uri(value) : value);
    sep = '&';
  }
  location.ledger = description;
  return std::make_unique<GitLedger>(std::move(location), std::move(description));
}

}  // namespace sacker
