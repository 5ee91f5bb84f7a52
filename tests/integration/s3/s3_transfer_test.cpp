// Issue 10 against RadosGW: resumable multipart uploads and stalled transfers,
// with tests/fixtures/fault_proxy.py between the sacker binary and the server
// (s3_transfer_fixture.h; the download faults are in s3_download_fault_test.cpp). The
// proxy's byte counters are the oracle of "what moved"; kills happen at the
// test seam $SACKER_TEST_STOP_AT=upload.part.N (the process stops itself once N
// parts are journaled and is SIGKILLed while stopped), so nothing here sleeps.
#include <gtest/gtest.h>

#include "s3_transfer_fixture.h"

namespace sacker {
namespace {

namespace fs = std::filesystem;
using s3test::admin;
using s3test::kMiB;
using s3test::kOverheadPerRequest;
using s3test::kPart;

class S3Transfer : public s3test::TransferTest {};

// An add of an 8-part blob SIGKILLed once 3 parts are journaled: the rerun
// reconciles the journal with ListParts, re-reads and re-hashes the 3 kept parts,
// sends only the others, and the stored object is the file's bytes.
TEST_F(S3Transfer, AddKilledAfterThreePartsResumesAndSendsOnlyTheMissingParts) {
  const std::uint64_t size = 8 * kPart - 12345;  // the last part is short
  const auto file = dir_ / "big.bin";
  const std::string sha = test::write_random_file(file, size, 101);
  const std::string store =
      "s3://" + s3test::bucket() + "/" + unique_ + "/?multipart_threshold=5M&part_size=5M&concurrency=2";
  auto killed = run({"--ledger", ledger(), "--store", store, "add", "app", file.string()}, {}, "upload.part.3");
  ASSERT_TRUE(killed.stopped) << killed.result.err;
  EXPECT_EQ(journals(), 1u) << "the killed add left no journal";
  const std::uint64_t first_up = proxy_->stats()["up"];

  proxy_->reset();
  auto r = run({"-v", "--ledger", ledger(), "--store", store, "add", "app", file.string()});
  ASSERT_EQ(r.result.exit_code, 0) << r.result.err;
  EXPECT_NE(r.result.err.find("3 of 8 parts were sent"), std::string::npos) << r.result.err;
  const std::uint64_t second_up = proxy_->stats()["up"];
  // At most the 5 parts that were not journaled (one of them may have been in
  // flight on the other stream when the kill came).
  EXPECT_LE(second_up, size - 3 * kPart + 16 * kOverheadPerRequest);
  EXPECT_GE(second_up, size - 3 * kPart - kPart);  // and the parts were really sent again
  EXPECT_EQ(stored_sha(unique_ + "/" + sha), sha);
  EXPECT_EQ(journals(), 0u) << "a completed upload keeps its journal";
  std::printf("resume after 3 of 8 parts: first run sent %llu bytes, second %llu of %llu (%.0f%%)\n",
              static_cast<unsigned long long>(first_up), static_cast<unsigned long long>(second_up),
              static_cast<unsigned long long>(size),
              100.0 * static_cast<double>(second_up) / static_cast<double>(size));
}

// The PutObject-only CI user cannot ListParts (nor HEAD): the rerun goes by the
// journal alone, and still sends only what the journal does not list.
TEST_F(S3Transfer, WriteOnlyUserResumesFromTheJournalAlone) {
  const std::string store_bucket = "st-" + unique_, ledger_bucket = "lg-" + unique_;
  auto user = s3test::make_write_only_user(store_bucket, ledger_bucket);
  const std::uint64_t size = 6 * kPart;
  const auto file = dir_ / "big.bin";
  const std::string sha = test::write_random_file(file, size, 202);
  const std::string store =
      "s3://" + store_bucket + "?multipart_threshold=5M&part_size=5M&concurrency=1&acl=bucket-owner-full-control";
  auto killed = run({"--ledger", ledger(), "--store", store, "add", "app", file.string()}, user.env(), "upload.part.2");
  ASSERT_TRUE(killed.stopped) << killed.result.err;

  proxy_->reset();
  auto r = run({"-v", "--ledger", ledger(), "--store", store, "add", "app", file.string()}, user.env());
  ASSERT_EQ(r.result.exit_code, 0) << r.result.err;
  EXPECT_NE(r.result.err.find("2 of 6 parts were sent"), std::string::npos) << r.result.err;
  EXPECT_NE(r.result.err.find("403"), std::string::npos) << "ListParts was not even tried: " << r.result.err;
  const std::uint64_t second_up = proxy_->stats()["up"];
  EXPECT_LE(second_up, size - 2 * kPart + 16 * kOverheadPerRequest);  // serial: nothing else was in flight
  EXPECT_GE(second_up, size - 2 * kPart);
  EXPECT_EQ(stored_sha(sha, store_bucket), sha);  // bucket root: the policy allows 64-character keys only
  std::printf("write-only resume after 2 of 6 parts: second run sent %llu of %llu bytes\n",
              static_cast<unsigned long long>(second_up), static_cast<unsigned long long>(size));
}

// A journal whose upload was aborted meanwhile (`sacker uploads --abort`, or a
// lifecycle rule) starts clean: with ListParts the answer is NoSuchUpload, and for
// the write-only user the first UploadPart says so.
TEST_F(S3Transfer, AStaleJournalStartsCleanAndUploadsListsAndAbortsIncompleteUploads) {
  const std::uint64_t size = 4 * kPart;
  const auto file = dir_ / "big.bin";
  const std::string sha = test::write_random_file(file, size, 303);
  const std::string store =
      "s3://" + s3test::bucket() + "/" + unique_ + "/?multipart_threshold=5M&part_size=5M&concurrency=1";
  const std::vector<std::string> flags = {"--ledger", ledger(), "--store", store};
  auto with = [&](std::vector<std::string> rest) {
    rest.insert(rest.begin(), flags.begin(), flags.end());
    return rest;
  };
  ASSERT_TRUE(run(with({"add", "app", file.string()}), {}, "upload.part.2").stopped);

  auto listed = run(with({"--json", "uploads"}));
  ASSERT_EQ(listed.result.exit_code, 0) << listed.result.err;
  auto j = nlohmann::json::parse(listed.result.out);
  ASSERT_EQ(j["uploads"].size(), 1u) << listed.result.out;
  EXPECT_EQ(j["uploads"][0]["key"], unique_ + "/" + sha);
  auto young = run(with({"--json", "uploads", "--abort", "--older-than", "1d"}));
  ASSERT_EQ(young.result.exit_code, 0) << young.result.err;
  EXPECT_EQ(nlohmann::json::parse(young.result.out)["uploads"].size(), 0u) << "a fresh upload was aborted";
  auto aborted = run(with({"uploads", "--abort"}));
  ASSERT_EQ(aborted.result.exit_code, 0) << aborted.result.err;
  EXPECT_NE(aborted.result.out.find("aborted 1 incomplete uploads"), std::string::npos) << aborted.result.out;
  EXPECT_EQ(nlohmann::json::parse(run(with({"--json", "uploads"})).result.out)["uploads"].size(), 0u);
  ASSERT_EQ(journals(), 1u);

  proxy_->reset();
  auto r = run(with({"add", "app", file.string()}));
  ASSERT_EQ(r.result.exit_code, 0) << r.result.err;
  EXPECT_GE(proxy_->stats()["up"].get<std::uint64_t>(), size) << "a gone upload was 'resumed'";
  EXPECT_EQ(stored_sha(unique_ + "/" + sha), sha);
  EXPECT_EQ(journals(), 0u);
}

// RadosGW 16 accepts x-amz-checksum-sha256 on parts but does not check it; what
// it does check is the signed x-amz-content-sha256, the part's own sha256: a part
// whose bytes do not hash to it is refused, so the server verifies every part.
TEST_F(S3Transfer, APartWhoseBytesDoNotHashToItsSignedSha256IsRefused) {
  const auto file = dir_ / "part.bin";
  test::write_random_file(file, kPart, 404);
  const std::string key = unique_ + "/part-check";
  auto& s3 = admin();
  const std::string id = s3.create_multipart(s3test::bucket(), key, {{"x-amz-checksum-algorithm", "SHA256"}});
  const std::string wrong(64, 'a');
  EXPECT_EQ(s3test::kind_of([&] {
              s3.upload_part(s3test::bucket(), key, id, 1, net::FileRange{file.string(), 0, kPart}, wrong);
            }),
            ErrorKind::Integrity);
  s3.abort_upload(s3test::bucket(), key, id);
}

}  // namespace
}  // namespace sacker

