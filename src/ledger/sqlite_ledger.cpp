// The SQLite ledger: sqlite:///path/ledger.db, the embedded default (the connection:
// sqlite_db.h; rows read back: sqlite_rows.h).
//
// Layout (tables, all STRICT):
//   sacker_meta (key, value)                      'format' = '2': marks the file as ours
//   packages (name, next_version, next_seq)       per-package counters; never deleted
//   versions (package, version, sha256, size, basename, mode, created, metadata, signatures)
//   tags     (package, tag, version, seq, signatures)   seq: the event that set the tag
//   events   (package, seq, tag, event)           event = event_to_json, tag copied for filtering
// Files written before history (format 1: packages/versions/tags only) are
// upgraded in place on open; a database with other tables belongs to another
// program and is refused before anything in it changes (even the journal mode).
// Once the schema is complete the header says so: application_id 'SACK' and
// user_version kSchemaRevision, set in the schema's transaction. An open that reads
// both (two pragmas, no table scan) skips those checks; anything else (an older
// file, a newer sacker's, another program's) takes the full path. A change of the
// layout must raise kSchemaRevision.
//
// Why it is race-free: WAL mode, a 60 s busy timeout, and every read-modify-write
// in one BEGIN IMMEDIATE transaction, which takes the database's write lock before
// the first read. So concurrent processes on one host run each change (its checks,
// its record, its counters and its event) one after another, never interleaved:
// no version is handed out twice, no compare-and-swap misses a concurrent move, and
// the event commits with its change or not at all. synchronous=FULL: a committed
// add survives power loss, so a printed version number is never handed out again.
#include "ledger/sqlite_ledger.h"

#include <fmt/core.h>

#include <climits>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "core/files.h"
#include "kit/ledger_kit.h"
#include "kit/retry.h"
#include "kit/uri_options.h"
#include "ledger/sqlite_db.h"
#include "ledger/sqlite_rows.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker {
namespace {

using namespace ledger_kit;
using sqlite::Db;
using sqlite::Statement;
using sqlite::Transaction;

constexpr const char* kFormat = "2";
constexpr std::int64_t kApplicationId = 0x5341434B;  // "SACK"
constexpr std::int64_t kSchemaRevision = 2;           // format 2 with every upgrade column

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS sacker_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS packages (
  name TEXT PRIMARY KEY,
  next_version INTEGER NOT NULL,
  next_seq INTEGER NOT NULL DEFAULT 1
) STRICT;
CREATE TABLE IF NOT EXISTS versions (
  package TEXT NOT NULL,
  version INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  basename TEXT NOT NULL,
  mode INTEGER NOT NULL,
  created INTEGER NOT NULL,
  metadata TEXT NOT NULL,
  signatures TEXT NOT NULL DEFAULT '[]',
  PRIMARY KEY (package, version)
) STRICT;
CREATE TABLE IF NOT EXISTS tags (
  package TEXT NOT NULL,
  tag TEXT NOT NULL,
  version INTEGER NOT NULL,
  seq INTEGER NOT NULL DEFAULT 0,
  signatures TEXT NOT NULL DEFAULT '[]',
  PRIMARY KEY (package, tag)
) STRICT;
CREATE TABLE IF NOT EXISTS events (
  package TEXT NOT NULL,
  seq INTEGER NOT NULL,
  tag TEXT NOT NULL,
  event TEXT NOT NULL,
  PRIMARY KEY (package, seq)
) STRICT;
INSERT OR IGNORE INTO sacker_meta (key, value) VALUES ('format', '2');
)sql";

// Columns added to format-1 tables (ALTER TABLE ... ADD COLUMN).
struct Upgrade {
  const char* table;
  const char* column;
  const char* definition;
};
constexpr Upgrade kUpgrades[] = {
    {"packages", "next_seq", "INTEGER NOT NULL DEFAULT 1"},
    {"versions", "signatures", "TEXT NOT NULL DEFAULT '[]'"},
    {"tags", "seq", "INTEGER NOT NULL DEFAULT 0"},
    {"tags", "signatures", "TEXT NOT NULL DEFAULT '[]'"},
};

