// dynamo://region/table-prefix — the DynamoDB ledger, on the tables of the original
// Python sacker, spoken over the DynamoDB JSON protocol (POST / with X-Amz-Target,
// SigV4 service "dynamodb") through net/http.h. No transactions are used (dynalite,
// the local test server, has none): every step is one conditional single-item write.
//
// Layout (<prefix> = the URI path, a valid table name):
//   table <prefix>        hash package_name (S), range version (N): one item per version
//       sha (S), basename (S), mode (N), metadata (S: a JSON object of strings, as the
//       original wrote it with json.dumps; a map M of S is read too), size (N), created (N).
//       The original wrote neither size nor created (read as 0) and stored the whole
//       st_mode (0100644): a regular-file type is masked off, anything else is Invalid.
//   table <prefix>-tags   hash package_name (S), range tag (S): version (N)
//       plus one reserved item per package, tag = "#next" (tag names are
//       [A-Za-z0-9._-], so '#' can never collide), attribute `allocated` (N): the
//       highest version number ever handed out for the package.
//
// Versions (why it is race-free):
//   add    1. UpdateItem "#next" ADD allocated 1, returning the new value n. The ADD
//             is atomic, so every n goes to exactly one caller, and the counter never
//             goes down, so no n is handed out twice, whatever is removed later.
//             (Retried after a lost answer it skips a number, never repeats one.)
//          2. PutItem version n with attribute_not_exists(version). It succeeds unless
//             someone who does not reserve wrote n: the original tool (max + 1), an
//             import, versions that predate the counter. Then (the item is not ours:
//             a retried PutItem of our own reads back equal) the counter is raised to
//             the highest stored version (a conditional SET that only raises) and we
//             start over at 1 with jittered backoff, up to kAddAttempts times.
//          Concurrent adders never retry: 4 x 50 adds give exactly 1..200.
//          Unlike "read max, put max + 1, advance counter", a slow adder holding an old
//          read can never re-create a number that `remove` just deleted. The price: an
//          adder that dies between 1 and 2 leaves a hole (a number never used, which
//          reads like a removed version). A put that the server refused outright
//          (denied, invalid) hands its number back if nobody reserved after it.
//   put_record (import) raises the counter to >= v first, then puts v conditionally:
//          later adds get numbers above v; an equal existing record is a no-op.
//   remove checks the tags, raises the counter to >= v if v exists (for versions that
//          predate the counter), deletes, and checks the tags again: if a set_tag
//          slipped in between, it puts the deleted item back and answers Conflict.
//   set_tag checks the version, puts the tag, checks the version again and takes the
//          tag back (NotFound) if a remove won the race.
// Reads are ConsistentRead; Query and Scan follow LastEvaluatedKey. `latest` is one
// Query (descending, Limit 1). `packages` scans <prefix> projecting package_name.
#include "ledger/dynamo_ledger.h"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "aws/aws_config.h"
#include "aws/aws_credentials.h"
#include "net/http.h"
#include "aws/sigv4.h"
#include "sacker/config.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker {
namespace {

using nlohmann::json;

constexpr const char* kCounterTag = "#next";
constexpr int kAddAttempts = 50;
constexpr int kThrottleAttempts = 10;
constexpr auto kTableWait = std::chrono::minutes(5);

bool valid_table_name(std::string_view name) {
  if (name.size() < 3 || name.size() > 255) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
  });
}

json S(const std::string& s) { return json{{"S", s}}; }
json N(std::uint64_t n) { return json{{"N", std::to_string(n)}}; }
json N(std::int64_t n) { return json{{"N", std::to_string(n)}}; }

// DynamoDB's error code: "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException" -> the part after '#'.
std::string error_code(const json& body) {
  if (!body.is_object() || !body.contains("__type") || !body["__type"].is_string()) return {};
  std::string t = body["__type"].get<std::string>();
  auto hash = t.rfind('#');
  return hash == std::string::npos ? t : t.substr(hash + 1);
}

std::string error_message(const json& body) {
  for (const char* k : {"message", "Message"})
    if (body.is_object() && body.contains(k) && body[k].is_string()) return body[k].get<std::string>();
  return {};
}

