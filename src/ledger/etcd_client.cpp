#include "ledger/etcd_client.h"

#include <fmt/core.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "core/codec.h"
#include "net/http.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker::etcd {

using nlohmann::json;

namespace {

constexpr std::int64_t kPageSize = 1000;
constexpr std::size_t kChunk = 100;  // ranges, compares or puts per txn we build, below kMaxTxnOps

const char* target_name(Compare::Target t) { return t == Compare::Target::Create ? "CREATE" : "MOD"; }
const char* target_field(Compare::Target t) {
  return t == Compare::Target::Create ? "create_revision" : "mod_revision";
}
const char* result_name(Compare::Result r) {
  switch (r) {
    case Compare::Result::Equal: return "EQUAL";
    case Compare::Result::Greater: return "GREATER";
    case Compare::Result::Less: return "LESS";
  }
  return "EQUAL";
}

json range_json(const Range& r) {
  json j = {{"key", codec::base64_encode(r.key)}};
  if (!r.end.empty()) j["range_end"] = codec::base64_encode(r.end);
  if (r.keys_only) j["keys_only"] = true;
  if (r.count_only) j["count_only"] = true;
  if (r.descending) {
    j["sort_order"] = "DESCEND";
    j["sort_target"] = "KEY";
  }
  if (r.limit > 0) j["limit"] = std::to_string(r.limit);
  if (r.revision > 0) j["revision"] = std::to_string(r.revision);
  return j;
}

json op_json(const Op& op) {
  switch (op.kind) {
    case Op::Kind::Get: return {{"request_range", range_json(op.range)}};
    case Op::Kind::Put:
      return {{"request_put", {{"key", codec::base64_encode(op.key)}, {"value", codec::base64_encode(op.value)}}}};
    case Op::Kind::Delete: return {{"request_delete_range", {{"key", codec::base64_encode(op.key)}}}};
  }
  return {};
}

json compare_json(const Compare& c) {
  json j = {{"key", codec::base64_encode(c.key)},
            {"target", target_name(c.target)},
            {"result", result_name(c.result)},
            {target_field(c.target), std::to_string(c.revision)}};
  if (!c.end.empty()) j["range_end"] = codec::base64_encode(c.end);
  return j;
}

}  // namespace

std::string prefix_end(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (end.empty()) return std::string(1, '\0');  // etcd: "every key >= key"
  end.back() = static_cast<char>(end.back() + 1);
  return end;
}

Range Range::under(const std::string& dir, bool keys_only) {
  Range r{dir, prefix_end(dir)};
  r.keys_only = keys_only;
  return r;
}

Range last_key(const std::string& dir) {
  Range r = Range::under(dir, true);
  r.descending = true;
  r.limit = 1;
  return r;
}

struct Client::Impl {
  ClientConfig cfg;
  std::string where;
  net::HttpClient http;
  std::size_t current = 0;
  std::string token;
  bool authenticated = false;

  static net::HttpOptions http_options(const ClientConfig& cfg) {
    net::HttpOptions options;
    options.connect_timeout = std::chrono::milliseconds(5000);
    // Rides out a leader election (about a second with etcd's default timeouts).
    options.retry.max_attempts = 7;
    options.retry.max_delay = std::chrono::milliseconds(2000);
    options.ca_bundle = cfg.ca_bundle;
    return options;
  }

  Impl(ClientConfig c, std::string w) : cfg(std::move(c)), where(std::move(w)), http(http_options(cfg)) {}

  [[noreturn]] void invalid(const std::string& why) const {
    throw Error(ErrorKind::Invalid, fmt::format("{}: {}", where, why));
  }

  // int64 fields come back as strings; proto3 JSON leaves out zeros and falses.
  std::int64_t int_field(const json& j, const char* name) const {
    auto it = j.find(name);
    if (it == j.end()) return 0;
    if (it->is_number_integer()) return it->get<std::int64_t>();
    if (it->is_string())
      if (auto v = codec::parse_signed_decimal(it->get_ref<const std::string&>())) return *v;
    invalid(fmt::format("the answer's field '{}' is not an integer", name));
  }

