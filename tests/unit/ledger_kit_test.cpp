// kit/ledger_kit.h: the read-back check of a tag's value.
#include <gtest/gtest.h>

#include "kit/ledger_kit.h"

namespace sacker {
namespace {

TEST(LedgerKit, CheckedTagValuePassesGoodValuesAndNamesTheTagOfBadOnes) {
  const TagValue good{17, 4, {R"({"keyid":"k"})"}};
  EXPECT_EQ(ledger_kit::checked_tag_value("s3://b/p", "app", "live", good), good);
  EXPECT_EQ(ledger_kit::checked_tag_value("s3://b/p", "app", "live", TagValue{17, 0, {}}), (TagValue{17, 0, {}}))
      << "seq 0: set before history existed";
  for (const TagValue& bad : {TagValue{0, 1, {}}, TagValue{3, 1, {"[1]"}}, TagValue{3, 1, {R"({"b":1, "a":2})"}},
                              TagValue{3, 1, std::vector<std::string>(17, "{}")}}) {
    try {
      ledger_kit::checked_tag_value("s3://b/p", "app", "live", bad);
      ADD_FAILURE() << "accepted version " << bad.version;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Invalid);
      const std::string what = e.what();
      EXPECT_EQ(what.rfind("s3://b/p: ", 0), 0u) << what;
      EXPECT_NE(what.find("tag 'live' of app"), std::string::npos) << what;
      EXPECT_NE(what.find("hostile or corrupt"), std::string::npos) << what;
    }
  }
}

}  // namespace
}  // namespace sacker
