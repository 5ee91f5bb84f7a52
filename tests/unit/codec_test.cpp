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

}  // namespace
}  // namespace sacker::codec
