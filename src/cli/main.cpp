// sacker's command line: argument parsing and the error -> exit code edge.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>

#include "cli/commands.h"
#include "sacker/error.h"

namespace {

constexpr const char* kExitCodes =
    "Exit codes: 0 ok, 1 internal error, 2 usage or invalid input, 3 not found, 4 conflict,\n"
    "5 integrity (sha256 mismatch), 6 permission denied, 7 backend unavailable, 8 local I/O error.";

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a closed pipe is a write error, not a silent death
  using sacker::cli::Args;
  using sacker::cli::Globals;
  Globals g;
  Args a;
  std::string ledger, store, config;

  CLI::App app{"sacker: records package -> version -> sha256 in a ledger, blobs in a store"};
  app.footer(kExitCodes);
  app.set_version_flag("--version", sacker::cli::version_text());
  app.require_subcommand(1);
  app.fallthrough();
  auto* ledger_opt = app.add_option("--ledger", ledger, "ledger URI (else $SACKER_LEDGER, config, default)");
  auto* store_opt = app.add_option("--store", store, "store URI (else $SACKER_STORE, config, default)");
  auto* config_opt = app.add_option("--config", config, "config file (else $SACKER_CONFIG, ~/.sacker.json)");
  app.add_flag("--json", g.json, "print one JSON document");
  app.add_flag("-q,--quiet", g.quiet, "print nothing but results and errors; no progress bar");
  app.add_flag("-v,--verbose", g.verbose, "say which backends are used and what happened");

  auto sub = [&](const char* name, const char* help) {
    auto* s = app.add_subcommand(name, help);
    s->footer(kExitCodes);
    return s;
  };
  sub("list", "all packages in the ledger");
  sub("versions", "versions of a package, ascending")->add_option("package", a.package)->required();
  sub("tags", "tags with the version each points to (\"latest\" included)")
      ->add_option("package", a.package)
      ->required();
  {
    auto* s = sub("info", "the record at spec (a version number or a tag)");
    s->add_option("package", a.package)->required();
    s->add_option("spec", a.spec, "version number or tag, e.g. 23, live, latest")->required();
  }
  {
    auto* s = sub("add", "upload if missing, record a new version, print it");
    s->add_option("package", a.package)->required();
    s->add_option("file", a.file, "the file, or - for standard input")->required();
    s->add_option("--meta", a.meta, "metadata key=value (repeatable)");
    s->add_option("--tag", a.tags, "tag the new version (repeatable)");
    s->add_option("--name", a.name, "basename recorded for download (default: the file's name)");
  }
  {
    auto* s = sub("download", "fetch, verify and place atomically");
    s->add_option("package", a.package)->required();
    s->add_option("spec", a.spec, "version number or tag, e.g. 23, live, latest")->required();
    s->add_option("-o,--output", a.output, "destination file or directory, - for standard output");
  }
  {
    auto* s = sub("tag", "point a tag at a version");
    s->add_option("package", a.package)->required();
    s->add_option("version", a.version)->required();
    s->add_option("tag", a.tag)->required();
  }
  {
    auto* s = sub("untag", "remove a tag");
    s->add_option("package", a.package)->required();
    s->add_option("tag", a.tag)->required();
  }
  {
    auto* s = sub("remove", "drop a version record (not the blob)");
    s->add_option("package", a.package)->required();
    s->add_option("version", a.version)->required();
  }
  sub("init", "create the tables, buckets or paths the backends need");
  {
    auto* s = sub("gc", "delete blobs no version references (older than the grace period)");
    s->add_flag("--dry-run", a.dry_run, "only say what would be deleted");
    s->add_option("--grace", a.grace, "keep unreferenced blobs younger than this (default 1h)");
  }
  sub("export", "write the whole ledger as JSON Lines to standard output");
  sub("import", "read JSON Lines (from export) into the ledger")->add_option("file", a.file, "file, default stdin");
  {
    auto* s = sub("url", "print a presigned download URL (stores that support it)");
    s->add_option("package", a.package)->required();
    s->add_option("spec", a.spec)->required();
    s->add_option("--expires", a.expires, "how long the URL works (default 1h)");
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "sacker: usage: %s (see sacker --help)\n", e.what());
    return 2;
  }
  if (*ledger_opt) g.ledger = ledger;
  if (*store_opt) g.store = store;
  if (*config_opt) g.config = config;
  auto* chosen = app.get_subcommands().front();
  if (chosen->get_name() == "download") a.output_set = chosen->count("--output") > 0;

  try {
    return sacker::cli::run_command(chosen->get_name(), g, a);
  } catch (const sacker::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "sacker: %s\n", e.what());
    return sacker::exit_code(e.kind());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sacker: internal error: %s\n", e.what());
    return 1;
  }
}
