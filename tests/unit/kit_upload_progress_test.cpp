// kit/upload_progress.h: attempts that start over never move the bar back or twice.
#include <gtest/gtest.h>

#include "kit/upload_progress.h"

namespace sacker {
namespace {

struct Recorder : Progress {
  std::uint64_t total = 0, advanced = 0;
  int finished = 0;
  void start(std::uint64_t t) override { total = t; }
  void advance(std::uint64_t n) override { advanced += n; }
  void finish() override { ++finished; }
};

TEST(UploadProgress, ARetriedAttemptOnlyAddsGrowthAndFinishCompletes) {
  Recorder r;
  UploadProgress p(&r, 100);
  EXPECT_EQ(r.total, 100u);
  auto cb = p.on_upload();
  cb(30);
  cb(60);
  cb(0);  // a retry starts over
  cb(40);
  EXPECT_EQ(r.advanced, 60u);
  cb(90);
  EXPECT_EQ(r.advanced, 90u);
  p.finish();
  EXPECT_EQ(r.advanced, 100u);
  EXPECT_EQ(r.finished, 1);
}

TEST(UploadProgress, ReachReportsGrowthOfACallersCounterOnly) {
  Recorder r;
  UploadProgress p(&r, 50);
  p.reach(10);
  p.reach(25);
  p.reach(20);  // parallel parts read the counter out of order: never back
  EXPECT_EQ(r.advanced, 25u);
  p.finish();
  EXPECT_EQ(r.advanced, 50u);
}

TEST(UploadProgress, WithoutAProgressNothingHappens) {
  UploadProgress p(nullptr, 100);
  EXPECT_FALSE(p.on_upload());
  p.reach(10);
  p.finish();
}

}  // namespace
}  // namespace sacker
