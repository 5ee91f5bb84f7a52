// A tag's value read back (kit/ledger_kit.h): the stored JSON form (round trip, hostile
// stored values refused as Invalid naming the ledger and the place) and the check of a
// TagValue a ledger parsed itself; both apply the same rules.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kit/ledger_kit.h"
#include "sacker/error.h"

namespace sacker {
namespace {

TEST(TagValueJson, RoundTrips) {
  const TagValue plain{7, 0, {}};
  EXPECT_EQ(ledger_kit::tag_value_to_json(plain), R"({"version":7,"seq":0})");
  EXPECT_EQ(ledger_kit::checked_tag_value("L", "tags/live", ledger_kit::tag_value_to_json(plain)), plain);
  const TagValue signed_value{12, 34, {R"({"keyid":"k","sig":"AA=="})", R"({"a":1})"}};
  const auto json = ledger_kit::tag_value_to_json(signed_value);
  EXPECT_EQ(json, R"({"version":12,"seq":34,"signatures":[{"keyid":"k","sig":"AA=="},{"a":1}]})");
  EXPECT_EQ(ledger_kit::checked_tag_value("L", "tags/live", json), signed_value);
  EXPECT_EQ(ledger_kit::checked_tag_value("L", "tags/live", R"({"version":3})"), (TagValue{3, 0, {}}))
      << "seq and signatures may be left out";
}

TEST(TagValueJson, HostileValuesAreInvalidAndNamed) {
  const std::string big(70 * 1024, 'x');
  for (const std::string bad : std::vector<std::string>{
           "", "7", "[]", "{", R"({"seq":1})", R"({"version":0})", R"({"version":-3})", R"({"version":1.5})",
           R"({"version":"7"})", R"({"version":1e30})", R"({"version":99999999999999999999999})",
           R"({"version":1,"seq":-1})", R"({"version":1,"seq":"2"})", R"({"version":1,"signatures":{}})",
           R"({"version":1,"signatures":["x"]})", R"({"version":1,"signatures":[[1]]})",
           R"({"version":1,"signatures":[{"s":")" + big + R"("}]})"}) {
    try {
      ledger_kit::checked_tag_value("zk://h/x", "/x/tags/live", bad);
      ADD_FAILURE() << "accepted: " << bad.substr(0, 80);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Invalid) << bad.substr(0, 80);
      const std::string what = e.what();
      EXPECT_NE(what.find("zk://h/x"), std::string::npos) << what;
      EXPECT_NE(what.find("/x/tags/live"), std::string::npos) << what;
    }
  }
  std::string many = R"({"version":1,"signatures":[)";
  for (int i = 0; i < 17; ++i) many += std::string(i ? "," : "") + "{}";
  many += "]}";
  EXPECT_THROW(ledger_kit::checked_tag_value("L", "w", many), Error) << "at most 16 signatures";
}

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
