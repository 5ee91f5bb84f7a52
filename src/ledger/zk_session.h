// The wire side of the ZooKeeper ledger: one session on the C client (connect,
// `sync` on every new session, a new session after expiry, digest credentials),
// the C client's log callback, which answers mean "connection trouble", pipelined
// reads and a multi-op builder. No ledger semantics: paths and data are opaque here.
//
// Retries: reads and creates retry connection trouble themselves (kit/retry.h,
// one policy); a multi is sent once per commit() call, because only the caller
// knows whether sending it again is safe (see zk_ledger.cpp, "lost answers").
// Thread-safety: one Session is used from one thread at a time.
#pragma once

#ifndef THREADED
#define THREADED 1  // the synchronous API of libzookeeper_mt
#endif
#include <zookeeper/zookeeper.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sacker/uri.h"

namespace sacker::zk {

// jute.maxbuffer, the server's default limit for one znode, one request and one answer.
inline constexpr std::size_t kMaxRequestBytes = 1000000;

struct SessionSettings {
  std::string hosts;  // "127.0.0.1:2181,127.0.0.1:2182", as zookeeper_init takes it
  std::string auth;   // "user:password" for digest auth (decoded), or empty
  int session_timeout_ms = 30000;
  std::chrono::milliseconds connect_timeout{15000};
};

// What a zk:// URI says: the session's settings and the ledger's chroot.
struct Endpoint {
  SessionSettings settings;
  std::string chroot;  // "/sacker", "/teams/web/sacker" (no trailing slash)
};
// zk://[user:password@]host:port[,host:port...]/chroot[?session_timeout=S&connect_timeout=S]
// (user and password percent-decoded); Error(Invalid) naming the problem otherwise.
Endpoint parse_endpoint(const Uri& uri);

// Answers that mean "we could not find out": the request may or may not have been
// applied; retry after (re)connecting.
bool connection_trouble(int rc);

// One answer of a pipelined read.
struct Reply {
  int rc = ZSYSTEMERROR;  // ZOK or ZNONODE (anything else throws)
  std::string data;
  Stat stat{};
};

// The ops of one zoo_multi; owns its paths and data.
class Multi {
 public:
  // Each returns the op's index (MultiResult::failed names it).
  std::size_t create(std::string path, std::string data = {});
  std::size_t set(std::string path, std::string data, int version);  // version -1: any
  std::size_t touch(std::string path);                               // bumps the data version only
  std::size_t check(std::string path, int version);                  // -1: the node exists
  std::size_t remove(std::string path, int version);
  bool empty() const { return ops_.empty(); }
  std::size_t size() const { return ops_.size(); }
  const std::string& path(std::size_t op) const { return ops_.at(op).path; }
  // About what the request weighs: paths, data and op headers (see kMaxRequestBytes).
  std::size_t bytes() const;

 private:
  friend class Session;
  enum class Kind { Create, Set, Touch, Check, Remove };
  struct Op {
    Kind kind;
    std::string path, data;
    int version = -1;
  };
  std::size_t add(Op op);
  std::vector<Op> ops_;
};

struct MultiResult {
  int rc = ZOK;
  std::size_t failed = 0;  // the op that reported its own error (size() if none did)
  bool ok() const { return rc == ZOK; }
  bool failed_at(std::size_t op, int code) const { return rc == code && failed == op; }
};

class Session {
 public:
  // `where` prefixes messages ("zookeeper ledger zk://...").
  Session(SessionSettings settings, std::string where);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // CREATOR_ALL when the session has credentials, else OPEN_ACL_UNSAFE.
  const ACL_vector* acl() const;
  const std::string& where() const { return where_; }

  // Data and stat of every path in one round trip: pipelined on one session, so the
  // server answers them in this order, and all answers come from one pass (after
  // connection trouble the whole pass is repeated). A missing node is ZNONODE.
  std::vector<Reply> get(const std::vector<std::string>& paths);
  // The same with the stat only (no data transferred).
  std::vector<Reply> exists(const std::vector<std::string>& paths);
  // Children names, nullopt if the node does not exist; `stat`: the node's stat.
  std::optional<std::vector<std::string>> children(const std::string& path, Stat* stat = nullptr);
  // Creates one node; false if it existed already.
  bool create(const std::string& path, const std::string& data = {});
  // Creates path and its missing ancestors (no data).
  void create_chain(const std::string& path);
  // Sends `multi` once. Connection trouble is returned like any other answer.
  // Error(Invalid) if it exceeds kMaxRequestBytes (the server would drop the connection).
  MultiResult commit(const Multi& multi);
  // One conditional zoo_set, sent once; its answer.
  int set(const std::string& path, const std::string& data, int version);

  // Throws the Error for answer `rc` of `what` on `path`: Denied (ACL, credentials),
  // Internal (our bug), Unavailable (anything the server or the network did).
  [[noreturn]] void fail(const std::string& what, const std::string& path, int rc) const;

 private:
  zhandle_t* handle();
  void trouble(int rc);
  bool sync();
  void open();
  void close();
  std::vector<Reply> read(const std::vector<std::string>& paths, bool data);
  static void on_event(zhandle_t*, int type, int, const char*, void* ctx);

  SessionSettings settings_;
  std::string where_;
  zhandle_t* zh_ = nullptr;
  bool synced_ = false;
  std::mutex mutex_;
  std::condition_variable changed_;
};

}  // namespace sacker::zk
