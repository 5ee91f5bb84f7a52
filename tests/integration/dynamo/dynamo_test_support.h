// Helpers of the DynamoDB integration tests: raw signed calls behind the
// ledger's back, and environment overrides.
#pragma once

#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "aws/sigv4.h"
#include "net/http.h"

namespace sacker::dynamotest {

using nlohmann::json;

// Sets an environment variable for the life of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Raw DynamoDB calls behind the ledger's back (what the original tool or an
// attacker with write access could leave in the tables).
inline json ddb(const std::string& op, const json& request, long* status = nullptr) {
  const char* endpoint = std::getenv("AWS_ENDPOINT_URL_DYNAMODB");
  if (!endpoint) throw std::runtime_error("AWS_ENDPOINT_URL_DYNAMODB is not set");
  net::HttpClient http;
  net::HttpRequest req;
  req.method = "POST";
  req.url = std::string(endpoint) + "/";
  req.headers = {{"Content-Type", "application/x-amz-json-1.0"}, {"X-Amz-Target", "DynamoDB_20120810." + op}};
  req.body = request.dump();
  aws::SigningParams params;
  params.credentials.access_key_id = "test";
  params.credentials.secret_access_key = "test";
  params.region = "us-east-1";
  params.service = "dynamodb";
  params.time = std::chrono::system_clock::now();
  aws::sign_request(req, aws::sha256_hex(req.body), params);
  auto resp = http.send(req);
  if (status)
    *status = resp.status;
  else if (resp.status != 200)
    throw std::runtime_error(op + ": " + resp.body);
  return json::parse(resp.body);
}

inline json S(const std::string& s) { return {{"S", s}}; }
inline json N(long long n) { return {{"N", std::to_string(n)}}; }

}  // namespace sacker::dynamotest
