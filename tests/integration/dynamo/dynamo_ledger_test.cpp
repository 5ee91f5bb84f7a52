// The DynamoDB ledger beyond the conformance suite: against dynalite (the
// server_dynalite fixture) for the original sacker's table layout both ways, writers
// that bypass the version counter, paging, hostile items, missing or foreign tables
// and tag/remove races; against a scripted fake endpoint for the error mapping
// (denied, throttling, server errors) that dynalite cannot produce; and against a
// closed port for a server that is down.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "aws/sigv4.h"
#include "dynamo_test_support.h"
#include "net/http.h"
#include "sacker/backends.h"
#include "sacker/error.h"
#include "sacker/sha256.h"
#include "support/records.h"
#include "support/test_env.h"

namespace sacker {
namespace {

using dynamotest::ddb;
using dynamotest::N;
using dynamotest::S;
using dynamotest::ScopedEnv;
using nlohmann::json;

using test::sample_record;

using test::error_of;

class DynamoLedger : public ::testing::Test {
 protected:
  void SetUp() override {
    test::load_test_env();
    table_ = "t" + test::unique_token();
    uri_ = "dynamo://us-east-1/" + table_;
  }

  std::unique_ptr<Ledger> ready(const std::string& query = "") {
    auto ledger = open_ledger(uri_ + query);
    ledger->init();
    return ledger;
  }

  // A version item the way the original Python sacker wrote it.
  void put_original(const std::string& package, long long version, const std::string& metadata = "null") {
    std::string content = "original/" + package + "/" + std::to_string(version);
    ddb("PutItem", {{"TableName", table_},
                    {"Item",
                     {{"package_name", S(package)},
                      {"version", N(version)},
                      {"sha", S(Sha256::hex_of(content.data(), content.size()))},
                      {"basename", S("app.jar")},
                      {"mode", N(0100644)},
                      {"metadata", S(metadata)}}}});
  }

  void put_item(const std::string& table, const json& item) { ddb("PutItem", {{"TableName", table}, {"Item", item}}); }

