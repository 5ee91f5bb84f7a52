// A small DynamoDB client on the HTTP/SigV4/credentials layer, for the DynamoDB
// ledger: the JSON protocol (POST / with X-Amz-Target: DynamoDB_20120810.<Op>,
// SigV4 service "dynamodb"), error classification and pagination. Nothing about
// the ledger's tables or items.
//
// Contract in brief:
// - Endpoint, credentials and CA bundle as the AWS CLI resolves them
//   (AWS_ENDPOINT_URL_DYNAMODB > AWS_ENDPOINT_URL > profile; else
//   https://dynamodb.<region>.amazonaws.com[.cn]).
// - Errors: one sacker::Error whose message starts with `what` and names the
//   operation and the table, never a secret. ConditionalCheckFailedException is
//   a result (call_conditional: nullopt), not an error. Throttling
//   (ProvisionedThroughputExceeded, Throttling, RequestLimitExceeded,
//   LimitExceeded: the request was not executed) is retried with the kit's
//   backoff, 10 attempts, then Unavailable; connection failures, timeouts and 5xx
//   are retried by the HTTP layer. Kinds: see dynamo_error_kind.
// Thread-safety: one client is used from one thread at a time.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "aws/aws_config.h"
#include "aws/aws_credentials.h"
#include "net/http.h"
#include "sacker/error.h"

namespace sacker::aws {

// Error(NotFound) for a table that does not exist (ResourceNotFoundException):
// "<what>: table <t> does not exist: run sacker init". Its own type, so that a
// caller can tell a missing table (absent content) from anything else.
class DynamoMissingTable : public Error {
 public:
  DynamoMissingTable(const std::string& message, std::string table)
      : Error(ErrorKind::NotFound, message), table_(std::move(table)) {}
  const std::string& table() const { return table_; }

 private:
  std::string table_;
};

// "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException" -> the part
// after '#'; "" when the body is no error document.
std::string dynamo_error_code(const nlohmann::json& body);
bool dynamo_is_throttling(const std::string& code);
// Denied: access and signature errors; Unavailable: throttling, InternalServerError,
// ServiceUnavailable, 5xx; Invalid: ValidationException, SerializationException;
// NotFound: ResourceNotFoundException; Conflict: ConditionalCheckFailed,
// ResourceInUse, TransactionConflict, TransactionCanceled; else by HTTP status.
ErrorKind dynamo_error_kind(const std::string& code, long status);

// A key attribute of a table: name and type ("S", "N").
struct DynamoKey {
  std::string name, type;
};

class DynamoClient {
 public:
  // `region` empty: the AWS configuration's. `what` starts every error message.
  DynamoClient(std::string region, std::string what);

  const std::string& region() const { return region_; }
  const std::string& endpoint() const { return endpoint_; }

  // One call. The answer document; nullopt when the condition of a conditional
  // write failed. A missing table throws DynamoMissingTable.
  std::optional<nlohmann::json> call_conditional(std::string_view op, const std::string& table,
                                                 const nlohmann::json& request);
  // As call_conditional, for requests without a condition (a failed one is Conflict).
  nlohmann::json call(std::string_view op, const std::string& table, const nlohmann::json& request);
  // A Query or Scan, page by page following LastEvaluatedKey (`page_size` > 0:
  // the Limit of each page); `each` gets every item and returns false to stop.
  void paginate(std::string_view op, const std::string& table, nlohmann::json request, int page_size,
                const std::function<bool(const nlohmann::json& item)>& each);

  // CreateTable (on-demand capacity) with this hash and range key; fine if it
  // exists (ResourceInUse), or if creating is denied but the table is there.
  void create_table(const std::string& table, const DynamoKey& hash, const DynamoKey& range);
  // Waits (up to 5 minutes) until the table is ACTIVE, then checks its key schema:
  // Error(Invalid) "table <t> exists but is not a sacker table ..." if it differs.
  void wait_active(const std::string& table, const DynamoKey& hash, const DynamoKey& range);

 private:
  [[noreturn]] void fail(std::string_view op, const std::string& table, long status, const std::string& code,
                         const std::string& message) const;

  std::string region_, what_, endpoint_;
  AwsConfig config_;
  std::shared_ptr<AwsCredentialsProvider> credentials_;
  std::unique_ptr<net::HttpClient> http_;
};

}  // namespace sacker::aws
