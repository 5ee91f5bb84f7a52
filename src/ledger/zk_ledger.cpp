// The ZooKeeper ledger: zk://[user:password@]host:port[,host:port...]/chroot
//
// Layout under the chroot R (the URI path; created on `init` or first write):
//
//   R/packages/<pkg>                        package node, no data; never deleted
//   R/packages/<pkg>/next                   decimal: the next version number to hand out
//   R/packages/<pkg>/versions/<v:020>       record JSON (record_to_json) + "add_id"
//   R/packages/<pkg>/tags                   no data; its data *version* is bumped by set_tag
//   R/packages/<pkg>/tags/<tag>             decimal version the tag points to
//
// Version names are zero-padded to 20 digits so that byte order is numeric order.
// Names reaching here are validated ([A-Za-z0-9._-], never "." or ".."), so a
// package or tag is exactly one path component and cannot escape R.
//
// Why it is race-free:
// - add: read `next` (value N, znode version s), then one zoo_multi
//   {create versions/N, set next = N+1 if its znode version is still s}. Two
//   writers that read the same s cannot both commit; the loser retries with
//   jittered backoff. `next` only grows, so a number is never reused, even after
//   remove_version of the highest one.
// - A multi whose answer is lost (connection loss, session expiry) may or may not
//   have committed. Every add carries a random 128-bit add_id in its record node;
//   before each retry the add re-reads `next` and *then* every slot it tried while
//   uncertain: if one holds its add_id, that is its version. This is sound even
//   when reads come from a lagging server: if the lost multi commits after the
//   view we read `next` from, it moved next's znode version and our new multi
//   fails; if it committed before, the slot read (same or later view) sees it.
// - put_record (import): create versions/V in the same multi as raising `next` to
//   V+1 (conditioned on its znode version when it is raised), so adds go above.
// - set_tag: one multi {check versions/V exists, bump tags' data version, create or
//   set tags/T}. remove_version lists the tags with the tags node's stat, refuses
//   if one points at V, then commits {check tags' data version unchanged, delete
//   versions/V}: a concurrent set_tag makes it fail and retry.
#include "ledger/zk_ledger.h"

#define THREADED 1
#include <fmt/core.h>
#include <zookeeper/zookeeper.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How long an operation keeps retrying lost races and lost connections in total.
constexpr auto kRetryBound = std::chrono::seconds(120);
// jute.maxbuffer, the server's default limit for one znode (and one response).
constexpr std::size_t kMaxNodeBytes = 1000000;

// The C client logs through a callback without a context pointer, so the last
// error line is kept process-wide; it only explains why a server is unreachable.
std::mutex g_log_mutex;
std::string g_last_log_error;

void on_client_log(const char* message) {
  std::string line = message ? message : "";
  if (std::getenv("SACKER_ZK_LOG")) std::fprintf(stderr, "%s\n", line.c_str());
  // "...:ZOO_ERROR@handle_socket_error_msg@1241: Socket [127.0.0.1:2181] zk retcode=-4, errno=111(...)"
  auto at = line.find("ZOO_ERROR@");
  if (at == std::string::npos) return;
  std::string why;
  if (auto e = line.find("errno=", at); e != std::string::npos) {  // "errno=111(Connection refused)"
    auto open = line.find('(', e), close = line.find(')', e);
    if (open != std::string::npos && close != std::string::npos && open < close)
      why = line.substr(open + 1, close - open - 1);
    if (why == "Success" && line.compare(close + 1, 2, ": ") == 0) why = line.substr(close + 3);
  }
  if (why.empty()) {
    auto colon = line.find(": ", at);
    why = colon == std::string::npos ? line.substr(at) : line.substr(colon + 2);
  }
  std::lock_guard lock(g_log_mutex);
  g_last_log_error = why;
}

std::string last_log_error() {
  std::lock_guard lock(g_log_mutex);
  return g_last_log_error;
}

// Answers that mean "we could not find out": retry after (re)connecting.
bool connection_trouble(int rc) {
  return rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT || rc == ZSESSIONEXPIRED || rc == ZSESSIONMOVED ||
         rc == ZINVALIDSTATE || rc == ZCLOSING || rc == ZTHROTTLEDOP || rc == ZNEWCONFIGNOQUORUM ||
         rc == ZRECONFIGINPROGRESS;
}

// Exponential backoff with full jitter, bounded in total time.
class Backoff {
 public:
  Backoff(milliseconds base, milliseconds cap) : base_(base), cap_(cap), rng_(std::random_device{}()) {}
  bool expired() const { return Clock::now() >= deadline_; }
  void sleep() {
    auto ceiling = std::min<std::int64_t>(cap_.count(), base_.count() << std::min(attempt_++, 16));
    std::uniform_int_distribution<std::int64_t> pick(ceiling / 4, ceiling);
    std::this_thread::sleep_for(milliseconds(pick(rng_)));
  }
  int attempts() const { return attempt_; }

