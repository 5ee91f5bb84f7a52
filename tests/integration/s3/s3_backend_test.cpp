// The S3 ledger and store through the library against RadosGW, beyond the
// conformance suites: listings past 1,000 keys, clocks that disagree, racing
// hints, hostile content, records of the original tool, multipart uploads with
// small parts, and what the store refuses.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "ledger/s3_ledger.h"
#include "s3_test_support.h"
#include "sacker/backends.h"
#include "sacker/sha256.h"

namespace sacker {
namespace {

namespace fs = std::filesystem;
using s3test::admin;
using s3test::kind_of;

VersionRecord record(const std::string& package, int n) {
  VersionRecord r;
  r.package = package;
  std::string id = package + "/" + std::to_string(n);
  r.sha256 = Sha256::hex_of(id.data(), id.size());
  r.size = 100 + static_cast<std::uint64_t>(n);
  r.basename = "file-" + std::to_string(n) + ".bin";
  r.created = 1700000000 + n;
  r.metadata = {{"n", std::to_string(n)}};
  return r;
}

class S3Backend : public ::testing::Test {
 protected:
  void SetUp() override {
    test::load_test_env();
    bucket_ = s3test::bucket();
    prefix_ = test::unique_token() + "/";
    uri_ = "s3://" + bucket_ + "/" + prefix_;
  }
  void put_raw(const std::string& key, const std::string& body, net::HttpHeaders headers = {}) {
    aws::S3PutOptions o;
    o.headers = std::move(headers);
    admin().put(bucket_, prefix_ + key, body, std::move(o));
  }
  std::string bucket_, prefix_, uri_;
};

TEST_F(S3Backend, MoreThanAThousandVersionsArePagedAndSortedByNumber) {
  // 1..1005 imported (keys "1", "10", "100", "1000" sort before "2"): more than
  // one page of the server's default 1,000 keys.
  const int n = 1005, threads = 8;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      auto ledger = open_ledger(uri_);
      for (int i = t + 1; i <= n; i += threads) {
        auto r = record("many", i);
        r.version = static_cast<std::uint64_t>(i);
        ledger->put_record(r);
      }
    });
  for (auto& w : workers) w.join();
  auto ledger = open_ledger(uri_);
  auto versions = ledger->versions("many");
  ASSERT_EQ(versions.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) EXPECT_EQ(versions[static_cast<std::size_t>(i)], static_cast<std::uint64_t>(i + 1));
  EXPECT_EQ(ledger->latest("many"), static_cast<std::uint64_t>(n));
  auto next = ledger->add(record("many", 0));
  EXPECT_EQ(std::to_string(next).size(), 13u);
  EXPECT_EQ(ledger->latest("many"), next);
  EXPECT_EQ(ledger->records("many").size(), static_cast<std::size_t>(n + 1));
}

TEST_F(S3Backend, SmallPagesListEverything) {
  auto ledger = open_ledger(uri_ + "?page_size=2");
  std::vector<std::uint64_t> added;
  for (int i = 0; i < 7; ++i) added.push_back(ledger->add(record("paged", i)));
  for (int i = 0; i < 5; ++i) ledger->add(record("pkg" + std::to_string(i), i));
  for (int i = 0; i < 5; ++i) ledger->set_tag("paged", "t" + std::to_string(i), added[static_cast<std::size_t>(i)]);
  EXPECT_EQ(ledger->versions("paged"), added);
  EXPECT_EQ(ledger->packages().size(), 6u);
  EXPECT_EQ(ledger->tags("paged").size(), 5u);
  EXPECT_EQ(ledger->latest("paged"), added.back());
}

TEST_F(S3Backend, AClockBehindStillAddsAboveWhatExists) {
  const std::int64_t now =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  auto ahead = open_s3_ledger_with_clock(parse_uri(uri_), [&] { return now + 3'600'000; });
  auto behind = open_s3_ledger_with_clock(parse_uri(uri_), [&] { return now; });
  auto v1 = ahead->add(record("clock", 1));
  EXPECT_EQ(v1, static_cast<std::uint64_t>(now + 3'600'000));
  auto v2 = behind->add(record("clock", 2));
  EXPECT_GT(v2, v1) << "a writer whose clock is an hour behind must not go below the newest version";
  EXPECT_EQ(behind->latest("clock"), v2);
}

