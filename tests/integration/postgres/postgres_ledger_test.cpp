// The PostgreSQL ledger against a real server (the server_postgres fixture), for
// what the conformance suite does not cover: first use without `init` from several
// processes at once, connections the server drops, denied access, a server that is
// down, and hostile rows written behind the ledger's back.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "sacker/backends.h"
#include "sacker/error.h"
#include "support/process.h"
#include "support/records.h"
#include "support/test_env.h"

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
  std::vector<std::unique_ptr<test::ChildProcess>> children;
  for (int p = 0; p < processes; ++p)
    children.push_back(std::make_unique<test::ChildProcess>(std::vector<std::string>{
        CONFORMANCE_WORKER, "add", uri_, "fresh", std::to_string(per_process), "p" + std::to_string(p)}));
  std::set<std::uint64_t> all;
  for (auto& child : children) {
    auto result = child->wait();
    ASSERT_EQ(result.exit_code, 0) << result.err;
    std::istringstream lines(result.out);
    for (std::uint64_t v; lines >> v;) EXPECT_TRUE(all.insert(v).second) << "version " << v << " handed out twice";
  }
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

}  // namespace
}  // namespace sacker
