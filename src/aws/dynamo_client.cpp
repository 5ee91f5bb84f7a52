#include "aws/dynamo_client.h"

#include <fmt/core.h>

#include <map>
#include <set>
#include <thread>

#include "aws/sigv4.h"
#include "kit/retry.h"
#include "sacker/config.h"
#include "sacker/names.h"

namespace sacker::aws {
namespace {

using nlohmann::json;

// Throttled requests were not executed: safe to repeat any of them.
RetryPolicy throttle_policy() {
  RetryPolicy p;
  p.max_attempts = 10;
  p.base_delay = std::chrono::milliseconds(20);
  p.max_delay = std::chrono::milliseconds(2000);
  return p;
}

std::string error_message(const json& body) {
  for (const char* k : {"message", "Message"})
    if (body.is_object() && body.contains(k) && body[k].is_string()) return body[k].get<std::string>();
  return {};
}

}  // namespace

std::string dynamo_error_code(const json& body) {
  if (!body.is_object() || !body.contains("__type") || !body["__type"].is_string()) return {};
  std::string t = body["__type"].get<std::string>();
  auto hash = t.rfind('#');
  return hash == std::string::npos ? t : t.substr(hash + 1);
}

bool dynamo_is_throttling(const std::string& code) {
  return code == "ProvisionedThroughputExceededException" || code == "ThrottlingException" ||
         code == "RequestLimitExceeded" || code == "LimitExceededException";
}

ErrorKind dynamo_error_kind(const std::string& code, long status) {
  static const std::set<std::string> denied = {
      "AccessDeniedException",     "UnrecognizedClientException", "MissingAuthenticationTokenException",
      "InvalidSignatureException", "ExpiredTokenException",       "IncompleteSignatureException",
      "InvalidClientTokenId",      "SignatureDoesNotMatch",       "MissingAuthenticationToken"};
  if (denied.count(code)) return ErrorKind::Denied;
  if (dynamo_is_throttling(code) || code == "InternalServerError" || code == "ServiceUnavailable" || status >= 500)
    return ErrorKind::Unavailable;
  if (code == "ValidationException" || code == "SerializationException") return ErrorKind::Invalid;
  if (code == "ResourceNotFoundException") return ErrorKind::NotFound;
  if (code == "ConditionalCheckFailedException" || code == "ResourceInUseException" ||
      code == "TransactionConflictException" || code == "TransactionCanceledException")
    return ErrorKind::Conflict;
  return net::error_kind_for_status(status);
}

DynamoClient::DynamoClient(std::string region, std::string what)
    : region_(std::move(region)), what_(std::move(what)), config_(AwsConfig::load(process_env())) {
  if (region_.empty()) region_ = config_.region();
  auto endpoint = config_.endpoint("dynamodb");
  endpoint_ = endpoint.custom ? endpoint.url
                              : fmt::format("https://dynamodb.{}.amazonaws.com{}", region_,
                                            region_.rfind("cn-", 0) == 0 ? ".cn" : "");
  credentials_ = make_default_credentials_provider(config_);
  net::HttpOptions options;
  options.ca_bundle = config_.ca_bundle();
  http_ = std::make_unique<net::HttpClient>(options);
}

std::optional<json> DynamoClient::call_conditional(std::string_view op, const std::string& table, const json& request) {
  net::HttpRequest req;
  req.method = "POST";
  req.url = endpoint_ + "/";
  req.headers = {{"Content-Type", "application/x-amz-json-1.0"},
                 {"X-Amz-Target", fmt::format("DynamoDB_20120810.{}", op)}};
  try {
    req.body = request.dump();
  } catch (const json::exception&) {
    throw Error(ErrorKind::Invalid, fmt::format("{}: {} on table {}: DynamoDB strings must be valid UTF-8 (a name, "
                                                "basename or metadata value is not)",
                                                what_, op, table));
  }
  // Every request the ledger sends may be repeated: a repeated conditional write
  // fails its condition (and the ledger reads back whose it was), a repeated
  // counter increment skips a number.
  req.idempotent = true;
  req.timeout = std::chrono::seconds(30);
  const std::string payload_hash = sha256_hex(req.body);
  Retry retry(throttle_policy(), fmt::format("{}: {} on table {}", what_, op, table));
  for (;;) {
    net::HttpResponse resp;
    try {
      SigningParams params;
      params.region = region_;
      params.service = "dynamodb";
      params.credentials = credentials_->get();
      req.sign = [params, payload_hash](net::HttpRequest& r) mutable {
        params.time = std::chrono::system_clock::now();
        sign_request(r, payload_hash, params);
      };
      resp = http_->send(req);
    } catch (const Error& e) {
      throw Error(e.kind(), fmt::format("{}: {} on table {}: {}", what_, op, table, e.what()));
    }
    json body;
    if (!resp.body.empty()) {
      body = json::parse(resp.body, nullptr, false);
      if (body.is_discarded()) body = json();
    }
    if (resp.status >= 200 && resp.status < 300) {
      if (!body.is_object())
        throw Error(ErrorKind::Unavailable, fmt::format("{}: {} on table {}: the answer is not a JSON object (HTTP {})",
                                                        what_, op, table, resp.status));
      return body;
    }
    const std::string code = dynamo_error_code(body);
    if (code == "ConditionalCheckFailedException") return std::nullopt;
    if (!dynamo_is_throttling(code)) fail(op, table, resp.status, code, error_message(body));
    retry.failed(FailureCause::ServerTrouble, code);
  }
}

json DynamoClient::call(std::string_view op, const std::string& table, const json& request) {
  auto resp = call_conditional(op, table, request);
  if (!resp) fail(op, table, 400, "ConditionalCheckFailedException", "unexpected condition failure");
  return std::move(*resp);
}

void DynamoClient::paginate(std::string_view op, const std::string& table, json request, int page_size,
                            const std::function<bool(const json&)>& each) {
  if (page_size > 0) request["Limit"] = page_size;
  for (;;) {
    json resp = call(op, table, request);
    if (resp.contains("Items") && resp["Items"].is_array())
      for (const auto& item : resp["Items"])
        if (!each(item)) return;
    if (!resp.contains("LastEvaluatedKey") || !resp["LastEvaluatedKey"].is_object() || resp["LastEvaluatedKey"].empty())
      return;
    request["ExclusiveStartKey"] = resp["LastEvaluatedKey"];
  }
}

void DynamoClient::fail(std::string_view op, const std::string& table, long status, const std::string& code,
                        const std::string& message) const {
  if (code == "ResourceNotFoundException")
    throw DynamoMissingTable(fmt::format("{}: table {} does not exist: run sacker init", what_, table), table);
  std::string why = code.empty() ? fmt::format("HTTP {}", status) : printable(code);
  if (!message.empty()) why += ": " + printable(message);
  throw Error(dynamo_error_kind(code, status), fmt::format("{}: {} on table {}: {}", what_, op, table, why));
}

void DynamoClient::create_table(const std::string& table, const DynamoKey& hash, const DynamoKey& range) {
  json req = {
      {"TableName", table},
      {"BillingMode", "PAY_PER_REQUEST"},
      {"AttributeDefinitions",
       {{{"AttributeName", hash.name}, {"AttributeType", hash.type}},
        {{"AttributeName", range.name}, {"AttributeType", range.type}}}},
      {"KeySchema",
       {{{"AttributeName", hash.name}, {"KeyType", "HASH"}}, {{"AttributeName", range.name}, {"KeyType", "RANGE"}}}}};
  try {
    call("CreateTable", table, req);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::Conflict) return;  // ResourceInUseException: it is there already
    if (e.kind() != ErrorKind::Denied) throw;
    // Not allowed to create tables: fine if an administrator did (wait_active checks it).
    try {
      call("DescribeTable", table, {{"TableName", table}});
    } catch (const Error&) {
      throw e;
    }
  }
}