bool is_throttling(const std::string& code) {
  return code == "ProvisionedThroughputExceededException" || code == "ThrottlingException" ||
         code == "RequestLimitExceeded" || code == "LimitExceededException";
}

ErrorKind kind_for(const std::string& code, long status) {
  static const std::set<std::string> denied = {
      "AccessDeniedException",     "UnrecognizedClientException", "MissingAuthenticationTokenException",
      "InvalidSignatureException", "ExpiredTokenException",       "IncompleteSignatureException",
      "InvalidClientTokenId",      "SignatureDoesNotMatch",       "MissingAuthenticationToken"};
  if (denied.count(code)) return ErrorKind::Denied;
  if (is_throttling(code) || code == "InternalServerError" || code == "ServiceUnavailable" || status >= 500)
    return ErrorKind::Unavailable;
  if (code == "ValidationException" || code == "SerializationException") return ErrorKind::Invalid;
  if (code == "ResourceNotFoundException") return ErrorKind::NotFound;
  if (code == "ConditionalCheckFailedException" || code == "ResourceInUseException" ||
      code == "TransactionConflictException")
    return ErrorKind::Conflict;
  return net::error_kind_for_status(status);
}

class DynamoLedger final : public Ledger {
 public:
  DynamoLedger(std::string region, std::string table, std::string describe, int page_size)
      : region_(std::move(region)),
        table_(std::move(table)),
        tags_table_(table_ + "-tags"),
        describe_(std::move(describe)),
        page_size_(page_size),
        config_(aws::AwsConfig::load(process_env())),
        rng_(std::random_device{}()) {
    if (region_.empty()) region_ = config_.region();
    auto endpoint = config_.endpoint("dynamodb");
    if (endpoint.custom) {
      endpoint_ = endpoint.url;
    } else {
      endpoint_ =
          fmt::format("https://dynamodb.{}.amazonaws.com{}", region_, region_.rfind("cn-", 0) == 0 ? ".cn" : "");
    }
    credentials_ = aws::make_default_credentials_provider(config_);
    net::HttpOptions options;
    options.ca_bundle = config_.ca_bundle();
    http_ = std::make_unique<net::HttpClient>(options);
  }

  void init() override {
    create_table(table_, "version", "N");
    create_table(tags_table_, "tag", "S");
    wait_active(table_, "version", "N");
    wait_active(tags_table_, "tag", "S");
  }

  std::vector<std::string> packages() override {
    std::set<std::string> names;
    json req = {{"TableName", table_},
                {"ProjectionExpression", "#p"},
                {"ExpressionAttributeNames", {{"#p", "package_name"}}},
                {"ConsistentRead", true}};
    paginate("Scan", table_, req, [&](const json& item) {
      std::string name = string_attr(item, "package_name", table_, "(scan)");
      guard(table_, "(scan)", [&] { validate_package_name(name); });
      names.insert(std::move(name));
    });
    return {names.begin(), names.end()};
  }

  std::vector<std::uint64_t> versions(const std::string& package) override {
    std::vector<std::uint64_t> out;
    json req = version_query(package);
    req["ProjectionExpression"] = "#v";
    req["ExpressionAttributeNames"]["#v"] = "version";
    paginate("Query", table_, req, [&](const json& item) { out.push_back(version_of(item, package)); });
    return out;
  }

  std::optional<std::uint64_t> latest(const std::string& package) override {
    json req = version_query(package);
    req["ProjectionExpression"] = "#v";
    req["ExpressionAttributeNames"]["#v"] = "version";
    req["ScanIndexForward"] = false;
    req["Limit"] = 1;
    json resp = call("Query", table_, req, true);
    const json& items = resp.value("Items", json::array());
    if (!items.is_array() || items.empty()) return std::nullopt;
    return version_of(items[0], package);
  }

  std::optional<VersionRecord> get(const std::string& package, std::uint64_t version) override {
    json resp = call("GetItem", table_,
                     {{"TableName", table_}, {"Key", version_key(package, version)}, {"ConsistentRead", true}}, true);
    if (!resp.contains("Item")) return std::nullopt;
    return parse_record(resp["Item"], package);
  }

