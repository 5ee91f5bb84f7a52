// The etcd ledger: etcd's v3 API through its JSON gateway (POST /v3/kv/...).
//
// URI: etcd://[user[:password]@]host:port[,host:port...][/prefix][?tls=1&ca=/path/ca.pem]
// The prefix (default "sacker") is the root P of every key; with several endpoints
// a request that cannot reach one goes to the next.
//
// Layout (keys are bytes; package and tag names are [A-Za-z0-9._-] and never hold
// '/', so no name can reach outside its package's keys):
//   P/format                          "sacker-etcd-ledger 1"            (init)
//   P/counters/<pkg>                  decimal: the next version to hand out. Exists
//                                     once the package had a version; never lowered,
//                                     so removed numbers are never handed out again.
//                                     packages() lists these keys.
//   P/packages/<pkg>/v/<20 digits>    the record (record_to_json), plus "add_id" when
//                                     written by add(); zero-padded: key order = version order
//   P/packages/<pkg>/t/<tag>          decimal version the tag points to
//   P/packages/<pkg>/removed/<20 d.>  {"op": id} tombstone written by remove_version
//
// Why it is race-free (every write is one txn; compares are on revisions):
// - add: read the counter (value N, mod_revision M; cached after our own adds), then
//   txn{ counter.mod == M, v/N.create == 0 } -> put v/N, put counter = N+1. Two
//   writers that read the same N cannot both succeed: the second fails the compare.
//   The failure branch returns the counter, v/N and the highest version key, so the
//   loser retries (after a jittered backoff) without another read. A counter behind
//   an existing version (tampering) is corrected from that highest key.
// - put_record: the same txn with the imported number; the counter becomes
//   max(counter, V+1).
// - set_tag: txn{ v/N.create > 0 } -> put tag, else NotFound.
// - remove_version: read v/N and all tags at revision R; refuse if a tag points to N;
//   txn{ v/N.mod == read, every key in P/packages/<pkg>/t/ has mod <= R } -> delete
//   v/N, put tombstone. A set_tag that lands between read and txn changes a tag's
//   mod_revision (fails our compare: we re-read and refuse); one that lands after
//   finds v/N gone (NotFound). packages() hides packages whose v/ range is empty.
// - Retried requests: every request is sent as idempotent (the HTTP layer may repeat
//   it after a lost response). A repeated add/remove txn fails its compare; add then
//   finds its own add_id in v/N and remove its own op id in the tombstone, so a lost
//   response never turns into a duplicate version or a false "absent". (remove_tag
//   after a lost response may report false although it removed the tag.)
#include "ledger/etcd_ledger.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "net/http.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker {
namespace {

using nlohmann::json;
using Ops = std::vector<json>;  // compares or operations of one txn

constexpr const char* kFormat = "sacker-etcd-ledger 1";
constexpr int kPageSize = 1000;         // keys per range page
constexpr std::size_t kTxnChunk = 100;  // read ops per txn (etcd allows 128 by default)
constexpr auto kGiveUpAfter = std::chrono::seconds(120);

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string b64encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < in.size(); i += 3) {
    std::uint32_t n = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) n |= static_cast<unsigned char>(in[i + 2]);
    out += kB64[(n >> 18) & 63];
    out += kB64[(n >> 12) & 63];
    out += i + 1 < in.size() ? kB64[(n >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kB64[n & 63] : '=';
  }
  return out;
}

std::optional<std::string> b64decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (std::size_t i = 0; i < in.size(); i += 4) {
    std::uint32_t n = 0;
    int pad = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      char c = in[i + j];
      int v;
      if (c == '=' && i + 4 == in.size() && j >= 2) {
        v = 0, ++pad;
      } else if (pad) {
        return std::nullopt;
      } else if (const char* p = std::char_traits<char>::find(kB64, 64, c)) {
        v = static_cast<int>(p - kB64);
      } else {
        return std::nullopt;
      }
      n = n << 6 | static_cast<std::uint32_t>(v);
    }
    out += static_cast<char>(n >> 16);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

