// End-to-end: signed deploys (issue 11) on the S3 ledger and store (RadosGW), the
// CI holding PutObject-only credentials (examples/ci-aws-iam-policy.json): it
// signs on add without reading anything, the release manager signs the promotion
// to live, production downloads live under a strict policy. Refused with exit 9,
// the destination untouched: an unsigned add, an unknown key, a live promotion
// signed by the CI key, tags/live edited back to an older signed promotion.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "s3_test_support.h"

namespace sacker::test {
namespace {

namespace fs = std::filesystem;
using s3test::sacker;
using s3test::trim;
using ::testing::HasSubstr;

constexpr int kNotTrusted = 9;

class SignedS3 : public ::testing::Test {
 protected:
  void SetUp() override {
    load_test_env();
    const std::string u = unique_token();
    store_bucket_ = "sign-store-" + u;
    ledger_bucket_ = "sign-ledger-" + u;
    ci_ = s3test::make_write_only_user(store_bucket_, ledger_bucket_);
    dir_ = make_temp_dir("sacker-sign-s3");
    fs::create_directories(dir_ / "prod");
    for (const char* name : {"ci", "release", "stranger"}) {
      auto r = sacker({"key", "gen", name, "--dir", dir_.string()}, base_env());
      ASSERT_EQ(r.exit_code, 0) << r.err;
      ids_[name] = trim(r.out);
    }
    write_file(dir_ / "trust.json",
               "{\"keys\": {\"ci\": {\"file\": \"ci.pub\"}, \"release\": {\"file\": \"release.pub\"}},"
               " \"packages\": [{\"pattern\": \"*\", \"level\": \"strict\", \"versions\": [\"ci\"],"
               " \"promotions\": {\"live\": [\"release\"]}}]}");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::vector<std::string> base_env() const {
    return {"XDG_STATE_HOME=" + (dir_ / "state").string(),
            "SACKER_SIGNING_KEY=", "SACKER_KEY_PASSPHRASE=", "SACKER_CONFIG=", "HOME=" + dir_.string()};
  }
  // The CI writes with the canned ACL (RGW: else the bucket owner cannot read it).
  std::vector<std::string> ci_cmd(std::vector<std::string> rest) const {
    std::vector<std::string> f = {"--ledger", "s3://" + ledger_bucket_ + "?acl=bucket-owner-full-control", "--store",
                                  "s3://" + store_bucket_ + "?acl=bucket-owner-full-control"};
    f.insert(f.end(), rest.begin(), rest.end());
    return f;
  }
  std::vector<std::string> cmd(std::vector<std::string> rest) const {
    std::vector<std::string> f = {"--ledger", "s3://" + ledger_bucket_, "--store", "s3://" + store_bucket_};
    f.insert(f.end(), rest.begin(), rest.end());
    return f;
  }
  test::ProcessResult run(const std::vector<std::string>& args, std::vector<std::string> env = {}) const {
    auto e = base_env();
    e.insert(e.end(), env.begin(), env.end());
    return sacker(args, e);
  }
  // CI (write-only credentials): a new version, signed by `key` ("" unsigned).
  std::string ci_add(const std::string& package, const std::string& content, const std::string& key) {
    write_file(dir_ / "build.jar", content);
    std::vector<std::string> args = {"add", package, (dir_ / "build.jar").string()};
    if (!key.empty()) args.insert(args.end(), {"--sign", (dir_ / (key + ".key")).string()});
    auto r = run(ci_cmd(args), ci_.env());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return trim(r.out);
  }
  // The release manager (full credentials) promotes to live, signed by `key`.
  void promote(const std::string& package, const std::string& version, const std::string& key) {
    auto r = run(cmd({"tag", package, version, "live", "--sign", (dir_ / (key + ".key")).string()}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  test::ProcessResult deploy(const std::string& package) const {
    return run(cmd({"download", package, "live", "-o", (dir_ / "prod/app.jar").string(), "--trust",
                    (dir_ / "trust.json").string()}));
  }
  std::string deployed() const { return read_file(dir_ / "prod/app.jar"); }
  void expect_refused(const test::ProcessResult& r, const std::string& check, const std::string& before) const {
    EXPECT_EQ(r.exit_code, kNotTrusted) << r.out << r.err;
    EXPECT_THAT(r.err, HasSubstr("not trusted (" + check));
    EXPECT_EQ(deployed(), before) << "the destination is untouched";
  }
  std::string tag_object(const std::string& package) const {
    auto o = s3test::admin().get(ledger_bucket_, package + "/tags/live");
    EXPECT_TRUE(o);
    return o ? o->body : "";
  }

  std::string store_bucket_, ledger_bucket_;
  s3test::WriteOnlyUser ci_;
  fs::path dir_;
  std::map<std::string, std::string> ids_;
};

TEST_F(SignedS3, CiSignsWriteOnlyReleasePromotesProductionDeploys) {
  const std::string v1 = ci_add("app", "build 1", "ci");
  ASSERT_EQ(v1.size(), 13u) << "the S3 ledger numbers by milliseconds: " << v1;
  promote("app", v1, "release");
  auto r = deploy("app");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(deployed(), "build 1");
  auto v = run(cmd({"--json", "verify", "app", "live", "--trust", (dir_ / "trust.json").string()}));
  ASSERT_EQ(v.exit_code, 0) << v.err;
  auto doc = nlohmann::json::parse(v.out);
  EXPECT_EQ(doc["version"].get<std::uint64_t>(), std::stoull(v1)) << "the signed statement has the ledger's number";
  EXPECT_EQ(doc["version_signers"], nlohmann::json::array({ids_["ci"]}));
  EXPECT_EQ(doc["promotion_signers"], nlohmann::json::array({ids_["release"]}));
}

TEST_F(SignedS3, UnsignedUnknownKeyCiPromotionAndRollbackAreRefused) {
  promote("app", ci_add("app", "build 1", "ci"), "release");
  ASSERT_EQ(deploy("app").exit_code, 0);
  const std::string old_live = tag_object("app");
  promote("app", ci_add("app", "build 2", "ci"), "release");
  ASSERT_EQ(deploy("app").exit_code, 0);
  EXPECT_EQ(deployed(), "build 2");

  promote("unsigned", ci_add("unsigned", "evil 1", ""), "release");
  expect_refused(deploy("unsigned"), "unsigned", "build 2");
  promote("unknown", ci_add("unknown", "evil 2", "stranger"), "release");
  expect_refused(deploy("unknown"), "unknown key", "build 2");
  promote("self", ci_add("self", "evil 3", "ci"), "ci");
  expect_refused(deploy("self"), "wrong signer", "build 2");

  // tags/live written back to the older, validly signed promotion.
  s3test::admin().put(ledger_bucket_, "app/tags/live", old_live);
  expect_refused(deploy("app"), "rollback", "build 2");
}

}  // namespace
}  // namespace sacker::test
