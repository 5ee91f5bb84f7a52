#include "ledger/pg_session.h"

#include <fmt/core.h>
#include <libpq-fe.h>
#include <poll.h>

#include <cctype>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "core/codec.h"

namespace sacker::pg {
namespace {

std::string first_line(std::string text) {
  auto nl = text.find('\n');
  if (nl != std::string::npos) text.resize(nl);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\r')) text.pop_back();
  return text;
}

}  // namespace

ConnectParams connect_params(const Uri& uri, UriOptions& options) {
  ConnectParams out;
  auto& kw = out.keywords;
  const auto at = uri.authority.rfind('@');
  const bool no_host = uri.authority.size() == (at == std::string::npos ? 0 : at + 1);
  Uri with_host = uri;
  if (no_host) with_host.authority += "localhost";  // for the user and password alone
  const HostList list = parse_host_list(with_host, 5432);
  if (!list.user.empty()) kw.emplace_back("user", list.user);
  if (!list.password.empty()) kw.emplace_back("password", list.password);
  std::string hosts, ports;
  for (const auto& h : list.hosts) {
    const char* sep = hosts.empty() ? "" : ",";
    hosts += sep + h.host;
    ports += sep + std::to_string(h.port);
    out.label += fmt::format("{}{}:{}", sep, h.host, h.port);
  }
  if (!no_host) kw.insert(kw.end(), {{"host", hosts}, {"port", ports}});
  if (list.hosts.size() > 1) kw.emplace_back("target_session_attrs", "read-write");
  const std::string db = uri.path.empty() ? std::string() : uri.path.substr(1);
  if (db.find('/') != std::string::npos) throw_invalid_uri(uri, "expected postgres://user@host:port/database");
  if (!db.empty()) kw.emplace_back("dbname", db);
  kw.emplace_back("fallback_application_name", "sacker");
  kw.emplace_back("connect_timeout", "10");
  PQconninfoOption* defaults = PQconndefaults();
  for (auto* o = defaults; o && o->keyword; ++o)
    if (auto value = options.take(o->keyword)) kw.emplace_back(o->keyword, *value);
  PQconninfoFree(defaults);
  return out;
}

std::string bigint(std::uint64_t value) {
  if (value > static_cast<std::uint64_t>(INT64_MAX) - 1)
    throw Error(ErrorKind::Invalid, fmt::format("{} is too large for the postgres ledger", value));
  return std::to_string(value);
}

bool plain_identifier(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 63 && name.compare(0, 3, "pg_") != 0 &&
            (std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_');
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') ok = false;
  return ok;
}

Failure classify(std::string_view s) {
  const std::string_view cls = s.substr(0, 2);
  if (s == "40001" || s == "40P01" || s == "55P03") return Failure::Retryable;
  if (s == "23505") return Failure::UniqueViolation;
  if (s == "23503") return Failure::ForeignKey;
  if (s == "42P06" || s == "42P07") return Failure::DuplicateObject;
  if (s == "3F000" || s == "42P01" || s == "42703") return Failure::Missing;
  if (cls == "28" || s == "42501") return Failure::Denied;
  if (cls == "08" || cls == "53" || cls == "57" || cls == "58" || s == "25006" || s == "55000")
    return Failure::Unavailable;
  if (cls == "22") return Failure::Invalid;
  return Failure::Other;
}

ErrorKind kind_of(Failure f) {
  switch (f) {
    case Failure::Retryable:
    case Failure::UniqueViolation:
    case Failure::ForeignKey:
    case Failure::DuplicateObject: return ErrorKind::Conflict;
    case Failure::Denied: return ErrorKind::Denied;
    case Failure::Unavailable: return ErrorKind::Unavailable;
    case Failure::Invalid:
    case Failure::Missing: return ErrorKind::Invalid;
    case Failure::Other: return ErrorKind::Internal;
  }
  return ErrorKind::Internal;
}

void Result::Clear::operator()(pg_result* r) const { PQclear(r); }
int Result::rows() const { return PQntuples(r_.get()); }
int Result::affected() const { return std::atoi(PQcmdTuples(r_.get())); }
bool Result::is_null(int row, int col) const { return PQgetisnull(r_.get(), row, col); }
std::string Result::text(int row, int col) const {
  return std::string(PQgetvalue(r_.get(), row, col), static_cast<std::size_t>(PQgetlength(r_.get(), row, col)));
}
std::optional<std::int64_t> Result::integer(int row, int col) const {
  if (is_null(row, col)) return std::nullopt;
  return codec::parse_signed_decimal(text(row, col));
}
const char* Result::column(int col) const { return PQfname(r_.get(), col); }

Session::Session(ConnectParams params) : keywords_(std::move(params.keywords)), label_(std::move(params.label)) {}

Session::~Session() { drop(); }

void Session::drop() noexcept {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
}

void Session::connect() {
  // An idle connection has nothing to read. If it has (the server's "terminating
  // connection" notice, or EOF after a restart or an idle timeout), replace it
  // before a statement goes into it and its outcome becomes unknown.
  if (conn_ && PQstatus(conn_) == CONNECTION_OK) {
    pollfd p{PQsocket(conn_), POLLIN, 0};
    if (poll(&p, 1, 0) == 0) return;
  }
  drop();
  std::vector<const char*> k, v;
  for (const auto& [key, value] : keywords_) {
    k.push_back(key.c_str());
    v.push_back(value.c_str());
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
  const bool denied = PQconnectionNeedsPassword(conn_) || why.find("authentication failed") != std::string::npos ||
                      why.find("no pg_hba.conf entry") != std::string::npos ||
                      why.find("permission denied") != std::string::npos ||
                      (why.find("role \"") != std::string::npos && why.find("does not exist") != std::string::npos);
  const bool no_db = why.find("database \"") != std::string::npos && why.find("does not exist") != std::string::npos;
  drop();
  throw Error(denied  ? ErrorKind::Denied
              : no_db ? ErrorKind::Invalid
                      : ErrorKind::Unavailable,
              fmt::format("postgres {}: {}", label_, why));
}

Result Session::exec(const std::string& sql, const std::vector<std::string>& params) {
  if (!conn_) throw ConnectionLost{"not connected", false};
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  PGresult* raw =
      PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr, 0);
  Result r(raw);
  const auto status = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return r;
  if (!raw || PQstatus(conn_) != CONNECTION_OK) {
    std::string why = first_line(PQerrorMessage(conn_));
    drop();
    throw ConnectionLost{why.empty() ? "connection lost" : why, false};
  }
  const char* state = PQresultErrorField(raw, PG_DIAG_SQLSTATE);
  const char* primary = PQresultErrorField(raw, PG_DIAG_MESSAGE_PRIMARY);
  throw SqlError{classify(state ? state : ""), state ? state : "",
                 primary ? primary : first_line(PQresultErrorMessage(raw))};
}

std::string Session::where(std::string_view what) const { return fmt::format("postgres {} {}", label_, what); }

Error Session::lost(std::string_view what, const ConnectionLost& why) const {
  if (!why.in_commit) return Error(ErrorKind::Unavailable, fmt::format("{}: {}", where(what), why.why));
  return Error(ErrorKind::Unavailable,
               fmt::format("{}: the connection broke during COMMIT, the change may or may not have been made: {}",
                           where(what), why.why));
}

Error Session::failed(std::string_view what, const SqlError& why) const {
  const std::string state = why.failure == Failure::Other ? " (SQLSTATE " + why.state + ")" : "";
  return Error(kind_of(why.failure), fmt::format("{}: {}{}", where(what), why.message, state));
}

Session::Transaction::Transaction(Session& s) : s_(s) { s_.exec("BEGIN"); }

Session::Transaction::~Transaction() {
  if (!done_ && s_.conn_ && PQstatus(s_.conn_) == CONNECTION_OK) PQclear(PQexec(s_.conn_, "ROLLBACK"));
}

void Session::Transaction::commit() {
  done_ = true;
  try {
    s_.exec("COMMIT");
  } catch (ConnectionLost& lost) {
    lost.in_commit = true;
    throw;
  }
}

}  // namespace sacker::pg
