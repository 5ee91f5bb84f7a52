// kit/ranged_read.h: parts fetched in parallel come out whole and in order, with
// bounded buffers; short parts and failures stop the read.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "kit/ranged_read.h"
#include "sacker/error.h"

namespace sacker {
namespace {

std::string pattern(std::uint64_t offset, std::uint64_t length) {
  std::string s;
  for (std::uint64_t i = offset; i < offset + length; ++i) s.push_back(static_cast<char>('a' + i % 23));
  return s;
}

TEST(RangedRead, PartsArriveInOrderWhateverOrderTheyFinishIn) {
  for (std::size_t concurrency : {1u, 2u, 5u}) {
    std::string got;
    std::atomic<int> in_flight{0}, most{0};
    read_parts_in_order(
        7, 1000, 64, concurrency,
        [&](std::uint64_t off, std::uint64_t len, std::string& out) {
          int now = ++in_flight;
          for (int m = most.load(); now > m && !most.compare_exchange_weak(m, now);) {
          }
          // Later parts finish first.
          std::this_thread::sleep_for(std::chrono::microseconds(2000 - off));
          out = pattern(off, len);
          --in_flight;
        },
        [&](const char* d, std::size_t n) { got.append(d, n); });
    EXPECT_EQ(got, pattern(7, 1000)) << "concurrency " << concurrency;
    EXPECT_LE(most.load(), static_cast<int>(concurrency));
  }
}

TEST(RangedRead, EmptyAndSinglePartReadsUseTheCallingThread) {
  int calls = 0;
  read_parts_in_order(0, 0, 10, 4, [&](std::uint64_t, std::uint64_t, std::string&) { ++calls; },
                      [](const char*, std::size_t) {});
  EXPECT_EQ(calls, 0);
  const auto self = std::this_thread::get_id();
  std::string got;
  read_parts_in_order(
      5, 10, 10, 4,
      [&](std::uint64_t off, std::uint64_t len, std::string& out) {
        EXPECT_EQ(std::this_thread::get_id(), self);
        out = pattern(off, len);
      },
      [&](const char* d, std::size_t n) { got.append(d, n); });
  EXPECT_EQ(got, pattern(5, 10));
}

TEST(RangedRead, AShortPartIsUnavailableAndNothingAfterItIsWritten) {
  std::string got;
  try {
    read_parts_in_order(
        0, 100, 10, 3,
        [&](std::uint64_t off, std::uint64_t len, std::string& out) { out = pattern(off, off == 30 ? len - 1 : len); },
        [&](const char* d, std::size_t n) { got.append(d, n); });
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Unavailable) << e.what();
  }
  // Only whole parts that precede the short one (a failure may stop the read earlier).
  EXPECT_EQ(got.size() % 10, 0u);
  EXPECT_LE(got.size(), 30u);
  EXPECT_EQ(got, pattern(0, got.size()));
}

TEST(RangedRead, TheFirstFailureIsRethrownOnTheCallingThread) {
  std::atomic<int> fetched{0};
  try {
    read_parts_in_order(
        0, 10000, 10, 4,
        [&](std::uint64_t off, std::uint64_t len, std::string& out) {
          ++fetched;
          if (off == 20) throw Error(ErrorKind::NotFound, "gone");
          out = pattern(off, len);
        },
        [](const char*, std::size_t) {});
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::NotFound);
  }
  EXPECT_LT(fetched.load(), 100) << "the other parts stop";
}

}  // namespace
}  // namespace sacker