  std::string table_, uri_;
};

TEST_F(DynamoLedger, InitCreatesBothTablesWithTheOriginalKeySchema) {
  ready();
  for (auto [table, range, type] : {std::tuple{table_, "version", "N"}, std::tuple{table_ + "-tags", "tag", "S"}}) {
    json t = ddb("DescribeTable", {{"TableName", table}})["Table"];
    EXPECT_EQ(t["TableStatus"], "ACTIVE");
    json keys = t["KeySchema"];
    ASSERT_EQ(keys.size(), 2u) << table;
    EXPECT_EQ(keys[0]["AttributeName"], "package_name");
    EXPECT_EQ(keys[0]["KeyType"], "HASH");
    EXPECT_EQ(keys[1]["AttributeName"], range);
    EXPECT_EQ(keys[1]["KeyType"], "RANGE");
    for (const auto& a : t["AttributeDefinitions"])
      if (a["AttributeName"] == range) EXPECT_EQ(a["AttributeType"], type) << table;
  }
}

// A ledger nobody initialised is an empty one; its first write creates the tables.
TEST_F(DynamoLedger, WithoutInitReadsAreEmptyAndTheFirstAddCreatesTheTables) {
  auto ledger = open_ledger(uri_);
  EXPECT_TRUE(ledger->versions("app").empty());
  EXPECT_TRUE(ledger->packages().empty());
  EXPECT_TRUE(ledger->tags("app").empty());
  EXPECT_FALSE(ledger->latest("app").has_value());
  EXPECT_FALSE(ledger->get("app", 1).has_value());
  EXPECT_TRUE(ledger->history("app", {}).empty());
  long status = 0;
  ddb("DescribeTable", {{"TableName", table_}}, &status);
  EXPECT_EQ(status, 400) << "reading creates nothing";
  EXPECT_EQ(ledger->add(sample_record("app", 1)), 1u);
  EXPECT_EQ(ddb("DescribeTable", {{"TableName", table_ + "-events"}})["Table"]["TableStatus"], "ACTIVE");
  EXPECT_EQ(ledger->versions("app"), (std::vector<std::uint64_t>{1}));
}

TEST_F(DynamoLedger, InitRefusesATableWithAnotherKeySchema) {
  ddb("CreateTable", {{"TableName", table_},
                      {"BillingMode", "PAY_PER_REQUEST"},
                      {"AttributeDefinitions", {{{"AttributeName", "pk"}, {"AttributeType", "S"}}}},
                      {"KeySchema", {{{"AttributeName", "pk"}, {"KeyType", "HASH"}}}}});
  Error e = error_of([&] { open_ledger(uri_)->init(); });
  EXPECT_EQ(e.kind(), ErrorKind::Invalid) << e.what();
  EXPECT_NE(std::string(e.what()).find("not a sacker table"), std::string::npos) << e.what();
}

TEST_F(DynamoLedger, ReadsWhatTheOriginalWroteAndAddsAboveIt) {
  auto ledger = ready();
  put_original("legacy", 1);
  put_original("legacy", 2, R"({"commit": "abc"})");
  put_original("legacy", 3);
  put_item(table_ + "-tags", {{"package_name", S("legacy")}, {"tag", S("live")}, {"version", N(2)}});

  EXPECT_EQ(ledger->versions("legacy"), (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(ledger->latest("legacy"), 3u);
  auto r = ledger->get("legacy", 2);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->mode, 0644u) << "st_mode of a regular file is read as its permission bits";
  EXPECT_EQ(r->size, 0u);
  EXPECT_EQ(r->created, 0);
  EXPECT_EQ(r->basename, "app.jar");
  EXPECT_EQ(r->metadata, (Metadata{{"commit", "abc"}}));
  EXPECT_TRUE(ledger->get("legacy", 1)->metadata.empty()) << "json.dumps(None) is no metadata";
  EXPECT_EQ(ledger->tags("legacy"), (std::map<std::string, std::uint64_t>{{"live", 2}}));
  EXPECT_EQ(ledger->records("legacy").size(), 3u);

  EXPECT_EQ(ledger->add(sample_record("legacy", 4)), 4u) << "the counter starts above versions that predate it";
  EXPECT_EQ(ledger->add(sample_record("legacy", 5)), 5u);
}

TEST_F(DynamoLedger, WritesWhatTheOriginalCanRead) {
  auto ledger = ready();
  VersionRecord r = sample_record("app", 1);
  r.metadata = {{"commit", "abc"}, {"branch", "main"}};
  r.version = ledger->add(r);
  ledger->set_tag("app", "live", r.version);
  json item = ddb("GetItem", {{"TableName", table_},
                              {"Key", {{"package_name", S("app")}, {"version", N(1)}}},
                              {"ConsistentRead", true}})["Item"];
  EXPECT_EQ(item["sha"]["S"], r.sha256);
  EXPECT_EQ(item["basename"]["S"], r.basename);
  EXPECT_EQ(item["mode"]["N"], std::to_string(0644));
  // The original does json.loads(item['metadata']).
  ASSERT_TRUE(item["metadata"].contains("S"));
  EXPECT_EQ(json::parse(item["metadata"]["S"].get<std::string>()), (json{{"branch", "main"}, {"commit", "abc"}}));
  EXPECT_EQ(item["size"]["N"], std::to_string(r.size));
  EXPECT_EQ(item["created"]["N"], std::to_string(r.created));
  json tag = ddb("GetItem", {{"TableName", table_ + "-tags"},
                             {"Key", {{"package_name", S("app")}, {"tag", S("live")}}},
                             {"ConsistentRead", true}})["Item"];
  EXPECT_EQ(tag["version"]["N"], "1");
}

TEST_F(DynamoLedger, AWriterThatBypassesTheCounterIsSteppedOver) {
  auto ledger = ready();
  EXPECT_EQ(ledger->add(sample_record("app", 1)), 1u);
  EXPECT_EQ(ledger->add(sample_record("app", 2)), 2u);
  put_original("app", 3);  // the original tool adds max + 1 without the counter
  EXPECT_EQ(ledger->add(sample_record("app", 4)), 4u);
  EXPECT_EQ(ledger->get("app", 3)->basename, "app.jar") << "the foreign record is not overwritten";
  EXPECT_EQ(ledger->versions("app"), (std::vector<std::uint64_t>{1, 2, 3, 4}));
}

TEST_F(DynamoLedger, RemovingTheHighestLegacyVersionDoesNotFreeItsNumber) {
  auto ledger = ready();
  put_original("legacy", 1);
  put_original("legacy", 2);
  EXPECT_TRUE(ledger->remove_version("legacy", 2));
  EXPECT_EQ(ledger->add(sample_record("legacy", 3)), 3u);
}

TEST_F(DynamoLedger, RemovingAVersionThatIsNotThereCostsNoNumber) {
  auto ledger = ready();
  EXPECT_FALSE(ledger->remove_version("app", 3));
  EXPECT_EQ(ledger->add(sample_record("app", 1)), 1u);
}

TEST_F(DynamoLedger, ListingsFollowLastEvaluatedKey) {
  auto ledger = ready("?page_size=2");
  std::vector<std::uint64_t> versions;
  for (int i = 0; i < 7; ++i) versions.push_back(ledger->add(sample_record("paged", i)));
  for (int i = 0; i < 5; ++i) ledger->set_tag("paged", "t" + std::to_string(i), versions[static_cast<std::size_t>(i)]);
  for (std::string p : {"e", "d", "c", "b"}) ledger->add(sample_record(p, 1));
  EXPECT_EQ(ledger->versions("paged"), versions);
  EXPECT_EQ(ledger->records("paged").size(), 7u);
  EXPECT_EQ(ledger->tags("paged").size(), 5u) << "the counter item is not a tag";
  EXPECT_EQ(ledger->packages(), (std::vector<std::string>{"b", "c", "d", "e", "paged"}));
  EXPECT_EQ(ledger->latest("paged"), 7u);
}

TEST_F(DynamoLedger, HostileItemsAreInvalidAndNameTheirKey) {
  auto ledger = ready();
  auto good = [&](long long v) {
    return json{{"package_name", S("evil")}, {"version", N(v)}, {"sha", S(std::string(64, 'a'))},
                {"basename", S("x.bin")},    {"mode", N(0644)}, {"metadata", S("{}")}};
  };
  std::vector<std::pair<std::string, json>> cases;
  cases.emplace_back("sha", good(1));
  cases.back().second["sha"] = S("../../etc/passwd");
  cases.emplace_back("basename", good(2));
  cases.back().second["basename"] = S("../x");
  cases.emplace_back("directory mode", good(3));
  cases.back().second["mode"] = N(040755);
  cases.emplace_back("metadata not json", good(4));
  cases.back().second["metadata"] = S("{not json");
  cases.emplace_back("metadata value not a string", good(5));
  cases.back().second["metadata"] = S(R"({"a": 1})");
  cases.emplace_back("fractional size", good(6));
  cases.back().second["size"] = N(1);
  cases.back().second["size"]["N"] = "1.5";
  cases.emplace_back("sha missing", good(7));
  cases.back().second.erase("sha");
  for (const auto& [what, item] : cases) {
    put_item(table_, item);
    std::uint64_t v = std::stoull(item["version"]["N"].get<std::string>());
    Error e = error_of([&] { ledger->get("evil", v); });
    EXPECT_EQ(e.kind(), ErrorKind::Invalid) << what << ": " << e.what();
    EXPECT_NE(std::string(e.what()).find("(evil, " + std::to_string(v) + ")"), std::string::npos)
        << what << ": " << e.what();
    EXPECT_NE(std::string(e.what()).find(table_), std::string::npos) << what << ": " << e.what();
    ddb("DeleteItem",
        {{"TableName", table_}, {"Key", {{"package_name", S("evil")}, {"version", N(static_cast<long long>(v))}}}});
  }
  put_item(table_ + "-tags", {{"package_name", S("evil")}, {"tag", S("../up")}, {"version", N(1)}});
  EXPECT_EQ(error_of([&] { ledger->tags("evil"); }).kind(), ErrorKind::Invalid);
  put_item(table_ + "-tags", {{"package_name", S("evil2")}, {"tag", S("live")}, {"version", S("1")}});
  EXPECT_EQ(error_of([&] { ledger->tag("evil2", "live"); }).kind(), ErrorKind::Invalid);
  put_item(table_, {{"package_name", S("bad name/..")}, {"version", N(1)}});
  EXPECT_EQ(error_of([&] { ledger->packages(); }).kind(), ErrorKind::Invalid);
}

TEST_F(DynamoLedger, TheReservedCounterKeyIsNotATag) {
  auto ledger = ready();
  ledger->add(sample_record("app", 1));
  EXPECT_TRUE(ledger->tags("app").empty());
  EXPECT_EQ(error_of([&] { ledger->set_tag("app", "#next", 1); }).kind(), ErrorKind::Invalid);
  EXPECT_EQ(error_of([&] { ledger->remove_tag("app", "#next"); }).kind(), ErrorKind::Invalid);
  EXPECT_EQ(ledger->add(sample_record("app", 2)), 2u);
}

TEST_F(DynamoLedger, ARecordDynamoCannotStoreIsInvalidAndCostsNoNumber) {
  auto ledger = ready();
  VersionRecord r = sample_record("app", 1);
  r.basename = "caf\xe9.jar";  // Latin-1, not UTF-8: DynamoDB strings are UTF-8
  EXPECT_EQ(error_of([&] { ledger->add(r); }).kind(), ErrorKind::Invalid);
  r.version = 5;
  EXPECT_EQ(error_of([&] { ledger->put_record(r); }).kind(), ErrorKind::Invalid);
  EXPECT_EQ(ledger->add(sample_record("app", 2)), 1u);
}

// Tagging and removing the same versions at once: whatever wins, no tag may be
// left pointing at a removed version, and no removal may leave a tag behind.
TEST_F(DynamoLedger, TagAndRemoveRacesLeaveNoDanglingTag) {
  auto setup = ready();
  const int n = 30;
  for (int i = 0; i < n; ++i) setup->add(sample_record("race", i));
  std::atomic<int> tagged{0}, removed{0};
  std::thread tagger([&] {
    auto ledger = open_ledger(uri_);
    for (int v = 1; v <= n; ++v) {
      try {
        ledger->set_tag("race", "t" + std::to_string(v), static_cast<std::uint64_t>(v));
        ++tagged;
      } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::NotFound) << e.what();
      }
    }
  });
  std::thread remover([&] {
    auto ledger = open_ledger(uri_);
    for (int v = 1; v <= n; ++v) {
      try {
        if (ledger->remove_version("race", static_cast<std::uint64_t>(v))) ++removed;
      } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Conflict) << e.what();
      }
    }
  });
  tagger.join();
  remover.join();
  auto versions = setup->versions("race");
  for (const auto& [tag, v] : setup->tags("race"))
    EXPECT_TRUE(std::count(versions.begin(), versions.end(), v)) << tag << " points at removed version " << v;
  EXPECT_EQ(static_cast<int>(versions.size()) + removed.load(), n);
}

