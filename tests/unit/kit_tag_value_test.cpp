// The kit's read-back helpers for tag values (as values and in their stored JSON
// form) and stored signature lists: round trips, and hostile values refused as
// Invalid naming the ledger and the place.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kit/ledger_kit.h"
#include "sacker/error.h"
#include "support/records.h"

namespace sacker {
namespace {

using namespace ledger_kit;

using test::kind_of;

TEST(KitTagValue, AcceptsWhatALedgerWritesAndOldTagsWithSeqZero) {
  TagValue v{7, 12, {R"({"keyid":"k","sig":"x"})"}};
  EXPECT_EQ(checked_tag_value("L", "tag live of app", v), v);
  EXPECT_EQ(checked_tag_value("L", "tag live of app", TagValue{1, 0, {}}), (TagValue{1, 0, {}}));
}

TEST(KitTagValue, RefusesHostileValuesNamingTheLedgerAndThePlace) {
  std::string msg;
  EXPECT_EQ(kind_of(
                [&] {
                  checked_tag_value("etcd://h/x", "key live", TagValue{0, 1, {}});
                },
                &msg),
            ErrorKind::Invalid);
  EXPECT_NE(msg.find("etcd://h/x"), std::string::npos) << msg;
  EXPECT_NE(msg.find("key live"), std::string::npos) << msg;
  EXPECT_EQ(kind_of([&] {
              checked_tag_value("L", "tag live of app", TagValue{1ULL << 63, 1, {}});
            }),
            ErrorKind::Invalid);
  EXPECT_EQ(kind_of([&] {
              checked_tag_value("L", "tag live of app", TagValue{1, 1ULL << 63, {}});
            }),
            ErrorKind::Invalid);
  EXPECT_EQ(kind_of([&] { checked_tag_value("L", "tag live of app", TagValue{1, 1, {"[1]"}}); }), ErrorKind::Invalid);
  EXPECT_EQ(kind_of([&] {
              checked_tag_value("L", "tag live of app", TagValue{1, 1, std::vector<std::string>(17, "{}")});
            }),
            ErrorKind::Invalid)
      << "at most 16 signatures";
  EXPECT_EQ(kind_of([&] { checked_tag_value("L", "w", TagValue{1, 1, {R"({"b":1,"a":2})"}}); }), ErrorKind::Invalid)
      << "not canonical";
  EXPECT_EQ(kind_of([&] { checked_tag_value("L", "w", TagValue{1, 1, {"{not json"}}); }), ErrorKind::Invalid);
  EXPECT_EQ(kind_of([&] { checked_tag_value("L", "w", TagValue{1, 1, {R"({"n":1e999})"}}); }), ErrorKind::Invalid)
      << "a number no C++ type holds";
  EXPECT_EQ(kind_of([&] {
              checked_tag_value("L", "w", TagValue{1, 1, {"{\"s\":\"" + std::string(70000, 'x') + "\"}"}});
            }),
            ErrorKind::Invalid)
      << "a signature over 64 KiB";
}

TEST(KitSignatures, RoundTripInCanonicalFormAlsoAfterAStoreReorderedTheKeys) {
  std::vector<std::string> sigs = {R"({"a":1,"b":"x"})", R"({"keyid":"k"})"};
  EXPECT_EQ(signatures_to_json(sigs), R"([{"a":1,"b":"x"},{"keyid":"k"}])");
  EXPECT_EQ(checked_signatures("L", "w", signatures_to_json(sigs)), sigs);
  EXPECT_EQ(checked_signatures("L", "w", R"([ {"b": "x", "a": 1} ])"), std::vector<std::string>{sigs[0]})
      << "as PostgreSQL's JSONB may give them back";
  EXPECT_TRUE(checked_signatures("L", "w", "[]").empty());
  EXPECT_EQ(signatures_to_json({}), "[]");
}

TEST(KitSignatures, RefusesAnythingButAnArrayOfObjects) {
  for (const char* bad : {"", "{}", "[1]", "[[]]", "not json", R"(["x"])", "[{}"}) {
    std::string msg;
    EXPECT_EQ(kind_of([&] { checked_signatures("pg ledger", "app version 3", bad); }, &msg), ErrorKind::Invalid) << bad;
    EXPECT_NE(msg.find("app version 3"), std::string::npos) << msg;
  }
}

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
           R"({"version":9223372036854775808})", R"({"version":1,"seq":18446744073709551615})",
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

}  // namespace
}  // namespace sacker