TEST_F(S3Backend, ThreadsInOneFrozenMillisecondGetDistinctVersions) {
  const std::int64_t frozen = 1'750'000'000'000;
  const int threads = 6, per_thread = 8;
  std::vector<std::vector<std::uint64_t>> got(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      auto ledger = open_s3_ledger_with_clock(parse_uri(uri_), [&] { return frozen; });
      for (int i = 0; i < per_thread; ++i) {
        auto r = record("same-ms", t * 100 + i);
        got[static_cast<std::size_t>(t)].push_back(ledger->add(r));
      }
    });
  for (auto& w : workers) w.join();
  std::set<std::uint64_t> all;
  for (int t = 0; t < threads; ++t) {
    const auto& v = got[static_cast<std::size_t>(t)];
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
    all.insert(v.begin(), v.end());
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(threads * per_thread));
  auto ledger = open_ledger(uri_);
  for (const auto& r : ledger->records("same-ms")) {
    int n = std::stoi(r.metadata.at("n"));
    const auto& mine = got[static_cast<std::size_t>(n / 100)];
    EXPECT_EQ(mine[static_cast<std::size_t>(n % 100)], r.version) << "record " << n << " was overwritten";
  }
}

TEST_F(S3Backend, LatestNeverMovesBackwardsWhenTheHintIsStaleOrGone) {
  auto ledger = open_ledger(uri_);
  auto v1 = ledger->add(record("hint", 1));
  auto v2 = ledger->add(record("hint", 2));
  auto v3 = ledger->add(record("hint", 3));
  // A slower racing writer put an older hint last.
  put_raw("hint/tags/latest", "{\"version\": " + std::to_string(v1) + "}");
  EXPECT_EQ(ledger->latest("hint"), v3);
  // The hint is gone altogether.
  admin().remove(bucket_, prefix_ + "hint/tags/latest");
  EXPECT_EQ(ledger->latest("hint"), v3);
  // The hint points at a version that was removed by hand.
  put_raw("hint/tags/latest", "{\"version\": " + std::to_string(v3 + 5) + "}");
  EXPECT_EQ(ledger->latest("hint"), v3);
  // Removing the highest moves the hint back to the highest that exists.
  EXPECT_TRUE(ledger->remove_version("hint", v3));
  EXPECT_EQ(ledger->latest("hint"), v2);
  auto obj = admin().get(bucket_, prefix_ + "hint/tags/latest");
  ASSERT_TRUE(obj);
  EXPECT_EQ(nlohmann::json::parse(obj->body)["version"], v2);
}

TEST_F(S3Backend, RecordsOfTheOriginalToolAreReadWithHeaderMetadata) {
  std::string sha(64, 'c');
  put_raw("orig/versions/1600000000000", R"({"sha": ")" + sha + R"(", "basename": "tool", "mode": 33261})",
          {{"x-amz-meta-commit", "deadbeef"}, {"x-amz-meta-note", "=?UTF-8?B?Y2Fmw6k=?="}});
  auto r = open_ledger(uri_)->get("orig", 1600000000000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->sha256, sha);
  EXPECT_EQ(r->basename, "tool");
  EXPECT_EQ(r->mode, 0755u);
  EXPECT_EQ(r->size, 0u);
  EXPECT_EQ(r->created, 1600000000);
  EXPECT_EQ(r->metadata, (Metadata{{"commit", "deadbeef"}, {"note", "caf\xc3\xa9"}}));
}