constexpr const char* kSelectOneRecord =
    "SELECT package, version, sha256, size, basename, mode, created, metadata, signatures FROM versions "
    "WHERE package = ?1 AND version = ?2";
constexpr const char* kSelectAllRecords =
    "SELECT package, version, sha256, size, basename, mode, created, metadata, signatures FROM versions "
    "WHERE package = ?1 ORDER BY version";

std::int64_t to_db(std::uint64_t n) {
  if (n > static_cast<std::uint64_t>(INT64_MAX))
    throw Error(ErrorKind::Invalid, fmt::format("{} is too large for the sqlite ledger", n));
  return static_cast<std::int64_t>(n);
}

class SqliteLedger final : public Ledger {
 public:
  SqliteLedger(const std::filesystem::path& path, std::string uri) : db_(path), uri_(std::move(uri)) {
    // Switching a new file to WAL needs the exclusive lock, and SQLite answers BUSY
    // at once (without its busy handler) while another process that opens the same
    // new file reads the schema: retry that race like any lost race.
    if (schema_is_current()) {
      db_.exec("PRAGMA synchronous=FULL", "open");
      return;  // WAL mode is kept in the file, set on the first open
    }
    Retry retry(RetryPolicy::contention(), where("open"));
    for (;;) {
      try {
        refuse_foreign_database();
        db_.exec("PRAGMA journal_mode=WAL", "open");
        break;
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::Unavailable) throw;
        retry.failed(FailureCause::ServerTrouble, e.what());
      }
    }
    // FULL, not NORMAL: in WAL mode NORMAL may lose the last commits on power loss,
    // and a lost add would hand its printed version number out again to other bytes.
    db_.exec("PRAGMA synchronous=FULL", "open");
    create_schema();
  }

  void init() override { create_schema(); }

  std::vector<std::string> packages() override {
    Statement s(db_, "SELECT DISTINCT package FROM versions ORDER BY package", where("list packages"));
    std::vector<std::string> out;
    while (s.step()) out.push_back(checked_package(uri_, s.text(0)));
    return out;
  }

  std::vector<std::uint64_t> versions(const std::string& package) override {
    Statement s(db_, "SELECT version FROM versions WHERE package = ?1 ORDER BY version", where("list versions"));
    s.bind(1, package);
    std::vector<std::uint64_t> out;
    while (s.step()) out.push_back(read_.positive(s.integer(0), package, "version"));
    return out;
  }

  std::optional<VersionRecord> get(const std::string& package, std::uint64_t version) override {
    Statement s(db_, kSelectOneRecord, where("read version"));
    s.bind(1, package).bind(2, to_db(version));
    if (!s.step()) return std::nullopt;
    return read_.record(s);
  }

  std::vector<VersionRecord> records(const std::string& package) override {
    Statement s(db_, kSelectAllRecords, where("read versions"));
    s.bind(1, package);
    std::vector<VersionRecord> out;
    while (s.step()) out.push_back(read_.record(s));
    return out;
  }

  std::optional<std::uint64_t> latest(const std::string& package) override {
    Statement s(db_, "SELECT MAX(version) FROM versions WHERE package = ?1", where("read latest"));
    s.bind(1, package);
    if (!s.step() || s.is_null(0)) return std::nullopt;
    return read_.positive(s.integer(0), package, "version");
  }

  std::uint64_t add(const VersionRecord& record, const ChangeContext& ctx) override {
    Transaction tx(db_);
    VersionRecord r = record;
    {
      Statement s(db_,
                  "SELECT MAX(COALESCE((SELECT next_version FROM packages WHERE name = ?1), 1), "
                  "COALESCE((SELECT MAX(version) + 1 FROM versions WHERE package = ?1), 1))",
                  where("add"));
      s.bind(1, record.package);
      r.version = s.step() ? static_cast<std::uint64_t>(s.integer(0)) : 1;
    }
    r.signatures = ctx.sign_record ? ctx.sign_record(r) : std::vector<std::string>{};
    insert_record(r);
    bump_counters(r.package, r.version + 1, 0);
    append_event(make_event(EventAction::Add, ctx, r.package, r.version, {}, std::nullopt, r.sha256));
    tx.commit();
    return r.version;
  }

  std::optional<Event> remove_version(const std::string& package, std::uint64_t version,
                                      const ChangeContext& ctx) override {
    Transaction tx(db_);
    auto record = get(package, version);
    if (!record) return std::nullopt;
    {
      Statement s(db_, "SELECT tag FROM tags WHERE package = ?1 AND version = ?2 ORDER BY tag", where("remove"));
      s.bind(1, package).bind(2, to_db(version));
      if (s.step()) throw version_is_tagged(package, version, s.text(0));
    }
    Statement s(db_, "DELETE FROM versions WHERE package = ?1 AND version = ?2", where("remove"));
    s.bind(1, package).bind(2, to_db(version));
    s.step();
    Event e = append_event(make_event(EventAction::Remove, ctx, package, version, {}, std::nullopt, record->sha256));
    tx.commit();
    return e;
  }

  std::map<std::string, TagValue> tag_values(const std::string& package) override {
    Statement s(db_, "SELECT tag, version, seq, signatures FROM tags WHERE package = ?1 ORDER BY tag",
                where("list tags"));
    s.bind(1, package);
    std::map<std::string, TagValue> out;
    while (s.step()) out[checked_tag(uri_, package, s.text(0))] = read_.tag_value(s, package);
    return out;
  }

  std::optional<TagValue> tag_value(const std::string& package, const std::string& tag) override {
    Statement s(db_, "SELECT tag, version, seq, signatures FROM tags WHERE package = ?1 AND tag = ?2",
                where("read tag"));
    s.bind(1, package).bind(2, tag);
    if (!s.step()) return std::nullopt;
    return read_.tag_value(s, package);
  }

  std::optional<Event> set_tag(const std::string& package, const std::string& tag, std::uint64_t version,
                               const TagExpectation& expect, const ChangeContext& ctx) override {
    Transaction tx(db_);
    auto record = get(package, version);
    if (!record) throw no_such_version(package, version);
    auto current = tag_value(package, tag);
    std::optional<std::uint64_t> now = current ? std::optional(current->version) : std::nullopt;
    if (!expect.met_by(now)) throw tag_not_as_expected(package, tag, expect, now);
    if (now == version) return std::nullopt;
    Event e = make_event(tag_action(ctx), ctx, package, version, tag, now, record->sha256);
    e.seq = next_seq(package);
    if (ctx.sign_event) e.signatures = ctx.sign_event(e);
    append_event(e);
    write_tag(package, tag, TagValue{version, e.seq, e.signatures});
    tx.commit();
    return e;
  }

  std::optional<Event> remove_tag(const std::string& package, const std::string& tag, const TagExpectation& expect,
                                  const ChangeContext& ctx) override {
    Transaction tx(db_);
    auto current = tag_value(package, tag);
    std::optional<std::uint64_t> now = current ? std::optional(current->version) : std::nullopt;
    if (!expect.met_by(now)) throw tag_not_as_expected(package, tag, expect, now);
    if (!now) return std::nullopt;
    auto record = get(package, *now);
    Statement s(db_, "DELETE FROM tags WHERE package = ?1 AND tag = ?2", where("untag"));
    s.bind(1, package).bind(2, tag);
    s.step();
    Event e = append_event(make_event(EventAction::Untag, ctx, package, 0, tag, now, record ? record->sha256 : ""));
    tx.commit();
    return e;
  }

  std::vector<Event> history(const std::string& package, const HistoryQuery& query) override {
    Statement s(db_,
                "SELECT event FROM events WHERE package = ?1 AND (?2 = 0 OR seq < ?2) AND (?3 = '' OR tag = ?3) "
                "ORDER BY seq DESC LIMIT ?4",
                where("read history"));
    s.bind(1, package)
        .bind(2, to_db(query.before))
        .bind(3, query.tag.value_or(""))
        .bind(4, query.limit == 0 ? INT64_MAX : to_db(query.limit));
    std::vector<Event> out;
    while (s.step()) out.push_back(read_.event(s.text(0), package));
    return out;
  }

  void put_record(const VersionRecord& record) override {
    Transaction tx(db_);
    put_record_in_tx(record);
    tx.commit();
  }

  void put_tag(const std::string& package, const std::string& tag, const TagValue& value) override {
    Transaction tx(db_);
    put_tag_in_tx(package, tag, value);
    tx.commit();
  }

  void put_event(const Event& event) override {
    Transaction tx(db_);
    put_event_in_tx(event);
    tx.commit();
  }

  // One transaction: all or nothing, and one fsync for the whole import.
  void import_batch(const ImportBatch& batch) override {
    Transaction tx(db_);
    for (const auto& r : batch.records) put_record_in_tx(r);
    for (const auto& t : batch.tags) put_tag_in_tx(t.package, t.tag, t.value);
    for (const auto& e : batch.events) put_event_in_tx(e);
    tx.commit();
  }

  std::string describe() const override { return uri_; }

 private:
  std::string where(const char* what) const { return fmt::format("sqlite ledger {}: {}", uri_, what); }

  // The header's marks of a complete schema of this revision (the top of this file).
  bool schema_is_current() {
    auto pragma = [this](const char* sql) {
      Statement s(db_, sql, where("open"));
      return s.step() ? s.integer(0) : 0;
    };
    return pragma("PRAGMA application_id") == kApplicationId && pragma("PRAGMA user_version") == kSchemaRevision;
  }

  // A database that has tables and is not ours (nor a format-1 sacker ledger) is
  // refused before anything writes to it.
  void refuse_foreign_database() {
    const auto tables = db_.table_names();
    const std::set<std::string> ours = {"sacker_meta", "packages", "versions", "tags", "events"};
    std::set<std::string> have(tables.begin(), tables.end());
    bool foreign = false;
    for (const auto& t : tables)
      if (!ours.count(t)) foreign = true;
    if (!have.empty() && !have.count("sacker_meta") &&
        !(have.count("packages") && have.count("versions") && have.count("tags")))
      foreign = true;
    if (foreign) {
      std::string names;
      for (const auto& t : tables) names += (names.empty() ? "" : ", ") + printable(t);
      throw Error(ErrorKind::Invalid,
                  fmt::format("sqlite ledger {}: the file is an SQLite database of another program (tables: {}); "
                              "refusing to change it",
                              uri_, names));
    }
    if (have.count("sacker_meta")) {
      Statement s(db_, "SELECT value FROM sacker_meta WHERE key = 'format'", where("open"));
      if (s.step() && s.text(0) != kFormat)
        throw Error(ErrorKind::Invalid, fmt::format("sqlite ledger {}: format {} is not one this sacker reads ({})",
                                                    uri_, printable(s.text(0)), kFormat));
    }
  }

  void create_schema() {
    Transaction tx(db_);
    db_.exec(kSchema, where("create schema").c_str());
    for (const auto& u : kUpgrades) {
      bool present = false;
      Statement s(db_, fmt::format("PRAGMA table_info({})", u.table).c_str(), where("upgrade schema"));
      while (s.step())
        if (s.text(1) == u.column) present = true;
      if (!present)
        db_.exec(fmt::format("ALTER TABLE {} ADD COLUMN {} {}", u.table, u.column, u.definition).c_str(),
                 where("upgrade schema").c_str());
    }
    db_.exec(fmt::format("PRAGMA application_id = {}; PRAGMA user_version = {}", kApplicationId, kSchemaRevision).c_str(),
             where("mark schema").c_str());
    tx.commit();
  }

  void insert_record(const VersionRecord& r) {
    nlohmann::json meta = nlohmann::json::object();
    for (const auto& [k, v] : r.metadata) meta[k] = v;
    Statement s(db_,
                "INSERT INTO versions (package, version, sha256, size, basename, mode, created, metadata, signatures) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                where("add"));
    s.bind(1, r.package)
        .bind(2, to_db(r.version))
        .bind(3, r.sha256)
        .bind(4, to_db(r.size))
        .bind(5, r.basename)
        .bind(6, static_cast<std::int64_t>(r.mode))
        .bind(7, r.created)
        .bind(8, meta.dump())
        .bind(9, signatures_to_json(r.signatures));
    s.step();
  }

  // Raises the package's counters to at least `next_version` / `next_seq` (0: leave).
  void bump_counters(const std::string& package, std::uint64_t next_version, std::uint64_t next_seq) {
    Statement s(db_,
                "INSERT INTO packages (name, next_version, next_seq) VALUES (?1, MAX(?2, 1), MAX(?3, 1)) "
                "ON CONFLICT (name) DO UPDATE SET next_version = MAX(next_version, excluded.next_version), "
                "next_seq = MAX(next_seq, excluded.next_seq)",
                where("update counters"));
    s.bind(1, package).bind(2, to_db(next_version)).bind(3, to_db(next_seq));
    s.step();
  }

  std::uint64_t next_seq(const std::string& package) {
    Statement s(db_,
                "SELECT MAX(COALESCE((SELECT next_seq FROM packages WHERE name = ?1), 1), "
                "COALESCE((SELECT MAX(seq) + 1 FROM events WHERE package = ?1), 1))",
                where("history"));
    s.bind(1, package);
    return s.step() ? static_cast<std::uint64_t>(s.integer(0)) : 1;
  }

  // Stores `e` (seq 0: the next one) and raises the counter past it. In a transaction.
  Event append_event(Event e) {
    if (e.seq == 0) e.seq = next_seq(e.package);
    Statement s(db_, "INSERT INTO events (package, seq, tag, event) VALUES (?1, ?2, ?3, ?4)", where("history"));
    s.bind(1, e.package).bind(2, to_db(e.seq)).bind(3, e.tag).bind(4, event_to_json(e));
    s.step();
    bump_counters(e.package, 0, e.seq + 1);
    return e;
  }

  void write_tag(const std::string& package, const std::string& tag, const TagValue& value) {
    Statement s(db_,
                "INSERT INTO tags (package, tag, version, seq, signatures) VALUES (?1, ?2, ?3, ?4, ?5) "
                "ON CONFLICT (package, tag) DO UPDATE SET version = excluded.version, seq = excluded.seq, "
                "signatures = excluded.signatures",
                where("tag"));
    s.bind(1, package)
        .bind(2, tag)
        .bind(3, to_db(value.version))
        .bind(4, to_db(value.seq))
        .bind(5, signatures_to_json(value.signatures));
    s.step();
  }

  void put_record_in_tx(const VersionRecord& record) {
    if (auto existing = get(record.package, record.version)) {
      if (*existing == record) return;
      throw version_exists_differently(record.package, record.version);
    }
    insert_record(record);
    bump_counters(record.package, record.version + 1, 0);
  }

  void put_tag_in_tx(const std::string& package, const std::string& tag, const TagValue& value) {
    Statement s(db_, "SELECT 1 FROM versions WHERE package = ?1 AND version = ?2", where("tag"));
    s.bind(1, package).bind(2, to_db(value.version));
    if (!s.step()) throw no_such_version(package, value.version);
    write_tag(package, tag, value);
  }

  void put_event_in_tx(const Event& event) {
    if (event.seq != 0) {
      Statement s(db_, "SELECT event FROM events WHERE package = ?1 AND seq = ?2", where("history"));
      s.bind(1, event.package).bind(2, to_db(event.seq));
      if (s.step()) {
        if (read_.event(s.text(0), event.package) == event) return;
        throw event_exists_differently(event.package, event.seq);
      }
    }
    append_event(event);
  }

  Db db_;
  std::string uri_;
  sqlite_rows::Reader read_{uri_};
};

}  // namespace

std::unique_ptr<Ledger> open_sqlite_ledger(const Uri& uri) {
  UriOptions(uri).finish();
  std::filesystem::path path = local_path(uri, "sqlite:///path/ledger.db");
  if (path.has_parent_path()) make_directories(path.parent_path());
  return std::make_unique<SqliteLedger>(path, redact_uri(uri.text));
}

}  // namespace sacker