  std::vector<VersionRecord> records(const std::string& package) override {
    std::vector<VersionRecord> out;
    paginate("Query", table_, version_query(package),
             [&](const json& item) { out.push_back(parse_record(item, package)); });
    return out;
  }

  std::uint64_t add(const VersionRecord& record) override {
    check_encodable(record);  // before a number is reserved for it
    VersionRecord r = record;
    for (int attempt = 0; attempt < kAddAttempts; ++attempt) {
      r.version = reserve(r.package);
      bool written = false;
      try {
        written = put_version(r);
      } catch (const Error& e) {
        // Refused outright (nothing written): give the number back if it is still the last one.
        if (e.kind() == ErrorKind::Denied || e.kind() == ErrorKind::Invalid || e.kind() == ErrorKind::NotFound)
          give_back(r.package, r.version);
        throw;
      }
      if (written || is_ours(r)) return r.version;
      // Written by someone who does not reserve: lift the counter over what is stored.
      if (auto highest = latest(r.package)) raise_counter(r.package, *highest);
      backoff(attempt);
    }
    throw Error(ErrorKind::Conflict, fmt::format("dynamo ledger {}: add {}: version numbers kept colliding with "
                                                 "writers that bypass the counter; gave up after {} attempts",
                                                 describe_, record.package, kAddAttempts));
  }