std::string pad20(std::uint64_t v) { return fmt::format("{:020}", v); }

// Decimal 1..INT64_MAX, or nullopt.
std::optional<std::uint64_t> parse_number(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    if (v > (static_cast<std::uint64_t>(INT64_MAX) - static_cast<std::uint64_t>(c - '0')) / 10) return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v == 0) return std::nullopt;
  return v;
}

// "Smallest key after every key starting with `prefix`" (prefix ends in '/').
std::string range_end(const std::string& prefix) {
  std::string end = prefix;
  end.back() = static_cast<char>(end.back() + 1);
  return end;
}

// Unique per call, also across fork() (a seeded generator would be copied into the child).
std::string random_id() {
  std::random_device rd;
  return fmt::format("{:08x}{:08x}{:08x}{:08x}-{}", rd(), rd(), rd(), rd(), static_cast<long>(::getpid()));
}

struct Kv {
  std::string key, value;
  std::int64_t mod_revision = 0;
};

// int64 fields come back as strings; proto3 JSON leaves out zeros and falses.
std::int64_t int_field(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end()) return 0;
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    char* end = nullptr;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && *end == '\0') return v;
  }
  throw Error(ErrorKind::Invalid, fmt::format("field '{}' is not an integer", name));
}

json cmp(const std::string& key, const char* target, const char* result, std::int64_t value) {
  static const std::map<std::string, const char*> field = {
      {"CREATE", "create_revision"}, {"MOD", "mod_revision"}, {"VERSION", "version"}};
  return {{"key", b64encode(key)}, {"target", target}, {"result", result}, {field.at(target), std::to_string(value)}};
}
json put_op(const std::string& key, const std::string& value) {
  return {{"request_put", {{"key", b64encode(key)}, {"value", b64encode(value)}}}};
}
json delete_op(const std::string& key) { return {{"request_delete_range", {{"key", b64encode(key)}}}}; }
json range_req(const std::string& key, const std::string& end = {}, bool keys_only = false) {
  json r = {{"key", b64encode(key)}};
  if (!end.empty()) r["range_end"] = b64encode(end);
  if (keys_only) r["keys_only"] = true;
  return r;
}
json range_op(json request) { return {{"request_range", std::move(request)}}; }
json last_key_req(const std::string& prefix) {
  json r = range_req(prefix, range_end(prefix), true);
  r["sort_order"] = "DESCEND";
  r["sort_target"] = "KEY";
  r["limit"] = "1";
  return r;
}

struct Config {
  std::vector<std::string> endpoints;  // http(s)://host:port
  std::string prefix;                  // without trailing '/'
  std::string user, password;
  std::string ca_bundle;
  std::string described;
};

// Jittered exponential backoff with a time bound, for lost races.
class Backoff {
 public:
  explicit Backoff(std::string what) : what_(std::move(what)), start_(std::chrono::steady_clock::now()) {}
  void wait() {
    ++attempts_;
    if (std::chrono::steady_clock::now() - start_ > kGiveUpAfter)
      throw Error(ErrorKind::Conflict, fmt::format("{}: gave up after {} attempts in {} s of contention", what_,
                                                   attempts_, kGiveUpAfter.count()));
    const double cap_ms = std::min(250.0, 1.0 * (1 << std::min(attempts_, 8)));
    std::uniform_real_distribution<double> dist(0.0, cap_ms);
    std::this_thread::sleep_for(std::chrono::microseconds(static_cast<long long>(dist(rng_) * 1000)));
  }

 private:
  std::string what_;
  std::chrono::steady_clock::time_point start_;
  int attempts_ = 0;
  std::mt19937_64 rng_{std::random_device{}()};
};

class EtcdLedger final : public Ledger {
 public:
  explicit EtcdLedger(Config config) : cfg_(std::move(config)), root_(cfg_.prefix + "/"), http_(http_options(cfg_)) {}

