// postgres://user[:password]@host[:port][,host2[:port2]...]/db[?schema=NAME&libpq-keyword=value...]
//
// Layout: three tables in one schema (default "sacker"; `?schema=` picks another, so
// several ledgers, or one per test, share a database). Every statement names them
// schema-qualified, so nothing depends on the session's search_path (and
// transaction-pooling proxies such as PgBouncer work).
//
//   packages (name TEXT PK, next_version BIGINT)   the per-package counter: the next
//                                                  number `add` hands out
//   versions (package, version BIGINT, sha256, size, basename, mode, created,
//             metadata JSONB, PK (package, version))
//   tags     (package, tag, version, PK (package, tag),
//             FK (package, version) -> versions ON DELETE RESTRICT)
//
// Why it is race-free:
// - `add` is ONE statement: a CTE upserts the packages row
//   (INSERT .. ON CONFLICT DO UPDATE SET next_version = next_version + 1 RETURNING)
//   and inserts the version row with the returned number. The upsert takes the row
//   lock, so concurrent adds of one package queue on it and each sees the previous
//   one's committed counter (READ COMMITTED re-reads the locked row): numbers are
//   distinct, increasing and gap-free, and a failed statement bumps nothing.
// - The counter only grows (`put_record` raises it to version + 1, taking the same
//   row lock before it inserts, so import and add never deadlock), so a removed
//   number is never handed out again.
// - The foreign key makes the database itself refuse a tag on a missing version
//   (set_tag -> NotFound) and the removal of a tagged version (-> Conflict), even
//   when set_tag and remove_version race.
// - Serialization failures, deadlocks and lock timeouts (40001, 40P01, 55P03) are
//   retried with jittered, bounded exponential backoff.
// - Tables are created by `init` and on the first write that finds them missing,
//   under a transaction-scoped advisory lock, because concurrent
//   CREATE ... IF NOT EXISTS can still fail with a unique violation in the catalog.
//   Reads of a ledger that was never written see it empty and create nothing.
#include "ledger/postgres_ledger.h"

#include <fmt/core.h>
#include <libpq-fe.h>

#include <poll.h>
#include <cctype>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <type_traits>