  void put_record(const VersionRecord& record) override {
    if (record.version == 0) throw Error(ErrorKind::Invalid, "put_record: version must be positive");
    check_encodable(record);
    raise_counter(record.package, record.version);
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (put_version(record)) return;
      auto existing = get(record.package, record.version);
      if (!existing) continue;  // removed in between: try again
      if (*existing == record) return;
      throw Error(ErrorKind::Conflict,
                  fmt::format("{} version {} already exists with other content", record.package, record.version));
    }
    throw Error(ErrorKind::Conflict,
                fmt::format("{} version {} changed under us while importing it", record.package, record.version));
  }

  bool remove_version(const std::string& package, std::uint64_t version) override {
    refuse_if_tagged(package, version, "");
    if (!version_exists(package, version)) return false;  // and leave the counter alone
    raise_counter(package, version);
    json resp =
        call("DeleteItem", table_,
             {{"TableName", table_}, {"Key", version_key(package, version)}, {"ReturnValues", "ALL_OLD"}}, true);
    if (!resp.contains("Attributes") || !resp["Attributes"].is_object() || resp["Attributes"].empty()) return false;
    try {
      refuse_if_tagged(package, version, " meanwhile");
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::Conflict) throw;
      // A set_tag raced us: put the record back as it was.
      call_conditional("PutItem", table_,
                       {{"TableName", table_},
                        {"Item", resp["Attributes"]},
                        {"ConditionExpression", "attribute_not_exists(#v)"},
                        {"ExpressionAttributeNames", {{"#v", "version"}}}},
                       true);
      throw;
    }
    return true;
  }

  std::map<std::string, std::uint64_t> tags(const std::string& package) override {
    std::map<std::string, std::uint64_t> out;
    json req = {{"TableName", tags_table_},
                {"KeyConditionExpression", "#p = :p"},
                {"ExpressionAttributeNames", {{"#p", "package_name"}}},
                {"ExpressionAttributeValues", {{":p", S(package)}}},
                {"ConsistentRead", true}};
    paginate("Query", tags_table_, req, [&](const json& item) {
      std::string tag = string_attr(item, "tag", tags_table_, package);
      if (!tag.empty() && tag[0] == '#') return;  // reserved items (the counter)
      out[tag] = tag_version(item, package, tag);
    });
    return out;
  }

  std::optional<std::uint64_t> tag(const std::string& package, const std::string& tag) override {
    check_user_tag(tag);
    json resp = call("GetItem", tags_table_,
                     {{"TableName", tags_table_}, {"Key", tag_key(package, tag)}, {"ConsistentRead", true}}, true);
    if (!resp.contains("Item")) return std::nullopt;
    return tag_version(resp["Item"], package, tag);
  }

  void set_tag(const std::string& package, const std::string& tag, std::uint64_t version) override {
    check_user_tag(tag);
    auto missing = [&] { return Error(ErrorKind::NotFound, fmt::format("{} has no version {}", package, version)); };
    if (!version_exists(package, version)) throw missing();
    json item = tag_key(package, tag);
    item["version"] = N(version);
    call("PutItem", tags_table_, {{"TableName", tags_table_}, {"Item", item}}, true);
    if (!version_exists(package, version)) {
      // A remove_version won the race: take our tag back unless it moved on already.
      call_conditional("DeleteItem", tags_table_,
                       {{"TableName", tags_table_},
                        {"Key", tag_key(package, tag)},
                        {"ConditionExpression", "#v = :v"},
                        {"ExpressionAttributeNames", {{"#v", "version"}}},
                        {"ExpressionAttributeValues", {{":v", N(version)}}}},
                       true);
      throw missing();
    }
  }

  bool remove_tag(const std::string& package, const std::string& tag) override {
    check_user_tag(tag);
    json resp = call("DeleteItem", tags_table_,
                     {{"TableName", tags_table_}, {"Key", tag_key(package, tag)}, {"ReturnValues", "ALL_OLD"}}, true);
    return resp.contains("Attributes") && resp["Attributes"].is_object() && !resp["Attributes"].empty();
  }

  std::string describe() const override { return describe_; }

 private:
  // --- the wire -------------------------------------------------------------------

  // One DynamoDB call. Returns the response document of a 2xx; nullopt when the
  // condition of a conditional write failed; throws Error for everything else.
  std::optional<json> call_conditional(const char* op, const std::string& table, const json& request, bool idempotent) {
    net::HttpRequest req;
    req.method = "POST";
    req.url = endpoint_ + "/";
    req.headers = {{"Content-Type", "application/x-amz-json-1.0"},
                   {"X-Amz-Target", std::string("DynamoDB_20120810.") + op}};
    try {
      req.body = request.dump();
    } catch (const json::exception&) {
      throw Error(ErrorKind::Invalid, fmt::format("dynamo ledger {}: {} on table {}: DynamoDB strings must be "
                                                  "valid UTF-8 (a name, basename or metadata value is not)",
                                                  describe_, op, table));
    }
    req.idempotent = idempotent;
    req.timeout = std::chrono::seconds(30);
    const std::string payload_hash = aws::sha256_hex(req.body);
    for (int attempt = 1;; ++attempt) {
      aws::SigningParams params;
      params.region = region_;
      params.service = "dynamodb";
      net::HttpResponse resp;
      try {
        params.credentials = credentials_->get();
        req.sign = [params, payload_hash](net::HttpRequest& r) mutable {
          params.time = std::chrono::system_clock::now();
          aws::sign_request(r, payload_hash, params);
        };
        resp = http_->send(req);
      } catch (const Error& e) {
        throw Error(e.kind(), fmt::format("dynamo ledger {}: {} on table {}: {}", describe_, op, table, e.what()));
      }
      json body;
      if (!resp.body.empty()) {
        body = json::parse(resp.body, nullptr, false);
        if (body.is_discarded()) body = json();
      }
      if (resp.status >= 200 && resp.status < 300) {
        if (!body.is_object())
          throw Error(ErrorKind::Unavailable, fmt::format("dynamo ledger {}: {} on table {}: the answer is not a "
                                                          "JSON object (HTTP {})",
                                                          describe_, op, table, resp.status));
        return body;
      }
      std::string code = error_code(body);
      if (code == "ConditionalCheckFailedException") return std::nullopt;
      // Throttling answers mean the request was not executed: safe to repeat any of them.
      if (is_throttling(code) && attempt < kThrottleAttempts) {
        backoff(attempt);
        continue;
      }
      fail(op, table, resp.status, code, error_message(body));
    }
  }

  json call(const char* op, const std::string& table, const json& request, bool idempotent) {
    auto resp = call_conditional(op, table, request, idempotent);
    if (!resp) fail(op, table, 400, "ConditionalCheckFailedException", "unexpected condition failure");
    return std::move(*resp);
  }

  [[noreturn]] void fail(const char* op, const std::string& table, long status, const std::string& code,
                         const std::string& message) {
    if (code == "ResourceNotFoundException")
      throw Error(ErrorKind::NotFound,
                  fmt::format("dynamo ledger {}: table {} does not exist: run sacker init", describe_, table));
    std::string why = code.empty() ? fmt::format("HTTP {}", status) : code;
    if (!message.empty()) why += ": " + printable(message);
    throw Error(kind_for(code, status), fmt::format("dynamo ledger {}: {} on table {}: {}", describe_, op, table, why));
  }

  // Query/Scan, following LastEvaluatedKey.
  template <typename F>
  void paginate(const char* op, const std::string& table, json request, F&& each) {
    if (page_size_ > 0) request["Limit"] = page_size_;
    for (;;) {
      json resp = call(op, table, request, true);
      if (resp.contains("Items") && resp["Items"].is_array())
        for (const auto& item : resp["Items"]) each(item);
      if (!resp.contains("LastEvaluatedKey") || !resp["LastEvaluatedKey"].is_object() ||
          resp["LastEvaluatedKey"].empty())
        return;
      request["ExclusiveStartKey"] = resp["LastEvaluatedKey"];
    }
  }

  void backoff(int attempt) {
    auto cap = std::min<long>(2000, 10L << std::min(attempt, 8));
    std::uniform_int_distribution<long> pick(1, cap);
    std::this_thread::sleep_for(std::chrono::milliseconds(pick(rng_)));
  }

  // --- tables -------------------------------------------------------------------

  void create_table(const std::string& table, const char* range, const char* range_type) {
    json req = {
        {"TableName", table},
        {"BillingMode", "PAY_PER_REQUEST"},
        {"AttributeDefinitions",
         {{{"AttributeName", "package_name"}, {"AttributeType", "S"}},
          {{"AttributeName", range}, {"AttributeType", range_type}}}},
        {"KeySchema",
         {{{"AttributeName", "package_name"}, {"KeyType", "HASH"}}, {{"AttributeName", range}, {"KeyType", "RANGE"}}}}};
    try {
      call("CreateTable", table, req, false);
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::Conflict) return;  // ResourceInUseException: it is there already
      if (e.kind() != ErrorKind::Denied) throw;
      // Not allowed to create tables: fine if an administrator did (wait_active checks it).
      try {
        call("DescribeTable", table, {{"TableName", table}}, true);
      } catch (const Error&) {
        throw e;
      }
    }
  }

  void wait_active(const std::string& table, const char* range, const char* range_type) {
    auto deadline = std::chrono::steady_clock::now() + kTableWait;
    for (;;) {
      json resp = call("DescribeTable", table, {{"TableName", table}}, true);
      const json& t = resp.value("Table", json::object());
      std::string status = t.value("TableStatus", "");
      if (status == "ACTIVE") return check_schema(table, t, range, range_type);
      if (status == "DELETING")
        throw Error(ErrorKind::Conflict, fmt::format("dynamo ledger {}: table {} is being deleted", describe_, table));
      if (std::chrono::steady_clock::now() > deadline)
        throw Error(ErrorKind::Unavailable,
                    fmt::format("dynamo ledger {}: table {} is still {} after 5 minutes", describe_, table, status));
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }

  void check_schema(const std::string& table, const json& t, const char* range, const char* range_type) {
    std::map<std::string, std::string> keys, types;
    for (const auto& k : t.value("KeySchema", json::array()))
      if (k.is_object()) keys[k.value("AttributeName", "")] = k.value("KeyType", "");
    for (const auto& a : t.value("AttributeDefinitions", json::array()))
      if (a.is_object()) types[a.value("AttributeName", "")] = a.value("AttributeType", "");
    bool ok = keys.size() == 2 && keys["package_name"] == "HASH" && keys[range] == "RANGE" &&
              types["package_name"] == "S" && types[range] == range_type;
    if (!ok)
      throw Error(ErrorKind::Invalid,
                  fmt::format("dynamo ledger {}: table {} exists but is not a sacker table (expected hash key "
                              "package_name S, range key {} {})",
                              describe_, table, range, range_type));
  }

  // --- items --------------------------------------------------------------------

  json version_key(const std::string& package, std::uint64_t version) const {
    return {{"package_name", S(package)}, {"version", N(version)}};
  }
  json tag_key(const std::string& package, const std::string& tag) const {
    return {{"package_name", S(package)}, {"tag", S(tag)}};
  }
  json version_query(const std::string& package) const {
    return {{"TableName", table_},
            {"KeyConditionExpression", "#p = :p"},
            {"ExpressionAttributeNames", {{"#p", "package_name"}}},
            {"ExpressionAttributeValues", {{":p", S(package)}}},
            {"ConsistentRead", true}};
  }

  static void check_user_tag(const std::string& tag) {
    if (!tag.empty() && tag[0] == '#')
      throw Error(ErrorKind::Invalid, fmt::format("tag '{}' is reserved by the dynamo ledger", printable(tag)));
  }

  // Runs `fn`; an Error(Invalid) from it is rethrown naming the item.
  template <typename F>
  void guard(const std::string& table, const std::string& where, F&& fn) const {
    try {
      fn();
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::Invalid) throw;
      throw Error(ErrorKind::Invalid,
                  fmt::format("dynamo ledger {}: table {} item {}: {}", describe_, table, where, e.what()));
    }
  }

  [[noreturn]] void bad_item(const std::string& table, const std::string& where, const std::string& why) const {
    throw Error(ErrorKind::Invalid,
                fmt::format("dynamo ledger {}: table {} item {}: {}", describe_, table, where, why));
  }

  std::string string_attr(const json& item, const char* name, const std::string& table,
                          const std::string& where) const {
    if (!item.is_object() || !item.contains(name) || !item[name].is_object() || !item[name].contains("S") ||
        !item[name]["S"].is_string())
      bad_item(table, where, fmt::format("attribute '{}' is missing or not a string", name));
    return item[name]["S"].get<std::string>();
  }

  // A whole number attribute; nullopt if absent (and !required).
  std::optional<std::int64_t> number_attr(const json& item, const char* name, bool required, const std::string& table,
                                          const std::string& where) const {
    if (!item.is_object() || !item.contains(name)) {
      if (required) bad_item(table, where, fmt::format("attribute '{}' is missing", name));
      return std::nullopt;
    }
    const json& a = item[name];
    if (!a.is_object() || !a.contains("N") || !a["N"].is_string())
      bad_item(table, where, fmt::format("attribute '{}' is not a number", name));
    std::string text = a["N"].get<std::string>();
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size())
      bad_item(table, where, fmt::format("attribute '{}' is not a whole number: {}", name, printable(text)));
    return value;
  }

  std::uint64_t version_of(const json& item, const std::string& package) const {
    auto v = number_attr(item, "version", true, table_, package);
    if (*v <= 0) bad_item(table_, package, fmt::format("version {} is not positive", *v));
    return static_cast<std::uint64_t>(*v);
  }

  std::uint64_t tag_version(const json& item, const std::string& package, const std::string& tag) const {
    std::string where = fmt::format("({}, {})", package, printable(tag));
    guard(tags_table_, where, [&] { validate_user_tag(tag); });
    auto v = number_attr(item, "version", true, tags_table_, where);
    if (*v <= 0) bad_item(tags_table_, where, fmt::format("version {} is not positive", *v));
    return static_cast<std::uint64_t>(*v);
  }

  json item_of(const VersionRecord& r) const {
    json meta = json::object();
    for (const auto& [k, v] : r.metadata) meta[k] = v;
    json item = version_key(r.package, r.version);
    item["sha"] = S(r.sha256);
    item["basename"] = S(r.basename);
    item["mode"] = N(static_cast<std::uint64_t>(r.mode));
    item["metadata"] = S(meta.dump());
    item["size"] = N(r.size);
    item["created"] = N(r.created);
    return item;
  }

  VersionRecord parse_record(const json& item, const std::string& package) const {
    VersionRecord r;
    r.version = version_of(item, package);
    std::string where = fmt::format("({}, {})", package, r.version);
    r.package = string_attr(item, "package_name", table_, where);
    if (r.package != package) bad_item(table_, where, "package_name does not match its key");
    r.sha256 = string_attr(item, "sha", table_, where);
    r.basename = string_attr(item, "basename", table_, where);
    std::int64_t mode = *number_attr(item, "mode", true, table_, where);
    // The original stored os.stat().st_mode: drop the regular-file type bits.
    if (mode > 07777 && (mode & ~std::int64_t{07777}) == 0100000) mode &= 07777;
    if (mode < 0 || mode > 07777) bad_item(table_, where, fmt::format("mode {} is not a file mode", mode));
    r.mode = static_cast<std::uint32_t>(mode);
    auto size = number_attr(item, "size", false, table_, where).value_or(0);
    if (size < 0) bad_item(table_, where, "size is negative");
    r.size = static_cast<std::uint64_t>(size);
    r.created = number_attr(item, "created", false, table_, where).value_or(0);
    r.metadata = parse_metadata(item, where);
    guard(table_, where, [&] { validate_record(r); });
    return r;
  }

  Metadata parse_metadata(const json& item, const std::string& where) const {
    Metadata out;
    if (!item.contains("metadata")) return out;
    const json& a = item["metadata"];
    json obj;
    if (a.is_object() && a.contains("S") && a["S"].is_string()) {
      obj = json::parse(a["S"].get<std::string>(), nullptr, false);
      if (obj.is_discarded()) bad_item(table_, where, "metadata is not JSON");
      if (obj.is_null()) return out;  // json.dumps(None)
      if (!obj.is_object()) bad_item(table_, where, "metadata is not a JSON object");
      for (const auto& [k, v] : obj.items()) {
        if (!v.is_string()) bad_item(table_, where, fmt::format("metadata '{}' is not a string", printable(k)));
        out[k] = v.get<std::string>();
      }
    } else if (a.is_object() && a.contains("M") && a["M"].is_object()) {
      for (const auto& [k, v] : a["M"].items()) {
        if (!v.is_object() || !v.contains("S") || !v["S"].is_string())
          bad_item(table_, where, fmt::format("metadata '{}' is not a string", printable(k)));
        out[k] = v["S"].get<std::string>();
      }
    } else if (!(a.is_object() && a.contains("NULL"))) {
      bad_item(table_, where, "metadata is neither a JSON string nor a map");
    }
    return out;
  }

  // --- the version protocol (see the top of the file) ---------------------------

  // Step 1 of add: the next number, atomically. Replayed after a lost answer, it skips a
  // number (a hole) but never repeats one, and a hole is what failing would leave too.
  std::uint64_t reserve(const std::string& package) {
    json resp = call("UpdateItem", tags_table_,
                     {{"TableName", tags_table_},
                      {"Key", tag_key(package, kCounterTag)},
                      {"UpdateExpression", "ADD #a :one"},
                      {"ExpressionAttributeNames", {{"#a", "allocated"}}},
                      {"ExpressionAttributeValues", {{":one", N(std::uint64_t{1})}}},
                      {"ReturnValues", "UPDATED_NEW"}},
                     true);
    json attrs = resp.value("Attributes", json::object());
    auto n = number_attr(attrs, "allocated", true, tags_table_, fmt::format("({}, {})", package, kCounterTag));
    if (*n <= 0) bad_item(tags_table_, package, "the version counter is not positive");
    return static_cast<std::uint64_t>(*n);
  }

  // Raises the counter to at least `at_least`; never lowers it.
  void raise_counter(const std::string& package, std::uint64_t at_least) {
    call_conditional("UpdateItem", tags_table_,
                     {{"TableName", tags_table_},
                      {"Key", tag_key(package, kCounterTag)},
                      {"UpdateExpression", "SET #a = :n"},
                      {"ConditionExpression", "attribute_not_exists(#a) OR #a < :n"},
                      {"ExpressionAttributeNames", {{"#a", "allocated"}}},
                      {"ExpressionAttributeValues", {{":n", N(at_least)}}}},
                     true);
  }

  // Best effort: returns `number` to the pool if nobody reserved after it.
  void give_back(const std::string& package, std::uint64_t number) {
    try {
      call_conditional("UpdateItem", tags_table_,
                       {{"TableName", tags_table_},
                        {"Key", tag_key(package, kCounterTag)},
                        {"UpdateExpression", "SET #a = :prev"},
                        {"ConditionExpression", "#a = :n"},
                        {"ExpressionAttributeNames", {{"#a", "allocated"}}},
                        {"ExpressionAttributeValues", {{":n", N(number)}, {":prev", N(number - 1)}}}},
                       true);
    } catch (const Error&) {
      // The original error is the one to report.
    }
  }

  void check_encodable(const VersionRecord& r) const {
    try {
      (void)item_of(r).dump();
    } catch (const json::exception&) {
      throw Error(ErrorKind::Invalid, fmt::format("dynamo ledger {}: {}: DynamoDB strings must be valid UTF-8 (the "
                                                  "basename or a metadata value is not)",
                                                  describe_, r.package));
    }
  }

  // true if written, false if the version already exists.
  bool put_version(const VersionRecord& r) {
    return call_conditional("PutItem", table_,
                            {{"TableName", table_},
                             {"Item", item_of(r)},
                             {"ConditionExpression", "attribute_not_exists(#v)"},
                             {"ExpressionAttributeNames", {{"#v", "version"}}}},
                            true)
        .has_value();
  }

  // After a failed conditional put: is the stored item our own (a retried request that had succeeded)?
  bool is_ours(const VersionRecord& r) {
    try {
      auto existing = get(r.package, r.version);
      return existing && *existing == r;
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::Invalid) return false;  // someone else's unreadable record
      throw;
    }
  }

  bool version_exists(const std::string& package, std::uint64_t version) {
    json resp = call("GetItem", table_,
                     {{"TableName", table_},
                      {"Key", version_key(package, version)},
                      {"ProjectionExpression", "#v"},
                      {"ExpressionAttributeNames", {{"#v", "version"}}},
                      {"ConsistentRead", true}},
                     true);
    return resp.contains("Item") && resp["Item"].is_object() && !resp["Item"].empty();
  }

  void refuse_if_tagged(const std::string& package, std::uint64_t version, const char* when) {
    for (const auto& [tag, v] : tags(package))
      if (v == version)
        throw Error(ErrorKind::Conflict,
                    fmt::format("{} version {} is tagged '{}'{}: untag it first", package, version, tag, when));
  }

  std::string region_, table_, tags_table_, describe_;
  int page_size_ = 0;
  std::string endpoint_;
  aws::AwsConfig config_;
  std::shared_ptr<aws::AwsCredentialsProvider> credentials_;
  std::unique_ptr<net::HttpClient> http_;
  std::mt19937_64 rng_;
};

