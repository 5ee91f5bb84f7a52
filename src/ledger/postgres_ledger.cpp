// postgres://user[:password]@host[:port][,host2[:port2]...]/db[?schema=NAME&libpq-keyword=value...]
// (the connection: pg_session.h; rows read back: pg_rows.h)
//
// Layout: four tables in one schema (default "sacker"; `?schema=` picks another, so
// several ledgers, or one per test, share a database). Every statement names them
// schema-qualified, so nothing depends on the session's search_path (and
// transaction-pooling proxies such as PgBouncer work).
//
//   packages (name TEXT PK, next_version BIGINT, next_seq BIGINT)
//            the per-package counters: the next version `add` hands out and the
//            next event seq (read never below the highest stored version / event);
//            every change locks this row first
//   versions (package, version BIGINT, sha256, size, basename, mode, created,
//             metadata JSONB, signatures TEXT (a JSON array), PK (package, version))
//   tags     (package, tag, version, seq BIGINT, signatures TEXT, PK (package, tag),
//             FK (package, version) -> versions ON DELETE RESTRICT)
//             seq: the event that set the tag (0: set before history existed)
//   events   (package, seq BIGINT, tag TEXT, event TEXT (event_to_json), PK (package, seq))
// Format 1 (before history) had no events table and no next_seq, signatures or tags.seq
// columns: the first write (or `init`) adds them in place (ALTER TABLE ... ADD COLUMN
// IF NOT EXISTS, defaults: next_seq 1, seq 0, no signatures). A role that may not
// alter the tables still reads such a schema (old tags as seq 0, an empty history)
// and is told to run `sacker init` as the owner when it writes.
//
// Why it is race-free:
// - Every change (add, set_tag, remove_tag, remove_version) is ONE transaction that
//   first locks the package's counter row (INSERT .. ON CONFLICT DO UPDATE ..
//   RETURNING: it creates the row or locks it, and returns the counters). Changes of
//   one package queue on that lock; under READ COMMITTED every later statement of
//   the transaction sees what the previous holder committed. So the checks (the
//   version exists, no tag points to it, the tag is where `expect` says), the write,
//   the event with seq = next_seq and the counter updates run as one step: seqs and
//   versions are distinct, increasing and gap-free, a compare-and-swap cannot miss a
//   concurrent move, and the event commits with its change or not at all.
// - The counters only grow (put_record / put_event raise them to above what they
//   write), so a removed number is never handed out again. The foreign key is a
//   second guard: the database itself refuses a tag on a missing version and the
//   removal of a tagged version.
// - Signers (ctx.sign_record / sign_event) run inside the transaction, holding the
//   row lock, once per attempt.
// - import_batch is ONE transaction (all or nothing); it locks the counter rows of
//   every package it touches in name order first, so it cannot deadlock with
//   another import or a change.
// - Serialization failures, deadlocks and lock timeouts are retried (kit Retry). A
//   connection that breaks before COMMIT was sent leaves nothing (the server rolls
//   the transaction back), so the operation runs again on a new connection; one
//   that breaks during COMMIT leaves the outcome unknown: Error(Unavailable).
// - Tables are created by `init` and on the first write that finds them missing,
//   under a transaction-scoped advisory lock, because concurrent
//   CREATE ... IF NOT EXISTS can still collide in the catalog. Reads, untag and
//   remove of a ledger that was never written see it empty and create nothing.
#include "ledger/postgres_ledger.h"

#include <fmt/core.h>

