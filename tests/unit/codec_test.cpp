// core/codec.h: the whitespace helpers (trim, trim_all).
#include "core/codec.h"

#include <gtest/gtest.h>

namespace sacker::codec {
namespace {

TEST(Codec, TrimDropsAsciiWhitespaceAtBothEnds) {
  EXPECT_EQ(trim(" \t a b \r\n\f\v"), "a b");
  EXPECT_EQ(trim("   "), "");
  EXPECT_EQ(trim(""), "");
}

TEST(Codec, TrimAllAlsoFoldsInnerRuns) {
  EXPECT_EQ(trim_all("  \"a   b \t\n c\"  "), "\"a b c\"");
  EXPECT_EQ(trim_all("value1"), "value1");
  EXPECT_EQ(trim_all(" \t "), "");
  EXPECT_EQ(trim_all(""), "");
  EXPECT_EQ(trim_all("a\x01b"), "a\x01b");  // only whitespace folds
}

// One HTTP-date codec for S3's Last-Modified, Azure's x-ms-date and doctor's
// clock check; anything but the fixed form is refused, not guessed at.
TEST(Codec, HttpDatesRoundTripAndOtherFormsAreRefused) {
  EXPECT_EQ(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(parse_http_date("Tue, 14 Nov 2023 22:13:20 GMT"), 1700000000);
  EXPECT_EQ(parse_http_date(" Wed, 21 Oct 2015 07:28:00 GMT\r\n"), 1445412480);
  EXPECT_EQ(parse_http_date(http_date(1255297753)), 1255297753);
  for (const char* bad : {"", "Tue, 14 Nov 2023 22:13:20", "Tue, 14 Xyz 2023 22:13:20 GMT",
                          "Tue, 32 Nov 2023 22:13:20 GMT", "Tue, 14 Nov 2023 24:13:20 GMT", "Tuesday, 14-Nov-23 22:13:20 GMT",
                          "Tue, 14 Nov 2023 22:13:20 UTC", "Tue, 14 Nov 2023 22-13-20 GMT"})
    EXPECT_FALSE(parse_http_date(bad).has_value()) << bad;
}

}  // namespace
}  // namespace sacker::codec
