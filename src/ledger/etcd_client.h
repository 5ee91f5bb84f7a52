// A client of etcd's v3 API through its JSON gateway (POST /v3/kv/range,
// /v3/kv/txn, /v3/auth/authenticate), for the etcd ledger. Keys and values are
// bytes here: base64 is the gateway's business and stays in the .cpp.
//
// Contract in brief:
// - Every request is sent as idempotent, so the HTTP layer repeats it after a lost
//   response or a 5xx (etcd during a leader election). Reads are safe to repeat;
//   a txn is safe because its compares fail the second time (the caller's txns
//   always compare a revision the first attempt changes).
// - With several endpoints, a request that cannot reach one goes to the next.
// - With a user, the client authenticates before the first request and again
//   when etcd says the token expired. Credentials for a cluster without auth are
//   not an error.
// - Failures throw Error: unreachable / 5xx after the retries -> Unavailable; a
//   port that answers HTTP without the gateway (404) -> Unavailable, never
//   "absent"; auth failures and "permission denied" -> Denied; an answer that is
//   not etcd's JSON, undecodable base64 or a key outside `key_space` -> Invalid.
//   Messages start with "etcd ledger <described>" and never hold the password.
// Thread-safety: one instance is used from one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sacker::etcd {

// etcd's default --max-txn-ops: the most compares, or operations of one branch, a txn may have.
inline constexpr std::size_t kMaxTxnOps = 128;

struct Kv {
  std::string key, value;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
};

struct Range {
  Range() = default;
  explicit Range(std::string k, std::string e = {}) : key(std::move(k)), end(std::move(e)) {}
  // Every key that starts with `dir`.
  static Range under(const std::string& dir, bool keys_only = false);
  std::string key;
  std::string end;  // empty: only `key`; otherwise every key in [key, end)
  bool keys_only = false;
  bool count_only = false;
  bool descending = false;    // sorted by key, highest first
  std::int64_t limit = 0;     // 0: no limit
  std::int64_t revision = 0;  // 0: the current revision
};

struct RangeResult {
  std::vector<Kv> kvs;
  bool more = false;          // the limit cut the answer short
  std::int64_t count = 0;     // keys in the range (also with count_only)
  std::int64_t revision = 0;  // the store revision the range was read at
  // The first key, or nullptr.
  const Kv* first() const { return kvs.empty() ? nullptr : &kvs.front(); }
};

// One compare of a txn, on a revision of `key` (of every key in [key, end) when
// `end` is set). A key that does not exist has create and mod revision 0.
struct Compare {
  enum class Target { Create, Mod };
  enum class Result { Equal, Greater, Less };
  std::string key, end;
  Target target = Target::Mod;
  Result result = Result::Equal;
  std::int64_t revision = 0;

  static Compare absent(std::string key) { return {std::move(key), {}, Target::Create, Result::Equal, 0}; }
  static Compare exists(std::string key) { return {std::move(key), {}, Target::Create, Result::Greater, 0}; }
  // mod_revision == `mod` (0: the key is absent).
  static Compare unchanged(std::string key, std::int64_t mod) {
    return {std::move(key), {}, Target::Mod, Result::Equal, mod};
  }
  // No key in [key, end) was written after `revision`.
  static Compare none_written_after(std::string key, std::string end, std::int64_t revision) {
    return {std::move(key), std::move(end), Target::Mod, Result::Less, revision + 1};
  }
};

// One operation of a txn branch.
struct Op {
  enum class Kind { Get, Put, Delete };
  Kind kind = Kind::Get;
  Range range;             // Get
  std::string key, value;  // Put, Delete

  static Op get(Range range) { return {Kind::Get, std::move(range), {}, {}}; }
  static Op get(std::string key) { return get(Range{std::move(key)}); }
  static Op put(std::string key, std::string value) { return {Kind::Put, {}, std::move(key), std::move(value)}; }
  static Op erase(std::string key) { return {Kind::Delete, {}, std::move(key), {}}; }
};

struct TxnResult {
  bool succeeded = false;
  std::int64_t revision = 0;         // the store revision after the txn (of the reads, for a read-only one)
  std::vector<RangeResult> results;  // one per operation of the branch taken (empty for put/delete)
};

// A decimal counter key as read: its value and mod_revision (0: the key is absent).
struct Counter {
  std::uint64_t next = 1;
  std::int64_t mod = 0;
};

// One key of a batch that Client::put_guarded writes.
struct GuardedPut {
  std::string key, value;
  Compare guard;
  std::string unless = {};  // no guard when the same txn puts this key too
  // A Counter key raised to at least `at_least` (never lowered) in the same txn.
  std::string counter = {};
  std::uint64_t at_least = 0;
  // `value` is unique to this write (it carries a random id): finding it in `key`
  // after a failed txn means the txn went through and only its answer was lost.
  bool unique = false;
};

struct ClientConfig {
  std::vector<std::string> endpoints;  // http(s)://host:port
  std::string user, password;          // empty user: no auth
  std::string ca_bundle;               // PEM file for https; empty: the system store
  std::string described;               // the URI without secrets, for messages
  std::string key_space;               // every key read back must start with this
};

// The smallest key after every key that starts with `prefix` (etcd's range_end for a prefix).
std::string prefix_end(const std::string& prefix);
// A request for the highest key in [dir, prefix_end(dir)) (keys only).
Range last_key(const std::string& dir);

class Client {
 public:
  explicit Client(ClientConfig config);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  RangeResult range(const Range& request);
  // One key, or nullopt.
  std::optional<Kv> get(const std::string& key);
  // Every key of `request`, in its order, read at one revision in pages of 1000
  // (starting over if compaction overtakes that revision). With `keep`, only the
  // keys it accepts; with `want` > 0, stops after that many.
  std::vector<Kv> range_all(Range request, std::size_t want = 0, const std::function<bool(const Kv&)>& keep = {});
  // A read-only txn: every range at one revision. Any number of ranges (split
  // into several txns above kMaxTxnOps; then the revisions may differ).
  std::vector<RangeResult> read(const std::vector<Range>& ranges);
  TxnResult txn(const std::vector<Compare>& compare, const std::vector<Op>& success, const std::vector<Op>& failure);
  // Writes `puts` in order, in txns of at most 100 compares and 100 puts, each
  // comparing the guards and, for every counter it raises, mod_revision ==
  // counters[key].mod. Returns how many of `puts` are written: all, or fewer when a
  // txn's compares failed (that txn and the rest are not written). `counters` (as
  // read; absent ones count as {1, 0}) follow what was written.
  std::size_t put_guarded(const std::vector<GuardedPut>& puts, std::map<std::string, Counter>& counters);

  // "etcd ledger <described>", the start of every message.
  const std::string& where() const { return where_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string where_;
};

}  // namespace sacker::etcd