TEST_F(DynamoLedger, InvalidUrisAreRefused) {
  for (const std::string& uri :
       std::vector<std::string>{"dynamo://us-east-1/ab", "dynamo://us-east-1/a/b", "dynamo://US_EAST/table",
                                "dynamo://us-east-1/", "dynamo://us-east-1/tbl?page_size=0",
                                "dynamo://us-east-1/tbl?x=1", "dynamo://us-east-1/" + std::string(251, 'a')}) {
    EXPECT_EQ(error_of([&] { open_ledger(uri); }).kind(), ErrorKind::Invalid) << uri;
  }
}

TEST_F(DynamoLedger, ADownServerIsUnavailableAndSaysWhere) {
  // A port nobody listens on: bind, read the port, close.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  ScopedEnv endpoint("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:" + std::to_string(port));
  auto ledger = open_ledger(uri_);
  Error e = error_of([&] { ledger->versions("app"); });
  EXPECT_EQ(e.kind(), ErrorKind::Unavailable) << e.what();
  EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(port)), std::string::npos) << e.what();
  EXPECT_EQ(std::string(e.what()).find("\n"), std::string::npos) << "one line";
}

// A scripted HTTP endpoint: answers each request with the next (status, body) of
// `script` (the last one repeats), one connection per request.
class FakeDynamo {
 public:
  explicit FakeDynamo(std::vector<std::pair<int, std::string>> script) : script_(std::move(script)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 16) != 0)
      throw std::runtime_error("fake server: bind/listen failed");
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeDynamo() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> requests() {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::string in;
      char buf[4096];
      std::size_t need = std::string::npos;
      while (need == std::string::npos || in.size() < need) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.append(buf, static_cast<std::size_t>(n));
        auto end = in.find("\r\n\r\n");
        if (need == std::string::npos && end != std::string::npos) {
          std::size_t length = 0;
          auto cl = in.find("ontent-Length: ");
          if (cl != std::string::npos && cl < end) length = std::stoul(in.substr(cl + 15));
          need = end + 4 + length;
        }
      }
      std::pair<int, std::string> answer;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        requests_.push_back(in);
        answer = script_[std::min(requests_.size(), script_.size()) - 1];
      }
      std::string out = "HTTP/1.1 " + std::to_string(answer.first) +
                        " X\r\nContent-Type: application/x-amz-json-1.0\r\nConnection: close\r\nContent-Length: " +
                        std::to_string(answer.second.size()) + "\r\n\r\n" + answer.second;
      ::send(c, out.data(), out.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }

  std::vector<std::pair<int, std::string>> script_;
  int fd_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> requests_;
};