bool valid_region(std::string_view region) {
  return !region.empty() && region.size() <= 64 && std::all_of(region.begin(), region.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

}  // namespace

std::unique_ptr<Ledger> open_dynamo_ledger(const Uri& uri) {
  auto invalid = [&](const std::string& why) {
    return Error(ErrorKind::Invalid, fmt::format("invalid URI '{}': {}", redact_uri(uri.text), why));
  };
  if (!uri.authority.empty() && !valid_region(uri.authority))
    throw invalid("the region must be like us-east-1 (dynamo://region/table-prefix)");
  std::string table = uri.path.empty() ? std::string() : uri.path.substr(1);
  if (!valid_table_name(table) || table.size() > 250)
    throw invalid(
        "the table prefix must be 3-250 characters of A-Z a-z 0-9 _ . - (dynamo://region/table-prefix; "
        "the tags table is <prefix>-tags)");
  int page_size = 0;
  for (const auto& [key, value] : uri.query) {
    if (key != "page_size") throw invalid(fmt::format("unknown parameter '{}' (known: page_size)", printable(key)));
    int n = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || end != value.data() + value.size() || n < 1 || n > 10000)
      throw invalid("page_size must be a number from 1 to 10000");
    page_size = n;
  }
  return std::make_unique<DynamoLedger>(uri.authority, table, redact_uri(uri.text), page_size);
}

}  // namespace sacker