TEST_F(S3Backend, HostileContentIsInvalidAndNamesTheKey) {
  auto ledger = open_ledger(uri_);
  std::string sha(64, 'a');
  struct Case {
    std::string key, body;
  };
  std::vector<Case> cases = {
      {"p1/versions/1700000000001", "not json"},
      {"p2/versions/1700000000001", "[1,2]"},
      {"p3/versions/1700000000001", R"({"sha": "zz", "basename": "x"})"},
      {"p4/versions/1700000000001", R"({"sha": ")" + sha + R"(", "basename": "../../etc/passwd"})"},
      {"p5/versions/1700000000001", R"({"sha": ")" + sha + R"(", "basename": "x", "mode": 99999999})"},
      {"p6/versions/1700000000001", R"({"sha": ")" + sha + R"(", "basename": "x", "metadata": {"k": 5}})"},
      {"p7/versions/1700000000001", R"({"basename": "x"})"},
  };
  for (const auto& c : cases) {
    put_raw(c.key, c.body);
    std::string pkg = c.key.substr(0, 2), message;
    EXPECT_EQ(kind_of([&] { ledger->get(pkg, 1700000000001); }, &message), ErrorKind::Invalid) << c.body;
    EXPECT_NE(message.find(c.key), std::string::npos) << message;
  }
  // Too big to be a record: refused before it fills the memory.
  put_raw("pa/versions/1700000000001", std::string(3 << 20, ' '));
  std::string big_message;
  EXPECT_EQ(kind_of([&] { ledger->get("pa", 1700000000001); }, &big_message), ErrorKind::Invalid);
  EXPECT_NE(big_message.find("pa/versions/1700000000001"), std::string::npos) << big_message;
  put_raw("p8/versions/12abc", "{}");
  std::string message;
  EXPECT_EQ(kind_of([&] { ledger->versions("p8"); }, &message), ErrorKind::Invalid);
  EXPECT_NE(message.find("p8/versions/12abc"), std::string::npos) << message;
  put_raw("p9/tags/live", R"({"version": "soon"})");
  EXPECT_EQ(kind_of([&] { ledger->tag("p9", "live"); }, &message), ErrorKind::Invalid);
  EXPECT_NE(message.find("p9/tags/live"), std::string::npos) << message;
  EXPECT_EQ(kind_of([&] { ledger->tags("p9"); }), ErrorKind::Invalid);
  put_raw("p9/tags/latest", "{");
  EXPECT_EQ(kind_of([&] { ledger->latest("p9"); }), ErrorKind::Invalid);
}

TEST_F(S3Backend, PackagesIgnoreForeignObjectsAndBlobsSharingThePrefix) {
  auto ledger = open_ledger(uri_);
  ledger->add(record("web", 1));
  ledger->add(record("api", 1));
  put_raw(std::string(64, 'b'), "a blob of a store that shares the prefix");
  put_raw("README", "hello");
  put_raw(".hidden/x", "not a package name");
  EXPECT_EQ(ledger->packages(), (std::vector<std::string>{"api", "web"}));
}

TEST_F(S3Backend, ImportedVersionsAreKeptAndAddsGoAbove) {
  auto ledger = open_ledger(uri_);
  auto r = record("imp", 1);
  r.version = 9999999999999ULL;  // the largest a key can hold
  ledger->put_record(r);
  EXPECT_EQ(ledger->get("imp", r.version), r);
  auto too_big = record("imp", 2);
  too_big.version = 10000000000000ULL;
  EXPECT_EQ(kind_of([&] { ledger->put_record(too_big); }), ErrorKind::Invalid);
  EXPECT_EQ(kind_of([&] { ledger->add(record("imp", 3)); }), ErrorKind::Conflict)
      << "no number above the imported maximum is left";
}

// --- the store ----------------------------------------------------------------