#include <algorithm>
#include <climits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "kit/ledger_kit.h"
#include "kit/uri_options.h"
#include "ledger/pg_rows.h"
#include "ledger/pg_session.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker {
namespace {

using namespace ledger_kit;
using pg::Failure;
using pg::Result;
using pg::SqlError;
using Transaction = pg::Session::Transaction;

// The schema in its current form; {0} is the quoted schema name. Idempotent; the
// ALTERs upgrade a format-1 schema in place.
constexpr const char* kSchema[] = {
    "CREATE SCHEMA IF NOT EXISTS {0}",
    "CREATE TABLE IF NOT EXISTS {0}.packages (name TEXT PRIMARY KEY, next_version BIGINT NOT NULL "
    "CHECK (next_version > 0))",
    "CREATE TABLE IF NOT EXISTS {0}.versions (package TEXT NOT NULL, version BIGINT NOT NULL CHECK (version > 0), "
    "sha256 TEXT NOT NULL, size BIGINT NOT NULL CHECK (size >= 0), basename TEXT NOT NULL, mode INTEGER NOT NULL, "
    "created BIGINT NOT NULL, metadata JSONB NOT NULL, PRIMARY KEY (package, version))",
    "CREATE TABLE IF NOT EXISTS {0}.tags (package TEXT NOT NULL, tag TEXT NOT NULL, version BIGINT NOT NULL, "
    "PRIMARY KEY (package, tag), FOREIGN KEY (package, version) REFERENCES {0}.versions (package, version) "
    "ON DELETE RESTRICT)",
    "CREATE INDEX IF NOT EXISTS tags_by_version ON {0}.tags (package, version)",
    "CREATE TABLE IF NOT EXISTS {0}.events (package TEXT NOT NULL, seq BIGINT NOT NULL CHECK (seq > 0), "
    "tag TEXT NOT NULL, event TEXT NOT NULL, PRIMARY KEY (package, seq))",
    "ALTER TABLE {0}.packages ADD COLUMN IF NOT EXISTS next_seq BIGINT NOT NULL DEFAULT 1 CHECK (next_seq > 0)",
    "ALTER TABLE {0}.versions ADD COLUMN IF NOT EXISTS signatures TEXT NOT NULL DEFAULT '[]'",
    "ALTER TABLE {0}.tags ADD COLUMN IF NOT EXISTS seq BIGINT NOT NULL DEFAULT 0 CHECK (seq >= 0)",
    "ALTER TABLE {0}.tags ADD COLUMN IF NOT EXISTS signatures TEXT NOT NULL DEFAULT '[]'",
};

// Whether the packages and the events table exist: the upgrade to format 2 adds the
// events table and the columns in one transaction, so the events table marks it.
constexpr const char* kSchemaState =
    "SELECT to_regclass($1 || '.packages') IS NOT NULL, to_regclass($1 || '.events') IS NOT NULL";

constexpr const char* kInsertRecord =
    "INSERT INTO {}.versions (package, version, sha256, size, basename, mode, created, metadata, signatures) "
    "VALUES ($1, $2::bigint, $3, $4::bigint, $5, $6::integer, $7::bigint, $8::jsonb, $9) ";

// The advisory lock of a schema's DDL: FNV-1a of its name (the previous code's key).
std::string lock_key(const std::string& schema) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : "sacker schema " + schema) h = (h ^ c) * 1099511628211ULL;
  return std::to_string(static_cast<std::int64_t>(h));
}

struct Counters {
  std::uint64_t version = 1, seq = 1;
};

class PostgresLedger final : public ledger_kit::BatchedVerbatimWrites {
 public:
  PostgresLedger(pg::ConnectParams params, std::string schema, std::string described)
      : session_(std::move(params)),
        schema_(std::move(schema)),
        s_("\"" + schema_ + "\""),
        described_(std::move(described)) {}

  void init() override {
    run("init", Mode::Write, [&] { return ensure_schema(), 0; });
  }

  std::vector<std::string> packages() override {
    return run("list packages", Mode::Read, [&] {
      auto r = exec(
          "SELECT p.name FROM {0}.packages p WHERE EXISTS (SELECT 1 FROM {0}.versions v WHERE "
          "v.package = p.name) ORDER BY p.name COLLATE \"C\"",
          {});
      std::vector<std::string> out;
      for (int i = 0; i < r.rows(); ++i) out.push_back(checked_package(described_, r.text(i, 0)));
      return out;
    });
  }

