// The store conformance suite: written once, run unchanged against every store
// backend. $SACKER_TEST_STORE is a URI template ({unique} -> a fresh token per
// test, {VAR} from the server's env file); several URIs separated by spaces make
// a chain (cache first, then remotes).
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <functional>
#include <sstream>

#include "sacker/backends.h"
#include "sacker/client.h"
#include "sacker/error.h"
#include "sacker/sha256.h"
#include "store/gc_support.h"
#include "support/process.h"
#include "support/records.h"
#include "support/test_env.h"

namespace sacker {
namespace {

namespace fs = std::filesystem;

class StringSink final : public BlobSink {
 public:
  void write(const char* data, std::size_t size) override { bytes.append(data, size); }
  std::string bytes;
};

class CountingProgress final : public Progress {
 public:
  void start(std::uint64_t total) override { this->total = total; }
  void advance(std::uint64_t n) override { done += n; }
  void finish() override { finished = true; }
  std::uint64_t total = 0, done = 0;
  bool finished = false;
};

using test::kind_of;

class StoreConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    test::load_test_env();
    const char* tmpl = std::getenv("SACKER_TEST_STORE");
    ASSERT_TRUE(tmpl && *tmpl) << "set SACKER_TEST_STORE to a store URI template";
    auto expanded = test::expand_template(tmpl, test::unique_token());
    std::istringstream words(expanded);
    std::string uri;
    while (words >> uri) uris_.push_back(uri);
    store_ = open_store_chain(uris_);
    store_->init();
    dir_ = test::make_temp_dir("sacker-store");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  struct Blob {
    fs::path path;
    std::string sha256;
    std::uint64_t size;
  };
  Blob blob(std::size_t size, unsigned seed) {
    fs::path p = dir_ / ("blob-" + std::to_string(seed));
    std::string sha = test::write_random_file(p, size, seed);
    return {p, sha, size};
  }
  std::string get_bytes(const std::string& sha) {
    StringSink sink;
    store_->get(sha, sink, nullptr);
    return sink.bytes;
  }

  std::vector<std::string> uris_;
  std::unique_ptr<Store> store_;
  fs::path dir_;
};

TEST_F(StoreConformance, AbsentBlobIsAbsentNotAnError) {
  std::string sha(64, 'a');
  EXPECT_EQ(store_->contains(sha), false);
  StringSink sink;
  try {
    store_->get(sha, sink, nullptr);
    FAIL() << "get of a missing blob must throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::NotFound) << e.what();
  }
  EXPECT_FALSE(store_->remove(sha));
}

TEST_F(StoreConformance, PutThenGetReturnsTheSameBytes) {
  auto b = blob(100000, 1);
  CountingProgress progress;
  EXPECT_TRUE(store_->put_file(b.sha256, b.path, b.size, &progress));
  EXPECT_EQ(store_->contains(b.sha256), true);
  std::string bytes = get_bytes(b.sha256);
  EXPECT_EQ(bytes.size(), b.size);
  EXPECT_EQ(Sha256::hex_of(bytes.data(), bytes.size()), b.sha256);
  EXPECT_EQ(bytes, test::read_file(b.path));
}

TEST_F(StoreConformance, EmptyBlobRoundTrips) {
  auto b = blob(0, 2);
  store_->put_file(b.sha256, b.path, 0, nullptr);
  EXPECT_EQ(store_->contains(b.sha256), true);
  EXPECT_EQ(get_bytes(b.sha256), "");
}

TEST_F(StoreConformance, SecondPutOfTheSameBlobUploadsNothing) {
  auto b = blob(5000, 3);
  EXPECT_TRUE(store_->put_file(b.sha256, b.path, b.size, nullptr));
  EXPECT_FALSE(store_->put_file(b.sha256, b.path, b.size, nullptr));
  EXPECT_EQ(get_bytes(b.sha256), test::read_file(b.path));
}

TEST_F(StoreConformance, ContentThatDoesNotHashToTheKeyIsRefused) {
  auto b = blob(4096, 4);
  std::string wrong = Sha256::hex_of("something else", 14);
  try {
    store_->put_file(wrong, b.path, b.size, nullptr);
    FAIL() << "a blob must never be stored under a sha it does not hash to";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Integrity) << e.what();
  }
  EXPECT_EQ(store_->contains(wrong), false);
}

TEST_F(StoreConformance, RemoveDeletesOnlyThatBlob) {
  auto a = blob(1000, 5), b = blob(2000, 6);
  store_->put_file(a.sha256, a.path, a.size, nullptr);
  store_->put_file(b.sha256, b.path, b.size, nullptr);
  EXPECT_TRUE(store_->remove(a.sha256));
  EXPECT_EQ(store_->contains(a.sha256), false);
  EXPECT_EQ(store_->contains(b.sha256), true);
  EXPECT_FALSE(store_->remove(a.sha256));
}

