// Kit helpers of the transfer paths: fetch_in_order (parallel parts delivered in
// order with bounded buffers), download_in_parts (a store's parallel download)
// and UriOptions::take_size.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

#include "kit/parallel.h"
#include "kit/uri_options.h"
#include "sacker/store.h"
#include "sacker/error.h"
#include "sacker/uri.h"

namespace sacker {
namespace {

TEST(FetchInOrder, DeliversEveryPartInOrderWhateverOrderTheyFinishIn) {
  std::string delivered;
  std::atomic<int> in_flight{0}, most{0};
  std::set<const char*> buffers;
  fetch_in_order(
      40, 4,
      [&](std::size_t i, std::string& buf) {
        const int now = ++in_flight;
        for (int m = most; now > m && !most.compare_exchange_weak(m, now);) {
        }
        // Later parts finish first.
        std::this_thread::sleep_for(std::chrono::microseconds(200 * (i % 4 == 0 ? 5 : 1)));
        EXPECT_TRUE(buf.empty()) << "a recycled buffer comes cleared";
        buf.assign(1000, static_cast<char>('a' + i % 26));  // keeps the capacity
        --in_flight;
      },
      [&](std::size_t i, std::string& buf) {
        EXPECT_EQ(buf, std::string(1000, static_cast<char>('a' + i % 26)));
        delivered += buf.substr(0, 1);
        buffers.insert(buf.data());
      });
  std::string expected;
  for (std::size_t i = 0; i < 40; ++i) expected += static_cast<char>('a' + i % 26);
  EXPECT_EQ(delivered, expected);
  EXPECT_LE(most.load(), 4);
  EXPECT_LE(buffers.size(), 6u) << "buffers are recycled, not allocated per part";
}

TEST(FetchInOrder, TheFirstFailureIsRethrownAndLaterPartsAreNotDelivered) {
  std::size_t delivered = 0;
  EXPECT_THROW(fetch_in_order(
                   20, 3,
                   [&](std::size_t i, std::string& buf) {
                     if (i == 5) throw Error(ErrorKind::Unavailable, "part 5");
                     buf = "x";
                   },
                   [&](std::size_t i, std::string&) {
                     EXPECT_LT(i, 5u);
                     ++delivered;
                   }),
               Error);
  EXPECT_LE(delivered, 5u);
}

TEST(FetchInOrder, NoPartsIsNothing) {
  fetch_in_order(
      0, 8, [](std::size_t, std::string&) { FAIL(); }, [](std::size_t, std::string&) { FAIL(); });
}

TEST(FetchInOrder, OnePartOrOneStreamRunsOnTheCallersThread) {
  const auto caller = std::this_thread::get_id();
  for (auto [count, concurrency] : {std::pair<std::size_t, std::size_t>{1, 8}, {5, 1}}) {
    std::string delivered;
    fetch_in_order(
        count, concurrency,
        [&](std::size_t i, std::string& buf) {
          EXPECT_EQ(std::this_thread::get_id(), caller);
          EXPECT_TRUE(buf.empty());
          buf = std::to_string(i);
        },
        [&](std::size_t, std::string& buf) { delivered += buf; });
    EXPECT_EQ(delivered, count == 1 ? "0" : "01234");
  }
}

// What a store's parallel download hands its sink and progress.
struct Recorded final : BlobSink, Progress {
  void write(const char* d, std::size_t n) override { written.append(d, n); }
  void arrived(std::uint64_t offset, const char* d, std::size_t n) override {
    std::lock_guard lock(mutex);
    parts[offset] = std::string(d, n);
  }
  void start(std::uint64_t total) override { started = total, ++starts; }
  void advance(std::uint64_t n) override { advanced += n; }
  void finish() override { ++finishes; }
  std::mutex mutex;
  std::string written;
  std::map<std::uint64_t, std::string> parts;
  std::uint64_t started = 0, advanced = 0;
  int starts = 0, finishes = 0;
};

TEST(DownloadInParts, WritesTheRangeInOrderAndHandsEveryFetchedPartToArrived) {
  std::string blob(4000, '\0');
  for (std::size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<char>('a' + i % 23);
  auto fetch = [&](std::uint64_t at, std::uint64_t n, std::string& buf) { buf.assign(blob, at, n); };
  {  // a range, nothing fetched yet
    Recorded r;
    download_in_parts(r, &r, 10, 2510, {}, 1000, 3, fetch);
    EXPECT_EQ(r.written, blob.substr(10, 2500));
    EXPECT_EQ(r.parts, (std::map<std::uint64_t, std::string>{
                           {10, blob.substr(10, 1000)}, {1010, blob.substr(1010, 1000)}, {2010, blob.substr(2010, 500)}}));
    EXPECT_EQ(r.started, 2500u);
    EXPECT_EQ(r.advanced, 2500u);
    EXPECT_EQ(r.starts, 1);
    EXPECT_EQ(r.finishes, 1);
  }
  {  // a whole blob whose first 300 bytes came with the request that learnt its size
    Recorded r;
    download_in_parts(r, &r, 0, 4000, blob.substr(0, 300), 1000, 2, fetch);
    EXPECT_EQ(r.written, blob);
    ASSERT_EQ(r.parts.size(), 4u) << "the first bytes are the caller's, not a fetched part";
    EXPECT_EQ(r.parts.begin()->first, 300u);
    EXPECT_EQ(r.parts.rbegin()->second, blob.substr(3300));
    EXPECT_EQ(r.advanced, 4000u);
  }
  {  // all of it came first
    Recorded r;
    download_in_parts(r, nullptr, 0, 300, blob.substr(0, 300), 1000, 2,
                      [](std::uint64_t, std::uint64_t, std::string&) { FAIL() << "nothing is left to fetch"; });
    EXPECT_EQ(r.written, blob.substr(0, 300));
    EXPECT_TRUE(r.parts.empty());
  }
}

TEST(UriOptionsTakeSize, ReadsBinaryUnits) {
  Uri uri = parse_uri("x://h/p?a=16M&b=64KiB&c=1G&d=123&e=2GiB");
  UriOptions o(uri);
  EXPECT_EQ(o.take_size("a", 0, 0, 1ULL << 40), 16ULL << 20);
  EXPECT_EQ(o.take_size("b", 0, 0, 1ULL << 40), 64ULL << 10);
  EXPECT_EQ(o.take_size("c", 0, 0, 1ULL << 40), 1ULL << 30);
  EXPECT_EQ(o.take_size("d", 0, 0, 1ULL << 40), 123u);
  EXPECT_EQ(o.take_size("e", 0, 0, 1ULL << 40), 2ULL << 30);
  EXPECT_EQ(o.take_size("missing", 7, 0, 10), 7u);
  o.finish();
}

TEST(UriOptionsTakeSize, RefusesWhatIsNotASizeInRange) {
  for (const char* bad : {"x://h/p?a=", "x://h/p?a=M", "x://h/p?a=-1", "x://h/p?a=1T", "x://h/p?a=3G", "x://h/p?a=1",
                          "x://h/p?a=99999999999999999999G", "x://h/p?a=1.5M"}) {
    Uri uri = parse_uri(bad);
    UriOptions o(uri);
    try {
      o.take_size("a", 0, 2, 2ULL << 30);
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Invalid) << bad;
      EXPECT_NE(std::string(e.what()).find("'a'"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace sacker