  std::vector<std::uint64_t> versions(const std::string& package) override {
    return run("list versions", Mode::Read, [&] {
      auto r = exec("SELECT version FROM {}.versions WHERE package = $1 ORDER BY version", {package});
      std::vector<std::uint64_t> out;
      for (int i = 0; i < r.rows(); ++i) out.push_back(read_.positive(r, i, 0, package));
      return out;
    });
  }

  std::optional<VersionRecord> get(const std::string& package, std::uint64_t version) override {
    return run("read version", Mode::Read, [&] { return read_version(package, version); });
  }

  std::vector<VersionRecord> records(const std::string& package) override {
    return run("read versions", Mode::Read, [&] {
      auto r = exec(select_records() + " ORDER BY version", {package});
      std::vector<VersionRecord> out;
      for (int i = 0; i < r.rows(); ++i) out.push_back(read_.record(r, i));
      return out;
    });
  }

  std::optional<std::uint64_t> latest(const std::string& package) override {
    return run("read latest", Mode::Read, [&]() -> std::optional<std::uint64_t> {
      auto r = exec("SELECT max(version) FROM {}.versions WHERE package = $1", {package});
      if (r.is_null(0, 0)) return std::nullopt;
      return read_.positive(r, 0, 0, package);
    });
  }

  std::uint64_t add(const VersionRecord& record, const ChangeContext& ctx) override {
    return run("add", Mode::Write, [&] {
      Transaction tx(session_);
      const Counters c = lock(record.package);
      VersionRecord r = record;
      r.version = c.version;
      r.signatures = ctx.sign_record ? ctx.sign_record(r) : std::vector<std::string>{};
      insert_record(r, "");
      append(make_event(EventAction::Add, ctx, r.package, r.version, {}, std::nullopt, r.sha256), c.seq, r.version + 1);
      tx.commit();
      return r.version;
    });
  }

  std::optional<Event> remove_version(const std::string& package, std::uint64_t version,
                                      const ChangeContext& ctx) override {
    const std::string v = pg::bigint(version);
    return run("remove", Mode::Change, [&]() -> std::optional<Event> {
      Transaction tx(session_);
      const Counters c = lock(package);
      auto r = exec(
          "SELECT v.sha256, (SELECT tag FROM {0}.tags t WHERE t.package = $1 AND t.version = $2::bigint "
          "ORDER BY tag COLLATE \"C\" LIMIT 1) FROM {0}.versions v WHERE v.package = $1 AND v.version = "
          "$2::bigint",
          {package, v});
      if (r.rows() == 0) return std::nullopt;
      if (!r.is_null(0, 1)) throw version_is_tagged(package, version, r.text(0, 1));
      exec("DELETE FROM {}.versions WHERE package = $1 AND version = $2::bigint", {package, v});
      Event e = append(make_event(EventAction::Remove, ctx, package, version, {}, std::nullopt, r.text(0, 0)), c.seq);
      tx.commit();
      return e;
    });
  }

  std::map<std::string, TagValue> tag_values(const std::string& package) override {
    return run("list tags", Mode::Read, [&] {
      auto r = exec(select_tags(), {package});
      std::map<std::string, TagValue> out;
      for (int i = 0; i < r.rows(); ++i) out.insert(read_.tag(r, i, package));
      return out;
    });
  }

  // The compare-and-swap: the tag is read, compared and written under the package's
  // row lock, so no other change of the package runs in between (see the top).
  std::optional<Event> set_tag(const std::string& package, const std::string& tag, std::uint64_t version,
                               const TagExpectation& expect, const ChangeContext& ctx) override {
    const std::string v = pg::bigint(version);
    auto missing = [&]() -> std::optional<Event> { throw no_such_version(package, version); };
    return run(
        "tag", Mode::Change,
        [&]() -> std::optional<Event> {
          Transaction tx(session_);
          const Counters c = lock(package);
          auto r = exec(
              "SELECT (SELECT sha256 FROM {0}.versions WHERE package = $1 AND version = $3::bigint), "
              "(SELECT version FROM {0}.tags WHERE package = $1 AND tag = $2)",
              {package, tag, v});
          if (r.is_null(0, 0)) throw no_such_version(package, version);
          std::optional<std::uint64_t> now;
          if (!r.is_null(0, 1)) now = read_.positive(r, 0, 1, package);
          if (!expect.met_by(now)) throw tag_not_as_expected(package, tag, expect, now);
          if (now == version) return std::nullopt;
          Event e = make_event(tag_action(ctx), ctx, package, version, tag, now, r.text(0, 0));
          e.seq = c.seq;
          if (ctx.sign_event) e.signatures = ctx.sign_event(e);
          write_tag(package, tag, TagValue{version, e.seq, e.signatures});
          append(e, c.seq);
          tx.commit();
          return e;
        },
        missing);
  }