#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker {
namespace {

constexpr const char* kDefaultSchema = "sacker";
constexpr int kMaxAttempts = 100;  // with backoff capped at 0.5 s: about half a minute

// A failed statement, classified by the retry loop before it becomes an Error.
struct SqlFailure {
  std::string state;  // SQLSTATE, e.g. "40001"; empty if the server sent none
  std::string message;
  bool creating_schema = false;  // raised by the DDL of ensure_schema
};

// The connection broke during a statement: its outcome is unknown.
struct ConnectionLost {
  std::string why;
};

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

std::string first_line(std::string text) {
  auto nl = text.find('\n');
  if (nl != std::string::npos) text.resize(nl);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\r')) text.pop_back();
  return text;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// User, password and host in the authority may be percent-encoded ("p%40ss").
std::string percent_decode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && hex_digit(in[i + 1]) >= 0 && hex_digit(in[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(in[i + 1]) * 16 + hex_digit(in[i + 2]));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

// A schema name we can quote without escaping: [A-Za-z_][A-Za-z0-9_-]*, <= 63 bytes
// (PostgreSQL's identifier limit), not pg_* (reserved for system schemas).
void validate_schema_name(const std::string& name, const std::string& uri) {
  bool ok = !name.empty() && name.size() <= 63 && name.compare(0, 3, "pg_") != 0 &&
            (std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_');
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') ok = false;
  if (!ok)
    throw Error(ErrorKind::Invalid,
                fmt::format("invalid URI '{}': schema '{}' must be 1-63 of [A-Za-z0-9_-], start with a letter or "
                            "'_', and not start with 'pg_'",
                            printable(redact_uri(uri)), printable(name)));
}

std::int64_t to_db(std::uint64_t value, const char* what) {
  if (value > static_cast<std::uint64_t>(INT64_MAX) - 1)
    throw Error(ErrorKind::Invalid, fmt::format("{} {} is too large for the postgres ledger", what, value));
  return static_cast<std::int64_t>(value);
}

std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ULL;
  return h;
}

class PostgresLedger final : public Ledger {
 public:
  PostgresLedger(std::vector<std::string> keys, std::vector<std::string> values, std::string schema, std::string uri,
                 std::string label)
      : keys_(std::move(keys)), values_(std::move(values)), uri_(std::move(uri)), label_(std::move(label)) {
    s_ = "\"" + schema + "\"";
    lock_key_ = std::to_string(static_cast<std::int64_t>(fnv1a("sacker schema " + schema)));
    rng_.seed(std::random_device{}());
  }
  ~PostgresLedger() override {
    if (conn_) PQfinish(conn_);
  }

  void init() override {
    run("init", Mode::Write, [&] {
      ensure_schema();
      return 0;
    });
  }

  std::vector<std::string> packages() override {
    return run("list packages", Mode::Read, [&] {
      auto r = exec(fmt::format("SELECT p.name FROM {0}.packages p WHERE EXISTS "
                                "(SELECT 1 FROM {0}.versions v WHERE v.package = p.name) "
                                "ORDER BY p.name COLLATE \"C\"",
                                s_),
                    {});
      std::vector<std::string> out;
      for (int i = 0; i < PQntuples(r.get()); ++i) {
        out.push_back(PQgetvalue(r.get(), i, 0));
        checked("package name", out.back(), [&] { validate_package_name(out.back()); });
      }
      return out;
    });
  }

  std::vector<std::uint64_t> versions(const std::string& package) override {
    return run("list versions", Mode::Read, [&] {
      auto r = exec(fmt::format("SELECT version FROM {}.versions WHERE package = $1 ORDER BY version", s_), {package});
      std::vector<std::uint64_t> out;
      for (int i = 0; i < PQntuples(r.get()); ++i) out.push_back(number(r.get(), i, 0, package));
      return out;
    });
  }

  std::optional<VersionRecord> get(const std::string& package, std::uint64_t version) override {
    return run("read version", Mode::Read, [&]() -> std::optional<VersionRecord> {
      auto r = exec(fmt::format("SELECT {} FROM {}.versions WHERE package = $1 AND version = $2::bigint", kColumns, s_),
                    {package, std::to_string(to_db(version, "version"))});
      if (PQntuples(r.get()) == 0) return std::nullopt;
      return read_record(r.get(), 0);
    });
  }

  std::vector<VersionRecord> records(const std::string& package) override {
    return run("read versions", Mode::Read, [&] {
      auto r =
          exec(fmt::format("SELECT {} FROM {}.versions WHERE package = $1 ORDER BY version", kColumns, s_), {package});
      std::vector<VersionRecord> out;
      for (int i = 0; i < PQntuples(r.get()); ++i) out.push_back(read_record(r.get(), i));
      return out;
    });
  }

  std::optional<std::uint64_t> latest(const std::string& package) override {
    return run("read latest", Mode::Read, [&]() -> std::optional<std::uint64_t> {
      auto r = exec(fmt::format("SELECT max(version) FROM {}.versions WHERE package = $1", s_), {package});
      if (PQntuples(r.get()) == 0 || PQgetisnull(r.get(), 0, 0)) return std::nullopt;
      return number(r.get(), 0, 0, package);
    });
  }

  std::uint64_t add(const VersionRecord& record) override {
    auto params = record_params(record);
    params.erase(params.begin() + 1);  // no version: the counter assigns it
    return run("add", Mode::Add, [&] {
      auto r = exec(fmt::format("WITH n AS ("
                                "INSERT INTO {0}.packages AS p (name, next_version) VALUES ($1, 2) "
                                "ON CONFLICT (name) DO UPDATE SET next_version = p.next_version + 1 "
                                "RETURNING p.next_version - 1 AS version) "
                                "INSERT INTO {0}.versions (package, version, sha256, size, basename, mode, created, "
                                "metadata) SELECT $1, n.version, $2::text, $3::bigint, $4::text, $5::integer, "
                                "$6::bigint, $7::jsonb FROM n RETURNING version",
                                s_),
                    params);
      if (PQntuples(r.get()) != 1) throw Error(ErrorKind::Internal, where("add") + ": no version returned");
      return number(r.get(), 0, 0, record.package);
    });
  }

  void put_record(const VersionRecord& record) override {
    auto params = record_params(record);
    std::string next = std::to_string(to_db(record.version, "version") + 1);
    run("import", Mode::Write, [&] {
      Transaction tx(*this);
      // The counter first: it takes the row lock `add` takes, in the same order.
      exec(fmt::format("INSERT INTO {0}.packages AS p (name, next_version) VALUES ($1, $2::bigint) "
                       "ON CONFLICT (name) DO UPDATE SET next_version = GREATEST(p.next_version, "
                       "EXCLUDED.next_version)",
                       s_),
           {record.package, next});
      auto r = exec(fmt::format("INSERT INTO {}.versions (package, version, sha256, size, basename, mode, created, "
                                "metadata) VALUES ($1, $2::bigint, $3::text, $4::bigint, $5::text, $6::integer, "
                                "$7::bigint, $8::jsonb) ON CONFLICT (package, version) DO NOTHING",
                                s_),
                    params);
      if (std::string_view(PQcmdTuples(r.get())) == "1") {
        tx.commit();
        return 0;
      }
      auto existing =
          exec(fmt::format("SELECT {} FROM {}.versions WHERE package = $1 AND version = $2::bigint", kColumns, s_),
               {params[0], params[1]});
      if (PQntuples(existing.get()) == 1 && read_record(existing.get(), 0) == record) return 0;
      throw Error(ErrorKind::Conflict,
                  fmt::format("{} version {} already exists with other content", record.package, record.version));
    });
  }

  bool remove_version(const std::string& package, std::uint64_t version) override {
    std::string v = std::to_string(to_db(version, "version"));
    return run("remove", Mode::Remove, [&] {
      try {
        auto r =
            exec(fmt::format("DELETE FROM {}.versions WHERE package = $1 AND version = $2::bigint", s_), {package, v});
        return std::string_view(PQcmdTuples(r.get())) != "0";
      } catch (const SqlFailure& f) {
        if (f.state != "23503") throw;  // foreign_key_violation: a tag points here
      }
      auto t = exec(fmt::format("SELECT tag FROM {}.tags WHERE package = $1 AND version = $2::bigint "
                                "ORDER BY tag COLLATE \"C\" LIMIT 1",
                                s_),
                    {package, v});
      std::string tag = PQntuples(t.get()) ? printable(PQgetvalue(t.get(), 0, 0)) : std::string("by a tag");
      throw Error(ErrorKind::Conflict,
                  fmt::format("{} version {} is tagged '{}': untag it first", package, version, tag));
    });
  }

  std::map<std::string, std::uint64_t> tags(const std::string& package) override {
    return run("list tags", Mode::Read, [&] {
      auto r = exec(fmt::format("SELECT tag, version FROM {}.tags WHERE package = $1", s_), {package});
      std::map<std::string, std::uint64_t> out;
      for (int i = 0; i < PQntuples(r.get()); ++i) {
        std::string tag = PQgetvalue(r.get(), i, 0);
        checked("tag name", tag, [&] { validate_user_tag(tag); });
        out[tag] = number(r.get(), i, 1, package + " tag " + tag);
      }
      return out;
    });
  }

  std::optional<std::uint64_t> tag(const std::string& package, const std::string& tag) override {
    return run("read tag", Mode::Read, [&]() -> std::optional<std::uint64_t> {
      auto r = exec(fmt::format("SELECT version FROM {}.tags WHERE package = $1 AND tag = $2", s_), {package, tag});
      if (PQntuples(r.get()) == 0) return std::nullopt;
      return number(r.get(), 0, 0, package + " tag " + tag);
    });
  }

  void set_tag(const std::string& package, const std::string& tag, std::uint64_t version) override {
    std::string v = std::to_string(to_db(version, "version"));
    run("tag", Mode::Write, [&] {
      try {
        exec(fmt::format("INSERT INTO {}.tags (package, tag, version) VALUES ($1, $2, $3::bigint) "
                         "ON CONFLICT (package, tag) DO UPDATE SET version = EXCLUDED.version",
                         s_),
             {package, tag, v});
      } catch (const SqlFailure& f) {
        if (f.state != "23503") throw;  // foreign_key_violation: no such version
        throw Error(ErrorKind::NotFound, fmt::format("{} has no version {}", package, version));
      }
      return 0;
    });
  }

  bool remove_tag(const std::string& package, const std::string& tag) override {
    return run("untag", Mode::Remove, [&] {
      auto r = exec(fmt::format("DELETE FROM {}.tags WHERE package = $1 AND tag = $2", s_), {package, tag});
      return std::string_view(PQcmdTuples(r.get())) != "0";
    });
  }

  std::string describe() const override { return redact_uri(uri_); }

 private:
  static constexpr const char* kColumns = "package, version, sha256, size, basename, mode, created, metadata::text";

  // What a missing schema/table means, and whether an operation whose connection
  // broke may be run again on a new one (only if running it twice is harmless):
  // Read    empty ledger, retried      Remove  nothing to remove, not retried
  // Write   created first, retried     Add     created first, not retried (the first
  //                                            attempt may have committed a version)
  enum class Mode { Read, Remove, Write, Add };

  class Transaction {
   public:
    explicit Transaction(PostgresLedger& l) : l_(l) { l_.exec("BEGIN", {}); }
    ~Transaction() {
      if (!done_ && l_.conn_ && PQstatus(l_.conn_) == CONNECTION_OK) PQclear(PQexec(l_.conn_, "ROLLBACK"));
    }
    void commit() {
      done_ = true;
      l_.exec("COMMIT", {});
    }

   private:
    PostgresLedger& l_;
    bool done_ = false;
  };

  std::string where(const char* what) const { return fmt::format("postgres {} {}", label_, what); }

  template <class F>
  auto run(const char* what, Mode mode, F&& fn) -> decltype(fn()) {
    using R = decltype(fn());
    bool create = false, reconnected = false;
    std::chrono::milliseconds delay(5);
    for (int attempt = 1;; ++attempt) {
      try {
        connect();
        if (create) ensure_schema();
        return fn();
      } catch (const ConnectionLost& lost) {
        if (reconnected || mode == Mode::Add || mode == Mode::Remove)
          throw Error(ErrorKind::Unavailable, fmt::format("postgres {}: {}", label_, lost.why));
        reconnected = true;  // e.g. the server restarted since our last statement
      } catch (const SqlFailure& f) {
        bool missing = f.state == "42P01" || f.state == "3F000";  // undefined_table, invalid_schema_name
        if (missing && (mode == Mode::Read || mode == Mode::Remove)) {
          if constexpr (std::is_void_v<R>)
            return;
          else
            return R{};
        }
        if (missing && !create) {
          create = true;
          continue;
        }
        // Serialization failure, deadlock, lock timeout; and concurrent CREATE ... IF NOT
        // EXISTS, which can still collide in the catalog (unique violation, duplicate schema/table).
        bool transient = f.state == "40001" || f.state == "40P01" || f.state == "55P03" ||
                         (f.creating_schema && (f.state == "23505" || f.state == "42P06" || f.state == "42P07"));
        if (!transient) throw to_error(what, f);
        if (attempt >= kMaxAttempts)
          throw Error(ErrorKind::Conflict,
                      fmt::format("{}: gave up after {} attempts: {}", where(what), attempt, f.message));
        std::uniform_int_distribution<long> jitter(delay.count() / 2, delay.count() * 3 / 2);
        std::this_thread::sleep_for(std::chrono::milliseconds(jitter(rng_)));
        delay = std::min(delay * 2, std::chrono::milliseconds(500));
      }
    }
  }

  Error to_error(const char* what, const SqlFailure& f) const {
    std::string msg = fmt::format("{}: {}", where(what), f.message);
    const std::string& s = f.state;
    auto cls = s.substr(0, 2);
    if (cls == "28" || s == "42501") return Error(ErrorKind::Denied, msg);
    if (cls == "08" || cls == "53" || cls == "57" || cls == "58" || s == "25006" || s == "55000")
      return Error(ErrorKind::Unavailable, msg);
    if (cls == "23") return Error(ErrorKind::Conflict, msg);
    if (cls == "22") return Error(ErrorKind::Invalid, msg);
    return Error(ErrorKind::Internal, msg + (s.empty() ? "" : " (SQLSTATE " + s + ")"));
  }

  void connect() {
    // An idle connection has nothing to read. If it has (the server's "terminating
    // connection" notice, or EOF after a restart or an idle timeout), replace it
    // before a statement goes into it and its outcome becomes unknown.
    if (conn_ && PQstatus(conn_) == CONNECTION_OK) {
      pollfd p{PQsocket(conn_), POLLIN, 0};
      if (poll(&p, 1, 0) == 0) return;
    }
    if (conn_) PQfinish(conn_);
    std::vector<const char*> k, v;
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      k.push_back(keys_[i].c_str());
      v.push_back(values_[i].c_str());
    }
    k.push_back(nullptr);
    v.push_back(nullptr);
    conn_ = PQconnectdbParams(k.data(), v.data(), 0);
    if (!conn_) throw Error(ErrorKind::Unavailable, fmt::format("postgres {}: out of memory", label_));
    if (PQstatus(conn_) == CONNECTION_OK) {
      PQsetNoticeProcessor(
          conn_, [](void*, const char*) {}, nullptr);  // "already exists, skipping"
      if (const char* h = PQhost(conn_); h && *h) label_ = fmt::format("{}:{}", h, PQport(conn_));
      return;
    }
    std::string why = first_line(PQerrorMessage(conn_));
    // libpq says 'connection to server at "127.0.0.1", port 5432 failed: <why>': keep <why>.
    if (auto p = why.find(" failed: "); why.rfind("connection to server", 0) == 0 && p != std::string::npos)
      why = why.substr(p + 9);
    for (const char* severity : {"FATAL:  ", "ERROR:  "})
      if (why.rfind(severity, 0) == 0) why = why.substr(std::strlen(severity));
    bool denied = PQconnectionNeedsPassword(conn_) || why.find("authentication failed") != std::string::npos ||
                  why.find("no pg_hba.conf entry") != std::string::npos ||
                  why.find("permission denied") != std::string::npos ||
                  (why.find("role \"") != std::string::npos && why.find("does not exist") != std::string::npos);
    bool no_db = why.find("database \"") != std::string::npos && why.find("does not exist") != std::string::npos;
    PQfinish(conn_);
    conn_ = nullptr;
    throw Error(denied  ? ErrorKind::Denied
                : no_db ? ErrorKind::Invalid
                        : ErrorKind::Unavailable,
                fmt::format("postgres {}: {}", label_, why));
  }

  // Runs one parameterized statement; throws SqlFailure for an SQL error and
  // ConnectionLost when the connection broke.
  Result exec(const std::string& sql, const std::vector<std::string>& params) {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    Result r(
        PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr, 0));
    auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return r;
    if (!r || PQstatus(conn_) != CONNECTION_OK) {
      std::string why = first_line(PQerrorMessage(conn_));
      PQfinish(conn_);
      conn_ = nullptr;
      throw ConnectionLost{why.empty() ? "connection lost" : why};
    }
    const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
    const char* primary = PQresultErrorField(r.get(), PG_DIAG_MESSAGE_PRIMARY);
    throw SqlFailure{state ? state : "", primary ? primary : first_line(PQresultErrorMessage(r.get()))};
  }

  void ensure_schema() {
    try {
      create_schema();
    } catch (SqlFailure& f) {
      f.creating_schema = true;
      throw;
    }
  }

  void create_schema() {
    Transaction tx(*this);
    exec("SELECT pg_advisory_xact_lock($1::bigint)", {lock_key_});
    exec(fmt::format("CREATE SCHEMA IF NOT EXISTS {}", s_), {});
    exec(fmt::format("CREATE TABLE IF NOT EXISTS {}.packages ("
                     "name TEXT PRIMARY KEY, "
                     "next_version BIGINT NOT NULL CHECK (next_version > 0))",
                     s_),
         {});
    exec(fmt::format("CREATE TABLE IF NOT EXISTS {}.versions ("
                     "package TEXT NOT NULL, "
                     "version BIGINT NOT NULL CHECK (version > 0), "
                     "sha256 TEXT NOT NULL, "
                     "size BIGINT NOT NULL CHECK (size >= 0), "
                     "basename TEXT NOT NULL, "
                     "mode INTEGER NOT NULL, "
                     "created BIGINT NOT NULL, "
                     "metadata JSONB NOT NULL, "
                     "PRIMARY KEY (package, version))",
                     s_),
         {});
    exec(fmt::format("CREATE TABLE IF NOT EXISTS {0}.tags ("
                     "package TEXT NOT NULL, "
                     "tag TEXT NOT NULL, "
                     "version BIGINT NOT NULL, "
                     "PRIMARY KEY (package, tag), "
                     "FOREIGN KEY (package, version) REFERENCES {0}.versions (package, version) ON DELETE RESTRICT)",
                     s_),
         {});
    exec(fmt::format("CREATE INDEX IF NOT EXISTS tags_by_version ON {}.tags (package, version)", s_), {});
    tx.commit();
  }

  // package, version, sha256, size, basename, mode, created, metadata — as text.
  static std::vector<std::string> record_params(const VersionRecord& r) {
    nlohmann::json meta = nlohmann::json::object();
    for (const auto& [k, v] : r.metadata) meta[k] = v;
    std::string meta_text;
    try {
      meta_text = meta.dump();
    } catch (const nlohmann::json::exception&) {
      throw Error(ErrorKind::Invalid, fmt::format("{} metadata: not valid UTF-8", r.package));
    }
    return {r.package,
            std::to_string(to_db(r.version, "version")),
            r.sha256,
            std::to_string(to_db(r.size, "size")),
            r.basename,
            std::to_string(r.mode),
            std::to_string(r.created),
            meta_text};
  }

  template <class F>
  void checked(const char* what, const std::string& value, F&& validate) const {
    try {
      validate();
    } catch (const Error& e) {
      throw Error(ErrorKind::Invalid,
                  fmt::format("{}: bad {} '{}' read back: {}", where("ledger"), what, printable(value), e.what()));
    }
  }

  std::int64_t integer(PGresult* r, int row, int col, const std::string& key) const {
    const char* text = PQgetvalue(r, row, col);
    std::string_view sv(text, static_cast<std::size_t>(PQgetlength(r, row, col)));
    std::int64_t out = 0;
    auto [p, ec] = std::from_chars(sv.data(), sv.data() + sv.size(), out);
    if (PQgetisnull(r, row, col) || ec != std::errc() || p != sv.data() + sv.size())
      throw Error(ErrorKind::Invalid, fmt::format("{}: malformed {} of {}: '{}'", where("ledger"), PQfname(r, col),
                                                  printable(key), printable(sv)));
    return out;
  }
  std::uint64_t number(PGresult* r, int row, int col, const std::string& key) const {
    auto v = integer(r, row, col, key);
    if (v <= 0)
      throw Error(ErrorKind::Invalid,
                  fmt::format("{}: malformed {} of {}: {}", where("ledger"), PQfname(r, col), printable(key), v));
    return static_cast<std::uint64_t>(v);
  }

  VersionRecord read_record(PGresult* res, int row) const {
    VersionRecord r;
    r.package = PQgetvalue(res, row, 0);
    r.version = number(res, row, 1, r.package);
    std::string key = fmt::format("{} version {}", printable(r.package), r.version);
    r.sha256 = PQgetvalue(res, row, 2);
    auto size = integer(res, row, 3, key);
    auto mode = integer(res, row, 5, key);
    if (size < 0 || mode < 0 || mode > 07777)
      throw Error(ErrorKind::Invalid, fmt::format("{}: malformed size or mode in {}", where("ledger"), key));
    r.size = static_cast<std::uint64_t>(size);
    r.basename = PQgetvalue(res, row, 4);
    r.mode = static_cast<std::uint32_t>(mode);
    r.created = integer(res, row, 6, key);
    try {
      auto meta = nlohmann::json::parse(PQgetvalue(res, row, 7));
      if (!meta.is_object()) throw Error(ErrorKind::Invalid, "metadata is not an object");
      for (const auto& [k, v] : meta.items()) r.metadata[k] = v.get<std::string>();
    } catch (const nlohmann::json::exception&) {
      throw Error(ErrorKind::Invalid, fmt::format("{}: malformed metadata in {}", where("ledger"), key));
    }
    checked("record", key, [&] { validate_record(r); });
    return r;
  }

  std::vector<std::string> keys_, values_;  // libpq connection keywords
  std::string uri_;
  std::string label_;     // host:port for messages
  std::string s_;         // the quoted schema name
  std::string lock_key_;  // advisory lock serializing DDL on this schema
  PGconn* conn_ = nullptr;
  std::mt19937_64 rng_;
};

}  // namespace