  void init() override {
    auto r = txn({cmp(root_ + "format", "CREATE", "EQUAL", 0)}, {put_op(root_ + "format", kFormat)},
                 {range_op(range_req(root_ + "format"))});
    if (r.succeeded) return;
    auto kvs = range_kvs(r.responses.at(0));
    if (!kvs.empty() && kvs[0].value != kFormat)
      throw Error(ErrorKind::Invalid, fmt::format("{}: key '{}' holds '{}': the prefix is in use by something "
                                                  "else than a sacker ledger",
                                                  where(), printable(kvs[0].key), printable(kvs[0].value)));
  }

  std::vector<std::string> packages() override {
    const std::string dir = root_ + "counters/";
    std::vector<std::string> candidates;
    for (const Kv& kv : range_all(dir, range_end(dir), true)) {
      std::string name = kv.key.substr(dir.size());
      guard_name(name, kv.key, validate_package_name);
      candidates.push_back(std::move(name));
    }
    // A package whose versions were all removed keeps its counter: ask for counts.
    std::vector<std::string> out;
    for (std::size_t i = 0; i < candidates.size(); i += kTxnChunk) {
      Ops ops;
      const std::size_t n = std::min(kTxnChunk, candidates.size() - i);
      for (std::size_t k = 0; k < n; ++k) {
        json req = range_req(versions_dir(candidates[i + k]), range_end(versions_dir(candidates[i + k])));
        req["count_only"] = true;
        ops.push_back(range_op(std::move(req)));
      }
      auto r = txn(Ops{}, ops, Ops{});
      for (std::size_t k = 0; k < n; ++k)
        if (int_field(r.responses.at(k), "count") > 0) out.push_back(candidates[i + k]);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::vector<std::uint64_t> versions(const std::string& package) override {
    const std::string dir = versions_dir(package);
    std::vector<std::uint64_t> out;
    for (const Kv& kv : range_all(dir, range_end(dir), true)) out.push_back(version_of(kv.key, dir));
    return out;
  }

  std::optional<VersionRecord> get(const std::string& package, std::uint64_t version) override {
    const std::string key = version_key(package, version);
    auto kvs = range_kvs(call("kv/range", range_req(key)));
    if (kvs.empty()) return std::nullopt;
    return parse_record(kvs[0], package, version);
  }

  std::vector<VersionRecord> records(const std::string& package) override {
    const std::string dir = versions_dir(package);
    std::vector<VersionRecord> out;
    for (const Kv& kv : range_all(dir, range_end(dir), false))
      out.push_back(parse_record(kv, package, version_of(kv.key, dir)));
    return out;
  }

  std::optional<std::uint64_t> latest(const std::string& package) override {
    auto kvs = range_kvs(call("kv/range", last_key_req(versions_dir(package))));
    if (kvs.empty()) return std::nullopt;
    return version_of(kvs[0].key, versions_dir(package));
  }

  std::uint64_t add(const VersionRecord& record) override {
    const std::string& pkg = record.package;
    const std::string counter = counter_key(pkg);
    const std::string add_id = random_id();
    Counter c;
    if (auto it = counters_.find(pkg); it != counters_.end()) {
      c = it->second;
    } else {
      auto kvs = range_kvs(call("kv/range", range_req(counter)));
      if (!kvs.empty()) c = {parse_counter(kvs[0]), kvs[0].mod_revision};
    }
    Backoff backoff(fmt::format("{}: add {}", where(), pkg));
    for (;;) {
      const std::uint64_t n = c.next;
      const std::string key = version_key(pkg, n);
      VersionRecord r = record;
      r.version = n;
      auto value = json::parse(record_to_json(r));
      value["add_id"] = add_id;
      auto res =
          txn({cmp(counter, "MOD", "EQUAL", c.mod_revision), cmp(key, "CREATE", "EQUAL", 0)},
              {put_op(key, value.dump()), put_op(counter, std::to_string(n + 1))},
              {range_op(range_req(counter)), range_op(range_req(key)), range_op(last_key_req(versions_dir(pkg)))});
      if (res.succeeded) {
        counters_[pkg] = {n + 1, res.revision};
        return n;
      }
      c = counter_from(range_kvs(res.responses.at(0)));
      auto mine = range_kvs(res.responses.at(1));
      if (!mine.empty() && add_id_of(mine[0]) == add_id) {  // our own write; its response was lost
        counters_[pkg] = c;
        return n;
      }
      auto last = range_kvs(res.responses.at(2));
      if (!last.empty()) c.next = std::max(c.next, version_of(last[0].key, versions_dir(pkg)) + 1);
      counters_.erase(pkg);
      backoff.wait();
    }
  }

  void put_record(const VersionRecord& record) override {
    validate_record(record);
    check_version(record.version);
    const std::string& pkg = record.package;
    const std::string counter = counter_key(pkg), key = version_key(pkg, record.version);
    const Ops reads = {range_op(range_req(counter)), range_op(range_req(key))};
    auto res = txn(Ops{}, reads, Ops{});
    Backoff backoff(fmt::format("{}: import {} version {}", where(), pkg, record.version));
    for (;;) {
      if (auto existing = range_kvs(res.responses.at(1)); !existing.empty()) {
        if (parse_record(existing[0], pkg, record.version) == record) return;
        throw Error(ErrorKind::Conflict,
                    fmt::format("{} version {} already exists with other content", pkg, record.version));
      }
      Counter c = counter_from(range_kvs(res.responses.at(0)));
      res = txn(
          {cmp(counter, "MOD", "EQUAL", c.mod_revision), cmp(key, "CREATE", "EQUAL", 0)},
          {put_op(key, record_to_json(record)), put_op(counter, std::to_string(std::max(c.next, record.version + 1)))},
          reads);
      if (res.succeeded) return;
      counters_.erase(pkg);
      backoff.wait();
    }
  }

  bool remove_version(const std::string& package, std::uint64_t version) override {
    check_version(version);
    const std::string key = version_key(package, version), tdir = tags_dir(package);
    const std::string tombstone = package_dir(package) + "removed/" + pad20(version);
    const std::string op = random_id();
    Ops reads = {range_op(range_req(key, {}, true)), range_op(range_req(tdir, range_end(tdir)))};
    auto res = txn(Ops{}, reads, Ops{});
    reads.push_back(range_op(range_req(tombstone)));
    Backoff backoff(fmt::format("{}: remove {} version {}", where(), package, version));
    for (;;) {
      auto current = range_kvs(res.responses.at(0));
      if (res.responses.size() > 2) {  // a failed txn: was it ours, answered late?
        auto stone = range_kvs(res.responses.at(2));
        if (!stone.empty() && stone[0].value == json({{"op", op}}).dump()) return true;
      }
      if (current.empty()) return false;
      for (const auto& [tag, v] : parse_tags(range_kvs(res.responses.at(1)), tdir))
        if (v == version)
          throw Error(ErrorKind::Conflict,
                      fmt::format("{} version {} is tagged '{}': untag it first", package, version, tag));
      res = txn({cmp(key, "MOD", "EQUAL", current[0].mod_revision), tags_unchanged_since(tdir, res.revision)},
                {delete_op(key), put_op(tombstone, json({{"op", op}}).dump())}, reads);
      if (res.succeeded) return true;
      backoff.wait();
    }
  }

  std::map<std::string, std::uint64_t> tags(const std::string& package) override {
    const std::string dir = tags_dir(package);
    return parse_tags(range_all(dir, range_end(dir), false), dir);
  }

  std::optional<std::uint64_t> tag(const std::string& package, const std::string& tag) override {
    guard_name(tag, tag, validate_tag_name);
    auto kvs = range_kvs(call("kv/range", range_req(tags_dir(package) + tag)));
    if (kvs.empty()) return std::nullopt;
    return tag_value(kvs[0]);
  }

  void set_tag(const std::string& package, const std::string& tag, std::uint64_t version) override {
    check_version(version);
    guard_name(tag, tag, validate_tag_name);
    auto res = txn({cmp(version_key(package, version), "CREATE", "GREATER", 0)},
                   {put_op(tags_dir(package) + tag, std::to_string(version))}, Ops{});
    if (!res.succeeded) throw Error(ErrorKind::NotFound, fmt::format("{} has no version {}", package, version));
  }

  bool remove_tag(const std::string& package, const std::string& tag) override {
    guard_name(tag, tag, validate_tag_name);
    return int_field(call("kv/deleterange", range_req(tags_dir(package) + tag)), "deleted") > 0;
  }

  std::string describe() const override { return cfg_.described; }

 private:
  struct Counter {
    std::uint64_t next = 1;
    std::int64_t mod_revision = 0;  // 0: the counter key does not exist
  };
  struct TxnResult {
    bool succeeded = false;
    std::int64_t revision = 0;
    std::vector<json> responses;  // the inner response of each op (response_range...)
  };

  static net::HttpOptions http_options(const Config& cfg) {
    net::HttpOptions options;
    options.connect_timeout = std::chrono::milliseconds(5000);
    // Rides out a leader election (about a second with etcd's default timeouts).
    options.retry.max_attempts = 7;
    options.retry.max_delay = std::chrono::milliseconds(2000);
    options.ca_bundle = cfg.ca_bundle;
    return options;
  }

  std::string where() const { return "etcd ledger " + cfg_.described; }

  // Names arrive validated; this is the layout's own guard against escaping.
  template <typename Validate>
  void guard_name(const std::string& name, const std::string& key, Validate validate) const {
    try {
      validate(name);
    } catch (const Error& e) {
      throw Error(ErrorKind::Invalid, fmt::format("{}: bad name at key '{}': {}", where(), printable(key), e.what()));
    }
  }
  std::string package_dir(const std::string& package) const {
    guard_name(package, package, validate_package_name);
    return root_ + "packages/" + package + "/";
  }
  std::string versions_dir(const std::string& package) const { return package_dir(package) + "v/"; }
  std::string tags_dir(const std::string& package) const { return package_dir(package) + "t/"; }
  std::string version_key(const std::string& package, std::uint64_t v) const {
    return versions_dir(package) + pad20(v);
  }
  std::string counter_key(const std::string& package) const {
    guard_name(package, package, validate_package_name);
    return root_ + "counters/" + package;
  }
  static void check_version(std::uint64_t v) {
    if (v == 0 || v > static_cast<std::uint64_t>(INT64_MAX))
      throw Error(ErrorKind::Invalid, fmt::format("version {} is out of range for the etcd ledger", v));
  }
  static json tags_unchanged_since(const std::string& dir, std::int64_t revision) {
    json c = cmp(dir, "MOD", "LESS", revision + 1);
    c["range_end"] = b64encode(range_end(dir));
    return c;
  }

  [[noreturn]] void corrupt(const std::string& key, const std::string& why) const {
    throw Error(ErrorKind::Invalid, fmt::format("{}: corrupt key '{}': {}", where(), printable(key), why));
  }
  std::uint64_t version_of(const std::string& key, const std::string& dir) const {
    std::string_view suffix = std::string_view(key).substr(std::min(dir.size(), key.size()));
    auto v = suffix.size() == 20 && key.compare(0, dir.size(), dir) == 0 ? parse_number(suffix) : std::nullopt;
    if (!v) corrupt(key, "not a version key");
    return *v;
  }
  std::uint64_t parse_counter(const Kv& kv) const {
    auto v = parse_number(kv.value);
    if (!v) corrupt(kv.key, fmt::format("counter '{}' is not a positive number", printable(kv.value)));
    return *v;
  }
  Counter counter_from(const std::vector<Kv>& kvs) const {
    if (kvs.empty()) return {};
    return {parse_counter(kvs[0]), kvs[0].mod_revision};
  }
  std::uint64_t tag_value(const Kv& kv) const {
    auto v = parse_number(kv.value);
    if (!v) corrupt(kv.key, fmt::format("tag value '{}' is not a version", printable(kv.value)));
    return *v;
  }
  std::map<std::string, std::uint64_t> parse_tags(const std::vector<Kv>& kvs, const std::string& dir) const {
    std::map<std::string, std::uint64_t> out;
    for (const Kv& kv : kvs) {
      std::string name = kv.key.substr(dir.size());
      guard_name(name, kv.key, validate_tag_name);
      if (name == kLatestTag) corrupt(kv.key, "'latest' is reserved");
      out[name] = tag_value(kv);
    }
    return out;
  }
  static std::string add_id_of(const Kv& kv) {
    try {
      auto j = json::parse(kv.value);
      if (j.is_object() && j.contains("add_id") && j["add_id"].is_string()) return j["add_id"].get<std::string>();
    } catch (const json::exception&) {
    }
    return {};
  }
  VersionRecord parse_record(const Kv& kv, const std::string& package, std::uint64_t version) const {
    VersionRecord r;
    try {
      r = record_from_json(kv.value);
    } catch (const Error& e) {
      corrupt(kv.key, e.what());
    }
    if (r.package != package || r.version != version)
      corrupt(kv.key, fmt::format("holds the record of {} version {}", printable(r.package), r.version));
    return r;
  }

  // --- the wire ----------------------------------------------------------------

  std::vector<Kv> range_kvs(const json& response) const {
    std::vector<Kv> out;
    auto it = response.find("kvs");
    if (it == response.end()) return out;
    if (!it->is_array()) throw Error(ErrorKind::Invalid, where() + ": malformed range response");
    for (const json& kv : *it) {
      Kv k;
      auto key = b64decode(kv.value("key", ""));
      auto value = b64decode(kv.value("value", ""));
      if (!key || !value) throw Error(ErrorKind::Invalid, where() + ": undecodable key or value in a response");
      k.key = std::move(*key);
      k.value = std::move(*value);
      k.mod_revision = int_field(kv, "mod_revision");
      if (k.key.compare(0, root_.size(), root_) != 0)
        throw Error(ErrorKind::Invalid,
                    fmt::format("{}: server answered with key '{}' outside the prefix", where(), printable(k.key)));
      out.push_back(std::move(k));
    }
    return out;
  }

  // Every key in [key, end), in key order, read at one revision (paged). If etcd
  // compacts that revision away between two pages, the listing starts over.
  std::vector<Kv> range_all(const std::string& key, const std::string& end, bool keys_only) {
    for (int attempt = 1;; ++attempt) {
      try {
        return range_pages(key, end, keys_only);
      } catch (const Error& e) {
        if (attempt == 3 || std::string_view(e.what()).find("has been compacted") == std::string_view::npos) throw;
      }
    }
  }
  std::vector<Kv> range_pages(const std::string& key, const std::string& end, bool keys_only) {
    std::vector<Kv> out;
    json req = range_req(key, end, keys_only);
    req["limit"] = std::to_string(kPageSize);
    for (;;) {
      json res = call("kv/range", req);
      auto page = range_kvs(res);
      out.insert(out.end(), std::make_move_iterator(page.begin()), std::make_move_iterator(page.end()));
      if (!res.value("more", false) || page.empty()) return out;
      req["key"] = b64encode(out.back().key + '\0');
      req["revision"] = std::to_string(int_field(res.value("header", json::object()), "revision"));
    }
  }

  TxnResult txn(const Ops& compare, const Ops& success, const Ops& failure) {
    json body = json::object();
    body["compare"] = json::array();
    for (const json& c : compare) body["compare"].push_back(c);
    body["success"] = json::array();
    for (const json& op : success) body["success"].push_back(op);
    body["failure"] = json::array();
    for (const json& op : failure) body["failure"].push_back(op);
    json res = call("kv/txn", body);
    TxnResult r;
    r.succeeded = res.value("succeeded", false);
    r.revision = int_field(res.value("header", json::object()), "revision");
    for (const json& op : res.value("responses", json::array())) {
      if (!op.is_object() || op.empty()) {
        r.responses.push_back(json::object());
      } else {
        r.responses.push_back(op.begin().value());
      }
    }
    const std::size_t expected = (r.succeeded ? success : failure).size();
    if (r.responses.size() != expected)
      throw Error(ErrorKind::Invalid, fmt::format("{}: txn answered {} responses for {} operations", where(),
                                                  r.responses.size(), expected));
    return r;
  }

  // POSTs one JSON request; every request we send is safe to repeat (see the top).
  json call(const std::string& method, const json& body) {
    if (!cfg_.user.empty() && !authenticated_) authenticate();
    for (int reauth = 0;; ++reauth) {
      net::HttpResponse resp = post(method, body.dump(), true);
      if (resp.status == 200) return parse_body(method, resp);
      std::string message = error_message(resp);
      if (!cfg_.user.empty() && reauth == 0 && message.find("invalid auth token") != std::string::npos) {
        authenticate();  // simple tokens expire
        continue;
      }
      fail(method, resp.status, message);
    }
  }

  void authenticate() {
    token_.clear();
    authenticated_ = false;
    json body = {{"name", cfg_.user}, {"password", cfg_.password}};
    net::HttpResponse resp = post("auth/authenticate", body.dump(), false);
    if (resp.status != 200) {
      std::string message = error_message(resp);
      // Credentials for a cluster without auth are not an error: go on without a token.
      if (message.find("authentication is not enabled") != std::string::npos) return void(authenticated_ = true);
      fail("auth/authenticate", resp.status, message);
    }
    json j = parse_body("auth/authenticate", resp);
    token_ = j.value("token", "");
    if (token_.empty()) throw Error(ErrorKind::Denied, where() + ": authentication answered without a token");
    authenticated_ = true;
  }

  net::HttpResponse post(const std::string& method, const std::string& body, bool with_token) {
    for (std::size_t tried = 0;; ++tried) {
      net::HttpRequest req;
      req.method = "POST";
      req.url = cfg_.endpoints[current_] + "/v3/" + method;
      req.headers = {{"Content-Type", "application/json"}};
      if (with_token && !token_.empty()) req.headers.emplace_back("Authorization", token_);
      req.body = body;
      req.idempotent = true;
      req.timeout = std::chrono::seconds(60);
      if (cfg_.endpoints.size() > 1) req.max_attempts = 3;  // then the next endpoint
      try {
        return http_.send(req);
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::Unavailable) throw;
        if (tried + 1 >= cfg_.endpoints.size()) throw Error(ErrorKind::Unavailable, where() + ": " + e.what());
        current_ = (current_ + 1) % cfg_.endpoints.size();
      }
    }
  }

  json parse_body(const std::string& method, const net::HttpResponse& resp) const {
    try {
      json j = json::parse(resp.body);
      if (j.is_object()) return j;
    } catch (const json::exception&) {
    }
    throw Error(ErrorKind::Invalid,
                fmt::format("{}: /v3/{} answered something that is not an etcd JSON response", where(), method));
  }

  static std::string error_message(const net::HttpResponse& resp) {
    try {
      json j = json::parse(resp.body);
      if (j.is_object()) {
        if (j.contains("message") && j["message"].is_string()) return j["message"].get<std::string>();
        if (j.contains("error") && j["error"].is_string()) return j["error"].get<std::string>();
      }
    } catch (const json::exception&) {
    }
    return resp.body.substr(0, 200);
  }

  [[noreturn]] void fail(const std::string& method, long status, const std::string& message) const {
    ErrorKind kind = net::error_kind_for_status(status);
    const bool auth = message.find("user name is empty") != std::string::npos ||
                      message.find("authentication failed") != std::string::npos ||
                      message.find("permission denied") != std::string::npos ||
                      message.find("auth token") != std::string::npos;
    if (auth)
      kind = ErrorKind::Denied;
    else if (status == 404)
      kind = ErrorKind::Unavailable;  // no v3 gateway there: never "absent"
    std::string hint = status == 404 ? " (is this an etcd >= 3.4 client URL?)" : "";
    throw Error(kind, fmt::format("{}: /v3/{}: HTTP {}: {}{}", where(), method, status, printable(message), hint));
  }

  Config cfg_;
  std::string root_;
  net::HttpClient http_;
  std::size_t current_ = 0;
  std::string token_;
  bool authenticated_ = false;
  std::map<std::string, Counter> counters_;  // per package: what our last add left
};

std::string percent_decode(std::string_view s, const std::string& uri) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 2])))
      throw Error(ErrorKind::Invalid, fmt::format("invalid URI '{}': bad percent escape", printable(uri)));
    out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
    i += 2;
  }
  return out;
}

}  // namespace

