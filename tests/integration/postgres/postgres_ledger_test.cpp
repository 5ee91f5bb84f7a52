// The PostgreSQL ledger against a real server (the server_postgres fixture), for
// what the conformance suite does not cover: first use without `init` from several
// processes at once, connections the server drops (also just before and just after
// COMMIT), denied access, a server that is down, hostile rows written behind the
// ledger's back, and schemas the previous code created (no events, tags without seq).
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "sacker/backends.h"
#include "sacker/error.h"
#include "support/legacy_cli.h"
#include "support/process.h"
#include "support/records.h"
#include "support/tap_proxy.h"
#include "support/test_env.h"

// The DDL the previous code (format 1, before history) ran; {0} is the quoted schema.
constexpr const char* kFormatOneSchema[] = {
    "CREATE SCHEMA {0}",
    "CREATE TABLE {0}.packages (name TEXT PRIMARY KEY, next_version BIGINT NOT NULL CHECK (next_version > 0))",
    "CREATE TABLE {0}.versions (package TEXT NOT NULL, version BIGINT NOT NULL CHECK (version > 0), sha256 TEXT NOT "
    "NULL, size BIGINT NOT NULL CHECK (size >= 0), basename TEXT NOT NULL, mode INTEGER NOT NULL, created BIGINT NOT "
    "NULL, metadata JSONB NOT NULL, PRIMARY KEY (package, version))",
    "CREATE TABLE {0}.tags (package TEXT NOT NULL, tag TEXT NOT NULL, version BIGINT NOT NULL, PRIMARY KEY (package, "
    "tag), FOREIGN KEY (package, version) REFERENCES {0}.versions (package, version) ON DELETE RESTRICT)",
    "CREATE INDEX tags_by_version ON {0}.tags (package, version)",
};

namespace sacker {
namespace {

using test::sample_record;

using test::error_of;

class PostgresLedger : public ::testing::Test {
 protected:
  void SetUp() override {
    test::load_test_env();
    base_ = test::expand_template("{PG_URI}", "");
    schema_ = "s" + test::unique_token();
    uri_ = base_ + "?schema=" + schema_;
    const char* port = std::getenv("PG_PORT");
    ASSERT_TRUE(port) << "PG_PORT missing from the server's env file";
    port_ = port;
    admin_ = PQconnectdb(("host=127.0.0.1 user=postgres dbname=postgres port=" + port_).c_str());
    ASSERT_EQ(PQstatus(admin_), CONNECTION_OK) << PQerrorMessage(admin_);
  }
  void TearDown() override { PQfinish(admin_); }