  RangeResult parse_range(const json& j) const {
    RangeResult r;
    r.more = j.value("more", false);
    r.count = int_field(j, "count");
    if (auto h = j.find("header"); h != j.end() && h->is_object()) r.revision = int_field(*h, "revision");
    auto it = j.find("kvs");
    if (it == j.end()) return r;
    if (!it->is_array()) invalid("malformed range response");
    for (const json& kv : *it) {
      if (!kv.is_object()) invalid("malformed range response");
      auto key = codec::base64_decode(kv.value("key", ""));
      auto value = codec::base64_decode(kv.value("value", ""));
      if (!key || !value) invalid("undecodable key or value in a response");
      if (key->compare(0, cfg.key_space.size(), cfg.key_space) != 0)
        invalid(fmt::format("the server answered with key '{}' outside the prefix", printable(*key)));
      r.kvs.push_back(
          {std::move(*key), std::move(*value), int_field(kv, "create_revision"), int_field(kv, "mod_revision")});
    }
    return r;
  }

  json parse_body(const std::string& method, const net::HttpResponse& resp) const {
    try {
      json j = json::parse(resp.body);
      if (j.is_object()) return j;
    } catch (const json::exception&) {
    }
    invalid(fmt::format("/v3/{} answered something that is not an etcd JSON response", method));
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
    throw Error(kind, fmt::format("{}: /v3/{}: HTTP {}: {}{}", where, method, status, printable(message), hint));
  }

  net::HttpResponse post(const std::string& method, const std::string& body, bool with_token) {
    for (std::size_t tried = 0;; ++tried) {
      net::HttpRequest req;
      req.method = "POST";
      req.url = cfg.endpoints[current] + "/v3/" + method;
      req.headers = {{"Content-Type", "application/json"}};
      if (with_token && !token.empty()) req.headers.emplace_back("Authorization", token);
      req.body = body;
      req.idempotent = true;
      req.timeout = std::chrono::seconds(60);
      if (cfg.endpoints.size() > 1) req.max_attempts = 3;  // then the next endpoint
      try {
        return http.send(req);
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::Unavailable) throw;
        if (tried + 1 >= cfg.endpoints.size()) throw Error(ErrorKind::Unavailable, where + ": " + e.what());
        current = (current + 1) % cfg.endpoints.size();
      }
    }
  }

  void authenticate() {
    token.clear();
    authenticated = false;
    json body = {{"name", cfg.user}, {"password", cfg.password}};
    net::HttpResponse resp = post("auth/authenticate", body.dump(), false);
    if (resp.status != 200) {
      std::string message = error_message(resp);
      // Credentials for a cluster without auth are not an error: go on without a token.
      if (message.find("authentication is not enabled") != std::string::npos) return void(authenticated = true);
      fail("auth/authenticate", resp.status, message);
    }
    token = parse_body("auth/authenticate", resp).value("token", "");
    if (token.empty()) throw Error(ErrorKind::Denied, where + ": authentication answered without a token");
    authenticated = true;
  }

  json call(const std::string& method, const json& body) {
    if (!cfg.user.empty() && !authenticated) authenticate();
    for (int reauth = 0;; ++reauth) {
      net::HttpResponse resp = post(method, body.dump(), true);
      if (resp.status == 200) return parse_body(method, resp);
      std::string message = error_message(resp);
      if (!cfg.user.empty() && reauth == 0 && message.find("invalid auth token") != std::string::npos) {
        authenticate();  // simple tokens expire
        continue;
      }
      fail(method, resp.status, message);
    }
  }
};

Client::Client(ClientConfig config) : where_("etcd ledger " + config.described) {
  impl_ = std::make_unique<Impl>(std::move(config), where_);
}

Client::~Client() = default;

RangeResult Client::range(const Range& request) {
  return impl_->parse_range(impl_->call("kv/range", range_json(request)));
}

std::optional<Kv> Client::get(const std::string& key) {
  auto r = range(Range{key});
  if (r.kvs.empty()) return std::nullopt;
  return std::move(r.kvs[0]);
}

