// Helpers of the S3 integration tests: the admin's S3 client, running the sacker
// binary and the AWS CLI, and a PutObject-only user made from
// examples/ci-aws-iam-policy.json.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aws/s3_client.h"
#include "sacker/error.h"
#include "support/process.h"
#include "support/records.h"
#include "support/test_env.h"

namespace sacker::s3test {

inline std::string env(const char* name) {
  const char* v = std::getenv(name);
  if (!v) throw std::runtime_error(std::string("$") + name + " is not set (is SACKER_TEST_ENV_FILE loaded?)");
  return v;
}

// The admin's client (the keys of the env file).
inline aws::S3Client& admin() {
  test::load_test_env();
  static std::shared_ptr<aws::S3Client> client = aws::S3Client::from_environment();
  return *client;
}

inline std::string bucket() {
  test::load_test_env();
  return env("RGW_BUCKET");
}

// Debian's AWS CLI v2 (the pip v1 first in PATH presigns with SigV2). v2.9 does
// not read AWS_ENDPOINT_URL: the endpoint is passed explicitly.
inline test::ProcessResult aws(std::vector<std::string> args, const std::vector<std::string>& extra_env = {}) {
  test::load_test_env();
  std::vector<std::string> argv = {"/usr/bin/aws", "--endpoint-url", env("AWS_ENDPOINT_URL")};
  argv.insert(argv.end(), args.begin(), args.end());
  return test::run_process(argv, extra_env);
}

inline test::ProcessResult sacker(std::vector<std::string> args, const std::vector<std::string>& extra_env = {},
                                  const std::string& stdin_data = "") {
  test::load_test_env();
  args.insert(args.begin(), SACKER_BINARY);
  return test::run_process(args, extra_env, stdin_data);
}

inline std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

using test::kind_of;

// A second RGW user whose only rights are the example CI policy's, given as
// bucket policies on `store_bucket` and `ledger_bucket` (both created here):
// the policy's Allow statements with this user as Principal, and a Deny of
// everything else.
struct WriteOnlyUser {
  std::string uid, access_key, secret_key;
  // Environment overrides that make a child process use this user.
  std::vector<std::string> env() const {
    return {"AWS_ACCESS_KEY_ID=" + access_key, "AWS_SECRET_ACCESS_KEY=" + secret_key};
  }
};

// `with_events` false: the policy as it was before history (no */events/*).
inline WriteOnlyUser make_write_only_user(const std::string& store_bucket, const std::string& ledger_bucket,
                                          bool with_events = true) {
  test::load_test_env();
  std::string u = test::unique_token();
  WriteOnlyUser user{"ci-" + u, "CI" + u, "ci-secret-" + u + u};
  for (auto& c : user.access_key) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto r =
      test::run_process({"/usr/bin/radosgw-admin", "-c", env("RGW_CEPH_CONF"), "user", "create", "--uid", user.uid,
                         "--display-name", user.uid, "--access-key", user.access_key, "--secret-key", user.secret_key});
  if (r.exit_code != 0) throw std::runtime_error("radosgw-admin user create: " + r.err);

  admin().create_bucket(store_bucket);
  admin().create_bucket(ledger_bucket);
  std::ifstream in(std::string(SACKER_SOURCE_DIR) + "/examples/ci-aws-iam-policy.json");
  nlohmann::json example = nlohmann::json::parse(in);
  const std::string principal = "arn:aws:iam:::user/" + user.uid;
  std::map<std::string, nlohmann::json> statements;  // bucket -> statements
  for (auto s : example["Statement"]) {
    std::vector<std::string> resources;
    if (s["Resource"].is_string())
      resources.push_back(s["Resource"]);
    else
      resources = s["Resource"].get<std::vector<std::string>>();
    if (!with_events)
      resources.erase(std::remove_if(resources.begin(), resources.end(),
                                     [](const std::string& r) { return r.find("/events/") != std::string::npos; }),
                      resources.end());
    std::string target;
    for (auto& res : resources) {
      for (auto [from, to] : {std::pair{"my-store-bucket", store_bucket}, std::pair{"my-ledger-bucket", ledger_bucket}})
        if (auto p = res.find(from); p != std::string::npos) {
          res.replace(p, std::string(from).size(), to);
          target = to;
        }
    }
    s["Resource"] = resources;
    s["Principal"] = {{"AWS", {principal}}};
    statements[target].push_back(s);
  }
  for (auto& [b, list] : statements) {
    list.push_back({{"Sid", "DenyEverythingElse"},
                    {"Effect", "Deny"},
                    {"Principal", {{"AWS", {principal}}}},
                    {"NotAction", {"s3:PutObject", "s3:AbortMultipartUpload"}},
                    {"Resource", {"arn:aws:s3:::" + b, "arn:aws:s3:::" + b + "/*"}}});
    nlohmann::json policy = {{"Version", "2012-10-17"}, {"Statement", list}};
    auto p = aws({"s3api", "put-bucket-policy", "--bucket", b, "--policy", policy.dump()});
    if (p.exit_code != 0) throw std::runtime_error("put-bucket-policy: " + p.err);
  }
  return user;
}

}  // namespace sacker::s3test