TEST_F(StoreConformance, ListShowsEveryBlobWithItsSize) {
  std::map<std::string, std::uint64_t> expected;
  for (unsigned i = 0; i < 5; ++i) {
    auto b = blob(100 * (i + 1), 10 + i);
    store_->put_file(b.sha256, b.path, b.size, nullptr);
    expected[b.sha256] = b.size;
  }
  std::map<std::string, std::uint64_t> listed;
  std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  for (const auto& info : store_->list()) {
    listed[info.sha256] = info.size;
    EXPECT_LE(std::llabs(info.modified - now), 600) << "modified is a recent Unix time";
  }
  EXPECT_EQ(listed, expected);
}

TEST_F(StoreConformance, StatSaysSizeAndEtagOrAbsent) {
  EXPECT_FALSE(store_->stat(std::string(64, 'c')).has_value());
  auto b = blob(4321, 11);
  ASSERT_TRUE(store_->put_file(b.sha256, b.path, b.size, nullptr));
  auto info = store_->stat(b.sha256);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->sha256, b.sha256);
  EXPECT_EQ(info->size, b.size);
  EXPECT_GT(info->modified, 0);
  EXPECT_EQ(store_->stat(b.sha256)->etag, info->etag) << "an unchanged blob keeps its ETag";
}

TEST_F(StoreConformance, RangesReturnExactlyTheBytesAskedFor) {
  auto b = blob(3 * 1000 * 1000 + 17, 12);
  ASSERT_TRUE(store_->put_file(b.sha256, b.path, b.size, nullptr));
  const std::string all = get_bytes(b.sha256);
  ASSERT_EQ(all.size(), b.size);
  const auto etag = store_->stat(b.sha256)->etag;
  struct Case {
    std::uint64_t offset, length;
  };
  for (Case c : {Case{0, 1}, Case{0, b.size}, Case{1000, 2 * 1000 * 1000}, Case{b.size - 1, 1}, Case{b.size, 0},
                 Case{17, 0}}) {
    StringSink sink;
    store_->get_range(b.sha256, c.offset, c.length, etag, sink);
    EXPECT_EQ(sink.bytes, all.substr(c.offset, c.length)) << c.offset << "+" << c.length;
    StringSink unconditional;
    store_->get_range(b.sha256, c.offset, c.length, "", unconditional);
    EXPECT_EQ(unconditional.bytes, sink.bytes);
  }
  StringSink sink;
  EXPECT_EQ(kind_of([&] { store_->get_range(b.sha256, b.size - 10, 11, "", sink); }), ErrorKind::Invalid)
      << "a range past the end";
  EXPECT_EQ(kind_of([&] { store_->get_range(b.sha256, 0, 10, "\"not-the-etag\"", sink); }), ErrorKind::Conflict)
      << "an ETag that does not match";
  EXPECT_EQ(kind_of([&] { store_->get_range(std::string(64, 'd'), 0, 1, "", sink); }), ErrorKind::NotFound);
  EXPECT_TRUE(sink.bytes.empty()) << "failed ranges deliver nothing";
}

TEST_F(StoreConformance, LargeBlobRoundTrips) {
  // Large enough for multipart uploads and ranged downloads where a backend has them.
  const char* mb = std::getenv("SACKER_TEST_LARGE_BLOB_MB");
  std::size_t size = static_cast<std::size_t>(mb ? std::atoi(mb) : 40) << 20;
  size += 12345;  // not a multiple of any part size
  auto b = blob(size, 7);
  CountingProgress progress;
  EXPECT_TRUE(store_->put_file(b.sha256, b.path, b.size, &progress));
  EXPECT_EQ(progress.done, b.size);
  class HashSink final : public BlobSink {
   public:
    void write(const char* data, std::size_t n) override {
      hash.update(data, n);
      size += n;
    }
    Sha256 hash;
    std::uint64_t size = 0;
  } sink;
  store_->get(b.sha256, sink, nullptr);
  EXPECT_EQ(sink.size, b.size);
  EXPECT_EQ(sink.hash.finish_hex(), b.sha256);
}

TEST_F(StoreConformance, ConcurrentPutsOfOneBlobFromProcesses) {
  if (uris_.front().rfind("mem://", 0) == 0)
    GTEST_SKIP() << "an in-process backend cannot be shared with other processes";
  auto b = blob(300000, 8);
  const char* worker = std::getenv("SACKER_TEST_WORKER");
  ASSERT_TRUE(worker);
  std::string uri_list;
  for (const auto& u : uris_) uri_list += (uri_list.empty() ? "" : " ") + u;
  std::vector<std::unique_ptr<test::ChildProcess>> children;
  for (int p = 0; p < 4; ++p)
    children.push_back(std::make_unique<test::ChildProcess>(
        std::vector<std::string>{worker, "put", uri_list, b.path.string(), b.sha256, std::to_string(b.size)}));
  for (auto& c : children) {
    auto r = c->wait();
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  EXPECT_EQ(get_bytes(b.sha256), test::read_file(b.path));
}

// Issue 7, point 2: gc against an add that re-uses the blob it chose.
#include "gc_reuse_race.inc"

}  // namespace
}  // namespace sacker
