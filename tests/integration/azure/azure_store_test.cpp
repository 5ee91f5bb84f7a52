// The azure:// store through the real sacker binary against Azurite (the server_azurite
// fixture, scripts/servers/azurite.sh; Azurite verifies Shared Key and SAS signatures
// and Content-MD5): the canary workflow, a wrong key (exit 6, no secret printed), SAS
// URLs fetched with curl (read-only, and refused once expired), SAS-token credentials,
// a tampered blob, a re-used blob refreshed for gc, concurrent adds of one large blob,
// and a 100 MiB blob up and down in parallel with memory bounded by the part sizes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "azure/azure_account.h"
#include "azure/blob_client.h"
#include "core/codec.h"
#include "sacker/config.h"
#include "sacker/error.h"
#include "sacker/sha256.h"
#include "support/process.h"
#include "support/test_env.h"

namespace sacker::test {
namespace {

namespace fs = std::filesystem;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

std::string sha_of_file(const fs::path& p) {
  const std::string bytes = read_file(p);
  return Sha256::hex_of(bytes.data(), bytes.size());
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

class AzureStore : public ::testing::Test {
 protected:
  void SetUp() override {
    load_test_env();
    const char* container = std::getenv("AZURE_CONTAINER");
    ASSERT_TRUE(container) << "run with the azurite fixture's env file";
    container_ = container;
    prefix_ = unique_token() + "/";
    home_ = make_temp_dir("sacker-azure");
    store_ = "azure://devstoreaccount1/" + container_ + "/" + prefix_;
    ledger_ = "sqlite://" + (home_ / "ledger.db").string();
    client_ =
        std::make_unique<azure::BlobClient>(azure::resolve_account("devstoreaccount1", std::nullopt, process_env()));
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(home_, ec);
  }

  ProcessResult sacker(std::vector<std::string> args, const std::vector<std::string>& env = {},
                       const std::string& store = "") const {
    std::vector<std::string> argv = {SACKER_BINARY, "--ledger", ledger_, "--store", store.empty() ? store_ : store};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> full = {"HOME=" + home_.string(),
                                     "XDG_DATA_HOME=", "SACKER_CONFIG=", "SACKER_LEDGER=", "SACKER_STORE="};
    full.insert(full.end(), env.begin(), env.end());
    return run_process(argv, full, "", home_);
  }
  fs::path file(const std::string& name, const std::string& content) const {
    write_file(home_ / name, content);
    return home_ / name;
  }
  std::string blob_of(const std::string& sha) const { return prefix_ + sha; }

  std::string container_, prefix_, store_, ledger_;
  fs::path home_;
  std::unique_ptr<azure::BlobClient> client_;
};

TEST_F(AzureStore, CanaryWorkflow) {
  file("frontend-server.jar", "build 1");
  auto add1 = sacker({"add", "frontend-server", "frontend-server.jar"});
  ASSERT_EQ(add1.exit_code, 0) << add1.err;
  EXPECT_EQ(trim(add1.out), "1");
  fs::create_directories(home_ / "staging");
  ASSERT_EQ(sacker({"download", "frontend-server", "latest", "-o", "staging"}).exit_code, 0);
  EXPECT_EQ(read_file(home_ / "staging/frontend-server.jar"), "build 1");
  ASSERT_EQ(sacker({"tag", "frontend-server", "1", "live"}).exit_code, 0);
  file("frontend-server.jar", "build 2");
  EXPECT_EQ(trim(sacker({"add", "frontend-server", "frontend-server.jar"}).out), "2");
  fs::create_directories(home_ / "prod");
  ASSERT_EQ(sacker({"download", "frontend-server", "live", "-o", "prod"}).exit_code, 0);
  EXPECT_EQ(read_file(home_ / "prod/frontend-server.jar"), "build 1") << "live stayed";
  ASSERT_EQ(sacker({"download", "frontend-server", "latest", "-o", "staging"}).exit_code, 0);
  EXPECT_EQ(read_file(home_ / "staging/frontend-server.jar"), "build 2") << "latest moved";
  auto again = sacker({"download", "frontend-server", "latest", "-o", "staging"});
  EXPECT_THAT(again.out, HasSubstr("already up to date"));
  EXPECT_EQ(sacker({"tags", "frontend-server"}).out, "latest 2\nlive 1\n");
  // The blobs are where the layout says, readable by any Azure tool.
  const std::string sha = Sha256::hex_of("build 2", 7);
  auto p = client_->properties(container_, blob_of(sha));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->size, 7u);
}

TEST_F(AzureStore, AWrongKeyIsDeniedWithExit6AndNoSecret) {
  file("f", "x");
  const std::string key = codec::base64_encode(std::string(64, '\x5a'));
  const std::string cs = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + key +
                         ";BlobEndpoint=" + std::getenv("AZURE_BLOB_ENDPOINT");
  auto r = sacker({"-v", "add", "p", "f"}, {"AZURE_STORAGE_CONNECTION_STRING=" + cs});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_THAT(r.err, HasSubstr("access denied"));
  EXPECT_THAT(r.err, HasSubstr("AZURE_STORAGE_CONNECTION_STRING")) << "says where the credentials came from";
  EXPECT_THAT(r.err + r.out, Not(HasSubstr(key)));
  EXPECT_THAT(r.err + r.out, Not(HasSubstr(key.substr(0, 20))));
  EXPECT_THAT(r.err, Not(HasSubstr("SharedKey devstoreaccount1:")));
  auto none =
      sacker({"add", "p", "f"}, {"AZURE_STORAGE_CONNECTION_STRING=", "AZURE_STORAGE_KEY=", "AZURE_STORAGE_SAS_TOKEN="});
  EXPECT_EQ(none.exit_code, 6) << none.err;
  EXPECT_THAT(none.err, HasSubstr("no Azure credentials"));
}

TEST_F(AzureStore, SasUrlIsReadOnlyAndExpires) {
  file("f", "served by a SAS");
  ASSERT_EQ(sacker({"add", "p", "f"}).exit_code, 0);
  auto url = sacker({"url", "p", "latest", "--expires", "10m"});
  ASSERT_EQ(url.exit_code, 0) << url.err;
  const std::string u = trim(url.out);
  EXPECT_THAT(u, HasSubstr("sp=r"));
  auto get = run_process({"curl", "-s", "-w", "\n%{http_code}", u});
  EXPECT_EQ(get.out, "served by a SAS\n200");
  auto put = run_process({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-H",
                          "x-ms-blob-type: BlockBlob", "--data-binary", "evil", u});
  EXPECT_EQ(put.out, "403") << "the URL only reads";
  // Expired: the same SAS signed two hours ago for one hour (no waiting for the clock).
  const std::string sha = Sha256::hex_of("served by a SAS", 15);
  const std::string old = client_->read_sas_url(container_, blob_of(sha), std::chrono::hours(1),
                                                std::chrono::system_clock::now() - std::chrono::hours(2));
  auto expired = run_process({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", old});
  EXPECT_EQ(expired.out, "403");
  // A tampered signature is refused too (Azurite verifies it).
  std::string forged = u;
  forged.replace(forged.find("sig=") + 4, 4, "AAAA");
  EXPECT_EQ(run_process({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", forged}).out, "403");
}

TEST_F(AzureStore, SasTokenCredentialsDownloadAndCannotMintUrls) {
  file("f", "for a SAS holder");
  ASSERT_EQ(sacker({"add", "p", "f"}).exit_code, 0);
  const std::string sha = Sha256::hex_of("for a SAS holder", 16);
  const std::string u =
      client_->read_sas_url(container_, blob_of(sha), std::chrono::minutes(10), std::chrono::system_clock::now());
  const std::string token = u.substr(u.find('?'));
  const std::string sig = codec::percent_decode(u.substr(u.find("sig=") + 4)).value();
  const std::vector<std::string> env = {"AZURE_STORAGE_CONNECTION_STRING=", "AZURE_STORAGE_SAS_TOKEN=" + token};
  const std::string store = store_ + "?endpoint=" + std::getenv("AZURE_BLOB_ENDPOINT");
  auto dl = sacker({"-v", "download", "p", "latest", "-o", "copy"}, env, store);
  ASSERT_EQ(dl.exit_code, 0) << dl.err;
  EXPECT_EQ(read_file(home_ / "copy"), "for a SAS holder");
  // redacted by the HTTP log (REDACTED) or by the URI redaction every message goes through (***)
  EXPECT_THAT(dl.err, ContainsRegex("&sig=(REDACTED|\\*\\*\\*) 206"));
  EXPECT_THAT(dl.err, Not(HasSubstr(u.substr(u.find("sig=") + 4))));
  EXPECT_THAT(dl.err, Not(HasSubstr(sig)));
  auto url = sacker({"url", "p", "latest"}, env, store);
  EXPECT_EQ(url.exit_code, 2);
  EXPECT_THAT(url.err, HasSubstr("account key"));
  file("g", "a blob this SAS may not write");
  EXPECT_EQ(sacker({"add", "p", "g"}, env, store).exit_code, 6) << "a read SAS of one blob cannot add";
}

TEST_F(AzureStore, ATamperedBlobFailsTheDownloadAndLeavesTheDestination) {
  file("f", "the real bytes");
  ASSERT_EQ(sacker({"add", "p", "f"}).exit_code, 0);
  const std::string sha = Sha256::hex_of("the real bytes", 14);
  ASSERT_TRUE(client_->remove(container_, blob_of(sha)));
  ASSERT_TRUE(
      client_->put_blob(container_, blob_of(sha), "forged bytes!!", azure::content_md5("forged bytes!!")).written);
  write_file(home_ / "dest", "old content");
  auto dl = sacker({"download", "p", "latest", "-o", "dest"});
  EXPECT_EQ(dl.exit_code, 5) << dl.err;
  EXPECT_EQ(read_file(home_ / "dest"), "old content");
}

TEST_F(AzureStore, ReusingABlobRefreshesItAndAVanishedOneIsUploadedAgain) {
  file("f", "shared bytes");
  ASSERT_EQ(sacker({"add", "a", "f"}).exit_code, 0);
  const std::string sha = Sha256::hex_of("shared bytes", 12);
  auto before = client_->properties(container_, blob_of(sha));
  ASSERT_TRUE(before);
  ASSERT_EQ(sacker({"add", "b", "f"}).exit_code, 0);
  auto after = client_->properties(container_, blob_of(sha));
  ASSERT_TRUE(after);
  EXPECT_NE(after->etag, before->etag) << "the re-use wrote the blob's metadata (Last-Modified moves with it)";
  EXPECT_GE(after->last_modified, before->last_modified);
  ASSERT_TRUE(client_->remove(container_, blob_of(sha)));
  ASSERT_EQ(sacker({"add", "c", "f"}).exit_code, 0);
  ASSERT_EQ(sacker({"download", "c", "latest", "-o", "copy"}).exit_code, 0);
  EXPECT_EQ(read_file(home_ / "copy"), "shared bytes");
}

TEST_F(AzureStore, ConcurrentAddsOfOneLargeBlobAllSucceed) {
  const fs::path f = home_ / "big";
  const std::string sha = write_random_file(f, 6 << 20, 99);
  // Small blocks: each add uploads 24 blocks and commits; the first commit discards
  // the others' uncommitted blocks, and they must find the blob there.
  const std::string store = store_ + "?put_blob_threshold=1M&block_size=256K&concurrency=4";
  std::vector<std::unique_ptr<ChildProcess>> adds;
  for (int i = 0; i < 4; ++i)
    adds.push_back(
        std::make_unique<ChildProcess>(std::vector<std::string>{SACKER_BINARY, "--ledger", ledger_, "--store", store,
                                                                "add", "p" + std::to_string(i), f.string()},
                                       std::vector<std::string>{"HOME=" + home_.string(), "SACKER_CONFIG="}));
  for (auto& a : adds) {
    auto r = a->wait();
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  ASSERT_EQ(sacker({"download", "p3", "latest", "-o", "copy"}).exit_code, 0);
  EXPECT_EQ(sha_of_file(home_ / "copy"), sha);
}

// Max RSS (KiB) of `sacker args`, from /usr/bin/time.
long max_rss_kib(const ProcessResult& r) {
  auto at = r.err.rfind("maxrss=");
  return at == std::string::npos ? -1 : std::atol(r.err.c_str() + at + 7);
}

TEST_F(AzureStore, A100MiBBlobGoesUpAndDownInPartsWithBoundedMemory) {
  const fs::path f = home_ / "large";
  const std::string sha = write_random_file(f, (100 << 20) + 4321, 7);
  // Parts in flight x part size: (2 + 1) x 8 MiB up, 2 x 8 MiB down.
  const std::string store = store_ + "?block_size=8M&download_part_size=8M&concurrency=2";
  auto timed = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/time", "-f",    "maxrss=%M", SACKER_BINARY,
                                     "--ledger",      ledger_, "--store",   store};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, {"HOME=" + home_.string(), "SACKER_CONFIG="}, "", home_);
  };
  auto up = timed({"add", "large", f.string()});
  ASSERT_EQ(up.exit_code, 0) << up.err;
  auto p = client_->properties(container_, blob_of(sha));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->size, (100u << 20) + 4321);
  auto down = timed({"download", "large", "latest", "-o", "copy"});
  ASSERT_EQ(down.exit_code, 0) << down.err;
  EXPECT_EQ(sha_of_file(home_ / "copy"), sha);
  std::cout << "max RSS: add " << max_rss_kib(up) / 1024 << " MiB, download " << max_rss_kib(down) / 1024 << " MiB\n";
  EXPECT_GT(max_rss_kib(up), 0) << up.err;
  EXPECT_LT(max_rss_kib(up), 64 * 1024) << "upload memory is bounded by the blocks in flight, not the 100 MiB blob";
  EXPECT_LT(max_rss_kib(down), 64 * 1024) << "download memory is bounded by the parts in flight";
}

// gc's atomic delete (GcSupport): Delete Blob with If-Unmodified-Since. The service must
// keep a blob modified after the time given and remove one that was not.
TEST_F(AzureStore, ConditionalDeleteKeepsABlobModifiedAfterTheListedTime) {
  const std::string sha = Sha256::hex_of("listed", 6);
  ASSERT_TRUE(client_->put_blob(container_, blob_of(sha), "listed", azure::content_md5("listed")).written);
  auto p = client_->properties(container_, blob_of(sha));
  ASSERT_TRUE(p);
  ASSERT_GT(p->last_modified, 0);
  using D = azure::BlobClient::ConditionalDelete;
  EXPECT_EQ(client_->remove_if_unmodified_since(container_, blob_of(sha), p->last_modified - 1), D::Kept);
  EXPECT_TRUE(client_->properties(container_, blob_of(sha))) << "modified after the time given: kept";
  EXPECT_EQ(client_->remove_if_unmodified_since(container_, blob_of(sha), p->last_modified), D::Removed);
  EXPECT_FALSE(client_->properties(container_, blob_of(sha)));
  EXPECT_EQ(client_->remove_if_unmodified_since(container_, blob_of(sha), p->last_modified), D::Absent);
}

// Invariant 4 rests on the service refusing bytes that do not match their Content-MD5.
TEST_F(AzureStore, BytesThatDoNotMatchTheirContentMd5AreRefusedAsIntegrity) {
  const std::string sha = Sha256::hex_of("sent", 4);
  try {
    client_->put_blob(container_, blob_of(sha), "sent", azure::content_md5("other"));
    ADD_FAILURE() << "the service stored bytes whose Content-MD5 is another body's";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Integrity) << e.what();
  }
  EXPECT_FALSE(client_->properties(container_, blob_of(sha))) << "nothing stored";
}

// A SAS pasted into the store URI is refused (credentials come from the environment),
// and the one-line error does not echo its signature.
TEST_F(AzureStore, ASasSignatureInTheStoreUriIsRefusedWithoutEchoingIt) {
  file("f", "x");
  const std::string sig = "c2VjcmV0LXNpZ25hdHVyZS12YWx1ZQ%3D%3D";
  auto r = sacker({"add", "p", "f"}, {}, store_ + "?sv=2021-08-06&sp=r&sig=" + sig);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("unknown option"));
  EXPECT_THAT(r.err + r.out, Not(HasSubstr("c2VjcmV0LXNpZ25hdHVyZS12YWx1ZQ")));
}

}  // namespace
}  // namespace sacker::test
