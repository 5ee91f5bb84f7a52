// sacker doctor's pure parts and its run against in-memory backends
// (the live backends are in tests/install/doctor_test.sh).
#include "client/doctor.h"

#include <gtest/gtest.h>

#include "sacker/error.h"

namespace sacker {
namespace {

TEST(Doctor, ClockSkewFromAnHttpDate) {
  // Wed, 21 Oct 2015 07:28:00 GMT = 1445412480.
  EXPECT_EQ(clock_skew_seconds("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480), 0);
  EXPECT_EQ(clock_skew_seconds("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 - 1000), 1000);  // we are behind
  EXPECT_EQ(clock_skew_seconds("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 + 901), -901);   // we are ahead
  EXPECT_EQ(clock_skew_seconds("Wed, 21 Oct 2015 07:28:00 GMT trailing", 0), std::nullopt);
  EXPECT_EQ(clock_skew_seconds("2015-10-21T07:28:00Z", 0), std::nullopt);
  EXPECT_EQ(clock_skew_seconds("", 0), std::nullopt);
}

TEST(Doctor, FixesNameTheCause) {
  EXPECT_NE(doctor_fix(Error(ErrorKind::Denied, "s3://b/: SignatureDoesNotMatch"), "store").find("secret key"),
            std::string::npos);
  EXPECT_NE(doctor_fix(Error(ErrorKind::Denied, "s3://b/: InvalidAccessKeyId"), "store").find("access key id"),
            std::string::npos);
  EXPECT_NE(doctor_fix(Error(ErrorKind::Unavailable, "connection refused"), "ledger").find("start the server"),
            std::string::npos);
  EXPECT_NE(doctor_fix(Error(ErrorKind::NotFound, "NoSuchBucket"), "ledger").find("sacker init"), std::string::npos);
}

Config mem_config() {
  Config c;
  c.ledger = "mem://doctor-unit-ledger";
  c.stores = {"mem://doctor-unit-store"};
  return c;
}

TEST(Doctor, EveryStepOfInMemoryBackendsWorks) {
  DoctorOptions options;
  options.clock = [] { return std::int64_t{1700000000}; };
  DoctorReport report = run_doctor(mem_config(), options);
  EXPECT_TRUE(report.ok());
  EXPECT_FALSE(report.write_only);
  int ok = 0;
  for (const auto& c : report.checks) ok += c.status == CheckStatus::Ok;
  EXPECT_EQ(ok, 8);  // reachable, list, read, write for each
  ASSERT_EQ(report.checks.size(), 8u);
  EXPECT_EQ(report.checks.front().role, "ledger");
  EXPECT_EQ(report.checks.back().role, "store");
}

TEST(Doctor, ReadOnlySkipsTheWrites) {
  DoctorOptions options;
  options.read_only = true;
  DoctorReport report = run_doctor(mem_config(), options);
  EXPECT_TRUE(report.ok());
  int skipped = 0;
  for (const auto& c : report.checks) skipped += c.status == CheckStatus::Skipped && c.step == "can write";
  EXPECT_EQ(skipped, 2);
}

TEST(Doctor, AnUnknownSchemeFailsItsOpenStepWithAFix) {
  Config c = mem_config();
  c.stores = {"nosuch://x"};
  DoctorReport report = run_doctor(c, {});
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.failure(), ErrorKind::Invalid);
  const DoctorCheck& last = report.checks.back();
  EXPECT_EQ(last.role, "store");
  EXPECT_EQ(last.step, "open");
  EXPECT_EQ(last.status, CheckStatus::Failed);
  EXPECT_NE(last.fix.find("sacker config"), std::string::npos);
}

}  // namespace
}  // namespace sacker