std::vector<Kv> Client::range_all(Range request, std::size_t want, const std::function<bool(const Kv&)>& keep) {
  const Range first = request;
  for (int attempt = 1;; ++attempt) {
    std::vector<Kv> out;
    request = first;
    request.limit = kPageSize;
    try {
      for (;;) {
        RangeResult page = range(request);
        if (page.kvs.empty()) return out;
        const std::string last = page.kvs.back().key;
        for (Kv& kv : page.kvs) {
          if (keep && !keep(kv)) continue;
          out.push_back(std::move(kv));
          if (want > 0 && out.size() >= want) return out;
        }
        if (!page.more) return out;
        // The next page: after the last key (ascending) or below it (descending).
        if (request.descending)
          request.end = last;
        else
          request.key = last + '\0';
        request.revision = page.revision;
      }
    } catch (const Error& e) {
      if (attempt == 3 || std::string_view(e.what()).find("has been compacted") == std::string_view::npos) throw;
    }
  }
}

std::vector<RangeResult> Client::read(const std::vector<Range>& ranges) {
  std::vector<RangeResult> out;
  for (std::size_t i = 0; i < ranges.size(); i += kChunk) {
    std::vector<Op> ops;
    for (std::size_t k = i; k < std::min(ranges.size(), i + kChunk); ++k) ops.push_back(Op::get(ranges[k]));
    auto r = txn({}, ops, {});
    for (auto& one : r.results) out.push_back(std::move(one));
  }
  return out;
}

TxnResult Client::txn(const std::vector<Compare>& compare, const std::vector<Op>& success,
                      const std::vector<Op>& failure) {
  json body = {{"compare", json::array()}, {"success", json::array()}, {"failure", json::array()}};
  for (const Compare& c : compare) body["compare"].push_back(compare_json(c));
  for (const Op& op : success) body["success"].push_back(op_json(op));
  for (const Op& op : failure) body["failure"].push_back(op_json(op));
  json res = impl_->call("kv/txn", body);
  TxnResult r;
  r.succeeded = res.value("succeeded", false);
  if (auto h = res.find("header"); h != res.end() && h->is_object()) r.revision = impl_->int_field(*h, "revision");
  const std::vector<Op>& branch = r.succeeded ? success : failure;
  auto responses = res.value("responses", json::array());
  if (!responses.is_array() || responses.size() != branch.size())
    impl_->invalid(fmt::format("txn answered {} responses for {} operations",
                               responses.is_array() ? responses.size() : 0, branch.size()));
  for (std::size_t i = 0; i < branch.size(); ++i) {
    const json& one = responses[i];
    if (branch[i].kind != Op::Kind::Get) {
      r.results.emplace_back();
      continue;
    }
    auto inner = one.is_object() ? one.find("response_range") : one.end();
    r.results.push_back(inner != one.end() && inner->is_object() ? impl_->parse_range(*inner) : RangeResult{});
    if (r.results.back().revision == 0) r.results.back().revision = r.revision;
  }
  return r;
}

std::size_t Client::put_guarded(const std::vector<GuardedPut>& puts, std::map<std::string, Counter>& counters) {
  for (std::size_t begin = 0, end = 0; begin < puts.size(); begin = end) {
    std::vector<Compare> compares;
    std::vector<Op> ops;
    std::set<std::string> keys;
    std::map<std::string, std::uint64_t> raise;
    const GuardedPut* unique = nullptr;
    for (end = begin; end < puts.size(); ++end) {
      const GuardedPut& p = puts[end];
      const std::size_t cost = 1 + raise.size() + (p.counter.empty() || raise.count(p.counter) ? 0 : 1);
      if (compares.size() + cost > kChunk || ops.size() + cost > kChunk) break;
      if (p.unless.empty() || !keys.count(p.unless)) compares.push_back(p.guard);
      ops.push_back(Op::put(p.key, p.value));
      keys.insert(p.key);
      if (!p.counter.empty()) raise[p.counter] = std::max(raise[p.counter], p.at_least);
      if (p.unique && !unique) unique = &p;
    }
    for (const auto& [key, at_least] : raise)
      if (at_least > counters[key].next) {
        compares.push_back(Compare::unchanged(key, counters[key].mod));
        ops.push_back(Op::put(key, std::to_string(at_least)));
      }
    std::vector<Op> check;
    if (unique) check.push_back(Op::get(unique->key));
    auto res = txn(compares, ops, check);
    const bool went_through =
        res.succeeded || (unique && !res.results.at(0).kvs.empty() && res.results[0].kvs[0].value == unique->value);
    if (!went_through) return begin;
    for (const auto& [key, at_least] : raise)
      if (at_least > counters[key].next) counters[key] = {at_least, res.revision};
  }
  return puts.size();
}

}  // namespace sacker::etcd