  std::optional<Event> remove_tag(const std::string& package, const std::string& tag, const TagExpectation& expect,
                                  const ChangeContext& ctx) override {
    auto check = [&](const std::optional<std::uint64_t>& now) {
      if (!expect.met_by(now)) throw tag_not_as_expected(package, tag, expect, now);
    };
    return run(
        "untag", Mode::Change,
        [&]() -> std::optional<Event> {
          Transaction tx(session_);
          const Counters c = lock(package);
          auto r = exec(
              "DELETE FROM {0}.tags t WHERE t.package = $1 AND t.tag = $2 RETURNING t.version, (SELECT "
              "sha256 FROM {0}.versions v WHERE v.package = t.package AND v.version = t.version)",
              {package, tag});
          std::optional<std::uint64_t> now;
          if (r.rows() > 0) now = read_.positive(r, 0, 0, package);
          check(now);
          if (!now) return std::nullopt;
          Event e = append(make_event(EventAction::Untag, ctx, package, 0, tag, now, r.text(0, 1)), c.seq);
          tx.commit();
          return e;
        },
        [&]() -> std::optional<Event> { return check(std::nullopt), std::nullopt; });
  }

  std::vector<Event> history(const std::string& package, const HistoryQuery& query) override {
    return run("read history", Mode::Read, [&] {
      std::vector<Event> out;
      if (legacy_) return out;  // format 1: no events yet
      auto r = exec(
          "SELECT seq, tag, event FROM {}.events WHERE package = $1 AND ($2::bigint = 0 OR seq < "
          "$2::bigint) AND ($3 = '' OR tag = $3) ORDER BY seq DESC LIMIT $4::bigint",
          {package, pg::bigint(query.before), query.tag.value_or(""),
           query.limit == 0 ? pg::bigint(INT64_MAX - 1) : pg::bigint(query.limit)});
      for (int i = 0; i < r.rows(); ++i) out.push_back(read_.event(r, i, package));
      return out;
    });
  }

  // One transaction: all or nothing (see the top).
  void import_batch(const ImportBatch& batch) override {
    run("import", Mode::Write, [&] {
      Transaction tx(session_);
      std::set<std::string> names;
      for (const auto& r : batch.records) names.insert(r.package);
      for (const auto& t : batch.tags) names.insert(t.package);
      for (const auto& e : batch.events) names.insert(e.package);
      std::map<std::string, Counters> counters;
      for (const auto& p : names) counters[p] = lock(p);
      for (const auto& r : batch.records) {
        if (insert_record(r, "ON CONFLICT (package, version) DO NOTHING") == 0 &&
            read_version(r.package, r.version) != r)
          throw version_exists_differently(r.package, r.version);
        counters[r.package].version = std::max(counters[r.package].version, r.version + 1);
      }
      for (const auto& t : batch.tags) {
        auto r = exec("SELECT 1 FROM {}.versions WHERE package = $1 AND version = $2::bigint",
                      {t.package, pg::bigint(t.value.version)});
        if (r.rows() == 0) throw no_such_version(t.package, t.value.version);
        write_tag(t.package, t.tag, t.value);
      }
      for (const auto& e : batch.events) {
        Counters& c = counters[e.package];
        const std::uint64_t seq = e.seq == 0 ? c.seq : e.seq;
        if (append(e, seq, 0, "ON CONFLICT (package, seq) DO NOTHING").seq == 0) {
          auto r = exec("SELECT seq, tag, event FROM {}.events WHERE package = $1 AND seq = $2::bigint",
                        {e.package, pg::bigint(seq)});
          Event want = e;
          want.seq = seq;
          if (r.rows() == 0 || read_.event(r, 0, e.package) != want) throw event_exists_differently(e.package, seq);
        }
        c.seq = std::max(c.seq, seq + 1);
      }
      for (const auto& [p, c] : counters)
        exec(
            "UPDATE {}.packages SET next_version = GREATEST(next_version, $2::bigint), next_seq = "
            "GREATEST(next_seq, $3::bigint) WHERE name = $1",
            {p, pg::bigint(c.version), pg::bigint(c.seq)});
      tx.commit();
      return 0;
    });
  }

