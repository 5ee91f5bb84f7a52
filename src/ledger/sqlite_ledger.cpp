#include "ledger/sqlite_ledger.h"

#include <fmt/core.h>
#include <sqlite3.h>

#include <climits>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/files.h"
#include "sacker/error.h"

namespace sacker {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS packages (
  name TEXT PRIMARY KEY,
  next_version INTEGER NOT NULL
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
  PRIMARY KEY (package, version)
) STRICT;
CREATE TABLE IF NOT EXISTS tags (
  package TEXT NOT NULL,
  tag TEXT NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (package, tag)
) STRICT;
)sql";

class SqliteLedger;

// One prepared statement; finalized on destruction.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql, const std::string& where);
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement& bind(int i, const std::string& v) {
    check(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Statement& bind(int i, std::int64_t v) {
    check(sqlite3_bind_int64(stmt_, i, v));
    return *this;
  }
  // true while there is a row.
  bool step();
  std::string text(int col) const {
    auto p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col))) : std::string();
  }
  std::int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }

 private:
  void check(int rc);
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string where_;
};

[[noreturn]] void fail(sqlite3* db, int rc, const std::string& where) {
  std::string msg = fmt::format("sqlite ledger {}: {}", where, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: throw Error(ErrorKind::Unavailable, msg + " (another process holds the lock too long)");
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH: throw Error(ErrorKind::Denied, msg);
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL: throw Error(ErrorKind::LocalIO, msg);
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT: throw Error(ErrorKind::Invalid, msg + " (not a sacker sqlite ledger)");
    case SQLITE_CONSTRAINT: throw Error(ErrorKind::Conflict, msg);
    default: throw Error(ErrorKind::Internal, msg);
  }
}

Statement::Statement(sqlite3* db, const char* sql, const std::string& where) : db_(db), where_(where) {
  int rc = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  if (rc != SQLITE_OK) fail(db, rc, where);
}
void Statement::check(int rc) {
  if (rc != SQLITE_OK) fail(db_, rc, where_);
}
bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(db_, rc, where_);
}

std::int64_t to_db(std::uint64_t version) {
  if (version > static_cast<std::uint64_t>(INT64_MAX))
    throw Error(ErrorKind::Invalid, fmt::format("version {} is too large for the sqlite ledger", version));
  return static_cast<std::int64_t>(version);
}