std::unique_ptr<Ledger> open_postgres_ledger(const Uri& uri) {
  auto bad = [&](const std::string& why) {
    return Error(ErrorKind::Invalid, fmt::format("invalid URI '{}': {}", printable(redact_uri(uri.text)), why));
  };
  std::vector<std::string> keys, values;
  auto set = [&](const std::string& k, const std::string& v) {
    keys.push_back(k);
    values.push_back(v);
  };

  // [user[:password]@]host[:port][,host[:port]...]
  std::string_view auth = uri.authority;
  std::string hosts_text(auth);
  if (auto at = auth.rfind('@'); at != std::string_view::npos) {
    Authority a = split_authority(std::string(auth.substr(0, at)) + "@x");
    if (!a.user.empty()) set("user", percent_decode(a.user));
    if (!a.password.empty()) set("password", percent_decode(a.password));
    hosts_text = std::string(auth.substr(at + 1));
  }
  std::string hosts, ports, label;
  bool any_host = false, any_port = false;
  for (std::size_t start = 0, n = 0; !hosts_text.empty(); ++n) {
    auto comma = hosts_text.find(',', start);
    Authority a = split_authority(hosts_text.substr(start, comma == std::string::npos ? comma : comma - start));
    std::string host = percent_decode(a.host);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host.empty() && a.port.empty()) throw bad("empty host in the host list");
    if (!a.port.empty() && (a.port.size() > 5 || a.port.find_first_not_of("0123456789") != std::string::npos ||
                            std::stoi(a.port) == 0 || std::stoi(a.port) > 65535))
      throw bad(fmt::format("bad port '{}'", printable(a.port)));
    std::string sep = n ? "," : "";
    hosts += sep + host;
    ports += sep + a.port;
    label += sep + (host.empty() ? "localhost" : host) + ":" + (a.port.empty() ? "5432" : a.port);
    any_host = any_host || !host.empty();
    any_port = any_port || !a.port.empty();
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (any_host) set("host", hosts);
  if (any_port) set("port", ports);
  if (label.empty()) label = "localhost:5432";
  std::string db = uri.path.empty() ? std::string() : uri.path.substr(1);
  if (db.find('/') != std::string::npos) throw bad("expected postgres://user@host:port/database");
  if (!db.empty()) set("dbname", db);
  set("fallback_application_name", "sacker");

  std::string schema = kDefaultSchema;
  bool has_timeout = false;
  PQconninfoOption* defaults = PQconndefaults();
  for (const auto& [k, v] : uri.query) {
    if (k == "schema") {
      schema = v;
      continue;
    }
    bool known = false;
    for (auto* o = defaults; o && o->keyword; ++o) known = known || k == o->keyword;
    if (!known) {
      PQconninfoFree(defaults);
      throw bad(fmt::format("unknown parameter '{}' (expected schema or a libpq connection keyword)", printable(k)));
    }
    has_timeout = has_timeout || k == "connect_timeout";
    set(k, v);
  }
  PQconninfoFree(defaults);
  if (!has_timeout) set("connect_timeout", "10");
  validate_schema_name(schema, uri.text);
  return std::make_unique<PostgresLedger>(std::move(keys), std::move(values), schema, uri.text, label);
}

}  // namespace sacker
