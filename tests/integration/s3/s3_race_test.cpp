// S3 has no multi-key transactions, so `tag` and `remove` of one version can
// interleave: each checks the other's key, then writes its own. These tests make
// the worst interleaving happen every time: the ledger talks to RadosGW through a
// TCP tap that, when it sees the request the ledger writes after its check, first
// lets the "other client" (the admin's own S3 client, straight to RGW) do its write.
// The ledger must notice afterwards and leave no tag on a removed version.
#include <gtest/gtest.h>

#include "s3_test_support.h"
#include "sacker/backends.h"
#include "sacker/sha256.h"
#include "support/tap_proxy.h"

namespace sacker {
namespace {

using test::TapProxy;

VersionRecord record(const std::string& package, int n) {
  VersionRecord r;
  r.package = package;
  std::string id = package + "/" + std::to_string(n);
  r.sha256 = Sha256::hex_of(id.data(), id.size());
  r.size = 10;
  r.basename = "b-" + std::to_string(n) + ".bin";
  r.mode = 0644;
  r.created = 1700000000 + n;
  return r;
}

class S3Race : public ::testing::Test {
 protected:
  void SetUp() override {
    test::load_test_env();
    unique_ = test::unique_token();
    bucket_ = s3test::bucket();
    tap_ = std::make_unique<TapProxy>(std::stoi(s3test::env("RGW_PORT")));
    // The ledger under test goes through the tap; the admin client does not.
    const std::string saved = s3test::env("AWS_ENDPOINT_URL_S3");
    const std::string via_tap = "http://127.0.0.1:" + std::to_string(tap_->port());
    ::setenv("AWS_ENDPOINT_URL_S3", via_tap.c_str(), 1);
    ledger_ = open_ledger("s3://" + bucket_ + "/" + unique_);
    ::setenv("AWS_ENDPOINT_URL_S3", saved.c_str(), 1);
  }
  void TearDown() override {
    ledger_.reset();
    tap_.reset();
  }
  std::string key(const std::string& rest) const { return unique_ + "/" + rest; }
  std::string wire_path(const std::string& rest) const { return "/" + bucket_ + "/" + key(rest); }

  std::string unique_, bucket_;
  std::unique_ptr<TapProxy> tap_;
  std::unique_ptr<Ledger> ledger_;
};

TEST_F(S3Race, ATagWrittenBetweenRemovesCheckAndDeleteKeepsTheVersion) {
  auto v1 = ledger_->add(record("racy", 1));
  ledger_->add(record("racy", 2));
  const auto before = ledger_->get("racy", v1);
  const std::string tag_body = "{\"version\": " + std::to_string(v1) + "}";
  // remove() found no tag on v1; just before its DELETE reaches the server, a
  // concurrent `tag racy v1 live` lands.
  tap_->on_request("DELETE " + wire_path("racy/versions/" + std::to_string(v1)),
                   [&] { s3test::admin().put(bucket_, key("racy/tags/live"), tag_body); });
  std::string message;
  EXPECT_EQ(s3test::kind_of([&] { ledger_->remove_version("racy", v1); }, &message), ErrorKind::Conflict);
  EXPECT_TRUE(tap_->fired()) << "the interleaving was not produced";
  EXPECT_NE(message.find("live"), std::string::npos) << message;
  EXPECT_EQ(ledger_->get("racy", v1), before) << "the version a tag points at must be back, unchanged";
  EXPECT_EQ(ledger_->tag("racy", "live"), v1);
}

TEST_F(S3Race, ARemoveBetweenTagsCheckAndWriteLeavesNoDanglingTag) {
  auto v1 = ledger_->add(record("racy", 1));
  auto v2 = ledger_->add(record("racy", 2));
  ledger_->set_tag("racy", "devel", v2);
  // tag() saw v1; just before its PUT of tags/live reaches the server, a
  // concurrent `remove racy v1` deletes the version.
  tap_->on_request("PUT " + wire_path("racy/tags/live"),
                   [&] { s3test::admin().remove(bucket_, key("racy/versions/" + std::to_string(v1))); });
  EXPECT_EQ(s3test::kind_of([&] { ledger_->set_tag("racy", "live", v1); }), ErrorKind::NotFound);
  EXPECT_TRUE(tap_->fired()) << "the interleaving was not produced";
  EXPECT_FALSE(ledger_->tag("racy", "live").has_value()) << "a tag on a removed version";
  EXPECT_EQ(ledger_->tag("racy", "devel"), v2) << "other tags are untouched";
}

}  // namespace
}  // namespace sacker