  std::string describe() const override { return described_; }

 private:
  // Read: a ledger never written reads as empty, a format-1 one as it is. Change: one
  // never written is left alone (`missing` answers). Write: creates or upgrades it.
  enum class Mode { Read, Change, Write };
  enum class SchemaState { Absent, Format1, Current };

  template <class F, class M>
  auto run(const char* what, Mode mode, F&& fn, M&& missing) -> decltype(fn()) {
    bool check = legacy_;  // read the schema's state first: it may have been upgraded since
    int repairs = 0;
    return session_.run(
        what,
        [&]() -> decltype(fn()) {
          if (check && !prepare(mode)) return missing();
          check = false;
          return fn();
        },
        [&](const SqlError& f) { return f.failure == Failure::Missing && !check && ++repairs <= 2 && (check = true); });
  }
  template <class F>
  auto run(const char* what, Mode mode, F&& fn) -> decltype(fn()) {
    return run(what, mode, fn, [] { return decltype(fn()){}; });
  }

  // Runs `sql` with {} / {0} standing for the quoted schema.
  Result exec(const std::string& sql, const std::vector<std::string>& params) {
    return session_.exec(fmt::format(fmt::runtime(sql), s_), params);
  }

  // After a missing table or column: what the schema is, and what `mode` does with
  // it. False: never written, and `mode` leaves it so.
  bool prepare(Mode mode) {
    auto r = session_.exec(kSchemaState, {s_});
    const SchemaState state = r.text(0, 0) != "t"   ? SchemaState::Absent
                              : r.text(0, 1) == "t" ? SchemaState::Current
                                                    : SchemaState::Format1;
    legacy_ = state == SchemaState::Format1 && mode == Mode::Read;
    if (state == SchemaState::Absent && mode != Mode::Write) return false;
    if (state != SchemaState::Current && !legacy_) ensure_schema();
    return true;
  }

  void ensure_schema() {
    try {
      Transaction tx(session_);
      exec("SELECT pg_advisory_xact_lock($1::bigint)", {lock_key(schema_)});
      for (const char* ddl : kSchema) exec(ddl, {});
      tx.commit();
    } catch (SqlError& f) {
      // Concurrent CREATE ... IF NOT EXISTS (by a writer without the lock) can collide in the catalog.
      if (f.failure == Failure::UniqueViolation || f.failure == Failure::DuplicateObject)
        f.failure = Failure::Retryable;
      if (f.failure == Failure::Denied)
        throw Error(ErrorKind::Denied, fmt::format("{}: this role may not create or upgrade schema {} ({}): run "
                                                   "`sacker init` once as its owner",
                                                   session_.where("init"), schema_, f.message));
      throw;
    }
    legacy_ = false;
  }

  // Creates or locks the package's counter row (see the top) and returns its counters,
  // never below a stored version or event (a counter behind them, written by hand or
  // an old tool, must not make a change collide with what is there).
  Counters lock(const std::string& package) {
    auto r = exec(
        "INSERT INTO {0}.packages AS p (name, next_version, next_seq) VALUES ($1, 1, 1) ON CONFLICT "
        "(name) DO UPDATE SET next_version = p.next_version RETURNING "
        "GREATEST(p.next_version, (SELECT max(version) + 1 FROM {0}.versions WHERE package = $1)) AS next_version, "
        "GREATEST(p.next_seq, (SELECT max(seq) + 1 FROM {0}.events WHERE package = $1)) AS next_seq",
        {package});
    return {read_.positive(r, 0, 0, package), read_.positive(r, 0, 1, package)};
  }

