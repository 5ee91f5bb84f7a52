// Kit helpers of the transfer paths: fetch_in_order (parallel parts delivered in
// order with bounded buffers) and UriOptions::take_size.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

#include "kit/parallel.h"
#include "kit/uri_options.h"
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
