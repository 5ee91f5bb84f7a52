// The kit's read-back helpers for tag values and stored signature lists.
#include <gtest/gtest.h>

#include "kit/ledger_kit.h"
#include "sacker/error.h"

namespace sacker {
namespace {

using namespace ledger_kit;

ErrorKind kind_of(const std::function<void()>& fn, std::string* message = nullptr) {
  try {
    fn();
  } catch (const Error& e) {
    if (message) *message = e.what();
    return e.kind();
  }
  return ErrorKind::Internal;
}

TEST(KitTagValue, AcceptsWhatALedgerWritesAndOldTagsWithSeqZero) {
  TagValue v{7, 12, {R"({"keyid":"k","sig":"x"})"}};
  EXPECT_EQ(checked_tag_value("L", "app", "live", v), v);
  EXPECT_EQ(checked_tag_value("L", "app", "live", TagValue{1, 0, {}}), (TagValue{1, 0, {}}));
}

TEST(KitTagValue, RefusesHostileValuesNamingTheLedgerAndTheTag) {
  std::string msg;
  EXPECT_EQ(kind_of(
                [&] {
                  checked_tag_value("etcd://h/x", "app", "live", TagValue{0, 1, {}});
                },
                &msg),
            ErrorKind::Invalid);
  EXPECT_NE(msg.find("etcd://h/x"), std::string::npos) << msg;
  EXPECT_NE(msg.find("live"), std::string::npos) << msg;
  EXPECT_EQ(kind_of([&] { checked_tag_value("L", "app", "live", TagValue{1ULL << 63, 1, {}}); }), ErrorKind::Invalid);
  EXPECT_EQ(kind_of([&] { checked_tag_value("L", "app", "live", TagValue{1, 1ULL << 63, {}}); }), ErrorKind::Invalid);
  EXPECT_EQ(kind_of([&] { checked_tag_value("L", "app", "latest", TagValue{1, 1, {}}); }), ErrorKind::Invalid);
  EXPECT_EQ(kind_of([&] { checked_tag_value("L", "../x", "live", TagValue{1, 1, {}}); }), ErrorKind::Invalid);
  EXPECT_EQ(kind_of([&] { checked_tag_value("L", "app", "live", TagValue{1, 1, {"[1]"}}); }), ErrorKind::Invalid);
  EXPECT_EQ(kind_of([&] {
              checked_tag_value("L", "app", "live", TagValue{1, 1, std::vector<std::string>(17, "{}")});
            }),
            ErrorKind::Invalid)
      << "at most 16 signatures";
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

}  // namespace
}  // namespace sacker
