// Commands that read: list, versions, tags, info, history, download, url, export.
#include <fmt/core.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "cli/command.h"
#include "cli/progress.h"
#include "core/codec.h"
#include "sacker/error.h"

namespace sacker::cli {
namespace {

void list(Session& s, const Args&) {
  auto packages = s.client().list();
  if (s.json()) return s.out().json({{"packages", packages}});
  for (const auto& p : packages) s.out().text(p);
}

void versions(Session& s, const Args& a) {
  auto versions = s.client().versions(a.package);
  if (s.json()) return s.out().json({{"package", a.package}, {"versions", versions}});
  for (auto v : versions) s.out().text(std::to_string(v));
}

// --json: {"package", "tags": {tag: version}, "last_event": {tag: event or null}}.
void tags(Session& s, const Args& a) {
  if (!s.json()) {  // one lookup, no history
    for (const auto& [tag, version] : s.client().tags(a.package)) s.out().text(fmt::format("{} {}", tag, version));
    return;
  }
  s.out().json(tags_json(a.package, s.client().tag_infos(a.package)));
}

void info(Session& s, const Args& a) {
  use_trust(s, a);
  auto info = s.client().info(a.package, spec_argument(a.spec));
  if (s.json()) return s.out().json(record_json(info.record, info.tags));
  s.out().text(record_human(info.record, info.tags));
}

void declare_history(CLI::App& c, Args& a) {
  package_arg(c, a);
  c.add_option_function<std::string>(
      "--tag", [&a](const std::string& t) { a.tag = t; }, "only the events of this tag");
  c.add_option("--limit", a.limit, "at most N events (the newest)");
  c.add_option("--before", a.before, "only events with a sequence number below SEQ (paging)");
}

void history(Session& s, const Args& a) {
  HistoryQuery query;
  if (!a.tag.empty()) query.tag = a.tag;
  query.limit = a.limit;
  query.before = a.before;
  auto events = s.client().history(a.package, query);
  if (s.json()) {
    Json array = Json::array();
    for (const auto& e : events) array.push_back(event_json(e));
    return s.out().json(array);
  }
  if (events.empty()) {
    if (!s.quiet()) s.out().text(fmt::format("{}: no events yet (history starts at the first change)", a.package));
    return;
  }
  s.out().text(history_human(events));
}

void declare_download(CLI::App& c, Args& a) {
  package_arg(c, a);
  spec_arg(c, a);
  c.add_option_function<std::string>(
      "-o,--output", [&a](const std::string& o) { a.output = o; },
      "destination file or directory; - for standard output (default: ./BASENAME)");
  c.add_flag("--verify-first", a.verify_first,
             "with -o -: spool and verify the whole blob before the first byte reaches standard output");
  c.add_flag("--no-resume", a.no_resume,
             "start from scratch and keep no partial file (by default an interrupted download of a blob over 8 MiB "
             "is continued by the next one)");
  trust_options(c, a);
  transfer_opts(c, a);
}

void download_to_stdout(Session& s, const Args& a, const Spec& spec) {
  auto progress = make_progress("download " + a.package, true);
  std::fflush(stdout);  // nothing buffered may follow the blob's bytes
  s.client().download_to_fd(a.package, spec, STDOUT_FILENO, a.verify_first, progress.get());
}

void download(Session& s, const Args& a) {
  use_trust(s, a);
  Spec spec = spec_argument(a.spec);
  if (a.output && a.output->empty())
    throw Error(ErrorKind::Invalid, "download: -o must not be empty (give a file, a directory, or - for stdout)");
  if (a.output == "-") return download_to_stdout(s, a, spec);
  if (a.verify_first)
    throw Error(ErrorKind::Invalid,
                "download: --verify-first is for -o - (a file is always verified before it appears)");
  // --json reports the path: one that is not UTF-8 cannot be written as JSON,
  // so it is refused before anything is written.
  if (s.json() && a.output && !codec::is_valid_utf8(*a.output))
    throw Error(ErrorKind::Invalid, "download: with --json the -o path must be valid UTF-8");
  auto progress = make_progress("download " + a.package, s.quiet());
  std::optional<std::filesystem::path> output;
  if (a.output) output = *a.output;
  DownloadOptions options;
  options.resume = !a.no_resume;
  const TransferOptions transfer = transfer_options(s, a);
  s.client().store().set_transfer_options(transfer);
  options.chunk_size = transfer.part_size;
  auto result = s.client().download(a.package, spec, output, progress.get(), options);
  const auto& r = result.record;
  if (s.json())
    return s.out().json({{"package", r.package},
                         {"version", r.version},
                         {"sha256", r.sha256},
                         {"size", r.size},
                         {"path", result.destination.string()},
                         {"transferred", result.transferred},
                         {"bytes_transferred", result.bytes_transferred},
                         {"resumed_from", result.resumed_from},
                         {"bytes_hashed", result.bytes_hashed}});
  if (!s.quiet())
    s.out().text(fmt::format("{} {} -> {} ({}{})", r.package, r.version, result.destination.string(),
                             human_size(r.size), result.transferred ? "" : ", already up to date"));
}

void declare_url(CLI::App& c, Args& a) {
  package_arg(c, a);
  spec_arg(c, a);
  c.add_option("--expires", a.expires, "how long the URL works (default 1h)");
  trust_options(c, a);
}

void url(Session& s, const Args& a) {
  use_trust(s, a);
  auto url = s.client().presigned_url(a.package, spec_argument(a.spec), parse_duration_seconds(a.expires));
  if (s.json()) return s.out().json({{"url", url}});
  s.out().text(url);
}

void export_ledger(Session& s, const Args&) { s.client().export_jsonl(std::cout); }

void declare_package_spec(CLI::App& c, Args& a) {
  package_arg(c, a);
  spec_arg(c, a);
  trust_options(c, a);
}

}  // namespace

const std::vector<Command>& read_commands() {
  static const std::vector<Command> commands = {
      {"list", "all packages in the ledger", "sacker list", "sacker list", no_options, list},
      {"versions", "versions of a package, ascending", "sacker versions <pkg>", "sacker versions frontend-server",
       package_arg, versions},
      {"tags", "tags with the version each points to (\"latest\" included)", "sacker tags <pkg>",
       "sacker --json tags frontend-server", package_arg, tags},
      {"info", "the record at spec (a version number or a tag), with its tags",
       "sacker info <pkg> <spec> [--trust FILE] [--allow-rollback]", "sacker info frontend-server live",
       declare_package_spec, info},
      {"history", "the package's events, newest first: adds, tag moves, removes (who, when, why)",
       "sacker history <pkg> [--tag T] [--limit N] [--before SEQ]", "sacker history frontend-server --tag live",
       declare_history, history},
      {"download", "fetch, verify sha256 and place atomically",
       "sacker download <pkg> <spec> [-o PATH|DIR|-] [--trust FILE] [--allow-rollback]",
       "sacker download frontend-server live -o /srv/app/", declare_download, download},
      {"url", "a presigned download URL (stores that support it)", "sacker url <pkg> <spec> [--expires 1h]",
       "sacker url frontend-server live --expires 15m", declare_url, url},
      {"export", "write the whole ledger (versions, tags, history) as JSON Lines to standard output",
       "sacker export > backup.jsonl", "sacker export > ledger-backup.jsonl", no_options, export_ledger},
  };
  return commands;
}

}  // namespace sacker::cli
