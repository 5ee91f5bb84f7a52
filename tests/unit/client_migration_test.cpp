// export / import (issue 7 point 8): every line type round-trips; the stream is
// checked whole before anything is written; one import_batch, all or nothing on
// SQLite; "line N:" in messages; old exports get import events.
#include <gmock/gmock.h>

#include <sstream>

#include "fixtures/client_fixture.h"
#include "support/records.h"

namespace sacker::test {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

using Migration = ClientTest;

std::string version_line(const std::string& package, std::uint64_t version, const std::string& sha) {
  return "{\"type\":\"version\",\"package\":\"" + package + "\",\"version\":" + std::to_string(version) +
         ",\"sha256\":\"" + sha +
         "\",\"size\":1,\"basename\":\"x\",\"mode\":420,\"created\":\"2026-01-01T00:00:00Z\",\"metadata\":{}}\n";
}

std::string sha_for(int n) {
  std::string s = std::to_string(n);
  return Sha256::hex_of(s.data(), s.size());
}

std::string exported(Client& c) {
  std::ostringstream out;
  c.export_jsonl(out);
  return out.str();
}

ImportReport import_text(Client& c, const std::string& text) {
  std::istringstream in(text);
  return c.import_jsonl(in);
}

// Counts what import writes: it must be one import_batch and nothing else.
class CountingLedger final : public ForwardingLedger {
 public:
  using ForwardingLedger::ForwardingLedger;
  void import_batch(const ImportBatch& b) override {
    ++batches;
    ForwardingLedger::import_batch(b);
  }
  void put_record(const VersionRecord& r) override { ++singles, ForwardingLedger::put_record(r); }
  void put_tag(const std::string& p, const std::string& t, const TagValue& v) override {
    ++singles, ForwardingLedger::put_tag(p, t, v);
  }
  void put_event(const Event& e) override { ++singles, ForwardingLedger::put_event(e); }
  int batches = 0, singles = 0;
};

TEST_F(Migration, ExportHasVersionTagAndEventLinesAndRoundTrips) {
  auto a = client();
  add(*a, "p", "one");
  add(*a, "p", "two", {"live"});
  a->tag({"p", 2, "devel", "promote", {}});
  add(*a, "q", "three");
  // Signed things travel verbatim (the signatures are opaque canonical JSON).
  auto signed_record = sample_record("q", 9);
  signed_record.version = 9;
  signed_record.signatures = {"{\"payload\":\"x\",\"sig\":\"y\"}"};
  open_ledger(ledger_uri)->put_record(signed_record);
  open_ledger(ledger_uri)->put_tag("q", "signed", TagValue{9, 0, {"{\"sig\":\"z\"}"}});
  a->remove("p", 1, "gone");
  const std::string text = exported(*a);
  EXPECT_THAT(text, StartsWith("{\"type\":\"version\",\"package\":\"p\",\"version\":2,"));
  EXPECT_THAT(text, HasSubstr("{\"type\":\"tag\",\"package\":\"p\",\"tag\":\"devel\",\"version\":2,\"seq\":"));
  EXPECT_THAT(text, HasSubstr("{\"type\":\"event\",\"seq\":1,"));
  EXPECT_THAT(text, HasSubstr("\"comment\":\"gone\""));

  ledger_uri = "mem://" + unique_token();
  auto counting = std::make_unique<CountingLedger>(open_ledger(ledger_uri));
  auto* seen = counting.get();
  auto b = client(std::move(counting));
  auto report = import_text(*b, text);
  EXPECT_EQ(seen->batches, 1);
  EXPECT_EQ(seen->singles, 0);
  EXPECT_EQ(report.versions, 3u);
  EXPECT_EQ(report.tags, 3u);
  EXPECT_EQ(report.unchanged, 0u);
  EXPECT_EQ(b->resolve("q", Spec{Spec::Kind::Tag, 0, "signed"}).signatures, signed_record.signatures);
  EXPECT_EQ(exported(*b), text) << "seq, signatures and history survive";
  auto again = import_text(*b, text);
  EXPECT_EQ(again.versions + again.tags + again.events, 0u);
  EXPECT_EQ(seen->batches, 1) << "nothing to write: no batch";
  EXPECT_EQ(b->history("p"), a->history("p"));
}

TEST_F(Migration, AnOldExportGetsOneImportEventPerVersionAndTag) {
  auto c = client();
  const std::string old_export = version_line("p", 3, sha_for(3)) + version_line("p", 7, sha_for(7)) +
                                 "{\"type\":\"tag\",\"package\":\"p\",\"tag\":\"live\",\"version\":3}\n";
  auto report = import_text(*c, old_export);
  EXPECT_EQ(report.versions, 2u);
  EXPECT_EQ(report.tags, 1u);
  EXPECT_EQ(report.events, 3u);
  auto events = c->history("p");
  ASSERT_EQ(events.size(), 3u);
  for (const auto& e : events) {
    EXPECT_EQ(e.action, EventAction::Import);
    EXPECT_GT(e.seq, 0u) << "the ledger assigned it";
    EXPECT_EQ(e.actor, "tester");
  }
  EXPECT_EQ(events.front().tag, "live");
  EXPECT_EQ(events.front().sha256, sha_for(3));
  EXPECT_EQ(c->tags("p").at("live"), 3u);
  EXPECT_EQ(add(*c, "p", "new").version, 8u) << "adds continue above imported versions";
}

TEST_F(Migration, EveryBadLineIsNamedAndNothingIsWritten) {
  auto c = client();
  add(*c, "app", "one");
  const std::string before = exported(*c);
  const std::string good = version_line("other", 1, sha_for(1));
  struct Case {
    std::string text;
    ErrorKind kind;
    std::string says;
  };
  const std::vector<Case> cases = {
      {good + "not json\n", ErrorKind::Invalid, "import: line 2: not JSON"},
      // A number no C++ type holds (found by fuzz_import): Invalid, not an internal error.
      {good + "{\"type\":\"version\",\"size\":1e4649}\n", ErrorKind::Invalid, "import: line 2: not JSON"},
      {good + "\n[1]\n", ErrorKind::Invalid, "line 3: not a JSON object"},
      {good + "{\"type\":\"nope\"}\n", ErrorKind::Invalid, "line 2: unknown type"},
      {good + version_line("other", 2, "xyz"), ErrorKind::Invalid, "line 2:"},
      {good + version_line("app", 1, sha_for(9)), ErrorKind::Conflict, "line 2: app version 1 exists in the ledger"},
      {good + version_line("other", 1, sha_for(2)), ErrorKind::Conflict, "first on line 1"},
      {good + "{\"type\":\"tag\",\"package\":\"other\",\"tag\":\"live\",\"version\":5}\n", ErrorKind::NotFound,
       "line 2: tag 'live' of other points to version 5"},
      {good + "{\"type\":\"tag\",\"package\":\"other\",\"tag\":\"latest\",\"version\":1}\n", ErrorKind::Invalid,
       "line 2:"},
      {good + "{\"type\":\"tag\",\"package\":\"other\",\"tag\":\"123\",\"version\":1}\n", ErrorKind::Invalid,
       "line 2:"},
      {good + version_line("other", 9223372036854775808ULL, sha_for(3)), ErrorKind::Invalid, "too large"},
  };
  for (const auto& k : cases) {
    auto e = error_of([&] { import_text(*c, k.text); });
    EXPECT_EQ(e.kind(), k.kind) << k.text << e.what();
    EXPECT_THAT(e.what(), HasSubstr(k.says)) << k.text;
    EXPECT_EQ(exported(*c), before) << "line 1 was applied: " << k.text;
  }
}

TEST_F(Migration, GarbageIsNeverEchoedRaw) {
  auto c = client();
  for (const std::string& garbage :
       {std::string("\x9b"
                    "2J"),
        std::string("{\"a\x9b"
                    "2J"),
        std::string("\x1b[31mred\x1b]0;owned\x07"), std::string("{\"type\":\"\x1b[2J\"}")}) {
    auto e = error_of([&] { import_text(*c, garbage + "\n"); });
    EXPECT_EQ(e.kind(), ErrorKind::Invalid);
    for (unsigned char ch : std::string(e.what())) EXPECT_TRUE(ch >= 0x20 && ch < 0x7f) << e.what();
  }
}

TEST_F(Migration, ATagThatPointsElsewhereInTheLedgerIsAConflict) {
  auto c = client();
  add(*c, "p", "one");
  add(*c, "p", "two", {"live"});
  auto e = error_of([&] { import_text(*c, "{\"type\":\"tag\",\"package\":\"p\",\"tag\":\"live\",\"version\":1}\n"); });
  EXPECT_EQ(e.kind(), ErrorKind::Conflict);
  EXPECT_THAT(e.what(), HasSubstr("line 1"));
}

TEST_F(Migration, ExportToAFailingStreamIsALocalIOError) {
  auto c = client();
  add(*c, "p", "one");
  std::ostringstream out;
  out.setstate(std::ios::badbit);
  EXPECT_EQ(error_of([&] { c->export_jsonl(out); }).kind(), ErrorKind::LocalIO);
}

// All or nothing on SQLite: 999 good lines, then a conflict at line 1000.
TEST_F(Migration, AConflictAtLine1000LeavesTheSqliteLedgerAsItWas) {
  ledger_uri = "sqlite://" + (dir / "ledger.db").string();
  auto c = client();
  add(*c, "app", "one");
  const std::string before = exported(*c);
  std::string text;
  for (int i = 1; i <= 999; ++i) text += version_line("bulk", static_cast<std::uint64_t>(i), sha_for(i));
  text += version_line("app", 1, sha_for(0));  // line 1000: clashes with the ledger
  auto e = error_of([&] { import_text(*c, text); });
  EXPECT_EQ(e.kind(), ErrorKind::Conflict);
  EXPECT_THAT(e.what(), HasSubstr("line 1000"));
  EXPECT_EQ(exported(*c), before);
  EXPECT_EQ(error_of([&] { c->versions("bulk"); }).kind(), ErrorKind::NotFound);
}

// The ledger refuses the batch half-way (another writer took a version between the
// checks and the write): the SQLite transaction rolls back what the batch wrote.
TEST_F(Migration, ABatchTheLedgerRefusesHalfWayLeavesNothingOnSqlite) {
  class RacedImport final : public ForwardingLedger {
   public:
    using ForwardingLedger::ForwardingLedger;
    void import_batch(const ImportBatch& b) override {
      ImportBatch raced = b;
      auto clash = raced.records.back();
      clash.sha256 = std::string(64, 'f');
      raced.records.push_back(clash);  // the last record, with other content
      ForwardingLedger::import_batch(raced);
    }
  };
  ledger_uri = "sqlite://" + (dir / "ledger.db").string();
  auto c = client(std::make_unique<RacedImport>(open_ledger(ledger_uri)));
  std::string text;
  for (int i = 1; i <= 1000; ++i) text += version_line("bulk", static_cast<std::uint64_t>(i), sha_for(i));
  EXPECT_EQ(error_of([&] { import_text(*c, text); }).kind(), ErrorKind::Conflict);
  EXPECT_EQ(open_ledger(ledger_uri)->versions("bulk"), std::vector<std::uint64_t>{});
}

}  // namespace
}  // namespace sacker::test
