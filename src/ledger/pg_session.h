// One libpq connection for the PostgreSQL ledger: connecting with the URI's
// parameters, parameterized statements, transactions, and what a failure means.
//
// Contract in brief:
// - connect_params() turns a postgres:// URI into libpq's keywords (see there).
// - connect() opens the connection, or replaces one the server closed while it was
//   idle (a restart, an idle timeout, pg_terminate_backend), before a statement
//   goes into it. It throws Error: Denied (authentication, unknown role, pg_hba),
//   Invalid (the database does not exist), Unavailable (anything else). Messages
//   start with "postgres <host:port>" and never hold the password.
// - exec() throws SqlError for a statement the server refused and ConnectionLost
//   when the connection broke; the connection is then dropped and the next
//   connect() opens a new one.
// - A transaction whose connection broke before COMMIT was sent was rolled back by
//   the server: it is safe to run again. ConnectionLost::in_commit says the break
//   came during COMMIT: then the outcome is unknown.
// Thread-safety: one instance is used from one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kit/retry.h"
#include "kit/uri_options.h"
#include "sacker/error.h"
#include "sacker/uri.h"

struct pg_conn;
struct pg_result;

namespace sacker::pg {

// What PQconnectdbParams gets, and "host:port[,host:port...]" for messages.
struct ConnectParams {
  std::vector<std::pair<std::string, std::string>> keywords;
  std::string label;
};
// From [user[:password]@][host[:port][,host[:port]...]]/[dbname]: user and password
// percent-decoded, no host = libpq's default (PGHOST, the local socket). Every query
// option that is a libpq keyword (PQconndefaults) is taken from `options` and passed
// through, after the URI's own, so it wins; the caller takes its own options before
// and calls options.finish() after (an unknown option is refused there). Defaults:
// connect_timeout=10, fallback_application_name=sacker, and with several hosts
// target_session_attrs=read-write, so that a change never lands on a standby.
ConnectParams connect_params(const Uri& uri, UriOptions& options);

// A uint64 as a BIGINT parameter; Error(Invalid) above INT64_MAX - 1 (so that
// the number after it still fits).
std::string bigint(std::uint64_t value);
// Whether `name` can be double-quoted as an identifier without escaping:
// [A-Za-z_][A-Za-z0-9_-]*, at most 63 bytes (PostgreSQL's limit), not pg_* (the
// system's schemas).
bool plain_identifier(const std::string& name);

// What a refused statement means to the caller, from its SQLSTATE.
enum class Failure {
  Retryable,        // serialization failure, deadlock, lock timeout (40001, 40P01, 55P03): run it again
  UniqueViolation,  // 23505
  ForeignKey,       // 23503
  DuplicateObject,  // 42P06, 42P07: a concurrent CREATE ... IF NOT EXISTS collided
  Missing,          // no such schema, table or column (3F000, 42P01, 42703)
  Denied,           // class 28, insufficient privilege (42501)
  Unavailable,      // classes 08, 53, 57, 58; a read-only transaction (25006); 55000
  Invalid,          // class 22 (data exceptions)
  Other,
};
Failure classify(std::string_view sqlstate);
// The Error kind a failure becomes when nobody handles it (Retryable: Conflict).
ErrorKind kind_of(Failure failure);

struct SqlError {
  Failure failure = Failure::Other;
  std::string state;  // SQLSTATE; empty if the server sent none
  std::string message;
};

struct ConnectionLost {
  std::string why;
  bool in_commit = false;
};

// The rows of a statement, as text.
class Result {
 public:
  explicit Result(pg_result* r) : r_(r) {}
  int rows() const;
  int affected() const;  // rows an INSERT/UPDATE/DELETE changed
  bool is_null(int row, int col) const;
  std::string text(int row, int col) const;
  // A BIGINT/INTEGER column; nullopt for NULL or anything but a decimal.
  std::optional<std::int64_t> integer(int row, int col) const;
  const char* column(int col) const;

 private:
  struct Clear {
    void operator()(pg_result* r) const;
  };
  std::unique_ptr<pg_result, Clear> r_;
};

class Session {
 public:
  // params.label names the server in messages until a connection names its host.
  explicit Session(ConnectParams params);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void connect();
  Result exec(const std::string& sql, const std::vector<std::string>& params = {});
  // "postgres <host:port> <what>", how messages start.
  std::string where(std::string_view what) const;

  // Runs `attempt` on a connection connect() opened until it returns or fails for
  // good. A Retryable failure runs it again after the kit's contention backoff
  // (Error(Conflict) when that gives up). A connection lost before COMMIT runs it
  // again on a new connection, at most twice more (the server rolled the
  // transaction back, so nothing of it stays); one lost during COMMIT is
  // Error(Unavailable) saying the outcome is unknown. Any other SqlError goes to
  // `again` (true: run it again, for a caller that repaired something) and then
  // becomes Error(kind_of(failure)).
  template <class F, class G>
  auto run(std::string_view what, F&& attempt, G&& again) -> decltype(attempt());

  // BEGIN ... COMMIT; the destructor rolls back what was not committed.
  class Transaction {
   public:
    explicit Transaction(Session& s);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit();

   private:
    Session& s_;
    bool done_ = false;
  };

 private:
  static constexpr int kReconnects = 2;
  Error lost(std::string_view what, const ConnectionLost& why) const;
  Error failed(std::string_view what, const SqlError& why) const;
  void drop() noexcept;
  std::vector<std::pair<std::string, std::string>> keywords_;
  std::string label_;
  pg_conn* conn_ = nullptr;
};

template <class F, class G>
auto Session::run(std::string_view what, F&& attempt, G&& again) -> decltype(attempt()) {
  Retry retry(RetryPolicy::contention(), where(what));
  for (int reconnects = 0;;) {
    try {
      connect();
      return attempt();
    } catch (const ConnectionLost& why) {
      if (why.in_commit || ++reconnects > kReconnects) throw lost(what, why);
      retry.failed(FailureCause::ServerTrouble, why.why);
    } catch (const SqlError& why) {
      if (why.failure == Failure::Retryable)
        retry.failed(FailureCause::LostRace, why.message);
      else if (!again(why))
        throw failed(what, why);
    }
  }
}

}  // namespace sacker::pg
