#pragma once
// Ledgers written by the previous code, for the backends' upgrade tests: one the
// previous release's CLI writes (set SACKER_LEGACY_SACKER to that binary, e.g. a
// build of the main branch before contracts v2; the tests that need it skip
// without it), and what such a ledger must do after the upgrade.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "sacker/ledger.h"
#include "support/process.h"
#include "support/test_env.h"

namespace sacker::test {

// The previous CLI, or nullptr if SACKER_LEGACY_SACKER is not set.
inline const char* legacy_sacker() {
  const char* legacy = std::getenv("SACKER_LEGACY_SACKER");
  return legacy && *legacy ? legacy : nullptr;
}

// With the previous CLI: init, add app 1 and 2, tag 1 live, remove 2.
inline void write_with_legacy_cli(const std::string& ledger_uri) {
  auto dir = make_temp_dir("sacker-legacy");
  write_file(dir / "a.bin", "first");
  write_file(dir / "b.bin", "second");
  auto old = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {legacy_sacker(), "--ledger", ledger_uri, "--store",
                                     "file://" + (dir / "blobs").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run_process(argv);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  };
  old({"init"});
  EXPECT_EQ(old({"add", "app", (dir / "a.bin").string()}), "1\n");
  EXPECT_EQ(old({"add", "app", (dir / "b.bin").string()}), "2\n");
  old({"tag", "app", "1", "live"});
  old({"remove", "app", "2"});
  std::filesystem::remove_all(dir);
}

// A ledger as the previous code left it (app version 1 tagged live, version 2
// removed, no history: what write_with_legacy_cli writes, or a test's hand-made
// format-1 layout) reads as it was, with the tag at seq 0; adding `next` gets 3 (2
// is never handed out again) and the changes after it start the history at seq 1.
inline void expect_legacy_ledger_upgrades(Ledger& ledger, const VersionRecord& next) {
  EXPECT_EQ(ledger.versions("app"), std::vector<std::uint64_t>{1});
  EXPECT_EQ(ledger.tag_value("app", "live"), (TagValue{1, 0, {}}));
  EXPECT_TRUE(ledger.history("app", {}).empty());
  EXPECT_EQ(ledger.add(next), 3u) << "2 was removed by the old code: never handed out again";
  auto moved = ledger.set_tag("app", "live", 3, TagExpectation::at(1), ChangeContext{});
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->seq, 2u);
  EXPECT_EQ(moved->previous, 1u);
  auto h = ledger.history("app", {});
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[1].action, EventAction::Add);
  EXPECT_EQ(h[1].seq, 1u);
  EXPECT_EQ(ledger.tag_value("app", "live"), (TagValue{3, 2, {}}));
  EXPECT_TRUE(ledger.remove_version("app", 1));
  EXPECT_EQ(ledger.history("app", {}).size(), 3u);
}

}  // namespace sacker::test
