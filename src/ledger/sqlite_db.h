// A thin C++ layer over one SQLite connection for the sqlite ledger: prepared
// statements, transactions, and SQLite result codes mapped onto error kinds.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

namespace sacker::sqlite {

// Throws Error with the kind for `rc` (BUSY -> Unavailable, READONLY -> Denied,
// IOERR/FULL/CANTOPEN -> LocalIO, NOTADB/CORRUPT -> Invalid, CONSTRAINT -> Conflict).
[[noreturn]] void fail(sqlite3* db, int rc, const std::string& where);

class Db {
 public:
  // Opens (creating if absent) the file; a busy timeout of 60 s.
  explicit Db(const std::filesystem::path& path);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  sqlite3* handle() const { return db_; }
  void exec(const char* sql, const char* where);
  int changes() const { return sqlite3_changes(db_); }
  std::vector<std::string> table_names();

 private:
  friend class Statement;
  // Prepared statements by SQL text, kept for the connection's life: an import of
  // 100k records would otherwise parse the same few statements 100k times. One in
  // use is not handed out twice (a nested use of the same SQL prepares its own).
  struct Cached {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  std::unordered_map<std::string, Cached> cache_;
  sqlite3* db_ = nullptr;
};

// One prepared statement; finalized on destruction.
class Statement {
 public:
  Statement(Db& db, const char* sql, const std::string& where);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, const std::string& v);
  Statement& bind(int i, std::int64_t v);
  // true while there is a row.
  bool step();
  std::string text(int col) const;
  std::int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

 private:
  void check(int rc);
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  bool* cached_in_use_ = nullptr;  // the cache entry this borrows, or null (owned)
  std::string where_;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back when not committed.
class Transaction {
 public:
  explicit Transaction(Db& db) : db_(db) { db_.exec("BEGIN IMMEDIATE", "begin transaction"); }
  ~Transaction() {
    if (!done_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void commit() {
    db_.exec("COMMIT", "commit");
    done_ = true;
  }

 private:
  Db& db_;
  bool done_ = false;
};

}  // namespace sacker::sqlite