void DynamoClient::wait_active(const std::string& table, const DynamoKey& hash, const DynamoKey& range) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  for (;;) {
    json resp = call("DescribeTable", table, {{"TableName", table}});
    const json& t = resp.value("Table", json::object());
    const std::string status = t.value("TableStatus", "");
    if (status == "ACTIVE") {
      std::map<std::string, std::string> keys, types;
      for (const auto& k : t.value("KeySchema", json::array()))
        if (k.is_object()) keys[k.value("AttributeName", "")] = k.value("KeyType", "");
      for (const auto& a : t.value("AttributeDefinitions", json::array()))
        if (a.is_object()) types[a.value("AttributeName", "")] = a.value("AttributeType", "");
      if (keys.size() == 2 && keys[hash.name] == "HASH" && keys[range.name] == "RANGE" &&
          types[hash.name] == hash.type && types[range.name] == range.type)
        return;
      throw Error(ErrorKind::Invalid, fmt::format("{}: table {} exists but is not a sacker table (expected hash key "
                                                  "{} {}, range key {} {})",
                                                  what_, table, hash.name, hash.type, range.name, range.type));
    }
    if (status == "DELETING")
      throw Error(ErrorKind::Conflict, fmt::format("{}: table {} is being deleted", what_, table));
    if (std::chrono::steady_clock::now() > deadline)
      throw Error(ErrorKind::Unavailable,
                  fmt::format("{}: table {} is still {} after 5 minutes", what_, table, status));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace sacker::aws