class S3StoreTest : public S3Backend {
 protected:
  void SetUp() override {
    S3Backend::SetUp();
    dir_ = test::make_temp_dir("sacker-s3-store");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string read_all(Store& store, const std::string& sha) {
    struct Sink final : BlobSink {
      void write(const char* d, std::size_t n) override { bytes.append(d, n); }
      std::string bytes;
    } sink;
    store.get(sha, sink, nullptr);
    return sink.bytes;
  }
  std::vector<std::string> pending_uploads() {
    auto r = s3test::aws({"s3api", "list-multipart-uploads", "--bucket", bucket_, "--prefix", prefix_});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> keys;
    if (r.out.find_first_not_of(" \n") == std::string::npos) return keys;
    auto j = nlohmann::json::parse(r.out);
    for (auto& u : j.value("Uploads", nlohmann::json::array())) keys.push_back(u["Key"]);
    return keys;
  }
  fs::path dir_;
};

TEST_F(S3StoreTest, MultipartUploadAndParallelRangedDownloadWithSmallParts) {
  auto store = open_store(uri_ + "?multipart_threshold=5MiB&part_size=5MiB&download_part_size=1MiB&concurrency=3");
  fs::path file = dir_ / "big";
  const std::size_t size = (23 << 20) + 123;
  std::string sha = test::write_random_file(file, size, 31);
  EXPECT_TRUE(store->put_file(sha, file, size, nullptr));
  auto head = admin().head(bucket_, prefix_ + sha);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->size, size);
  EXPECT_NE(head->etag.find("-5"), std::string::npos) << "5 parts of 5 MiB: " << head->etag;
  std::string bytes = read_all(*store, sha);
  EXPECT_EQ(bytes.size(), size);
  EXPECT_EQ(Sha256::hex_of(bytes.data(), bytes.size()), sha);
  EXPECT_FALSE(store->put_file(sha, file, size, nullptr));
  EXPECT_TRUE(pending_uploads().empty());
}

TEST_F(S3StoreTest, MultipartOfOtherBytesIsRefusedAndAborted) {
  auto store = open_store(uri_ + "?multipart_threshold=5MiB&part_size=5MiB");
  fs::path file = dir_ / "big";
  const std::size_t size = (11 << 20) + 5;
  test::write_random_file(file, size, 32);
  std::string wrong = Sha256::hex_of("other", 5);
  EXPECT_EQ(kind_of([&] { store->put_file(wrong, file, size, nullptr); }), ErrorKind::Integrity);
  EXPECT_EQ(store->contains(wrong), false);
  EXPECT_TRUE(pending_uploads().empty()) << "the failed upload was aborted";
}

// Client::add hashes the key and the parts in one read (put_digested_file): the
// upload does not hash the file again, so a file changed since is refused by the
// server part by part; the upload is aborted and nothing is stored.
TEST_F(S3StoreTest, PartDigestsFromTheKeyHashAreUsedAndAFileChangedSinceIsRefused) {
  auto store = open_store(uri_ + "?multipart_threshold=5MiB&part_size=5MiB&concurrency=2");
  fs::path file = dir_ / "big";
  const std::size_t size = (12 << 20) + 9;
  test::write_random_file(file, size, 34);
  ASSERT_EQ(store->part_digest_size(size), 5u << 20);
  EXPECT_EQ(store->part_digest_size(5 << 20), 0u) << "a single PUT: the server checks the key itself";
  const FileDigest hashed = sha256_file(file, store->part_digest_size(size));
  ASSERT_EQ(hashed.part_sha256.size(), 3u);
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(6 << 20);
    const char was = static_cast<char>(f.get());
    f.seekp(6 << 20);
    f.put(static_cast<char>(~was));  // same size, the second part differs
  }
  const FileDigest changed = sha256_file(file, 5 << 20);
  ASSERT_NE(changed.part_sha256[1], hashed.part_sha256[1]);
  std::string message;
  EXPECT_EQ(kind_of([&] { store->put_digested_file(file, hashed, nullptr); }, &message), ErrorKind::Integrity);
  EXPECT_NE(message.find("the server refused the bytes"), std::string::npos) << message;
  EXPECT_NE(message.find("did the file change since it was hashed?"), std::string::npos) << message;
  EXPECT_EQ(store->contains(hashed.sha256), false);
  EXPECT_TRUE(pending_uploads().empty()) << "the refused upload was aborted";

  EXPECT_TRUE(store->put_digested_file(file, changed, nullptr));
  const std::string bytes = read_all(*store, changed.sha256);
  EXPECT_EQ(Sha256::hex_of(bytes.data(), bytes.size()), changed.sha256);
  // Digests of another part size are ignored: the upload hashes the file itself
  // and so finds that it is not the sha claimed.
  FileDigest other = sha256_file(file, 6 << 20);
  other.sha256 = Sha256::hex_of("other", 5);
  EXPECT_EQ(kind_of([&] { store->put_digested_file(file, other, nullptr); }, &message), ErrorKind::Integrity);
  EXPECT_NE(message.find("its content hashes to " + changed.sha256), std::string::npos) << message;
  EXPECT_TRUE(pending_uploads().empty());
}