std::string aws_error(const std::string& code, const std::string& message) {
  return json{{"__type", "com.amazonaws.dynamodb.v20120810#" + code}, {"message", message}}.dump();
}

TEST_F(DynamoLedger, ErrorAnswersMapToKinds) {
  struct Case {
    int status;
    std::string code;
    ErrorKind kind;
  };
  for (const auto& c : {Case{400, "AccessDeniedException", ErrorKind::Denied},
                        Case{400, "UnrecognizedClientException", ErrorKind::Denied},
                        Case{400, "TransactionCanceledException", ErrorKind::Conflict},
                        Case{500, "InternalServerError", ErrorKind::Unavailable},
                        Case{503, "ServiceUnavailable", ErrorKind::Unavailable},
                        Case{400, "ValidationException", ErrorKind::Invalid}}) {
    FakeDynamo fake({{c.status, aws_error(c.code, "no, because of the test")}});
    ScopedEnv endpoint("AWS_ENDPOINT_URL_DYNAMODB", fake.url());
    auto ledger = open_ledger(uri_);
    Error e = error_of([&] { ledger->latest("app"); });
    EXPECT_EQ(e.kind(), c.kind) << c.code << ": " << e.what();
    EXPECT_EQ(std::string(e.what()).find("sacker-test-secret"), std::string::npos) << e.what();
    auto requests = fake.requests();
    ASSERT_FALSE(requests.empty());
    EXPECT_NE(requests[0].find("X-Amz-Target: DynamoDB_20120810.Query"), std::string::npos);
    EXPECT_NE(requests[0].find("/us-east-1/dynamodb/aws4_request"), std::string::npos) << "SigV4 scope";
    EXPECT_NE(requests[0].find("application/x-amz-json-1.0"), std::string::npos);
  }
}

