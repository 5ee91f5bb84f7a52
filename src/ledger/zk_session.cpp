#include "ledger/zk_session.h"

#include <fmt/core.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "kit/retry.h"
#include "kit/uri_options.h"
#include "sacker/error.h"

namespace sacker::zk {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

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

// Completion bookkeeping for a batch of async requests; the caller waits for all.
struct Batch {
  std::mutex mutex;
  std::condition_variable done;
  std::size_t pending = 0;
  void start() {
    std::lock_guard lock(mutex);
    ++pending;
  }
  void finish() {
    std::lock_guard lock(mutex);  // notify under the lock: the waiter may destroy us right after
    if (--pending == 0) done.notify_all();
  }
  void wait() {
    std::unique_lock lock(mutex);
    done.wait(lock, [&] { return pending == 0; });
  }
};

struct Slot {
  Batch* batch;
  Reply* reply;
  int* rc;  // for sync
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

void on_synced(int rc, const char*, const void* ctx) {
  auto* slot = static_cast<const Slot*>(ctx);
  *slot->rc = rc;
  slot->batch->finish();
}

}  // namespace

Endpoint parse_endpoint(const Uri& uri) {
  auto bad = [&](const std::string& why) {
    throw_invalid_uri(uri, why + " (expected zk://[user:password@]host:port[,host:port...]/chroot)");
  };
  Endpoint out;
  const HostList list = parse_host_list(uri, 0);
  if (!list.user.empty() || !list.password.empty()) {
    if (list.user.empty() || list.password.empty() || list.user.find(':') != std::string::npos)
      bad("credentials must be user:password");
    out.settings.auth = list.user + ":" + list.password;
  }
  for (const auto& h : list.hosts)  // the C client splits host and port at the last ':' (IPv6 without brackets)
    out.settings.hosts += fmt::format("{}{}:{}", out.settings.hosts.empty() ? "" : ",", h.host, h.port);

  std::string root = uri.path;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (root.empty() || root == "/") bad("no chroot path");
  for (std::size_t at = 1; at <= root.size();) {
    auto end = std::min(root.find('/', at), root.size());
    std::string_view part = std::string_view(root).substr(at, end - at);
    if (part.empty() || part == "." || part == "..") bad("the chroot has an empty, '.' or '..' component");
    for (unsigned char c : part)
      if (c < 0x21 || c > 0x7e) bad("the chroot must be printable ASCII without spaces");
    if (at == 1 && part == "zookeeper") bad("/zookeeper is reserved by ZooKeeper");
    at = end + 1;
  }
  out.chroot = root;

  UriOptions options(uri);
  auto seconds = [&](const char* name, std::int64_t fallback) {
    auto v = options.take_seconds(name, fallback);
    if (v < 1 || v > 3600) bad(fmt::format("option '{}' must be from 1 s to 1 h", name));
    return v;
  };
  out.settings.session_timeout_ms = static_cast<int>(seconds("session_timeout", 30) * 1000);
  out.settings.connect_timeout = std::chrono::seconds(seconds("connect_timeout", 15));
  options.finish();
  return out;
}

bool connection_trouble(int rc) {
  return rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT || rc == ZSESSIONEXPIRED || rc == ZSESSIONMOVED ||
         rc == ZINVALIDSTATE || rc == ZCLOSING || rc == ZTHROTTLEDOP || rc == ZNEWCONFIGNOQUORUM ||
         rc == ZRECONFIGINPROGRESS;
}

std::size_t Multi::add(Op op) {
  ops_.push_back(std::move(op));
  return ops_.size() - 1;
}
std::size_t Multi::create(std::string path, std::string data) {
  return add({Kind::Create, std::move(path), std::move(data)});
}
std::size_t Multi::set(std::string path, std::string data, int version) {
  return add({Kind::Set, std::move(path), std::move(data), version});
}
std::size_t Multi::touch(std::string path) { return add({Kind::Touch, std::move(path), {}}); }
std::size_t Multi::check(std::string path, int version) { return add({Kind::Check, std::move(path), {}, version}); }
std::size_t Multi::remove(std::string path, int version) { return add({Kind::Remove, std::move(path), {}, version}); }

std::size_t Multi::bytes() const {
  std::size_t n = 0;
  for (const auto& op : ops_) n += op.path.size() + op.data.size() + 32;  // + the op's header
  return n;
}

Session::Session(SessionSettings settings, std::string where)
    : settings_(std::move(settings)), where_(std::move(where)) {}

Session::~Session() { close(); }

const ACL_vector* Session::acl() const { return settings_.auth.empty() ? &ZOO_OPEN_ACL_UNSAFE : &ZOO_CREATOR_ALL_ACL; }

// A handle in the connected state; opens or re-opens the session as needed.
// Throws Error(Unavailable) if no server answers within connect_timeout,
// Error(Denied) if authentication failed.
zhandle_t* Session::handle() {
  auto deadline = Clock::now() + settings_.connect_timeout;
  for (;;) {
    if (!zh_) open();
    int state = zoo_state(zh_);
    if (state == ZOO_CONNECTED_STATE && (synced_ || sync())) return zh_;
    if (state == ZOO_AUTH_FAILED_STATE) {
      close();
      throw Error(ErrorKind::Denied, fmt::format("zookeeper {}: authentication failed", settings_.hosts));
    }
    if (state == ZOO_EXPIRED_SESSION_STATE) {
      close();
      continue;
    }
    std::unique_lock lock(mutex_);
    if (Clock::now() >= deadline) {
      std::string why = last_log_error();
      throw Error(ErrorKind::Unavailable,
                  fmt::format("zookeeper {}: not reachable within {} s{}", settings_.hosts,
                              std::chrono::duration_cast<std::chrono::seconds>(settings_.connect_timeout).count(),
                              why.empty() ? "" : " (" + why + ")"));
    }
    changed_.wait_until(lock, std::min(deadline, Clock::now() + milliseconds(100)));
  }
}

// After an answer that says the connection or session is in trouble: drop a handle
// that cannot recover, so that the next handle() opens a new session.
void Session::trouble(int rc) {
  if (zh_ && (rc == ZSESSIONEXPIRED || rc == ZINVALIDSTATE || is_unrecoverable(zh_) == ZINVALIDSTATE)) close();
}

void Session::on_event(zhandle_t*, int type, int, const char*, void* ctx) {
  if (type != ZOO_SESSION_EVENT) return;
  auto* self = static_cast<Session*>(ctx);
  std::lock_guard lock(self->mutex_);
  self->changed_.notify_all();
}

// A new session may land on a server that lags the leader. One `sync` makes it
// catch up, so this process sees every write that completed before it connected
// (a deploy host reads what CI just added). Reads later in the session are
// monotonic: ZooKeeper never moves a session back in time.
bool Session::sync() {
  Batch batch;
  int rc = ZSYSTEMERROR;
  Slot slot{&batch, nullptr, &rc};
  batch.start();
  if (zoo_async(zh_, "/", on_synced, &slot) != ZOK) return false;
  batch.wait();
  synced_ = rc == ZOK;
  return synced_;
}

void Session::open() {
  synced_ = false;
  zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
  zh_ =
      zookeeper_init2(settings_.hosts.c_str(), on_event, settings_.session_timeout_ms, nullptr, this, 0, on_client_log);
  if (!zh_)
    throw Error(ErrorKind::Unavailable,
                fmt::format("zookeeper {}: cannot start a client: {}", settings_.hosts, std::strerror(errno)));
  // The client re-sends the credentials itself on every reconnect of this session.
  if (!settings_.auth.empty())
    zoo_add_auth(zh_, "digest", settings_.auth.data(), static_cast<int>(settings_.auth.size()), nullptr, nullptr);
}

void Session::close() {
  if (zh_) zookeeper_close(zh_);
  zh_ = nullptr;
}

std::vector<Reply> Session::read(const std::vector<std::string>& paths, bool data) {
  std::vector<Reply> replies(paths.size());
  if (paths.empty()) return replies;
  Retry retry(RetryPolicy::contention(), fmt::format("{}: read {}", where_, paths.front()));
  for (;;) {
    zhandle_t* zh = handle();
    Batch batch;
    std::vector<Slot> slots(paths.size());
    for (std::size_t i = 0; i < paths.size(); ++i) {
      replies[i] = Reply{};
      slots[i] = Slot{&batch, &replies[i], nullptr};
      batch.start();
      int rc = data ? zoo_aget(zh, paths[i].c_str(), 0, on_data, &slots[i])
                    : zoo_aexists(zh, paths[i].c_str(), 0, on_stat, &slots[i]);
      if (rc != ZOK) {  // not queued: no completion will come
        replies[i].rc = rc;
        batch.finish();
      }
    }
    batch.wait();
    int trouble_rc = ZOK;
    for (std::size_t i = 0; i < paths.size(); ++i) {
      const Reply& r = replies[i];
      if (connection_trouble(r.rc))
        trouble_rc = r.rc;
      else if (r.rc != ZOK && r.rc != ZNONODE)
        fail("read", paths[i], r.rc);
      else if (r.rc == ZOK && data && r.stat.dataLength > static_cast<std::int32_t>(r.data.size()))
        fail("read", paths[i], ZMARSHALLINGERROR);
    }
    if (trouble_rc == ZOK) return replies;
    trouble(trouble_rc);
    retry.failed(FailureCause::ServerTrouble, zerror(trouble_rc));
  }
}

std::vector<Reply> Session::get(const std::vector<std::string>& paths) { return read(paths, true); }

std::vector<Reply> Session::exists(const std::vector<std::string>& paths) { return read(paths, false); }

std::optional<std::vector<std::string>> Session::children(const std::string& path, Stat* stat) {
  Retry retry(RetryPolicy::contention(), fmt::format("{}: list {}", where_, path));
  for (;;) {
    String_vector names{};
    Stat local{};
    int rc = zoo_get_children2(handle(), path.c_str(), 0, &names, stat ? stat : &local);
    std::vector<std::string> out;
    if (rc == ZOK)
      for (int i = 0; i < names.count; ++i) out.emplace_back(names.data[i]);
    deallocate_String_vector(&names);
    if (rc == ZOK) return out;
    if (rc == ZNONODE) return std::nullopt;
    if (!connection_trouble(rc)) fail("list", path, rc);
    trouble(rc);
    retry.failed(FailureCause::ServerTrouble, zerror(rc));
  }
}

bool Session::create(const std::string& path, const std::string& data) {
  Retry retry(RetryPolicy::contention(), fmt::format("{}: create {}", where_, path));
  for (;;) {
    int rc = zoo_create(handle(), path.c_str(), data.empty() ? nullptr : data.data(),
                        data.empty() ? -1 : static_cast<int>(data.size()), acl(), ZOO_PERSISTENT, nullptr, 0);
    if (rc == ZOK) return true;
    if (rc == ZNODEEXISTS) return false;
    if (!connection_trouble(rc)) fail("create", path, rc);
    trouble(rc);
    retry.failed(FailureCause::ServerTrouble, zerror(rc));
  }
}

void Session::create_chain(const std::string& path) {
  for (std::size_t at = path.find('/', 1);; at = path.find('/', at + 1)) {
    create(path.substr(0, at));
    if (at == std::string::npos) return;
  }
}

MultiResult Session::commit(const Multi& multi) {
  if (multi.bytes() > kMaxRequestBytes)
    throw Error(ErrorKind::Invalid,
                fmt::format("{}: the change is {} bytes; one ZooKeeper transaction holds at most {} (jute.maxbuffer)",
                            where_, multi.bytes(), kMaxRequestBytes));
  std::vector<zoo_op_t> ops(multi.size());
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const auto& op = multi.ops_[i];
    const char* path = op.path.c_str();
    const char* data = op.data.empty() ? nullptr : op.data.data();
    const int length = op.data.empty() ? -1 : static_cast<int>(op.data.size());
    switch (op.kind) {
      case Multi::Kind::Create:
        zoo_create_op_init(&ops[i], path, data, length, acl(), ZOO_PERSISTENT, nullptr, 0);
        break;
      case Multi::Kind::Set: zoo_set_op_init(&ops[i], path, data, length, op.version, nullptr); break;
      case Multi::Kind::Touch: zoo_set_op_init(&ops[i], path, nullptr, -1, -1, nullptr); break;
      case Multi::Kind::Check: zoo_check_op_init(&ops[i], path, op.version); break;
      case Multi::Kind::Remove: zoo_delete_op_init(&ops[i], path, op.version); break;
    }
  }
  std::vector<zoo_op_result_t> results(ops.size());
  MultiResult result;
  result.rc = zoo_multi(handle(), static_cast<int>(ops.size()), ops.data(), results.data());
  result.failed = ops.size();
  if (result.rc != ZOK)
    for (std::size_t i = 0; i < results.size(); ++i)
      if (results[i].err != ZOK && results[i].err != ZRUNTIMEINCONSISTENCY) {
        result.failed = i;
        break;
      }
  if (connection_trouble(result.rc)) trouble(result.rc);
  return result;
}

int Session::set(const std::string& path, const std::string& data, int version) {
  int rc = zoo_set(handle(), path.c_str(), data.data(), static_cast<int>(data.size()), version);
  if (connection_trouble(rc)) trouble(rc);
  return rc;
}

void Session::fail(const std::string& what, const std::string& path, int rc) const {
  std::string msg = fmt::format("{}: {} {}: {}", where_, what, path, zerror(rc));
  if (rc == ZNOAUTH || rc == ZAUTHFAILED)
    throw Error(ErrorKind::Denied, msg + " (the znode's ACL does not allow this client)");
  if (rc == ZBADARGUMENTS || rc == ZMARSHALLINGERROR) throw Error(ErrorKind::Internal, msg);
  throw Error(ErrorKind::Unavailable, msg);
}

}  // namespace sacker::zk