namespace sacker {
namespace {

// A response that stops mid-body without the connection closing: --stall-timeout
// (libcurl's low-speed limit) gives up on that GET after 2 s, the part is fetched
// again, and the download ends verified. The only bytes wasted are the stalled
// part's (the proxy counts them).
TEST_F(S3Transfer, AStalledDownloadIsRetriedPerPartAndEndsVerified) {
  const std::uint64_t size = 12 * kMiB;
  const auto file = dir_ / "blob.bin";
  const std::string sha = test::write_random_file(file, size, 505);
  const std::string store = "s3://" + s3test::bucket() + "/" + unique_ + "/";
  ASSERT_EQ(run({"--ledger", ledger(), "--store", store, "add", "app", file.string()}).result.exit_code, 0);
  proxy_->reset();
  proxy_->fault(
      {{"kind", "stall_response"}, {"after", 1 << 20}, {"match", "GET /" + s3test::bucket() + "/" + unique_}});
  const auto dest = dir_ / "out.bin";
  auto r = run({"-v", "--ledger", ledger(), "--store", store, "download", "app", "latest", "-o", dest.string(),
                "--stall-timeout", "2s", "--part-size", "5M", "--parallel", "2"});
  ASSERT_EQ(r.result.exit_code, 0) << r.result.err;
  EXPECT_EQ(sha256_file(dest).sha256, sha);
  auto stats = proxy_->stats();
  EXPECT_EQ(stats["fired"], 1) << "the stall was never armed: this test proved nothing";
  const std::uint64_t down = stats["down"];
  EXPECT_GE(down, size + (1 << 20) - 4096);  // the stalled bytes plus the whole blob
  EXPECT_LE(down, size + 5 * kMiB + 16 * kOverheadPerRequest);
  std::printf("stalled download: %llu bytes moved for %llu\n", static_cast<unsigned long long>(down),
              static_cast<unsigned long long>(size));
}

// The same on the way up: a part's PUT stalls after 1 MiB (the proxy stops
// reading), the part is sent again after 2 s, and the upload completes.
TEST_F(S3Transfer, AStalledUploadPartIsRetriedAndTheAddCompletes) {
  const std::uint64_t size = 3 * kPart;
  const auto file = dir_ / "blob.bin";
  const std::string sha = test::write_random_file(file, size, 606);
  const std::string store = "s3://" + s3test::bucket() + "/" + unique_ + "/?multipart_threshold=5M";
  proxy_->fault({{"kind", "stall_request"}, {"after", 1 << 20}, {"match", "partNumber=2"}});
  auto r = run({"--ledger", ledger(), "--store", store, "add", "app", file.string(), "--stall-timeout", "2",
                "--part-size", "5M", "--parallel", "1"});
  ASSERT_EQ(r.result.exit_code, 0) << r.result.err;
  auto stats = proxy_->stats();
  EXPECT_EQ(stats["fired"], 1);
  const std::uint64_t up = stats["up"];
  EXPECT_GE(up, size + (1 << 20) - 4096);
  EXPECT_LE(up, size + kPart + 16 * kOverheadPerRequest);
  EXPECT_EQ(stored_sha(unique_ + "/" + sha), sha);
}

TEST_F(S3Transfer, TransferKnobsAreCheckedAndReadFromTheConfigFile) {
  const auto file = dir_ / "blob.bin";
  test::write_random_file(file, 1000, 707);
  const std::string store = "s3://" + s3test::bucket() + "/" + unique_ + "/";
  auto bad = run({"--ledger", ledger(), "--store", store, "add", "app", file.string(), "--parallel", "0"});
  EXPECT_EQ(bad.result.exit_code, 2) << bad.result.err;
  EXPECT_NE(bad.result.err.find("--parallel"), std::string::npos) << bad.result.err;
  auto small = run({"--ledger", ledger(), "--store", store, "add", "app", file.string(), "--part-size", "1M"});
  EXPECT_EQ(small.result.exit_code, 2) << small.result.err;
  EXPECT_NE(small.result.err.find("5 MiB"), std::string::npos) << small.result.err;
  const auto config = dir_ / "sacker.json";
  test::write_file(config, "{\"transfer\": {\"parallel\": 0}}");
  auto from_file =
      run({"--config", config.string(), "--ledger", ledger(), "--store", store, "add", "app", file.string()});
  EXPECT_EQ(from_file.result.exit_code, 2) << "the config file's transfer.parallel was not read";
  EXPECT_NE(from_file.result.err.find("the config file's transfer.parallel"), std::string::npos)
      << "the error does not say where the bad value came from: " << from_file.result.err;
  test::write_file(config, "{\"transfer\": {\"parallel\": 4, \"part_size\": \"8M\", \"stall_timeout\": \"10s\"}}");
  auto ok = run({"--config", config.string(), "--ledger", ledger(), "--store", store, "add", "app", file.string()});
  EXPECT_EQ(ok.result.exit_code, 0) << ok.result.err;
  test::write_file(config, "{\"transfer\": {\"paralel\": 4}}");
  auto typo = run({"--config", config.string(), "--ledger", ledger(), "--store", store, "add", "app", file.string()});
  EXPECT_EQ(typo.result.exit_code, 2);
  EXPECT_NE(typo.result.err.find("transfer.paralel"), std::string::npos) << typo.result.err;
}

}  // namespace
}  // namespace sacker