 private:
  milliseconds base_, cap_;
  std::mt19937_64 rng_;
  int attempt_ = 0;
  Clock::time_point deadline_ = Clock::now() + kRetryBound;
};

std::string version_name(std::uint64_t v) { return fmt::format("{:020}", v); }

// A decimal number from a znode name or data; nullopt if it is not one.
std::optional<std::uint64_t> parse_decimal(std::string_view text, std::size_t max_digits = 20) {
  if (text.empty() || text.size() > max_digits) return std::nullopt;
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

std::string random_add_id() {
  std::random_device rd;
  std::uint64_t hi = (std::uint64_t{rd()} << 32) | rd(), lo = (std::uint64_t{rd()} << 32) | rd();
  return fmt::format("{:016x}{:016x}", hi, lo);
}

// One answer of a pipelined read.
struct Reply {
  int rc = ZSYSTEMERROR;
  std::string data;
  Stat stat{};
};

// Completion bookkeeping for a batch of async requests; the caller waits for all.
struct Batch {
  std::mutex mutex;
  std::condition_variable done;
  std::size_t pending = 0;
  void finish() {
    std::lock_guard lock(mutex);  // notify under the lock: the waiter may destroy us right after
    if (--pending == 0) done.notify_all();
  }
};
struct Slot {
  Batch* batch;
  Reply* reply;
};

void on_data(int rc, const char* value, int len, const Stat* stat, const void* ctx) {
  auto* slot = static_cast<const Slot*>(ctx);
  slot->reply->rc = rc;
  if (rc == ZOK) {
    if (value && len > 0) slot->reply->data.assign(value, static_cast<std::size_t>(len));
    if (stat) slot->reply->stat = *stat;
  }
  slot->batch->finish();
}

void on_stat(int rc, const Stat* stat, const void* ctx) {
  auto* slot = static_cast<const Slot*>(ctx);
  slot->reply->rc = rc;
  if (rc == ZOK && stat) slot->reply->stat = *stat;
  slot->batch->finish();
}

// The first op of a failed multi that reports its own error.
std::size_t failed_op(const std::vector<zoo_op_result_t>& results) {
  for (std::size_t i = 0; i < results.size(); ++i)
    if (results[i].err != ZOK && results[i].err != ZRUNTIMEINCONSISTENCY) return i;
  return results.size();
}

struct Settings {
  std::string hosts;  // "127.0.0.1:2181,127.0.0.1:2182"
  std::string auth;   // "user:password" for digest auth, or empty
  std::string root;   // "/sacker" (no trailing slash)
  int session_timeout_ms = 30000;
  milliseconds connect_timeout{15000};
};

// One ZooKeeper session, re-created when the server expires it.
class Connection {
 public:
  explicit Connection(Settings s) : s_(std::move(s)) {}
  ~Connection() { close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // A handle in the connected state; opens or re-opens the session as needed.
  // Throws Error(Unavailable) if no server answers within connect_timeout,
  // Error(Denied) if authentication failed.
  zhandle_t* handle() {
    auto deadline = Clock::now() + s_.connect_timeout;
    for (;;) {
      if (!zh_) open();
      int state = zoo_state(zh_);
      if (state == ZOO_CONNECTED_STATE && (synced_ || sync())) return zh_;
      if (state == ZOO_AUTH_FAILED_STATE) {
        close();
        throw Error(ErrorKind::Denied, fmt::format("zookeeper {}: authentication failed", s_.hosts));
      }
      if (state == ZOO_EXPIRED_SESSION_STATE) {
        close();
        continue;
      }
      std::unique_lock lock(mutex_);
      if (Clock::now() >= deadline) {
        std::string why = last_log_error();
        throw Error(ErrorKind::Unavailable,
                    fmt::format("zookeeper {}: not reachable within {} s{}", s_.hosts,
                                std::chrono::duration_cast<std::chrono::seconds>(s_.connect_timeout).count(),
                                why.empty() ? "" : " (" + why + ")"));
      }
      changed_.wait_until(lock, std::min(deadline, Clock::now() + milliseconds(100)));
    }
  }

  // After an answer that says the connection or session is in trouble: drop a
  // handle that cannot recover so that the next handle() opens a new session.
  void trouble(int rc) {
    if (zh_ && (rc == ZSESSIONEXPIRED || rc == ZINVALIDSTATE || is_unrecoverable(zh_) == ZINVALIDSTATE)) close();
  }

  const Settings& settings() const { return s_; }

 private:
  static void on_event(zhandle_t*, int type, int, const char*, void* ctx) {
    if (type != ZOO_SESSION_EVENT) return;
    auto* self = static_cast<Connection*>(ctx);
    std::lock_guard lock(self->mutex_);
    self->changed_.notify_all();
  }

  static void on_synced(int rc, const char*, const void* ctx) {
    auto* done = static_cast<std::pair<Batch*, int*>*>(const_cast<void*>(ctx));
    *done->second = rc;
    done->first->finish();
  }

  // A new session may land on a server that lags the leader. One `sync` makes it
  // catch up, so this process sees every write that completed before it connected
  // (a deploy host reads what CI just added). Reads later in the session are
  // monotonic: ZooKeeper never moves a session back in time.
  bool sync() {
    Batch batch;
    batch.pending = 1;
    int rc = ZSYSTEMERROR;
    std::pair<Batch*, int*> done{&batch, &rc};
    if (int queued = zoo_async(zh_, "/", on_synced, &done); queued != ZOK) return false;
    std::unique_lock lock(batch.mutex);
    batch.done.wait(lock, [&] { return batch.pending == 0; });
    synced_ = rc == ZOK;
    return synced_;
  }

  void open() {
    synced_ = false;
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    zh_ = zookeeper_init2(s_.hosts.c_str(), on_event, s_.session_timeout_ms, nullptr, this, 0, on_client_log);
    if (!zh_)
      throw Error(ErrorKind::Unavailable,
                  fmt::format("zookeeper {}: cannot start a client: {}", s_.hosts, std::strerror(errno)));
    // The client re-sends the credentials itself on every reconnect of this session.
    if (!s_.auth.empty())
      zoo_add_auth(zh_, "digest", s_.auth.data(), static_cast<int>(s_.auth.size()), nullptr, nullptr);
  }

  void close() {
    if (zh_) zookeeper_close(zh_);
    zh_ = nullptr;
  }

  Settings s_;
  zhandle_t* zh_ = nullptr;
  bool synced_ = false;
  std::mutex mutex_;
  std::condition_variable changed_;
};

class ZkLedger final : public Ledger {
 public:
  ZkLedger(Settings s, std::string description)
      : conn_(std::move(s)),
        description_(std::move(description)),
        acl_(conn_.settings().auth.empty() ? &ZOO_OPEN_ACL_UNSAFE : &ZOO_CREATOR_ALL_ACL) {}

  void init() override { create_chain(packages_path()); }

  std::vector<std::string> packages() override {
    auto names = children(packages_path());
    std::vector<std::string> paths;
    for (const auto& name : names) {
      check_name(name, packages_path(), validate_package_name);
      paths.push_back(versions_path(name));
    }
    auto stats = read_many(paths, false);
    std::vector<std::string> out;
    for (std::size_t i = 0; i < names.size(); ++i)
      if (stats[i].rc == ZOK && stats[i].stat.numChildren > 0) out.push_back(names[i]);
    std::sort(out.begin(), out.end());
    return out;
  }

  std::vector<std::uint64_t> versions(const std::string& package) override {
    std::vector<std::uint64_t> out;
    for (const auto& name : children(versions_path(package))) out.push_back(parse_version_name(package, name));
    std::sort(out.begin(), out.end());
    return out;
  }

  std::optional<std::uint64_t> latest(const std::string& package) override {
    auto names = children(versions_path(package));
    if (names.empty()) return std::nullopt;
    std::uint64_t best = 0;
    for (const auto& name : names) best = std::max(best, parse_version_name(package, name));
    return best;
  }

  std::optional<VersionRecord> get(const std::string& package, std::uint64_t version) override {
    auto reply = read_many({version_path(package, version)}, true).front();
    if (reply.rc == ZNONODE) return std::nullopt;
    return parse_record(package, version, reply.data);
  }

  std::vector<VersionRecord> records(const std::string& package) override {
    auto all = versions(package);
    std::vector<std::string> paths;
    for (auto v : all) paths.push_back(version_path(package, v));
    auto replies = read_many(paths, true);
    std::vector<VersionRecord> out;
    for (std::size_t i = 0; i < all.size(); ++i)
      if (replies[i].rc == ZOK) out.push_back(parse_record(package, all[i], replies[i].data));
    return out;
  }

  std::uint64_t add(const VersionRecord& record) override {
    const std::string add_id = random_add_id();
    const std::string next = next_path(record.package);
    std::set<std::uint64_t> uncertain;  // slots whose multi may have committed unseen
    Backoff backoff(milliseconds(2), milliseconds(100));
    for (;;) {
      auto counter = read_counter(record.package);
      if (!counter) {
        ensure_package(record.package);
        continue;
      }
      auto [n, node_version] = *counter;
      if (!uncertain.empty()) {
        // read after `next` (see the top of the file for why the order matters)
        std::vector<std::string> paths;
        for (auto slot : uncertain) paths.push_back(version_path(record.package, slot));
        auto replies = read_many(paths, true);
        std::size_t i = 0;
        for (auto slot : uncertain) {
          if (replies[i].rc == ZOK && add_id_of(replies[i].data) == add_id) return slot;
          ++i;
        }
      }
      VersionRecord r = record;
      r.version = n;
      const std::string data = encode(r, add_id);
      const std::string slot_path = version_path(r.package, n);
      const std::string next_value = std::to_string(n + 1);
      std::vector<zoo_op_t> ops(2);
      zoo_create_op_init(&ops[0], slot_path.c_str(), data.data(), static_cast<int>(data.size()), acl_, ZOO_PERSISTENT,
                         nullptr, 0);
      zoo_set_op_init(&ops[1], next.c_str(), next_value.data(), static_cast<int>(next_value.size()), node_version,
                      nullptr);
      std::vector<zoo_op_result_t> results;
      int rc = multi(ops, results);
      if (rc == ZOK) return n;
      if (connection_trouble(rc)) {
        uncertain.insert(n);
        conn_.trouble(rc);
      } else if (rc == ZNODEEXISTS && failed_op(results) == 0) {
        // A record at N although `next` says N (written by something other than
        // this code): step the counter past it, if nobody else did already.
        (void)zoo_set(conn_.handle(), next.c_str(), next_value.data(), static_cast<int>(next_value.size()),
                      node_version);
        continue;
      } else if (rc == ZNONODE) {
        ensure_package(record.package);
        continue;
      } else if (rc != ZBADVERSION && rc != ZNODEEXISTS) {
        fail("add a version at", slot_path, rc);
      }
      if (backoff.expired())
        throw Error(uncertain.empty() ? ErrorKind::Conflict : ErrorKind::Unavailable,
                    fmt::format("{}: add {}: gave up after {} attempts{}", where(), record.package, backoff.attempts(),
                                uncertain.empty() ? " lost to concurrent writers"
                                                  : " (the connection kept failing; the last attempt may have "
                                                    "been recorded)"));
      backoff.sleep();
    }
  }

  void put_record(const VersionRecord& record) override {
    const std::string path = version_path(record.package, record.version);
    const std::string next = next_path(record.package);
    const std::string data = encode(record, "");
    Backoff backoff(milliseconds(2), milliseconds(100));
    for (;;) {
      auto counter = read_counter(record.package);
      if (!counter) {
        ensure_package(record.package);
        continue;
      }
      auto [n, node_version] = *counter;
      auto existing = read_many({path}, true).front();
      if (existing.rc == ZOK) {
        if (parse_record(record.package, record.version, existing.data) == record) return;
        throw Error(ErrorKind::Conflict,
                    fmt::format("{} version {} already exists with other content", record.package, record.version));
      }
      const std::string next_value = std::to_string(record.version + 1);
      std::vector<zoo_op_t> ops(record.version >= n ? 2 : 1);
      zoo_create_op_init(&ops[0], path.c_str(), data.data(), static_cast<int>(data.size()), acl_, ZOO_PERSISTENT,
                         nullptr, 0);
      if (ops.size() == 2)
        zoo_set_op_init(&ops[1], next.c_str(), next_value.data(), static_cast<int>(next_value.size()), node_version,
                        nullptr);
      std::vector<zoo_op_result_t> results;
      int rc = multi(ops, results);
      if (rc == ZOK) return;
      if (connection_trouble(rc)) {
        conn_.trouble(rc);  // retrying is safe: an existing equal record ends the loop
      } else if (rc == ZNONODE) {
        ensure_package(record.package);
        continue;
      } else if (rc != ZBADVERSION && rc != ZNODEEXISTS) {
        fail("import a version at", path, rc);
      }
      if (backoff.expired())
        throw Error(ErrorKind::Conflict, fmt::format("{}: import {} version {}: gave up after {} attempts", where(),
                                                     record.package, record.version, backoff.attempts()));
      backoff.sleep();
    }
  }

  bool remove_version(const std::string& package, std::uint64_t version) override {
    const std::string path = version_path(package, version);
    const std::string tags = tags_path(package);
    bool maybe_done = false;  // a delete whose answer was lost may have committed
    Backoff backoff(milliseconds(2), milliseconds(100));
    for (;;) {
      Stat tags_stat{};
      bool have_tags = false;
      auto names = children(tags, &tags_stat, &have_tags);
      std::vector<std::string> paths;
      for (const auto& name : names) paths.push_back(tags + "/" + name);
      auto replies = read_many(paths, true);
      for (std::size_t i = 0; i < names.size(); ++i)
        if (replies[i].rc == ZOK && parse_tag_value(paths[i], replies[i].data) == version)
          throw Error(ErrorKind::Conflict,
                      fmt::format("{} version {} is tagged '{}': untag it first", package, version, names[i]));
      std::vector<zoo_op_t> ops(have_tags ? 2 : 1);
      zoo_delete_op_init(&ops[0], path.c_str(), -1);
      if (ops.size() == 2) zoo_check_op_init(&ops[1], tags.c_str(), tags_stat.version);
      std::vector<zoo_op_result_t> results;
      int rc = multi(ops, results);
      if (rc == ZOK) return true;
      if (rc == ZNONODE && failed_op(results) == 0) return maybe_done;
      if (connection_trouble(rc)) {
        maybe_done = true;
        conn_.trouble(rc);
      } else if (rc != ZBADVERSION && rc != ZNONODE) {
        fail("remove", path, rc);
      }
      if (backoff.expired())
        throw Error(ErrorKind::Conflict, fmt::format("{}: remove {} version {}: gave up after {} attempts", where(),
                                                     package, version, backoff.attempts()));
      backoff.sleep();
    }
  }

  std::map<std::string, std::uint64_t> tags(const std::string& package) override {
    const std::string dir = tags_path(package);
    auto names = children(dir);
    std::vector<std::string> paths;
    for (const auto& name : names) {
      check_name(name, dir, validate_user_tag);
      paths.push_back(dir + "/" + name);
    }
    auto replies = read_many(paths, true);
    std::map<std::string, std::uint64_t> out;
    for (std::size_t i = 0; i < names.size(); ++i)
      if (replies[i].rc == ZOK) out[names[i]] = parse_tag_value(paths[i], replies[i].data);
    return out;
  }

  std::optional<std::uint64_t> tag(const std::string& package, const std::string& tag) override {
    const std::string path = tag_path(package, tag);
    auto reply = read_many({path}, true).front();
    if (reply.rc == ZNONODE) return std::nullopt;
    return parse_tag_value(path, reply.data);
  }

  void set_tag(const std::string& package, const std::string& tag, std::uint64_t version) override {
    const std::string vpath = version_path(package, version);
    const std::string tags = tags_path(package);
    const std::string tpath = tag_path(package, tag);
    const std::string value = std::to_string(version);
    bool create = true;
    int flips = 0;
    Backoff backoff(milliseconds(2), milliseconds(100));
    for (;;) {
      std::vector<zoo_op_t> ops(3);
      zoo_check_op_init(&ops[0], vpath.c_str(), -1);
      zoo_set_op_init(&ops[1], tags.c_str(), nullptr, -1, -1, nullptr);
      if (create)
        zoo_create_op_init(&ops[2], tpath.c_str(), value.data(), static_cast<int>(value.size()), acl_, ZOO_PERSISTENT,
                           nullptr, 0);
      else
        zoo_set_op_init(&ops[2], tpath.c_str(), value.data(), static_cast<int>(value.size()), -1, nullptr);
      std::vector<zoo_op_result_t> results;
      int rc = multi(ops, results);
      if (rc == ZOK) return;
      std::size_t failed = failed_op(results);
      if (rc == ZNONODE && failed == 0)
        throw Error(ErrorKind::NotFound, fmt::format("{} has no version {}", package, version));
      if (rc == ZNONODE && failed == 1) {
        ensure_package(package);  // a version without its tags node: repair and retry
        continue;
      }
      if ((rc == ZNODEEXISTS && create) || (rc == ZNONODE && !create)) {
        create = !create;  // the tag appeared or vanished meanwhile
        if (++flips <= 2) continue;
      } else if (connection_trouble(rc)) {
        conn_.trouble(rc);  // setting the same value again is harmless
      } else {
        fail("tag", tpath, rc);
      }
      if (backoff.expired())
        throw Error(ErrorKind::Conflict, fmt::format("{}: tag {} {} {}: gave up after {} attempts", where(), package,
                                                     version, tag, backoff.attempts()));
      backoff.sleep();
    }
  }

  bool remove_tag(const std::string& package, const std::string& tag) override {
    const std::string path = tag_path(package, tag);
    bool maybe_done = false;
    Backoff backoff(milliseconds(20), milliseconds(1000));
    for (;;) {
      int rc = zoo_delete(conn_.handle(), path.c_str(), -1);
      if (rc == ZOK) return true;
      if (rc == ZNONODE) return maybe_done;
      if (!connection_trouble(rc)) fail("untag", path, rc);
      maybe_done = true;
      conn_.trouble(rc);
      if (backoff.expired()) fail("untag", path, rc);
      backoff.sleep();
    }
  }

  std::string describe() const override { return description_; }

 private:
  const std::string& root() const { return conn_.settings().root; }
  std::string packages_path() const { return root() + "/packages"; }
  std::string package_path(const std::string& p) const { return packages_path() + "/" + p; }
  std::string next_path(const std::string& p) const { return package_path(p) + "/next"; }
  std::string versions_path(const std::string& p) const { return package_path(p) + "/versions"; }
  std::string tags_path(const std::string& p) const { return package_path(p) + "/tags"; }
  std::string version_path(const std::string& p, std::uint64_t v) const {
    return versions_path(p) + "/" + version_name(v);
  }
  std::string tag_path(const std::string& p, const std::string& t) const { return tags_path(p) + "/" + t; }
  std::string where() const { return "zookeeper ledger " + description_; }

  [[noreturn]] void fail(const std::string& what, const std::string& path, int rc) const {
    std::string msg = fmt::format("{}: {} {}: {}", where(), what, path, zerror(rc));
    if (rc == ZNOAUTH || rc == ZAUTHFAILED)
      throw Error(ErrorKind::Denied, msg + " (the znode's ACL does not allow this client)");
    if (connection_trouble(rc))
      throw Error(ErrorKind::Unavailable,
                  fmt::format("{} (still failing after {} s of retries)", msg,
                              std::chrono::duration_cast<std::chrono::seconds>(kRetryBound).count()));
    if (rc == ZBADARGUMENTS || rc == ZMARSHALLINGERROR) throw Error(ErrorKind::Internal, msg);
    throw Error(ErrorKind::Unavailable, msg);
  }

  // Runs a read-only (or idempotent) call, retrying while the connection is in trouble.
  template <typename Call>
  int retrying(const std::string& what, const std::string& path, Call&& call) {
    Backoff backoff(milliseconds(20), milliseconds(1000));
    for (;;) {
      int rc = call(conn_.handle());
      if (!connection_trouble(rc)) return rc;
      conn_.trouble(rc);
      if (backoff.expired()) fail(what, path, rc);
      backoff.sleep();
    }
  }

  int multi(std::vector<zoo_op_t>& ops, std::vector<zoo_op_result_t>& results) {
    results.assign(ops.size(), zoo_op_result_t{});
    return zoo_multi(conn_.handle(), static_cast<int>(ops.size()), ops.data(), results.data());
  }

  // Children names of a node; empty if it does not exist (then *found is false).
  std::vector<std::string> children(const std::string& path, Stat* stat = nullptr, bool* found = nullptr) {
    String_vector names{};
    Stat local{};
    int rc = retrying("list", path, [&](zhandle_t* zh) {
      deallocate_String_vector(&names);
      return zoo_get_children2(zh, path.c_str(), 0, &names, stat ? stat : &local);
    });
    std::vector<std::string> out;
    if (rc == ZOK)
      for (int i = 0; i < names.count; ++i) out.emplace_back(names.data[i]);
    deallocate_String_vector(&names);
    if (rc != ZOK && rc != ZNONODE) fail("list", path, rc);
    if (found) *found = rc == ZOK;
    return out;
  }

  // Pipelined zoo_aget (data) or zoo_aexists of many nodes: one round trip for all.
  // A node that does not exist has rc ZNONODE; other errors throw.
  std::vector<Reply> read_many(const std::vector<std::string>& paths, bool data) {
    std::vector<Reply> replies(paths.size());
    std::vector<std::size_t> todo(paths.size());
    for (std::size_t i = 0; i < todo.size(); ++i) todo[i] = i;
    Backoff backoff(milliseconds(20), milliseconds(1000));
    while (!todo.empty()) {
      zhandle_t* zh = conn_.handle();
      Batch batch;
      std::vector<Slot> slots(todo.size());
      for (std::size_t k = 0; k < todo.size(); ++k) {
        Reply& reply = replies[todo[k]];
        reply = Reply{};
        slots[k] = Slot{&batch, &reply};
        {
          std::lock_guard lock(batch.mutex);
          ++batch.pending;
        }
        int rc = data ? zoo_aget(zh, paths[todo[k]].c_str(), 0, on_data, &slots[k])
                      : zoo_aexists(zh, paths[todo[k]].c_str(), 0, on_stat, &slots[k]);
        if (rc != ZOK) {  // not queued: no completion will come
          reply.rc = rc;
          batch.finish();
        }
      }
      {
        std::unique_lock lock(batch.mutex);
        batch.done.wait(lock, [&] { return batch.pending == 0; });
      }
      std::vector<std::size_t> again;
      int trouble = ZOK;
      for (auto i : todo) {
        int rc = replies[i].rc;
        if (connection_trouble(rc)) {
          again.push_back(i);
          trouble = rc;
        } else if (rc != ZOK && rc != ZNONODE) {
          fail("read", paths[i], rc);
        } else if (rc == ZOK && replies[i].stat.dataLength > static_cast<std::int32_t>(replies[i].data.size())) {
          fail("read", paths[i], ZMARSHALLINGERROR);
        }
      }
      if (!again.empty()) {
        conn_.trouble(trouble);
        if (backoff.expired()) fail("read", paths[again.front()], trouble);
        backoff.sleep();
      }
      todo = std::move(again);
    }
    return replies;
  }

  // The package's counter: (next version, znode version), nullopt if the package
  // has no counter yet.
  std::optional<std::pair<std::uint64_t, int>> read_counter(const std::string& package) {
    const std::string path = next_path(package);
    auto reply = read_many({path}, true).front();
    if (reply.rc == ZNONODE) return std::nullopt;
    auto n = parse_decimal(reply.data);
    if (!n || *n == 0)
      throw Error(ErrorKind::Invalid,
                  fmt::format("{}: {} holds '{}', not a version counter", where(), path, printable(reply.data)));
    return std::make_pair(*n, reply.stat.version);
  }

  // Creates path and its missing ancestors (empty data).
  void create_chain(const std::string& path) {
    for (std::size_t at = path.find('/', 1);; at = path.find('/', at + 1)) {
      std::string prefix = path.substr(0, at);
      int rc = retrying("create", prefix, [&](zhandle_t* zh) {
        return zoo_create(zh, prefix.c_str(), nullptr, -1, acl_, ZOO_PERSISTENT, nullptr, 0);
      });
      if (rc != ZOK && rc != ZNODEEXISTS) fail("create", prefix, rc);
      if (at == std::string::npos) return;
    }
  }

  // Creates the package node with its children in one multi; repairs a package
  // that misses some of them.
  void ensure_package(const std::string& package) {
    const std::string pkg = package_path(package), versions = versions_path(package), tags = tags_path(package),
                      next = next_path(package);
    for (int round = 0;; ++round) {
      std::vector<zoo_op_t> ops(4);
      zoo_create_op_init(&ops[0], pkg.c_str(), nullptr, -1, acl_, ZOO_PERSISTENT, nullptr, 0);
      zoo_create_op_init(&ops[1], versions.c_str(), nullptr, -1, acl_, ZOO_PERSISTENT, nullptr, 0);
      zoo_create_op_init(&ops[2], tags.c_str(), nullptr, -1, acl_, ZOO_PERSISTENT, nullptr, 0);
      zoo_create_op_init(&ops[3], next.c_str(), "1", 1, acl_, ZOO_PERSISTENT, nullptr, 0);
      std::vector<zoo_op_result_t> results;
      int rc = retrying("create", pkg, [&](zhandle_t*) { return multi(ops, results); });
      if (rc == ZOK) return;
      if (rc == ZNONODE && round == 0) {
        create_chain(packages_path());
        continue;
      }
      if (rc != ZNODEEXISTS) fail("create", pkg, rc);
      break;
    }
    for (const auto& dir : {versions, tags}) {
      int rc = retrying("create", dir, [&](zhandle_t* zh) {
        return zoo_create(zh, dir.c_str(), nullptr, -1, acl_, ZOO_PERSISTENT, nullptr, 0);
      });
      if (rc != ZOK && rc != ZNODEEXISTS) fail("create", dir, rc);
    }
    // A package without a counter: start above every version already there.
    const std::string first = std::to_string(latest(package).value_or(0) + 1);
    int rc = retrying("create", next, [&](zhandle_t* zh) {
      return zoo_create(zh, next.c_str(), first.data(), static_cast<int>(first.size()), acl_, ZOO_PERSISTENT, nullptr,
                        0);
    });
    if (rc != ZOK && rc != ZNODEEXISTS) fail("create", next, rc);
  }

  std::string encode(const VersionRecord& r, const std::string& add_id) const {
    std::string json = record_to_json(r);
    if (!add_id.empty()) {
      auto doc = nlohmann::ordered_json::parse(json);
      doc["add_id"] = add_id;
      json = doc.dump();
    }
    if (json.size() > kMaxNodeBytes)
      throw Error(ErrorKind::Invalid, fmt::format("{}: the record of {} is {} bytes; a znode holds at most {}", where(),
                                                  r.package, json.size(), kMaxNodeBytes));
    return json;
  }

  static std::string add_id_of(const std::string& data) {
    auto doc = nlohmann::json::parse(data, nullptr, false);
    if (!doc.is_object()) return {};
    auto it = doc.find("add_id");
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
  }

  VersionRecord parse_record(const std::string& package, std::uint64_t version, const std::string& data) const {
    const std::string path = version_path(package, version);
    VersionRecord r;
    try {
      r = record_from_json(data);
    } catch (const Error& e) {
      throw Error(ErrorKind::Invalid, fmt::format("{}: {}: {}", where(), path, e.what()));
    }
    if (r.package != package || r.version != version)
      throw Error(ErrorKind::Invalid,
                  fmt::format("{}: {} holds the record of {} version {}", where(), path, r.package, r.version));
    return r;
  }

  std::uint64_t parse_version_name(const std::string& package, const std::string& name) const {
    auto v = name.size() == 20 ? parse_decimal(name) : std::nullopt;
    if (!v || *v == 0)
      throw Error(ErrorKind::Invalid,
                  fmt::format("{}: unexpected znode '{}' in {}", where(), printable(name), versions_path(package)));
    return *v;
  }

  std::uint64_t parse_tag_value(const std::string& path, const std::string& data) const {
    auto v = parse_decimal(data);
    if (!v || *v == 0)
      throw Error(ErrorKind::Invalid,
                  fmt::format("{}: {} holds '{}', not a version number", where(), path, printable(data)));
    return *v;
  }

  void check_name(const std::string& name, const std::string& dir, void (*validate)(std::string_view)) const {
    try {
      validate(name);
    } catch (const Error&) {
      throw Error(ErrorKind::Invalid, fmt::format("{}: unexpected znode '{}' in {}", where(), printable(name), dir));
    }
  }

  Connection conn_;
  std::string description_;
  ACL_vector* acl_;
};

[[noreturn]] void bad_uri(const Uri& uri, const std::string& why) {
  throw Error(ErrorKind::Invalid, fmt::format("invalid URI '{}': {} (expected {})", redact_uri(uri.text), why,
                                              "zk://[user:password@]host:port[,host:port...]/chroot"));
}

int seconds_param(const Uri& uri, const std::string& name, int fallback) {
  auto it = uri.query.find(name);
  if (it == uri.query.end()) return fallback;
  auto v = parse_decimal(it->second, 4);
  if (!v || *v == 0 || *v > 3600) bad_uri(uri, name + " must be a number of seconds (1-3600)");
  return static_cast<int>(*v);
}

}  // namespace

std::unique_ptr<Ledger> open_zk_ledger(const Uri& uri) {
  Settings s;
  std::string hosts = uri.authority;
  if (auto at = hosts.rfind('@'); at != std::string::npos) {
    s.auth = hosts.substr(0, at);
    hosts = hosts.substr(at + 1);
    if (s.auth.find(':') == std::string::npos) bad_uri(uri, "credentials must be user:password");
  }
  if (hosts.empty()) bad_uri(uri, "no host");
  std::size_t start = 0;
  for (;;) {
    auto comma = hosts.find(',', start);
    std::string_view host = std::string_view(hosts).substr(start, comma - start);
    auto colon = host.rfind(':');
    auto port = colon == std::string_view::npos ? std::nullopt : parse_decimal(host.substr(colon + 1), 5);
    if (colon == 0 || !port || *port == 0 || *port > 65535) bad_uri(uri, fmt::format("bad host:port '{}'", host));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  s.hosts = hosts;

  std::string root = uri.path;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (root.empty() || root == "/") bad_uri(uri, "no chroot path");
  for (std::size_t at = 1; at <= root.size();) {
    auto end = std::min(root.find('/', at), root.size());
    std::string_view part = std::string_view(root).substr(at, end - at);
    if (part.empty() || part == "." || part == "..") bad_uri(uri, "chroot has an empty, '.' or '..' component");
    for (unsigned char c : part)
      if (c < 0x21 || c > 0x7e) bad_uri(uri, "chroot must be printable ASCII without spaces");
    if (at == 1 && part == "zookeeper") bad_uri(uri, "/zookeeper is reserved by ZooKeeper");
    at = end + 1;
  }
  s.root = root;

  for (const auto& [name, value] : uri.query)
    if (name != "session_timeout" && name != "connect_timeout") bad_uri(uri, "unknown parameter '" + name + "'");
  s.session_timeout_ms = seconds_param(uri, "session_timeout", 30) * 1000;
  s.connect_timeout = std::chrono::seconds(seconds_param(uri, "connect_timeout", 15));
  return std::make_unique<ZkLedger>(std::move(s), redact_uri(uri.text));
}

}  // namespace sacker