std::unique_ptr<Ledger> open_etcd_ledger(const Uri& uri) {
  Config cfg;
  cfg.described = redact_uri(uri.text);
  auto invalid = [&](const std::string& why) {
    return Error(ErrorKind::Invalid, fmt::format("invalid URI '{}': {}", printable(cfg.described), why));
  };
  std::string_view hosts = uri.authority;
  if (auto at = hosts.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = hosts.substr(0, at);
    hosts = hosts.substr(at + 1);
    auto colon = userinfo.find(':');
    cfg.user = percent_decode(userinfo.substr(0, colon), cfg.described);
    if (colon != std::string_view::npos) cfg.password = percent_decode(userinfo.substr(colon + 1), cfg.described);
  } else if (const char* env = std::getenv("ETCDCTL_USER"); env && *env) {  // as etcdctl: "name:password"
    std::string_view u(env);
    auto colon = u.find(':');
    cfg.user = std::string(u.substr(0, colon));
    if (colon != std::string_view::npos) cfg.password = std::string(u.substr(colon + 1));
  }
  if (!cfg.user.empty() && cfg.password.empty())
    if (const char* env = std::getenv("ETCDCTL_PASSWORD")) cfg.password = env;

  bool tls = false;
  for (const auto& [name, value] : uri.query) {
    if (name == "tls" && (value == "1" || value == "true"))
      tls = true;
    else if (name == "tls" && (value == "0" || value == "false"))
      tls = false;
    else if (name == "ca" && !value.empty())
      cfg.ca_bundle = value, tls = true;
    else
      throw invalid(fmt::format("unknown parameter '{}' (etcd takes tls=1 and ca=/path/ca.pem)", printable(name)));
  }
  for (bool more = !hosts.empty(); more;) {
    auto comma = hosts.find(',');
    std::string_view one = hosts.substr(0, comma);
    more = comma != std::string_view::npos;
    if (more) hosts.remove_prefix(comma + 1);
    Authority a = split_authority(one);
    if (a.host.empty() || a.host.find_first_of("/@ ") != std::string::npos)
      throw invalid("expected etcd://host:port[,host:port...][/prefix]");
    if (a.port.empty()) a.port = "2379";
    if (a.port.size() > 5 || a.port.find_first_not_of("0123456789") != std::string::npos)
      throw invalid(fmt::format("bad port '{}'", printable(a.port)));
    cfg.endpoints.push_back(fmt::format("{}://{}:{}", tls ? "https" : "http", a.host, a.port));
  }
  if (cfg.endpoints.empty()) throw invalid("no host: expected etcd://host:port[/prefix]");

  std::string_view prefix = uri.path;
  while (!prefix.empty() && prefix.front() == '/') prefix.remove_prefix(1);
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  cfg.prefix = prefix.empty() ? "sacker" : std::string(prefix);
  return std::make_unique<EtcdLedger>(std::move(cfg));
}

}  // namespace sacker
