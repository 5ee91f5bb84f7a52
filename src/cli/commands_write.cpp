// Commands that change the ledger: add, tag, untag, rollback, remove, import.
// Each change records one event with the actor (--actor) and --comment.
#include <fmt/core.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <fstream>
#include <iostream>

#include "cli/command.h"
#include "cli/progress.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker::cli {
namespace {

void expect_opt(CLI::App& c, Args& a) {
  c.add_option_function<std::string>(
      "--expect", [&a](const std::string& e) { a.expect = e; },
      "change the tag only if it points to VERSION now (none: only if it does not exist); else exit 4");
}

Json event_or_null(const std::optional<Event>& e) { return e ? event_json(*e) : Json(); }

Metadata parse_meta(const std::vector<std::string>& items) {
  Metadata m;
  for (const auto& item : items) {
    auto eq = item.find('=');
    if (eq == std::string::npos)
      throw Error(ErrorKind::Invalid, fmt::format("invalid --meta '{}': expected key=value", printable(item)));
    std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    validate_metadata_key(key);
    validate_metadata_value(value);
    if (!m.emplace(key, value).second)
      throw Error(ErrorKind::Invalid, fmt::format("--meta {}: given twice (each key once)", key));
  }
  return m;
}

void declare_add(CLI::App& c, Args& a) {
  package_arg(c, a);
  c.add_option("file", a.file, "the file, or - for standard input")->required();
  c.add_option("--meta", a.meta, "metadata key=value (repeatable, each key once)");
  c.add_option("--tag", a.tags, "tag the new version (repeatable)");
  c.add_option_function<std::string>(
      "--name", [&a](const std::string& n) { a.name = n; },
      "basename recorded for download (default: the file's name; stdin: the package name)");
  comment_opt(c, a);
  sign_option(c, a);
  transfer_opts(c, a);
}

void add(Session& s, const Args& a) {
  AddRequest request;
  request.package = a.package;
  request.source = a.file;
  if (a.name) validate_basename(*a.name);
  request.basename = a.name;
  request.metadata = parse_meta(a.meta);
  request.tags = a.tags;
  request.comment = a.comment;
  use_signing_key(s, a);
  auto progress = make_progress("upload " + a.package, s.quiet());
  s.client().store().set_transfer_options(transfer_options(s, a));
  auto result = s.client().add(request, progress.get());
  if (s.json()) {
    std::vector<std::string> tags;
    try {
      tags = s.client().info(a.package, Spec{Spec::Kind::Version, result.record.version, ""}).tags;
    } catch (const Error& e) {
      // Write-only CI credentials may add but not read tags: report the tags this add set.
      if (e.kind() != ErrorKind::Denied) throw;
      tags = request.tags;
    }
    return s.out().json(record_json(result.record, tags));
  }
  s.out().text(std::to_string(result.record.version));
  if (s.verbose())
    report_line(fmt::format("{} {}, {}", result.uploaded ? "uploaded" : "store already had", result.record.sha256,
                            human_size(result.record.size)));
}

void declare_tag(CLI::App& c, Args& a) {
  package_arg(c, a);
  c.add_option("version", a.version, "the version number")->required();
  c.add_option("tag", a.tag, "the tag, e.g. live")->required();
  comment_opt(c, a);
  expect_opt(c, a);
  sign_option(c, a);
}

void tag(Session& s, const Args& a) {
  const auto version = parse_version(a.version);
  use_signing_key(s, a);
  auto event = s.client().tag(TagRequest{a.package, version, a.tag, a.comment, expect_argument(a.expect)});
  if (s.json())
    return s.out().json({{"package", a.package},
                         {"tags", {{a.tag, version}}},
                         {"changed", event.has_value()},
                         {"event", event_or_null(event)}});
  if (s.quiet()) return;
  if (!event) return s.out().text(fmt::format("{}: {} already points to {}", a.package, a.tag, version));
  std::string was = event->previous ? fmt::format(" (was {})", *event->previous) : "";
  s.out().text(fmt::format("{} {} tagged {}{}", a.package, version, a.tag, was));
}

void declare_untag(CLI::App& c, Args& a) {
  package_arg(c, a);
  c.add_option("tag", a.tag, "the tag to remove")->required();
  comment_opt(c, a);
  expect_opt(c, a);
}

void untag(Session& s, const Args& a) {
  auto event = s.client().untag(a.package, a.tag, a.comment, expect_argument(a.expect));
  if (s.json()) return s.out().json({{"package", a.package}, {"untagged", a.tag}, {"event", event_json(event)}});
  if (s.quiet()) return;
  std::string was = event.previous ? fmt::format(" (it pointed to {})", *event.previous) : "";
  s.out().text(fmt::format("{}: removed tag {}{}", a.package, a.tag, was));
}

void declare_rollback(CLI::App& c, Args& a) {
  package_arg(c, a);
  c.add_option("tag", a.tag, "the tag to move back")->required();
  comment_opt(c, a);
  sign_option(c, a);
}

void rollback(Session& s, const Args& a) {
  use_signing_key(s, a);
  const Event event = s.client().rollback(a.package, a.tag, a.comment).event;
  if (s.json())
    return s.out().json({{"package", a.package},
                         {"tag", a.tag},
                         {"version", event.version},
                         {"previous", event.previous ? Json(*event.previous) : Json()},
                         {"event", event_json(event)}});
  if (s.quiet()) return;
  std::string from = event.previous ? fmt::format("{} -> ", *event.previous) : "";
  s.out().text(fmt::format("{}: {} rolled back, {}{}", a.package, a.tag, from, event.version));
}

void declare_remove(CLI::App& c, Args& a) {
  package_arg(c, a);
  c.add_option("version", a.version, "the version number")->required();
  comment_opt(c, a);
}

void remove(Session& s, const Args& a) {
  const auto version = parse_version(a.version);
  auto event = s.client().remove(a.package, version, a.comment);
  if (s.json()) return s.out().json({{"package", a.package}, {"removed", version}, {"event", event_json(event)}});
  if (!s.quiet()) s.out().text(fmt::format("{}: removed version {} (the blob stays until gc)", a.package, version));
}

void declare_import(CLI::App& c, Args& a) { c.add_option("file", a.file, "a file from export (default: stdin)"); }

ImportReport import_file(Client& client, const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw_errno("cannot import " + path, errno);
  if (S_ISDIR(st.st_mode))
    throw Error(ErrorKind::Invalid, fmt::format("cannot import {}: is a directory, not a file", path));
  std::ifstream in(path);
  if (!in) throw_errno("cannot import " + path, errno);
  auto report = client.import_jsonl(in);
  if (in.bad()) throw Error(ErrorKind::LocalIO, fmt::format("cannot import {}: a read failed", path));
  return report;
}

void import_ledger(Session& s, const Args& a) {
  ImportReport report =
      a.file.empty() || a.file == "-" ? s.client().import_jsonl(std::cin) : import_file(s.client(), a.file);
  if (s.json())
    return s.out().json({{"versions", report.versions},
                         {"tags", report.tags},
                         {"events", report.events},
                         {"unchanged", report.unchanged}});
  if (!s.quiet())
    s.out().text(fmt::format("imported {} versions, {} tags and {} events ({} already there)", report.versions,
                             report.tags, report.events, report.unchanged));
}

}  // namespace

