// ledger_kit::checked_tag_value: the read-back check of a tag's value.
#include <gtest/gtest.h>

#include <string>

#include "kit/ledger_kit.h"
#include "sacker/error.h"

namespace sacker {
namespace {

ErrorKind kind_of(const TagValue& value, const std::string& tag = "live") {
  try {
    ledger_kit::checked_tag_value("test://ledger", "app", tag, value);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("test://ledger"), std::string::npos) << e.what();
    return e.kind();
  }
  return ErrorKind::Internal;
}

TEST(CheckedTagValue, ReturnsAValidValue) {
  TagValue v{7, 12, {R"({"keyid":"k","sig":"x"})"}};
  EXPECT_EQ(ledger_kit::checked_tag_value("test://ledger", "app", "live", v), v);
  TagValue legacy{3, 0, {}};  // set before history existed
  EXPECT_EQ(ledger_kit::checked_tag_value("test://ledger", "app", "live", legacy), legacy);
}

TEST(CheckedTagValue, RefusesVersionZeroBadSignaturesAndBadNames) {
  EXPECT_EQ(kind_of(TagValue{0, 1, {}}), ErrorKind::Invalid);
  EXPECT_EQ(kind_of(TagValue{1, 1, {"[1,2]"}}), ErrorKind::Invalid) << "not an object";
  EXPECT_EQ(kind_of(TagValue{1, 1, {R"({"b":1,"a":2})"}}), ErrorKind::Invalid) << "not canonical";
  EXPECT_EQ(kind_of(TagValue{1, 1, {"{not json"}}), ErrorKind::Invalid);
  EXPECT_EQ(kind_of(TagValue{1, 1, std::vector<std::string>(17, "{}")}), ErrorKind::Invalid) << "too many";
  EXPECT_EQ(kind_of(TagValue{1, 1, {"{\"s\":\"" + std::string(70000, 'x') + "\"}"}}), ErrorKind::Invalid);
  EXPECT_EQ(kind_of(TagValue{1, 1, {}}, "latest"), ErrorKind::Invalid) << "never stored";
  EXPECT_EQ(kind_of(TagValue{1, 1, {}}, "12"), ErrorKind::Invalid) << "all digits";
}

}  // namespace
}  // namespace sacker
