#include "ledger/sqlite_db.h"

#include <fmt/core.h>

#include "sacker/error.h"

namespace sacker::sqlite {

void fail(sqlite3* db, int rc, const std::string& where) {
  std::string msg = fmt::format("{}: {}", where, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
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

namespace {

// Before SQLite initializes (the first open): no memory statistics. With them on
// (Debian's default), every allocation takes a global mutex and updates counters
// nothing here reads; that was about a tenth of a short command's instructions
// (bench/startup_bench.sh). A process that initialized SQLite already keeps its setting.
void configure_sqlite_once() {
  static const bool configured = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)configured;
}

}  // namespace

Db::Db(const std::filesystem::path& path) {
  configure_sqlite_once();
  int rc =
      sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error(rc == SQLITE_CANTOPEN ? ErrorKind::LocalIO : ErrorKind::Internal,
                fmt::format("cannot open sqlite ledger {}: {}", path.string(), msg));
  }
  sqlite3_busy_timeout(db_, 60000);
}

Db::~Db() {
  for (auto& [sql, c] : cache_) sqlite3_finalize(c.stmt);
  sqlite3_close(db_);
}

void Db::exec(const char* sql, const char* where) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK) fail(db_, rc, where);
}

std::vector<std::string> Db::table_names() {
  Statement s(*this, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", "read the schema");
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

Statement::Statement(Db& db, const char* sql, const std::string& where) : db_(db.handle()), where_(where) {
  auto& cached = db.cache_[sql];
  if (cached.stmt && !cached.in_use) {
    stmt_ = cached.stmt;
    cached.in_use = true;
    cached_in_use_ = &cached.in_use;  // unordered_map nodes do not move
    return;
  }
  int rc = sqlite3_prepare_v2(db_, sql, -1, &stmt_, nullptr);
  if (rc != SQLITE_OK) fail(db_, rc, where);
  if (!cached.stmt) {
    cached.stmt = stmt_;
    cached.in_use = true;
    cached_in_use_ = &cached.in_use;
  }
}

Statement::~Statement() {
  if (!cached_in_use_) {
    sqlite3_finalize(stmt_);
    return;
  }
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  *cached_in_use_ = false;
}

Statement& Statement::bind(int i, const std::string& v) {
  check(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  return *this;
}

Statement& Statement::bind(int i, std::int64_t v) {
  check(sqlite3_bind_int64(stmt_, i, v));
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(db_, rc, where_);
}

std::string Statement::text(int col) const {
  auto p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col))) : std::string();
}

void Statement::check(int rc) {
  if (rc != SQLITE_OK) fail(db_, rc, where_);
}

}  // namespace sacker::sqlite