  // Runs SQL as the superuser behind the ledger's back; returns the first value.
  std::string sql(const std::string& statement) {
    PGresult* r = PQexec(admin_, statement.c_str());
    auto status = PQresultStatus(r);
    EXPECT_TRUE(status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
        << statement << ": " << PQresultErrorMessage(r);
    std::string out = status == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
    PQclear(r);
    return out;
  }

  std::string q() const { return "\"" + schema_ + "\""; }
  void make_format_one_schema() {
    for (std::string ddl : kFormatOneSchema) {
      for (auto at = ddl.find("{0}"); at != std::string::npos; at = ddl.find("{0}")) ddl.replace(at, 3, q());
      sql(ddl);
    }
  }

  // `processes` conformance workers adding `per_process` versions of `package` each,
  // all at once; the versions they were given (a test failure if one came twice).
  std::set<std::uint64_t> concurrent_adds(const std::string& package, int processes, int per_process) {
    std::vector<std::unique_ptr<test::ChildProcess>> children;
    for (int p = 0; p < processes; ++p)
      children.push_back(std::make_unique<test::ChildProcess>(std::vector<std::string>{
          CONFORMANCE_WORKER, "add", uri_, package, std::to_string(per_process), "p" + std::to_string(p)}));
    std::set<std::uint64_t> all;
    for (auto& child : children) {
      auto result = child->wait();
      EXPECT_EQ(result.exit_code, 0) << result.err;
      std::istringstream lines(result.out);
      for (std::uint64_t v; lines >> v;) EXPECT_TRUE(all.insert(v).second) << "version " << v << " handed out twice";
    }
    return all;
  }

  std::string base_, schema_, uri_, port_;
  PGconn* admin_ = nullptr;
};

TEST_F(PostgresLedger, ReadsOfANeverWrittenLedgerAreEmptyAndCreateNothing) {
  auto ledger = open_ledger(uri_);
  EXPECT_TRUE(ledger->packages().empty());
  EXPECT_TRUE(ledger->versions("app").empty());
  EXPECT_FALSE(ledger->get("app", 1));
  EXPECT_FALSE(ledger->latest("app"));
  EXPECT_TRUE(ledger->tags("app").empty());
  EXPECT_FALSE(ledger->tag("app", "live"));
  EXPECT_FALSE(ledger->remove_tag("app", "live"));
  EXPECT_FALSE(ledger->remove_version("app", 1));
  EXPECT_EQ(sql("SELECT count(*) FROM pg_namespace WHERE nspname = '" + schema_ + "'"), "0");
  EXPECT_EQ(error_of([&] { ledger->set_tag("app", "live", 1); }).kind(), ErrorKind::NotFound);
}

TEST_F(PostgresLedger, ConcurrentFirstUseWithoutInitCreatesTheSchemaOnceAndLosesNothing) {
  const int processes = 6, per_process = 20;
  const auto all = concurrent_adds("fresh", processes, per_process);
  ASSERT_EQ(all.size(), static_cast<std::size_t>(processes * per_process));
  EXPECT_EQ(*all.begin(), 1u);
  EXPECT_EQ(*all.rbegin(), static_cast<std::uint64_t>(processes * per_process));
  EXPECT_EQ(open_ledger(uri_)->versions("fresh").size(), all.size());
}

TEST_F(PostgresLedger, LedgersInDifferentSchemasAreIndependent) {
  auto a = open_ledger(uri_);
  auto b = open_ledger(uri_ + "x");
  EXPECT_EQ(a->add(sample_record("app", 1)), 1u);
  EXPECT_EQ(a->add(sample_record("app", 2)), 2u);
  EXPECT_TRUE(b->packages().empty());
  EXPECT_EQ(b->add(sample_record("app", 3)), 1u);
  EXPECT_EQ(a->versions("app"), (std::vector<std::uint64_t>{1, 2}));
}

TEST_F(PostgresLedger, AConnectionTheServerDroppedIsReplacedTransparently) {
  std::string app = "t" + test::unique_token();
  auto ledger = open_ledger(uri_ + "&application_name=" + app);
  ASSERT_EQ(ledger->add(sample_record("app", 1)), 1u);
  // pg_terminate_backend(pid, timeout) waits until the backend is gone.
  ASSERT_EQ(sql("SELECT count(*) FROM (SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                "WHERE application_name = '" +
                app + "') t"),
            "1");
  EXPECT_EQ(ledger->versions("app"), (std::vector<std::uint64_t>{1}));
  ASSERT_EQ(sql("SELECT count(*) FROM (SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                "WHERE application_name = '" +
                app + "') t"),
            "1");
  // An idle connection found closed before the statement is sent: safe to replace for add too.
  EXPECT_EQ(ledger->add(sample_record("app", 2)), 2u);
}

TEST_F(PostgresLedger, AnAddWhoseConnectionBreaksBeforeCommitRunsOnceMoreOnANewConnection) {
  std::string app = "t" + test::unique_token();
  auto ledger = open_ledger(uri_ + "&application_name=" + app);
  ASSERT_EQ(ledger->add(sample_record("app", 1)), 1u);
  // Another session holds the package's counter row, so our add blocks inside its
  // first statement, where its session is killed (before COMMIT).
  PGconn* locker = PQconnectdb(("host=127.0.0.1 user=postgres dbname=postgres port=" + port_).c_str());
  ASSERT_EQ(PQstatus(locker), CONNECTION_OK);
  PQclear(PQexec(locker, "BEGIN"));
  PGresult* lock = PQexec(locker, ("SELECT 1 FROM \"" + schema_ + "\".packages WHERE name = 'app' FOR UPDATE").c_str());
  ASSERT_EQ(PQresultStatus(lock), PGRES_TUPLES_OK) << PQresultErrorMessage(lock);
  PQclear(lock);
  std::uint64_t added = 0;
  std::thread adder([&] { added = ledger->add(sample_record("app", 2)); });
  // Wait (bounded) until the add is really waiting on the row lock, then kill its session.
  std::string killed;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (killed != "1" && std::chrono::steady_clock::now() < deadline)
    killed =
        sql("SELECT count(*) FROM (SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
            "WHERE application_name = '" +
            app + "' AND wait_event_type = 'Lock') t");
  PQclear(PQexec(locker, "ROLLBACK"));
  adder.join();
  PQfinish(locker);
  ASSERT_EQ(killed, "1") << "the add never blocked on the row lock";
  // The server rolled the broken transaction back, so running it again is safe:
  // exactly one version 2 and one Add event for it.
  EXPECT_EQ(added, 2u);
  EXPECT_EQ(ledger->versions("app"), (std::vector<std::uint64_t>{1, 2}));
  auto h = ledger->history("app", {});
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].seq, 2u);
  EXPECT_EQ(h[0].version, 2u);
  EXPECT_EQ(h[1].seq, 1u);
}

TEST_F(PostgresLedger, ADownServerIsUnavailableAndTheMessageNamesItWithoutThePassword) {
  // Port 1 on 127.0.0.1: nothing listens there, the connection is refused at once.
  auto ledger = open_ledger("postgres://postgres:hunter2@127.0.0.1:1/postgres?schema=" + schema_);
  auto e = error_of([&] { ledger->versions("app"); });
  EXPECT_EQ(e.kind(), ErrorKind::Unavailable);
  EXPECT_NE(std::string(e.what()).find("postgres 127.0.0.1:1: "), std::string::npos) << e.what();
  EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
  EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
  EXPECT_EQ(ledger->describe().find("hunter2"), std::string::npos);
  EXPECT_EQ(error_of([&] { ledger->add(sample_record("app", 1)); }).kind(), ErrorKind::Unavailable);
}

TEST_F(PostgresLedger, AnUnknownRoleIsDenied) {
  auto ledger =
      open_ledger("postgres://nobody-" + test::unique_token() + "@127.0.0.1:" + port_ + "/postgres?schema=" + schema_);
  EXPECT_EQ(error_of([&] { ledger->packages(); }).kind(), ErrorKind::Denied);
}

TEST_F(PostgresLedger, ARoleWithoutPrivilegesIsDeniedNotToldTheLedgerIsEmpty) {
  auto owner = open_ledger(uri_);
  owner->init();
  owner->add(sample_record("app", 1));
  std::string role = "r" + test::unique_token();
  sql("CREATE ROLE " + role + " LOGIN");
  auto stranger = open_ledger("postgres://" + role + "@127.0.0.1:" + port_ + "/postgres?schema=" + schema_);
  EXPECT_EQ(error_of([&] { stranger->versions("app"); }).kind(), ErrorKind::Denied);
  EXPECT_EQ(error_of([&] { stranger->add(sample_record("app", 2)); }).kind(), ErrorKind::Denied);
  sql("DROP ROLE " + role);
}

TEST_F(PostgresLedger, AMissingDatabaseIsAnError) {
  auto ledger = open_ledger("postgres://postgres@127.0.0.1:" + port_ + "/no_such_db_" + test::unique_token());
  auto e = error_of([&] { ledger->packages(); });
  EXPECT_EQ(e.kind(), ErrorKind::Invalid) << e.what();
  EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
}

TEST_F(PostgresLedger, UriParametersAreCheckedBeforeConnecting) {
  for (const char* schema : {"pg_catalog", "a;b", "x\"y", "1abc", "", "public.tags"})
    EXPECT_EQ(error_of([&] { open_ledger(base_ + "?schema=" + schema); }).kind(), ErrorKind::Invalid) << schema;
  EXPECT_EQ(error_of([&] { open_ledger(base_ + "?no_such_keyword=1"); }).kind(), ErrorKind::Invalid);
  EXPECT_EQ(error_of([&] { open_ledger("postgres://postgres@127.0.0.1:99999/postgres"); }).kind(), ErrorKind::Invalid);
  // libpq keywords pass through: a wrong value is libpq's to reject, at connect time.
  auto ledger = open_ledger(uri_ + "&application_name=sacker-test&connect_timeout=5");
  EXPECT_TRUE(ledger->packages().empty());
}

TEST_F(PostgresLedger, HostileRowsAreRejectedNamingTheKey) {
  auto ledger = open_ledger(uri_);
  ledger->add(sample_record("app", 1));
  std::string s = "\"" + schema_ + "\"";
  sql("INSERT INTO " + s +
      ".versions VALUES ('app', 2, 'not-a-sha', 1, 'x.jar', 420, 0, '{}'), "
      "('app', 3, '" +
      std::string(64, 'b') +
      "', 1, '../../etc/passwd', 420, 0, '{}'), "
      "('app', 4, '" +
      std::string(64, 'c') +
      "', 1, 'x.jar', 420, 0, '{\"k\": 5}'), "
      "('app', 5, '" +
      std::string(64, 'd') +
      "', 1, 'x.jar', 99999, 0, '{}'), "
      "('../evil', 1, '" +
      std::string(64, 'e') + "', 1, 'x.jar', 420, 0, '{}')");
  for (std::uint64_t v : {2, 3, 4, 5}) {
    auto e = error_of([&] { ledger->get("app", v); });
    EXPECT_EQ(e.kind(), ErrorKind::Invalid) << e.what();
    EXPECT_NE(std::string(e.what()).find("app version " + std::to_string(v)), std::string::npos) << e.what();
  }
  EXPECT_EQ(error_of([&] { ledger->records("app"); }).kind(), ErrorKind::Invalid);
  EXPECT_TRUE(ledger->get("app", 1).has_value());
  sql("INSERT INTO " + s + ".packages VALUES ('../evil', 2)");
  EXPECT_EQ(error_of([&] { ledger->packages(); }).kind(), ErrorKind::Invalid);
  sql("INSERT INTO " + s + ".tags VALUES ('app', 'latest', 1)");
  EXPECT_EQ(error_of([&] { ledger->tags("app"); }).kind(), ErrorKind::Invalid);
}

TEST_F(PostgresLedger, ImportedVersionsRaiseTheCounterForLaterAdds) {
  auto ledger = open_ledger(uri_);
  auto r = sample_record("app", 1);
  r.version = 41;
  ledger->put_record(r);
  EXPECT_EQ(ledger->add(sample_record("app", 2)), 42u);
  r.version = 7;  // an older import below the counter does not lower it
  ledger->put_record(r);
  EXPECT_EQ(ledger->add(sample_record("app", 3)), 43u);
  EXPECT_EQ(sql("SELECT next_version FROM \"" + schema_ + "\".packages WHERE name = 'app'"), "44");
}

// Rows changed behind the ledger's back, each in a ledger of its own: every one is
// refused as Invalid, in one line naming the ledger.
TEST_F(PostgresLedger, HostileEventsTagValuesAndSignaturesAreInvalid) {
  struct Case {
    const char* what;
    std::string change;  // {0}: the quoted schema
    std::function<void(Ledger&)> read;
  };
  const std::vector<Case> cases = {
      {"an event that is not JSON", "UPDATE {0}.events SET event = '{' WHERE seq = 1",
       [](Ledger& l) { l.history("app", {}); }},
      {"an event holding another seq",
       "UPDATE {0}.events SET event = (SELECT event FROM {0}.events WHERE seq = 2) "
       "WHERE seq = 1",
       [](Ledger& l) { l.history("app", {}); }},
      {"an event of another package",
       "INSERT INTO {0}.events SELECT package, 3, tag, replace(event, '\"app\"', '\"../x\"') FROM {0}.events "
       "WHERE seq = 2",
       [](Ledger& l) { l.history("app", {.before = 4}); }},
      {"an event whose tag column lies", "UPDATE {0}.events SET tag = 'other' WHERE seq = 2",
       [](Ledger& l) { l.history("app", {.tag = "other"}); }},
      {"a negative event seq",
       "ALTER TABLE {0}.events DROP CONSTRAINT events_seq_check; UPDATE {0}.events SET seq = -2 WHERE seq = 2",
       [](Ledger& l) { l.history("app", {}); }},
      {"a tag with a negative seq", "ALTER TABLE {0}.tags DROP CONSTRAINT tags_seq_check; UPDATE {0}.tags SET seq = -1",
       [](Ledger& l) { l.tags("app"); }},
      {"a tag whose signatures are not objects", "UPDATE {0}.tags SET signatures = '[5]'",
       [](Ledger& l) { l.tag_value("app", "live"); }},
      {"a tag whose signatures are not JSON", "UPDATE {0}.tags SET signatures = 'nope'",
       [](Ledger& l) { l.tag_values("app"); }},
      {"a record whose signatures are an object", "UPDATE {0}.versions SET signatures = '{}'",
       [](Ledger& l) { l.get("app", 1); }},
      {"a record with 17 signatures", "UPDATE {0}.versions SET signatures = '[' || repeat('{}, ', 16) || '{}]'",
       [](Ledger& l) { l.records("app"); }},
  };
  int n = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string schema = schema_ + "h" + std::to_string(n++);
    auto ledger = open_ledger(base_ + "?schema=" + schema);
    ledger->add(sample_record("app", 1));
    ASSERT_TRUE(ledger->set_tag("app", "live", 1, TagExpectation::any(), ChangeContext{}));
    std::string change = c.change;
    for (auto at = change.find("{0}"); at != std::string::npos; at = change.find("{0}"))
      change.replace(at, 3, "\"" + schema + "\"");
    sql(change);
    const auto e = error_of([&] { c.read(*ledger); });
    EXPECT_EQ(e.kind(), ErrorKind::Invalid) << e.what();
    EXPECT_NE(std::string(e.what()).find(schema), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
  }
}

// A schema as the previous code left it: it is read as it is (old tags seq 0, no
// history, nothing created by a read), and the first change adds the events table
// and the new columns; its history starts there.
TEST_F(PostgresLedger, AFormatOneSchemaKeepsWorkingAndItsHistoryStartsAtTheFirstChange) {
  make_format_one_schema();
  sql("INSERT INTO " + q() + ".packages VALUES ('app', 3)");
  sql("INSERT INTO " + q() + ".versions VALUES ('app', 1, '" + sample_record("app", 1).sha256 +
      "', 101, 'build-1.jar', 420, 1700000001, '{\"n\": \"1\"}')");
  sql("INSERT INTO " + q() + ".tags VALUES ('app', 'live', 1)");
  auto ledger = open_ledger(uri_);
  EXPECT_EQ(ledger->packages(), std::vector<std::string>{"app"});
  auto old = sample_record("app", 1);
  old.version = 1;
  EXPECT_EQ(ledger->get("app", 1), old);
  EXPECT_TRUE(ledger->history("app", {}).empty());
  EXPECT_EQ(sql("SELECT to_regclass('" + q() + ".events') IS NULL"), "t") << "a read changed nothing";
  test::expect_legacy_ledger_upgrades(*ledger, sample_record("app", 3));
  ledger->init();  // idempotent on the upgraded schema
  EXPECT_EQ(ledger->history("app", {}).size(), 3u);
}

// Several processes writing to a format-1 schema at once: the upgrade happens once
// (the others wait for it or find it done), and no version or event is lost.
TEST_F(PostgresLedger, ConcurrentWritersUpgradeAFormatOneSchemaOnceAndLoseNothing) {
  make_format_one_schema();
  const int processes = 4, per_process = 10;
  const auto all = concurrent_adds("old", processes, per_process);
  const std::size_t n = processes * per_process;
  ASSERT_EQ(all.size(), n);
  EXPECT_EQ(*all.rbegin(), n);
  auto h = open_ledger(uri_)->history("old", {});
  ASSERT_EQ(h.size(), n);
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(h[i].seq, n - i) << "seqs are gap-free, newest first";
    EXPECT_EQ(h[i].action, EventAction::Add);
  }
}

