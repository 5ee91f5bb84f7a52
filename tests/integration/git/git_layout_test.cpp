// The git ledger's file formats (ledger/git_layout.h): pure, no repository.
#include "ledger/git_layout.h"

#include <gtest/gtest.h>

namespace sacker {
namespace {

using namespace git_layout;

TEST(GitLayout, PathsAreOneComponentPerName) {
  EXPECT_EQ(record_path("app", 23), "packages/app/versions/00000000000000000023.json");
  EXPECT_EQ(event_path("app", 7), "packages/app/events/00000000000000000007.json");
  EXPECT_EQ(tag_path("app", "live"), "packages/app/tags/live");
  EXPECT_EQ(counter_path("app"), "packages/app/next");
}

TEST(GitLayout, NumberedFileNames) {
  EXPECT_EQ(numbered_json("00000000000000000023.json"), 23u);
  EXPECT_EQ(numbered_json("18446744073709551615.json"), UINT64_MAX);
  for (const char* bad : {"23.json", "00000000000000000000.json", "0000000000000000002x.json",
                          "00000000000000000023.jsonx", "99999999999999999999.json", "-0000000000000000023.json"})
    EXPECT_FALSE(numbered_json(bad).has_value()) << bad;
}

TEST(GitLayout, NumberFiles) {
  EXPECT_EQ(number_file(42), "42\n");
  EXPECT_EQ(parse_number_file("42\n"), 42u);
  EXPECT_EQ(parse_number_file("42"), 42u);
  for (const char* bad : {"", "\n", "0\n", "042\n", "-5\n", "4 2\n", "42\n\n", "18446744073709551616\n", "latest\n"})
    EXPECT_FALSE(parse_number_file(bad).has_value()) << bad;
}

TEST(GitLayout, TagFilesNewAndOld) {
  TagValue signed_value{5, 12, {R"({"keyid":"k","sig":"x"})"}};
  EXPECT_EQ(parse_tag_file(tag_file(signed_value)), signed_value);
  EXPECT_EQ(parse_tag_file(tag_file(TagValue{5, 0, {}})), (TagValue{5, 0, {}}));
  EXPECT_EQ(parse_tag_file("5\n"), (TagValue{5, 0, {}})) << "written before history";
  EXPECT_EQ(parse_tag_file(R"({"signatures":[{"b":1,"a":2}],"seq":1,"version":2})"),
            (TagValue{2, 1, {R"({"a":2,"b":1})"}}))
      << "signatures come back canonical";
  for (const char* bad : {"", "{not json", "[]", R"({"version":5})", R"({"version":0,"seq":1})",
                          R"({"version":-1,"seq":1})", R"({"version":1.5,"seq":1})", R"({"version":"5","seq":1})",
                          R"({"version":5,"seq":-1})", R"({"version":5,"seq":1,"signatures":{}})",
                          R"({"version":5,"seq":1,"signatures":["x"]})", R"({"version":1e30,"seq":1})"})
    EXPECT_FALSE(parse_tag_file(bad).has_value()) << bad;
}

TEST(GitLayout, CommitMessagesNameTheChangeAndItsActor) {
  Event e;
  e.package = "frontend-server";
  e.action = EventAction::Add;
  e.version = 23;
  EXPECT_EQ(commit_message(e), "add frontend-server 23");
  e.actor = "ci@runner";
  e.comment = "nightly";
  EXPECT_EQ(commit_message(e, "sha256 x"), "add frontend-server 23 by ci@runner\n\ncomment: nightly\nsha256 x");
  e = Event{};
  e.package = "frontend-server";
  e.action = EventAction::Untag;
  e.tag = "live";
  e.previous = 23;
  EXPECT_EQ(commit_message(e), "untag frontend-server live (was 23)");
  e.action = EventAction::Rollback;
  e.version = 22;
  EXPECT_EQ(commit_message(e), "rollback frontend-server 22 live");
}

}  // namespace
}  // namespace sacker