TEST_F(DynamoLedger, ThrottlingIsRetriedEvenForTheCounter) {
  std::string throttled = aws_error("ProvisionedThroughputExceededException", "slow down");
  FakeDynamo fake({{400, throttled},
                   {400, aws_error("ThrottlingException", "slow down")},
                   {200, R"({"Attributes":{"allocated":{"N":"7"},"last_seq":{"N":"9"}}})"},
                   {200, "{}"}});
  ScopedEnv endpoint("AWS_ENDPOINT_URL_DYNAMODB", fake.url());
  auto ledger = open_ledger(uri_);
  EXPECT_EQ(ledger->add(sample_record("app", 1)), 7u);
  auto requests = fake.requests();
  ASSERT_EQ(requests.size(), 4u);
  for (int i = 0; i < 3; ++i)
    EXPECT_NE(requests[static_cast<std::size_t>(i)].find("DynamoDB_20120810.UpdateItem"), std::string::npos);
  EXPECT_NE(requests[3].find("DynamoDB_20120810.PutItem"), std::string::npos);
}

TEST_F(DynamoLedger, PersistentThrottlingEndsUnavailable) {
  FakeDynamo fake({{400, aws_error("ThrottlingException", "slow down")}});
  ScopedEnv endpoint("AWS_ENDPOINT_URL_DYNAMODB", fake.url());
  auto ledger = open_ledger(uri_);
  Error e = error_of([&] { ledger->versions("app"); });
  EXPECT_EQ(e.kind(), ErrorKind::Unavailable) << e.what();
  EXPECT_GT(fake.requests().size(), 1u);
}

TEST_F(DynamoLedger, ARefusedPutGivesItsNumberBack) {
  FakeDynamo fake({{200, R"({"Attributes":{"allocated":{"N":"3"},"last_seq":{"N":"4"}}})"},
                   {400, aws_error("AccessDeniedException", "no PutItem for you")},
                   {200, "{}"}});
  ScopedEnv endpoint("AWS_ENDPOINT_URL_DYNAMODB", fake.url());
  auto ledger = open_ledger(uri_);
  EXPECT_EQ(error_of([&] { ledger->add(sample_record("app", 1)); }).kind(), ErrorKind::Denied);
  auto requests = fake.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_NE(requests[2].find("DynamoDB_20120810.UpdateItem"), std::string::npos);
  EXPECT_NE(requests[2].find(R"(":prev":{"N":"2"})"), std::string::npos) << requests[2];
}

// Without the right to create tables, the first add says what to do.
TEST_F(DynamoLedger, AFirstAddThatMayNotCreateTablesSaysRunInit) {
  FakeDynamo fake({{400, aws_error("ResourceNotFoundException", "no table")},
                   {400, aws_error("AccessDeniedException", "no CreateTable")},
                   {400, aws_error("ResourceNotFoundException", "no table")}});
  ScopedEnv endpoint("AWS_ENDPOINT_URL_DYNAMODB", fake.url());
  Error e = error_of([&] { open_ledger(uri_)->add(sample_record("app", 1)); });
  EXPECT_EQ(e.kind(), ErrorKind::NotFound) << e.what();
  EXPECT_NE(std::string(e.what()).find("does not exist: run sacker init"), std::string::npos) << e.what();
}

}  // namespace
}  // namespace sacker