// The connection cut just before COMMIT reaches the server, and just after the
// server committed (its answer lost): the caller is told the outcome is unknown, and
// the tag and its event are there together (after) or neither is (before).
TEST_F(PostgresLedger, AConnectionCutAtCommitLeavesTheChangeAndItsEventOrNeither) {
  auto ledger = open_ledger(uri_);
  ASSERT_EQ(ledger->add(sample_record("app", 1)), 1u);
  auto events = [&] { return sql("SELECT count(*) FROM " + q() + ".events WHERE package = 'app'"); };
  for (bool committed : {false, true}) {
    SCOPED_TRACE(committed ? "the answer to COMMIT is lost" : "COMMIT is lost");
    const std::string before = events();
    // libpq's Parse message holds the statement's text, "COMMIT\0".
    test::TapProxy tap(std::stoi(port_));
    tap.on_request(
        std::string("COMMIT\0", 7), [] {},
        committed ? test::TapProxy::When::after_answer : test::TapProxy::When::instead);
    auto cut =
        open_ledger("postgres://postgres@127.0.0.1:" + std::to_string(tap.port()) + "/postgres?schema=" + schema_);
    const std::string tag = committed ? "b" : "a";
    auto e = error_of([&] { cut->set_tag("app", tag, 1, TagExpectation::absent(), ChangeContext{}); });
    EXPECT_EQ(e.kind(), ErrorKind::Unavailable) << e.what();
    EXPECT_NE(std::string(e.what()).find("may or may not"), std::string::npos) << e.what();
    EXPECT_TRUE(tap.fired());
    const auto value = ledger->tag_value("app", tag);
    if (!committed) {
      EXPECT_FALSE(value.has_value()) << "no tag";
      EXPECT_EQ(events(), before) << "and no event";
      continue;
    }
    ASSERT_TRUE(value.has_value());
    EXPECT_EQ(events(), std::to_string(std::stoi(before) + 1)) << "exactly one event";
    auto h = ledger->history("app", {.tag = tag});
    ASSERT_EQ(h.size(), 1u);
    EXPECT_EQ(h[0].seq, value->seq);
  }
}

// The same with a schema the previous release's CLI wrote (support/legacy_cli.h).
TEST_F(PostgresLedger, ALedgerThePreviousCliWroteKeepsWorking) {
  if (!test::legacy_sacker()) GTEST_SKIP() << "SACKER_LEGACY_SACKER is not set";
  test::write_with_legacy_cli(uri_);
  test::expect_legacy_ledger_upgrades(*open_ledger(uri_), sample_record("app", 3));
}

}  // namespace
}  // namespace sacker