TEST_F(S3StoreTest, AMissingFileFailsLocallyAndLeavesNoUpload) {
  auto store = open_store(uri_ + "?multipart_threshold=5MiB&part_size=5MiB");
  fs::path file = dir_ / "short";
  test::write_random_file(file, 6 << 20, 33);
  // The caller claims more bytes than the file has: the part reads fail.
  std::string message;
  EXPECT_EQ(kind_of([&] { store->put_file(std::string(64, 'e'), file, 12 << 20, nullptr); }, &message),
            ErrorKind::LocalIO)
      << message;
  EXPECT_TRUE(pending_uploads().empty());
}

TEST_F(S3StoreTest, AReusedBlobGetsAFreshModificationTime) {
  // refresh_after=0: every reuse refreshes (the default waits for an hour).
  auto store = open_store(uri_ + "?refresh_after=0");
  fs::path file = dir_ / "f";
  std::string sha = test::write_random_file(file, 4000, 36);
  EXPECT_TRUE(store->put_file(sha, file, 4000, nullptr));
  auto before = admin().head(bucket_, prefix_ + sha);
  ASSERT_TRUE(before);
  // Last-Modified counts whole seconds: let one pass (this is not a race).
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_FALSE(store->put_file(sha, file, 4000, nullptr));
  auto after = admin().head(bucket_, prefix_ + sha);
  ASSERT_TRUE(after);
  EXPECT_GT(after->last_modified, before->last_modified);
  EXPECT_EQ(read_all(*store, sha), test::read_file(file)) << "the copy kept the bytes";
  // With the default, a blob written just now is left alone.
  auto plain = open_store(uri_);
  EXPECT_FALSE(plain->put_file(sha, file, 4000, nullptr));
  EXPECT_EQ(admin().head(bucket_, prefix_ + sha)->last_modified, after->last_modified);
}

TEST_F(S3StoreTest, ListSkipsWhatIsNotABlob) {
  auto store = open_store(uri_);
  fs::path file = dir_ / "f";
  std::string sha = test::write_random_file(file, 1000, 34);
  store->put_file(sha, file, 1000, nullptr);
  put_raw("README", "x");
  put_raw("pkg/versions/1700000000000", "{}");
  put_raw(std::string(64, 'G'), "upper case is not our key");
  auto list = store->list();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].sha256, sha);
  EXPECT_EQ(list[0].size, 1000u);
}

TEST_F(S3StoreTest, NoSuchBucketIsNotFoundAndSaysSo) {
  auto store = open_store("s3://no-such-bucket-" + test::unique_token());
  fs::path file = dir_ / "f";
  std::string sha = test::write_random_file(file, 10, 35);
  std::string message;
  EXPECT_EQ(kind_of([&] { store->put_file(sha, file, 10, nullptr); }, &message), ErrorKind::NotFound);
  EXPECT_NE(message.find("no such bucket"), std::string::npos) << message;
}

TEST_F(S3StoreTest, BadUrisAreInvalid) {
  for (std::string bad :
       {"s3://", "s3://ab", "s3://bucket?concurrency=0", "s3://bucket?nonsense=1", "s3://bucket/a//b", "s3://bu$ket"})
    EXPECT_EQ(kind_of([&] { open_store(bad); }), ErrorKind::Invalid) << bad;
}

}  // namespace
}  // namespace sacker