const std::vector<Command>& write_commands() {
  static const std::vector<Command> commands = {
      {"add", "upload if missing, record a new version, print its number",
       "sacker add <pkg> <file|-> [--meta K=V]... [--tag T]... [--name BASENAME] [--comment TEXT] [--sign KEY]",
       "sacker add frontend-server build/frontend-server.jar --meta commit=$GIT_SHA --comment \"nightly\"", declare_add,
       add},
      {"tag", "point a tag at a version (a compare-and-swap with --expect)",
       "sacker tag <pkg> <version> <tag> [--comment TEXT] [--expect VERSION|none] [--sign KEY]",
       "sacker tag frontend-server 23 live --expect 22 --comment \"canary ok\"", declare_tag, tag},
      {"untag", "remove a tag", "sacker untag <pkg> <tag> [--comment TEXT] [--expect VERSION]",
       "sacker untag frontend-server devel --comment \"branch merged\"", declare_untag, untag},
      {"rollback", "move a tag back to where it pointed before its latest move",
       "sacker rollback <pkg> <tag> [--comment TEXT] [--sign KEY]",
       "sacker rollback frontend-server live --comment \"error rate up\"", declare_rollback, rollback},
      {"remove", "drop a version record (not the blob); refused while a tag points at it",
       "sacker remove <pkg> <version> [--comment TEXT]", "sacker remove frontend-server 21 --comment \"broken build\"",
       declare_remove, remove},
      {"import", "read JSON Lines from export into the ledger, all or nothing", "sacker import [FILE|-]",
       "sacker import ledger-backup.jsonl", declare_import, import_ledger},
  };
  return commands;
}

}  // namespace sacker::cli
