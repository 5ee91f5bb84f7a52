// Commands that look after the backends: init, gc, prune, and help.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>

#include "cli/command.h"
#include "sacker/error.h"
#include "sacker/names.h"
#include "sacker/uri.h"

namespace sacker::cli {
namespace {

void init(Session& s, const Args&) {
  Client& client = s.client();
  client.init();
  if (s.json()) return s.out().json({{"ledger", client.ledger().describe()}, {"store", client.store().describe()}});
  if (!s.quiet())
    s.out().text(
        diagnostic(fmt::format("ready: ledger {}, store {}", client.ledger().describe(), client.store().describe())));
}

void declare_gc(CLI::App& c, Args& a) {
  c.add_flag("--dry-run", a.dry_run, "only say what would be deleted");
  c.add_option("--grace", a.grace, "keep unreferenced blobs younger than this (default 1h, at least 60s)");
}

void gc(Session& s, const Args& a) {
  auto report = s.client().gc(a.dry_run, parse_duration_seconds(a.grace));
  std::uint64_t bytes = 0;
  std::vector<std::string> shas;
  for (const auto& b : report.removed) {
    bytes += b.size;
    shas.push_back(b.sha256);
  }
  if (s.json())
    return s.out().json({{"dry_run", a.dry_run},
                         {"removed", shas},
                         {"bytes", bytes},
                         {"referenced", report.referenced},
                         {"young", report.young}});
  if (s.quiet()) return;
  const char* verb = a.dry_run ? "would remove" : "removed";
  for (const auto& sha : shas) s.out().text(fmt::format("{} {}", verb, sha));
  s.out().text(fmt::format("{} {} blobs ({}); kept {} referenced and {} younger than {}", verb, shas.size(),
                           human_size(bytes), report.referenced, report.young, a.grace));
}

void declare_prune(CLI::App& c, Args& a) {
  c.add_option("package", a.packages, "the packages to prune (or --all)");
  c.add_flag("--all", a.all, "every package in the ledger");
  c.add_option("--keep-last", a.keep_last, "keep the newest N versions of each package")->required();
  c.add_option_function<std::string>(
      "--keep-newer", [&a](const std::string& d) { a.keep_newer = d; },
      "also keep versions created within DURATION (e.g. 7d)");
  c.add_option("--keep-rollback", a.keep_rollback,
               "also keep the versions a tag pointed to in its last K moves (default 5)");
  c.add_flag("--apply", a.apply, "remove the version records (default: only print the plan)");
  c.add_option("--comment", a.comment, "why: recorded in each remove's event");
}

void prune(Session& s, const Args& a) {
  if (a.all == !a.packages.empty())
    throw Error(ErrorKind::Invalid, "prune: name the packages or give --all (not both)");
  PruneRequest request;
  request.packages = a.packages;
  request.keep_last = a.keep_last;
  request.keep_newer_seconds = a.keep_newer ? parse_duration_seconds(*a.keep_newer) : 0;
  request.keep_rollback = a.keep_rollback;
  request.apply = a.apply;
  request.comment = a.comment;
  auto report = s.client().prune(request);
  std::size_t planned = 0;
  for (const auto& d : report.decisions) planned += d.remove;
  if (s.json()) {
    Json decisions = Json::array();
    for (const auto& d : report.decisions)
      decisions.push_back({{"package", d.package}, {"version", d.version}, {"remove", d.remove}, {"reason", d.reason}});
    return s.out().json({{"apply", a.apply}, {"removed", report.removed}, {"decisions", decisions}});
  }
  std::vector<std::vector<std::string>> rows = {{"PACKAGE", "VERSION", "PLAN", "WHY"}};
  for (const auto& d : report.decisions)
    rows.push_back(
        {d.package, std::to_string(d.version), d.remove ? (a.apply ? "removed" : "remove") : "keep", d.reason});
  if (!report.decisions.empty()) s.out().text(table(rows));
  if (a.apply)
    s.out().text(fmt::format("removed {} of {} versions; gc removes their blobs after its grace period", report.removed,
                             report.decisions.size()));
  else
    s.out().text(fmt::format("would remove {} of {} versions; run again with --apply to remove them", planned,
                             report.decisions.size()));
}

void declare_uploads(CLI::App& c, Args& a) {
  c.add_flag("--abort", a.abort, "abort them (a killed add can then no longer resume)");
  c.add_option_function<std::string>(
      "--older-than", [&a](const std::string& d) { a.older_than = d; },
      "only uploads started more than DURATION ago (e.g. 7d)");
}

// Incomplete multipart uploads in the store (what killed adds left to resume).
void uploads(Session& s, const Args& a) {
  const std::int64_t min_age = a.older_than ? parse_duration_seconds(*a.older_than) : 0;
  const std::int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  Store& store = s.client().store();
  std::vector<IncompleteUpload> chosen;
  for (auto& u : store.incomplete_uploads())
    if (!a.older_than || (u.initiated != 0 && now - u.initiated >= min_age)) chosen.push_back(std::move(u));
  if (a.abort)
    for (const auto& u : chosen) store.abort_upload(u);
  if (s.json()) {
    Json list = Json::array();
    for (const auto& u : chosen)
      list.push_back({{"key", u.key}, {"upload_id", u.upload_id}, {"initiated", format_utc(u.initiated)}});
    return s.out().json({{"aborted", a.abort}, {"uploads", list}});
  }
  std::vector<std::vector<std::string>> rows = {{"KEY", "UPLOAD ID", "STARTED"}};
  for (const auto& u : chosen) rows.push_back({printable(u.key), printable(u.upload_id), format_utc(u.initiated)});
  if (!chosen.empty()) s.out().text(table(rows));
  if (!s.quiet())
    s.out().text(
        fmt::format("{} {} incomplete uploads in {}", a.abort ? "aborted" : "found", chosen.size(), store.describe()));
}

// Where a value came from, as a word: flag, env, file or default.
const char* origin_kind(const std::string& from) {
  if (from.rfind("--", 0) == 0) return "flag";
  if (from.rfind("SACKER_", 0) == 0) return "env";
  if (from == "default") return "default";
  return "file";
}

// The effective ledger and store and where each came from; never opens them.
// Every URI goes through redact_uri: a password in a URI is never printed.
void config(Session& s, const Args&) {
  const Config& c = s.config();
  std::error_code ec;  // resolve_config read it, or found it absent (or it was not looked for)
  const bool file_exists = !c.config_file.empty() && std::filesystem::exists(c.config_file, ec);
  std::vector<std::string> stores;
  for (const auto& uri : c.stores) stores.push_back(redact_uri(uri));
  auto from = [](const std::string& f) { return std::string(origin_kind(f)) == "file" ? "file " + f : f; };
  if (s.json())
    return s.out().json(
        {{"ledger", {{"uri", redact_uri(c.ledger)}, {"from", origin_kind(c.ledger_from)}, {"source", c.ledger_from}}},
         {"store", {{"uris", stores}, {"from", origin_kind(c.store_from)}, {"source", c.store_from}}},
         {"config_file", c.config_file.empty() ? Json() : Json(c.config_file)},
         {"config_file_exists", file_exists}});
  std::string store_text;
  for (const auto& uri : stores) store_text += (store_text.empty() ? "" : " ") + uri;
  s.out().text(fmt::format("ledger {}  ({})", printable(redact_uri(c.ledger)), printable(from(c.ledger_from))));
  s.out().text(fmt::format("store  {}  ({})", printable(store_text), printable(from(c.store_from))));
  if (!s.quiet() && !c.config_file.empty())
    s.out().text(fmt::format("config file {}{}", printable(c.config_file), file_exists ? "" : " (absent)"));
}

// main.cpp hands `help`'s words over unparsed: `sacker help add` must not run add's parser.
void declare_help(CLI::App& c, Args& a) { c.add_option("command", a.command, "the command to explain"); }

void help(Session& s, const Args& a) { s.out().text(s.help(a.command)); }

}  // namespace

const std::vector<Command>& admin_commands() {
  static const std::vector<Command> commands = {
      {"init", "create the tables, buckets or paths the backends need (idempotent)", "sacker init",
       "sacker --ledger postgres://sacker@db/artifacts init", no_options, init},
      {"gc", "delete blobs no version references (older than the grace period)", "sacker gc [--dry-run] [--grace 1h]",
       "sacker gc --dry-run", declare_gc, gc},
      {"prune", "retention: plan which version records to remove; --apply removes them",
       "sacker prune <pkg>...|--all --keep-last N [--keep-newer DURATION] [--keep-rollback K] [--apply]",
       "sacker prune frontend-server --keep-last 10 --keep-newer 30d", declare_prune, prune},
      {"uploads", "list (or --abort) the incomplete multipart uploads that killed adds left in the store",
       "sacker uploads [--abort] [--older-than DURATION]", "sacker uploads --abort --older-than 7d", declare_uploads,
       uploads},
      {"config", "the effective ledger and store and where each came from (flag, env, file, default)", "sacker config",
       "sacker --json config", no_options, config},
      {"help", "a command's usage, options and an example", "sacker help [COMMAND]", "sacker help tag", declare_help,
       help},
  };
  return commands;
}

}  // namespace sacker::cli