  // Inserts a record (`conflict`: an ON CONFLICT clause); returns the rows inserted.
  int insert_record(const VersionRecord& r, const char* conflict) {
    nlohmann::json meta = nlohmann::json::object();
    for (const auto& [k, v] : r.metadata) meta[k] = v;
    return exec(kInsertRecord + std::string(conflict),
                {r.package, pg::bigint(r.version), r.sha256, pg::bigint(r.size), r.basename, std::to_string(r.mode),
                 std::to_string(r.created), meta.dump(), signatures_to_json(r.signatures)})
        .affected();
  }

  void write_tag(const std::string& package, const std::string& tag, const TagValue& v) {
    exec(
        "INSERT INTO {}.tags (package, tag, version, seq, signatures) VALUES ($1, $2, $3::bigint, $4::bigint, $5) "
        "ON CONFLICT (package, tag) DO UPDATE SET version = EXCLUDED.version, seq = EXCLUDED.seq, "
        "signatures = EXCLUDED.signatures",
        {package, tag, pg::bigint(v.version), pg::bigint(v.seq), signatures_to_json(v.signatures)});
  }

  // Stores `e` as event `seq` and raises the counters past it (next_version to at
  // least `next_version`) in one statement. Returns it with its seq; seq 0 when
  // `conflict` (an ON CONFLICT clause) kept it from being inserted.
  Event append(Event e, std::uint64_t seq, std::uint64_t next_version = 0, const char* conflict = "") {
    e.seq = seq;
    const int rows = exec(fmt::format("WITH c AS (UPDATE {{0}}.packages SET next_version = GREATEST(next_version, "
                                      "$5::bigint), next_seq = GREATEST(next_seq, $2::bigint + 1) WHERE name = $1) "
                                      "INSERT INTO {{0}}.events (package, seq, tag, event) VALUES ($1, $2::bigint, "
                                      "$3, $4) {}",
                                      conflict),
                          {e.package, pg::bigint(seq), e.tag, event_to_json(e), pg::bigint(next_version)})
                         .affected();
    if (rows == 0) e.seq = 0;
    return e;
  }

  std::optional<VersionRecord> read_version(const std::string& package, std::uint64_t version) {
    auto r = exec(select_records() + " AND version = $2::bigint", {package, pg::bigint(version)});
    if (r.rows() == 0) return std::nullopt;
    return read_.record(r, 0);
  }

  std::string select_records() const {
    return fmt::format(
        "SELECT package, version, sha256, size, basename, mode, created, metadata::text, {} FROM "
        "{}.versions WHERE package = $1",
        legacy_ ? "'[]'" : "signatures", s_);
  }
  std::string select_tags() const {
    return fmt::format("SELECT tag, version, {} FROM {}.tags WHERE package = $1",
                       legacy_ ? "0, '[]'" : "seq, signatures", s_);
  }

  pg::Session session_;
  std::string schema_, s_;  // the schema's name, and quoted
  std::string described_;
  pg_rows::Reader read_{described_};
  bool legacy_ = false;  // a format-1 schema read as it is (not upgraded by a read)
};

}  // namespace

std::unique_ptr<Ledger> open_postgres_ledger(const Uri& uri) {
  UriOptions options(uri);
  const std::string schema = options.take_or("schema", "sacker");
  pg::ConnectParams params = pg::connect_params(uri, options);
  options.finish();
  if (!pg::plain_identifier(schema))
    throw_invalid_uri(uri, fmt::format("schema '{}' must be 1-63 of [A-Za-z0-9_-], start with a letter or '_', and "
                                       "not start with 'pg_'",
                                       printable(schema)));
  return std::make_unique<PostgresLedger>(std::move(params), schema, redact_uri(uri.text));
}

}  // namespace sacker