class SqliteLedger final : public Ledger {
 public:
  SqliteLedger(std::filesystem::path path, std::string uri) : path_(std::move(path)), uri_(std::move(uri)) {
    if (path_.has_parent_path()) make_directories(path_.parent_path());
    int rc =
        sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      sqlite3_close(db_);
      db_ = nullptr;
      throw Error(rc == SQLITE_CANTOPEN ? ErrorKind::LocalIO : ErrorKind::Internal,
                  fmt::format("cannot open sqlite ledger {}: {}", path_.string(), msg));
    }
    sqlite3_busy_timeout(db_, 60000);
    exec("PRAGMA journal_mode=WAL", "open");
    // FULL, not NORMAL: in WAL mode NORMAL may lose the last commits on power loss,
    // and a lost add would hand its printed version number out again to other bytes.
    exec("PRAGMA synchronous=FULL", "open");
    exec(kSchema, "create schema");
  }
  ~SqliteLedger() override { sqlite3_close(db_); }

  void init() override { exec(kSchema, "create schema"); }

  std::vector<std::string> packages() override {
    Statement s(db_, "SELECT DISTINCT package FROM versions ORDER BY package", "list packages");
    std::vector<std::string> out;
    while (s.step()) out.push_back(s.text(0));
    return out;
  }

  std::vector<std::uint64_t> versions(const std::string& package) override {
    Statement s(db_, "SELECT version FROM versions WHERE package = ?1 ORDER BY version", "list versions");
    s.bind(1, package);
    std::vector<std::uint64_t> out;
    while (s.step()) out.push_back(static_cast<std::uint64_t>(s.integer(0)));
    return out;
  }

  std::optional<VersionRecord> get(const std::string& package, std::uint64_t version) override {
    Statement s(db_,
                "SELECT package, version, sha256, size, basename, mode, created, metadata FROM versions "
                "WHERE package = ?1 AND version = ?2",
                "read version");
    s.bind(1, package).bind(2, to_db(version));
    if (!s.step()) return std::nullopt;
    return read_record(s);
  }

  std::vector<VersionRecord> records(const std::string& package) override {
    Statement s(db_,
                "SELECT package, version, sha256, size, basename, mode, created, metadata FROM versions "
                "WHERE package = ?1 ORDER BY version",
                "read versions");
    s.bind(1, package);
    std::vector<VersionRecord> out;
    while (s.step()) out.push_back(read_record(s));
    return out;
  }

  std::optional<std::uint64_t> latest(const std::string& package) override {
    Statement s(db_, "SELECT MAX(version) FROM versions WHERE package = ?1", "read latest");
    s.bind(1, package);
    if (!s.step() || sqlite3_column_type_null(s)) return std::nullopt;
    return static_cast<std::uint64_t>(s.integer(0));
  }

  std::uint64_t add(const VersionRecord& record) override {
    Transaction tx(*this);
    std::int64_t next = 1;
    {
      Statement s(db_,
                  "SELECT MAX(COALESCE((SELECT next_version FROM packages WHERE name = ?1), 1), "
                  "COALESCE((SELECT MAX(version) + 1 FROM versions WHERE package = ?1), 1))",
                  "add");
      s.bind(1, record.package);
      if (s.step()) next = s.integer(0);
    }
    VersionRecord r = record;
    r.version = static_cast<std::uint64_t>(next);
    insert(r);
    bump_counter(r.package, next + 1);
    tx.commit();
    return r.version;
  }

  void put_record(const VersionRecord& record) override {
    Transaction tx(*this);
    if (auto existing = get(record.package, record.version)) {
      if (*existing == record) return;
      throw Error(ErrorKind::Conflict,
                  fmt::format("{} version {} already exists with other content", record.package, record.version));
    }
    insert(record);
    bump_counter(record.package, to_db(record.version) + 1);
    tx.commit();
  }

  bool remove_version(const std::string& package, std::uint64_t version) override {
    Transaction tx(*this);
    {
      Statement s(db_, "SELECT tag FROM tags WHERE package = ?1 AND version = ?2 ORDER BY tag", "remove");
      s.bind(1, package).bind(2, to_db(version));
      if (s.step())
        throw Error(ErrorKind::Conflict,
                    fmt::format("{} version {} is tagged '{}': untag it first", package, version, s.text(0)));
    }
    Statement s(db_, "DELETE FROM versions WHERE package = ?1 AND version = ?2", "remove");
    s.bind(1, package).bind(2, to_db(version));
    s.step();
    bool removed = sqlite3_changes(db_) > 0;
    tx.commit();
    return removed;
  }

  std::map<std::string, std::uint64_t> tags(const std::string& package) override {
    Statement s(db_, "SELECT tag, version FROM tags WHERE package = ?1 ORDER BY tag", "list tags");
    s.bind(1, package);
    std::map<std::string, std::uint64_t> out;
    while (s.step()) out[s.text(0)] = static_cast<std::uint64_t>(s.integer(1));
    return out;
  }

  void set_tag(const std::string& package, const std::string& tag, std::uint64_t version) override {
    Transaction tx(*this);
    {
      Statement s(db_, "SELECT 1 FROM versions WHERE package = ?1 AND version = ?2", "tag");
      s.bind(1, package).bind(2, to_db(version));
      if (!s.step()) throw Error(ErrorKind::NotFound, fmt::format("{} has no version {}", package, version));
    }
    Statement s(db_,
                "INSERT INTO tags (package, tag, version) VALUES (?1, ?2, ?3) "
                "ON CONFLICT (package, tag) DO UPDATE SET version = excluded.version",
                "tag");
    s.bind(1, package).bind(2, tag).bind(3, to_db(version));
    s.step();
    tx.commit();
  }

  bool remove_tag(const std::string& package, const std::string& tag) override {
    Statement s(db_, "DELETE FROM tags WHERE package = ?1 AND tag = ?2", "untag");
    s.bind(1, package).bind(2, tag);
    s.step();
    return sqlite3_changes(db_) > 0;
  }

  std::string describe() const override { return uri_; }

 private:
  // BEGIN IMMEDIATE ... COMMIT; rolls back when not committed.
  class Transaction {
   public:
    explicit Transaction(SqliteLedger& l) : l_(l) { l_.exec("BEGIN IMMEDIATE", "begin transaction"); }
    ~Transaction() {
      if (!done_) sqlite3_exec(l_.db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    void commit() {
      l_.exec("COMMIT", "commit");
      done_ = true;
    }

   private:
    SqliteLedger& l_;
    bool done_ = false;
  };

  static bool sqlite3_column_type_null(Statement& s) { return s.text(0).empty(); }

  void exec(const char* sql, const char* where) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
    sqlite3_free(err);
    if (rc != SQLITE_OK) fail(db_, rc, where);
  }

  void insert(const VersionRecord& r) {
    nlohmann::json meta = nlohmann::json::object();
    for (const auto& [k, v] : r.metadata) meta[k] = v;
    Statement s(db_,
                "INSERT INTO versions (package, version, sha256, size, basename, mode, created, metadata) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                "add");
    s.bind(1, r.package)
        .bind(2, to_db(r.version))
        .bind(3, r.sha256)
        .bind(4, static_cast<std::int64_t>(r.size))
        .bind(5, r.basename)
        .bind(6, static_cast<std::int64_t>(r.mode))
        .bind(7, r.created)
        .bind(8, meta.dump());
    s.step();
  }

  void bump_counter(const std::string& package, std::int64_t next) {
    Statement s(db_,
                "INSERT INTO packages (name, next_version) VALUES (?1, ?2) "
                "ON CONFLICT (name) DO UPDATE SET next_version = MAX(next_version, excluded.next_version)",
                "add");
    s.bind(1, package).bind(2, next);
    s.step();
  }

  VersionRecord read_record(Statement& s) {
    VersionRecord r;
    r.package = s.text(0);
    r.version = static_cast<std::uint64_t>(s.integer(1));
    r.sha256 = s.text(2);
    r.size = static_cast<std::uint64_t>(s.integer(3));
    r.basename = s.text(4);
    r.mode = static_cast<std::uint32_t>(s.integer(5));
    r.created = s.integer(6);
    try {
      auto meta = nlohmann::json::parse(s.text(7));
      for (const auto& [k, v] : meta.items()) r.metadata[k] = v.get<std::string>();
    } catch (const nlohmann::json::exception&) {
      throw Error(ErrorKind::Invalid,
                  fmt::format("sqlite ledger {}: malformed metadata in {} version {}", uri_, r.package, r.version));
    }
    validate_record(r);
    return r;
  }

  std::filesystem::path path_;
  std::string uri_;
  sqlite3* db_ = nullptr;
};

}  // namespace

std::unique_ptr<Ledger> open_sqlite_ledger(const Uri& uri) {
  std::string path = uri.authority + uri.path;
  if (path.empty())
    throw Error(ErrorKind::Invalid, fmt::format("invalid URI '{}': expected sqlite:///path/ledger.db", uri.text));
  return std::make_unique<SqliteLedger>(path, uri.text);
}

}  // namespace sacker
