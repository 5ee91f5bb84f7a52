// The sacker binary against a real S3 server (RadosGW): a CI user that may only
// PutObject, interoperability with the AWS CLI and the original sacker's layout,
// tampered blobs, presigned URLs, and the exit codes of S3 failures.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <sstream>

#include "s3_test_support.h"
#include "sacker/backends.h"
#include "sacker/sha256.h"
#include "support/records.h"

namespace sacker {
namespace {

namespace fs = std::filesystem;
using s3test::admin;
using s3test::aws;
using s3test::sacker;
using s3test::trim;

class S3Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    test::load_test_env();
    unique_ = test::unique_token();
    prefix_ = unique_ + "/";
    uri_ = "s3://" + s3test::bucket() + "/" + unique_;
    dir_ = test::make_temp_dir("sacker-s3-cli");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::vector<std::string> flags() const { return {"--ledger", uri_, "--store", uri_}; }
  void original_layout_round_trip(const std::string& dir, const std::string& ledger_query);
  std::vector<std::string> cmd(std::vector<std::string> rest) const {
    auto f = flags();
    f.insert(f.end(), rest.begin(), rest.end());
    return f;
  }
  std::string unique_, prefix_, uri_;
  fs::path dir_;
};

TEST_F(S3Cli, WhatSackerStoredIsAPlainObjectTheAwsCliReads) {
  fs::path file = dir_ / "artifact.tar.gz";
  std::string sha = test::write_random_file(file, 3 << 20, 11);
  auto add = sacker(cmd({"add", "frontend-server", file.string()}));
  ASSERT_EQ(add.exit_code, 0) << add.err;
  EXPECT_EQ(trim(add.out).size(), 13u) << add.out;
  fs::path copy = dir_ / "copy";
  auto cp = aws({"s3", "cp", "s3://" + s3test::bucket() + "/" + prefix_ + sha, copy.string()});
  ASSERT_EQ(cp.exit_code, 0) << cp.err;
  std::string bytes = test::read_file(copy);
  EXPECT_EQ(Sha256::hex_of(bytes.data(), bytes.size()), sha);
  // The version record is plain JSON in the original layout.
  auto get =
      aws({"s3", "cp", "s3://" + s3test::bucket() + "/" + prefix_ + "frontend-server/versions/" + trim(add.out), "-"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  auto j = nlohmann::json::parse(get.out);
  EXPECT_EQ(j["sha"], sha);
  EXPECT_EQ(j["basename"], "artifact.tar.gz");
  EXPECT_TRUE(j["mode"].is_number_unsigned());
  auto latest = aws({"s3", "cp", "s3://" + s3test::bucket() + "/" + prefix_ + "frontend-server/tags/latest", "-"});
  ASSERT_EQ(latest.exit_code, 0) << latest.err;
  EXPECT_EQ(nlohmann::json::parse(latest.out)["version"].get<std::uint64_t>(), std::stoull(trim(add.out)));
}

// A ledger as the original tool writes it, made with the AWS CLI, read by sacker; then
// sacker adds to it where the original looks. `dir` is where version objects live:
// "versions" (DESIGN.md) or "generations" (the original tool's code), chosen by
// `ledger_query`.
void S3Cli::original_layout_round_trip(const std::string& dir, const std::string& ledger_query) {
  auto cmd = [&](std::vector<std::string> rest) {
    std::vector<std::string> f = {"--ledger", uri_ + ledger_query, "--store", uri_};
    f.insert(f.end(), rest.begin(), rest.end());
    return f;
  };
  fs::path blob = dir_ / "server.jar";
  std::string sha = test::write_random_file(blob, 200000, 12);
  const std::string b = s3test::bucket();
  ASSERT_EQ(aws({"s3", "cp", blob.string(), "s3://" + b + "/" + prefix_ + sha}).exit_code, 0);
  auto put_json = [&](const std::string& key, const std::string& json, std::vector<std::string> extra = {}) {
    fs::path f = dir_ / "body.json";
    test::write_file(f, json);
    std::vector<std::string> args = {"s3api", "put-object",  "--bucket", b,
                                     "--key", prefix_ + key, "--body",   f.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = aws(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  };
  // What the original tool wrote: sha, basename, mode; metadata only as headers.
  put_json("legacy/" + dir + "/1700000000000", R"({"sha": ")" + sha + R"(", "basename": "server.jar", "mode": 420})",
           {"--metadata", "commit=abc123,branch=main"});
  put_json("legacy/" + dir + "/1700000005000", R"({"sha": ")" + sha + R"(", "basename": "server.jar", "mode": 33261})");
  put_json("legacy/tags/latest", R"({"version": 1700000005000})");
  put_json("legacy/tags/live", R"({"version": 1700000000000})");

  auto list = sacker(cmd({"list"}));
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(trim(list.out), "legacy");
  auto versions = sacker(cmd({"versions", "legacy"}));
  ASSERT_EQ(versions.exit_code, 0) << versions.err;
  EXPECT_NE(versions.out.find("1700000000000"), std::string::npos);
  EXPECT_NE(versions.out.find("1700000005000"), std::string::npos);

  auto info = sacker(cmd({"--json", "info", "legacy", "live"}));
  ASSERT_EQ(info.exit_code, 0) << info.err;
  auto j = nlohmann::json::parse(info.out);
  EXPECT_EQ(j["version"], 1700000000000ULL);
  EXPECT_EQ(j["sha256"], sha);
  EXPECT_EQ(j["basename"], "server.jar");
  EXPECT_EQ(j["mode"], 0644);
  EXPECT_EQ(j["metadata"]["commit"], "abc123");
  EXPECT_EQ(j["metadata"]["branch"], "main");

  auto latest = sacker(cmd({"--json", "info", "legacy", "latest"}));
  ASSERT_EQ(latest.exit_code, 0) << latest.err;
  auto l = nlohmann::json::parse(latest.out);
  EXPECT_EQ(l["version"], 1700000005000ULL);
  EXPECT_EQ(l["mode"], 0755) << "a full st_mode (0100755) is read as its permission bits";

  // The legacy records carry no size: the download is still verified by sha256.
  auto dl = sacker(cmd({"download", "legacy", "live", "-o", (dir_ / "out.jar").string()}));
  ASSERT_EQ(dl.exit_code, 0) << dl.err;
  EXPECT_EQ(test::read_file(dir_ / "out.jar"), test::read_file(blob));

  // And a new add goes above the original's versions; the original reads it.
  auto add = sacker(cmd({"add", "legacy", blob.string()}));
  ASSERT_EQ(add.exit_code, 0) << add.err;
  EXPECT_GT(std::stoull(trim(add.out)), 1700000005000ULL);
  auto record = admin().get(b, prefix_ + "legacy/" + dir + "/" + trim(add.out));
  ASSERT_TRUE(record.has_value()) << "the new version is not under " << dir << "/";
  EXPECT_EQ(nlohmann::json::parse(record->body)["sha"], sha);
  auto hint = admin().get(b, prefix_ + "legacy/tags/latest");
  ASSERT_TRUE(hint.has_value());
  EXPECT_EQ(nlohmann::json::parse(hint->body)["version"], std::stoull(trim(add.out)));
}

TEST_F(S3Cli, ALedgerWrittenInTheOriginalLayoutByTheAwsCliIsRead) { original_layout_round_trip("versions", ""); }

TEST_F(S3Cli, TheOriginalToolsGenerationsDirectoryIsUsedWhenAskedFor) {
  original_layout_round_trip("generations", "?versions_dir=generations");
  // Without the option, those versions are not there (nothing is mixed up).
  auto versions = sacker({"--ledger", uri_, "--store", uri_, "versions", "legacy"});
  EXPECT_EQ(versions.exit_code, 3) << versions.out << versions.err;
  auto bad = sacker({"--ledger", uri_ + "?versions_dir=elsewhere", "list"});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("versions_dir"), std::string::npos) << bad.err;
}

TEST_F(S3Cli, ATamperedBlobFailsTheDownloadAndLeavesTheDestinationAlone) {
  fs::path file = dir_ / "app.bin";
  std::string sha = test::write_random_file(file, 500000, 13);
  auto add = sacker(cmd({"add", "app", file.string()}));
  ASSERT_EQ(add.exit_code, 0) << add.err;
  // Someone with write access replaces the blob's bytes.
  admin().put(s3test::bucket(), prefix_ + sha, std::string(500000, 'X'));

  fs::path dest_dir = dir_ / "deploy";
  fs::create_directories(dest_dir);
  fs::path dest = dest_dir / "app.bin";
  test::write_file(dest, "the version that runs now");
  auto dl = sacker(cmd({"download", "app", "latest", "-o", dest.string()}));
  EXPECT_EQ(dl.exit_code, 5) << dl.out << dl.err;
  EXPECT_NE(dl.err.find(sha), std::string::npos) << dl.err;
  EXPECT_EQ(test::read_file(dest), "the version that runs now");
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dest_dir)) left.push_back(e.path().filename().string());
  EXPECT_EQ(left, std::vector<std::string>{"app.bin"}) << "no temporary file is left behind";

  auto fresh = sacker(cmd({"download", "app", "latest", "-o", (dest_dir / "new.bin").string()}));
  EXPECT_EQ(fresh.exit_code, 5);
  EXPECT_FALSE(fs::exists(dest_dir / "new.bin"));
}

TEST_F(S3Cli, PresignedUrlDownloadsWithCurl) {
  fs::path file = dir_ / "site.tgz";
  test::write_random_file(file, 123456, 14);
  ASSERT_EQ(sacker(cmd({"add", "site", file.string()})).exit_code, 0);
  auto url = sacker(cmd({"url", "site", "latest", "--expires", "10m"}));
  ASSERT_EQ(url.exit_code, 0) << url.err;
  std::string u = trim(url.out);
  EXPECT_NE(u.find("X-Amz-Expires=600"), std::string::npos) << u;
  EXPECT_EQ(u.find(s3test::env("AWS_SECRET_ACCESS_KEY")), std::string::npos);
  fs::path out = dir_ / "fetched";
  auto curl = test::run_process({"/usr/bin/curl", "-sf", "-o", out.string(), u});
  ASSERT_EQ(curl.exit_code, 0) << curl.err;
  EXPECT_EQ(test::read_file(out), test::read_file(file));
  // A changed signature is refused.
  std::string bad = u;
  auto sig = bad.find("X-Amz-Signature=");
  ASSERT_NE(sig, std::string::npos);
  char& c = bad[sig + 16];
  c = c == '0' ? '1' : '0';
  auto refused = test::run_process({"/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", bad});
  EXPECT_EQ(refused.out, "403");
}

TEST_F(S3Cli, FailuresHaveTheirExitCodesAndNoSecrets) {
  // A wrong secret: denied.
  auto wrong = sacker(cmd({"list"}), {"AWS_SECRET_ACCESS_KEY=not-the-secret-4711"});
  EXPECT_EQ(wrong.exit_code, 6) << wrong.err;
  EXPECT_NE(wrong.err.find("SignatureDoesNotMatch"), std::string::npos) << wrong.err;
  EXPECT_EQ(wrong.err.find("not-the-secret-4711"), std::string::npos);
  // A bucket that does not exist: not found, saying so.
  auto missing = sacker({"--ledger", "s3://no-such-bucket-" + unique_, "list"});
  EXPECT_EQ(missing.exit_code, 3) << missing.err;
  EXPECT_NE(missing.err.find("no such bucket"), std::string::npos) << missing.err;
  // Nothing listens: unavailable, naming the endpoint.
  auto down = sacker(cmd({"list"}), {"AWS_ENDPOINT_URL=http://127.0.0.1:9", "AWS_ENDPOINT_URL_S3=http://127.0.0.1:9"});
  EXPECT_EQ(down.exit_code, 7) << down.err;
  EXPECT_NE(down.err.find("127.0.0.1:9"), std::string::npos) << down.err;
  EXPECT_EQ(down.err.find(s3test::env("AWS_SECRET_ACCESS_KEY")), std::string::npos);
}

TEST_F(S3Cli, VerboseLogsEveryRequestAndNoSecret) {
  fs::path file = dir_ / "app.bin";
  test::write_random_file(file, 1000, 31);
  ASSERT_EQ(sacker(cmd({"add", "verbose-pkg", file.string()})).exit_code, 0);
  auto info = sacker(cmd({"-v", "info", "verbose-pkg", "latest"}));
  ASSERT_EQ(info.exit_code, 0) << info.err;
  // One line per HTTP attempt, method + URL + status.
  EXPECT_NE(info.err.find("GET http://"), std::string::npos) << info.err;
  EXPECT_NE(info.err.find(" 200 "), std::string::npos) << info.err;
  EXPECT_EQ(info.err.find(s3test::env("AWS_SECRET_ACCESS_KEY")), std::string::npos) << info.err;
  EXPECT_EQ(info.err.find("Signature="), std::string::npos) << info.err;
  // A presigned URL's request, logged: signature and credential redacted.
  auto url = sacker(cmd({"-v", "url", "verbose-pkg", "latest"}));
  ASSERT_EQ(url.exit_code, 0) << url.err;
  EXPECT_EQ(url.err.find(s3test::env("AWS_SECRET_ACCESS_KEY")), std::string::npos) << url.err;
  EXPECT_EQ(url.err.find(s3test::env("AWS_ACCESS_KEY_ID")), std::string::npos) << url.err;
}

// --- a CI job that holds PutObject-only credentials (examples/ci-aws-iam-policy.json) ---

class S3WriteOnly : public ::testing::Test {
 protected:
  void SetUp() override {
    test::load_test_env();
    unique_ = test::unique_token();
    store_bucket_ = "ci-store-" + unique_;
    ledger_bucket_ = "ci-ledger-" + unique_;
    ci_ = s3test::make_write_only_user(store_bucket_, ledger_bucket_);
    dir_ = test::make_temp_dir("sacker-s3-ci");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // RGW makes every user an owner of its own: without the canned ACL the bucket
  // owner could not read what the CI user wrote (as across AWS accounts).
  std::vector<std::string> cmd(std::vector<std::string> rest, const std::string& store_options = "") const {
    std::vector<std::string> f = {"--ledger", "s3://" + ledger_bucket_ + "?acl=bucket-owner-full-control", "--store",
                                  "s3://" + store_bucket_ + "?acl=bucket-owner-full-control" + store_options};
    f.insert(f.end(), rest.begin(), rest.end());
    return f;
  }
  std::string unique_, store_bucket_, ledger_bucket_;
  s3test::WriteOnlyUser ci_;
  fs::path dir_;
};

TEST_F(S3WriteOnly, CiAddsWithPutObjectOnlyAndCannotRead) {
  fs::path file = dir_ / "build.jar";
  std::string sha = test::write_random_file(file, 300000, 21);
  auto first = sacker(cmd({"add", "frontend-server", file.string()}), ci_.env());
  ASSERT_EQ(first.exit_code, 0) << first.err;
  // The same blob again: HEAD is 403 for this user, the conditional PUT answers 412.
  auto again = sacker(cmd({"add", "frontend-server", file.string()}), ci_.env());
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_GT(std::stoull(trim(again.out)), std::stoull(trim(first.out)));
  // A large one goes up in parts (multipart needs only PutObject).
  fs::path big = dir_ / "big.jar";
  std::string big_sha = test::write_random_file(big, (12 << 20) + 7, 22);
  auto multi =
      sacker(cmd({"add", "frontend-server", big.string()}, "&multipart_threshold=5MiB&part_size=5MiB"), ci_.env());
  ASSERT_EQ(multi.exit_code, 0) << multi.err;

  // The CI user cannot read or list: a clear "access denied", exit code 6.
  for (auto args : std::vector<std::vector<std::string>>{{"list"}, {"versions", "frontend-server"}}) {
    auto r = sacker(cmd(args), ci_.env());
    EXPECT_EQ(r.exit_code, 6) << args[0] << ": " << r.out << r.err;
    EXPECT_NE(r.err.find("access denied"), std::string::npos) << r.err;
  }
  // Nor tag (tags other than "latest" are not in the policy).
  EXPECT_EQ(sacker(cmd({"tag", "frontend-server", trim(first.out), "live"}), ci_.env()).exit_code, 6);

  // The deploy side (admin keys) sees all three versions; latest is the big one.
  auto versions = sacker(cmd({"--json", "versions", "frontend-server"}));
  ASSERT_EQ(versions.exit_code, 0) << versions.err;
  EXPECT_EQ(nlohmann::json::parse(versions.out)["versions"].size(), 3u) << versions.out;
  auto info = sacker(cmd({"--json", "info", "frontend-server", "latest"}));
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_EQ(nlohmann::json::parse(info.out)["sha256"], big_sha);
  auto dl = sacker(cmd({"download", "frontend-server", "latest", "-o", (dir_ / "out").string()}));
  ASSERT_EQ(dl.exit_code, 0) << dl.err;
  EXPECT_EQ(test::read_file(dir_ / "out"), test::read_file(big));

  // The CI job wrote nothing but blobs, version records, their events and tags/latest.
  std::set<std::string> keys;
  for (auto b : {ledger_bucket_, store_bucket_})
    admin().list_all(b, {}, [&](aws::S3ListPage& page) {
      for (auto& o : page.objects) keys.insert(b + "/" + o.key);
      return true;
    });
  std::set<std::string> expected = {store_bucket_ + "/" + sha, store_bucket_ + "/" + big_sha,
                                    ledger_bucket_ + "/frontend-server/tags/latest"};
  for (auto& r : {first, again, multi}) {
    expected.insert(ledger_bucket_ + "/frontend-server/versions/" + trim(r.out));
    expected.insert(ledger_bucket_ + "/frontend-server/events/" + trim(r.out) + "000000");
  }
  EXPECT_EQ(keys, expected);
  // The deploy side reads the three adds in the history.
  auto history = open_ledger("s3://" + ledger_bucket_)->history("frontend-server", {});
  ASSERT_EQ(history.size(), 3u);
  for (const auto& e : history) EXPECT_EQ(e.action, EventAction::Add);
  EXPECT_EQ(history[0].version, std::stoull(trim(multi.out)));
}

// A CI policy from before history (no PutObject on */events/*): adds still work,
// and still show in the history (their events are in the version objects).
TEST_F(S3WriteOnly, AnOldPolicyWithoutEventsStillAddsAndTheHistoryShowsTheAdds) {
  auto old_ci = s3test::make_write_only_user(store_bucket_ + "-o", ledger_bucket_ + "-o", false);
  auto old_cmd = [&](std::vector<std::string> rest) {
    std::vector<std::string> f = {"--ledger", "s3://" + ledger_bucket_ + "-o?acl=bucket-owner-full-control", "--store",
                                  "s3://" + store_bucket_ + "-o?acl=bucket-owner-full-control"};
    f.insert(f.end(), rest.begin(), rest.end());
    return f;
  };
  fs::path file = dir_ / "build.jar";
  test::write_random_file(file, 1000, 24);
  auto ledger = open_ledger("s3://" + ledger_bucket_ + "-o");
  auto v0 = ledger->add(test::sample_record("frontend-server", 1));  // by the admin: history begins
  auto first = sacker(old_cmd({"add", "frontend-server", file.string()}), old_ci.env());
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto second = sacker(old_cmd({"add", "frontend-server", file.string()}), old_ci.env());
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_FALSE(admin().head(ledger_bucket_ + "-o", "frontend-server/events/" + trim(first.out) + "000000"))
      << "the old policy cannot write events/";
  auto history = ledger->history("frontend-server", {});
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(history[0].version, std::stoull(trim(second.out)));
  EXPECT_EQ(history[1].version, std::stoull(trim(first.out)));
  EXPECT_EQ(history[2].version, v0);
  EXPECT_EQ(ledger->history("frontend-server", HistoryQuery{std::nullopt, 1, 0}).at(0), history[0]);
}

TEST_F(S3WriteOnly, JsonAddReportsTheRecordWithoutReadRights) {
  fs::path file = dir_ / "build.jar";
  std::string sha = test::write_random_file(file, 5000, 23);
  // Printing the record reads the tags, which this user may not: the add still succeeds.
  auto ok = sacker(cmd({"--json", "add", "frontend-server", file.string()}), ci_.env());
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  auto doc = nlohmann::json::parse(ok.out);
  EXPECT_EQ(doc["sha256"], sha);
  EXPECT_EQ(doc["package"], "frontend-server");
  EXPECT_GT(doc["version"].get<std::uint64_t>(), 0u);
}

TEST_F(S3WriteOnly, BlindWritersInTheSameMillisecondNeverOverwriteEachOther) {
  // Every writer's clock says the same millisecond and none may list: each add
  // must go through If-None-Match's 412 to a free number.
  const int processes = 4, per_process = 12;
  const std::string clock = "1800000000000";
  const std::string uri = "s3://" + ledger_bucket_ + "?acl=bucket-owner-full-control";
  std::vector<std::unique_ptr<test::ChildProcess>> children;
  for (int p = 0; p < processes; ++p)
    children.push_back(std::make_unique<test::ChildProcess>(
        std::vector<std::string>{S3_WORKER, "add-frozen", uri, "contended", std::to_string(per_process), clock,
                                 "w" + std::to_string(p)},
        ci_.env()));
  std::map<std::uint64_t, std::pair<int, int>> owner;
  for (int p = 0; p < processes; ++p) {
    auto r = children[static_cast<std::size_t>(p)]->wait();
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::istringstream in(r.out);
    std::uint64_t v = 0, prev = 0;
    int seq = 0;
    while (in >> v) {
      EXPECT_GT(v, prev);
      EXPECT_TRUE(owner.emplace(v, std::pair{p, seq++}).second) << "version " << v << " handed out twice";
      prev = v;
    }
    EXPECT_EQ(seq, per_process);
  }
  ASSERT_EQ(owner.size(), static_cast<std::size_t>(processes * per_process));
  EXPECT_EQ(owner.begin()->first, 1800000000000ULL);
  // Read back with the admin's keys: every record is the one its writer wrote.
  auto ledger = open_ledger(uri);
  auto records = ledger->records("contended");
  ASSERT_EQ(records.size(), owner.size());
  for (const auto& r : records) {
    auto [p, seq] = owner.at(r.version);
    EXPECT_EQ(r.metadata.at("worker"), "w" + std::to_string(p));
    EXPECT_EQ(r.metadata.at("seq"), std::to_string(seq));
  }
  EXPECT_EQ(ledger->latest("contended"), owner.rbegin()->first);
}

}  // namespace
}  // namespace sacker
