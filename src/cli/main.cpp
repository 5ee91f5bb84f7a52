// sacker's command line, the edge: the parser built from the command table,
// dispatch, and the one place where a failure becomes an exit code.
#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/output.h"
#include "cli/reference.h"
#include "core/files.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker::cli {
namespace {

constexpr const char* kGlobals =
    "Global options (--ledger, --store, --config, --actor, --json, -q, -v) go before or after the command.";

constexpr const char* kWorkflow =
    "The canary workflow:\n"
    "  sacker add frontend-server build/frontend-server.jar    # CI; prints the new version, e.g. 23\n"
    "  sacker download frontend-server latest                  # cron on staging\n"
    "  sacker tag frontend-server 23 live --comment \"canary ok\"  # promotion\n"
    "  sacker download frontend-server live                    # production\n"
    "  sacker history frontend-server --tag live               # who moved live, when, why\n"
    "  sacker rollback frontend-server live                    # undo the last promotion\n";

// A command's help starts with the usage line from the table.
class Formatter final : public CLI::Formatter {
 public:
  std::string make_usage(const CLI::App* app, std::string name) const override {
    if (app->get_parent() != nullptr)
      if (const Command* c = find_command(app->get_name())) return fmt::format("Usage: {}\n", c->usage);
    return CLI::Formatter::make_usage(app, std::move(name));
  }
};

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

Error unknown_command(const std::string& word) {
  const Command* best = nullptr;
  std::size_t best_distance = 3;  // at most two typos
  for (const auto& c : command_table()) {
    std::size_t d = std::string_view(c.name).rfind(word, 0) == 0 && word.size() >= 2 ? 1 : edit_distance(word, c.name);
    if (d < best_distance) best = &c, best_distance = d;
  }
  if (best)
    return Error(ErrorKind::Invalid,
                 fmt::format("unknown command '{}'; did you mean {}?", printable(word), best->name));
  return Error(ErrorKind::Invalid, fmt::format("unknown command '{}' ('sacker help' lists them)", printable(word)));
}

std::string overview() {
  std::string out = fmt::format(
      "sacker: package -> version -> sha256 in a ledger, blobs in a store\n\n"
      "Usage: sacker [--ledger URI] [--store URI] [--config FILE] [--actor NAME] [--json] [-q|-v] <command> ...\n\n"
      "Commands:\n");
  std::size_t width = 0;
  for (const auto& c : command_table()) width = std::max(width, std::string_view(c.name).size());
  for (const auto& c : command_table()) out += fmt::format("  {:<{}}  {}\n", c.name, width, c.help);
  return out + "\n" + kWorkflow +
         "\n'sacker help COMMAND' shows a command's usage, options and an example; 'sacker --help' every option.\n";
}

// A closed stdout must stay a failed write (exit 8), and no file a command opens
// may become fd 0, 1 or 2: a closed one is reopened on /dev/null in the wrong
// direction, so every read or write on it fails with EBADF.
void guard_standard_descriptors() {
  for (int fd = 0; fd <= 2; ++fd)
    if (::fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
      int got = ::open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY);
      if (got >= 0 && got != fd) {
        ::dup2(got, fd);
        ::close(got);
      }
    }
}

class Parser {
 public:
  Parser(int argc, char** argv) : app_("sacker: package -> version -> sha256 in a ledger, blobs in a store", "sacker") {
    app_.formatter(std::make_shared<Formatter>());
    app_.set_version_flag("--version", "sacker");
    app_.fallthrough();
    auto text = [](std::optional<std::string>& field) { return [&field](const std::string& v) { field = v; }; };
    app_.add_option_function<std::string>("--ledger", text(g_.ledger),
                                          "ledger URI (else $SACKER_LEDGER, the config file, the default)");
    app_.add_option_function<std::string>("--store", text(g_.store),
                                          "store URI (else $SACKER_STORE, the config file, the default)");
    app_.add_option_function<std::string>("--config", text(g_.config),
                                          "config file (else $SACKER_CONFIG, ~/.sacker.json)");
    app_.add_option_function<std::string>("--actor", text(g_.actor),
                                          "who makes the change, for history (else $SACKER_ACTOR, the CI, user@host)");
    app_.add_flag("--json", g_.json, "print one JSON document");
    app_.add_flag("-q,--quiet", g_.quiet, "print nothing but results and errors; no progress bar");
    app_.add_flag("-v,--verbose", g_.verbose, "say which backends are used and what happened");
    // Only the command asked for, when there is one: declaring all of them with their
    // options was most of a short command's start-up (1.9 M of 4.3 M instructions).
    // `help`, the man page, completion and no command at all need every one.
    // `sacker --version` needs none.
    const Command* only = nullptr;
    bool none = false;
    if (auto at = command_word(argc, argv)) {
      only = find_command(argv[*at]);
      if (only && std::string_view(only->name) == "help") only = nullptr;
    } else {
      none = std::any_of(argv + 1, argv + argc, [](const char* a) { return std::string_view(a) == "--version"; }) &&
             std::none_of(argv + 1, argv + argc, [](const char* a) {
               std::string_view w(a);
               return w == "-h" || w == "--help" || w == "--help-all";
             });
    }
    const std::string codes = none ? "" : exit_codes_line();
    app_.footer(std::string(kWorkflow) + "\n" + codes);
    for (const auto& c : command_table()) {
      if (none || (only && &c != only)) continue;
      auto* sub = app_.add_subcommand(c.name, c.help);
      sub->footer(fmt::format("Example:\n  {}\n\n{}\n{}", c.example, kGlobals, codes));
      c.declare(*sub, a_);
    }
  }

  void run(int argc, char** argv, Output& out) {
    if (argc <= 1) return out.text(overview());
    // Hidden, not in the table: the build's man page generator and the bash completion.
    if (std::string_view(argv[1]) == "__man") return out.text(man_page(app_));
    if (std::string_view(argv[1]) == "__complete") return complete(argc, argv, out);
    // `sacker help add`: CLI11 would take "add" for the add command and parse it.
    if (auto at = command_word(argc, argv); at && std::string_view(argv[*at]) == "help") {
      if (argc - *at > 2) throw Error(ErrorKind::Invalid, "usage: sacker help [COMMAND]");
      a_.command = *at + 1 < argc ? argv[*at + 1] : "";
      return dispatch("help", out);
    }
    try {
      app_.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
      return out.text(app_.help());
    } catch (const CLI::CallForAllHelp&) {
      return out.text(app_.help("", CLI::AppFormatMode::All));
    } catch (const CLI::CallForVersion&) {
      return out.text(version_text());
    } catch (const CLI::ParseError& e) {
      throw usage_error(e);
    }
    auto chosen = app_.get_subcommands();
    if (chosen.empty()) throw Error(ErrorKind::Invalid, "no command given ('sacker help' lists them)");
    dispatch(chosen.front()->get_name(), out);
  }

 private:
  void dispatch(const std::string& name, Output& out) {
    Session session(g_, out, [this](const std::string& command) { return help(command); });
    find_command(name)->run(session, a_);
  }

  // `sacker __complete CWORD sacker WORD...`: one candidate a line, nothing on any error.
  void complete(int argc, char** argv, Output& out) const {
    if (argc < 3) return;
    std::size_t cword = 0;
    for (const char* p = argv[2]; *p; ++p) {
      if (*p < '0' || *p > '9' || cword > 1000) return;
      cword = cword * 10 + static_cast<std::size_t>(*p - '0');
    }
    std::vector<std::string> words(argv + 3, argv + argc);
    std::string text;
    for (const auto& c : completions(app_, words, cword)) text += c + "\n";
    if (!text.empty()) text.pop_back();
    if (!text.empty()) out.text(text);
  }

  // The index of the first word that is neither a global option nor its value.
  std::optional<int> command_word(int argc, char** argv) const {
    for (int i = 1; i < argc; ++i) {
      std::string_view word = argv[i];
      if (word.empty() || word[0] != '-') return i;
      if (word == "--") return i + 1 < argc ? std::optional(i + 1) : std::nullopt;
      if (word.find('=') != std::string_view::npos) continue;
      const CLI::Option* option = app_.get_option_no_throw(std::string(word));
      if (option && option->get_items_expected_min() > 0) ++i;  // --ledger URI
    }
    return std::nullopt;
  }

  std::string help(const std::string& name) const {
    if (name.empty()) return overview();
    if (!find_command(name)) throw unknown_command(name);
    return app_.get_subcommand(name)->help("sacker");
  }

  Error usage_error(const CLI::ParseError& e) const {
    auto chosen = app_.get_subcommands();
    if (chosen.empty())
      for (const auto& word : app_.remaining())
        if (!word.empty() && word[0] != '-') return unknown_command(word);
    std::string see = chosen.empty() ? "sacker help" : "sacker help " + chosen.front()->get_name();
    return Error(ErrorKind::Invalid, fmt::format("usage: {} (see '{}')", e.what(), see));
  }

  Globals g_;
  Args a_;
  CLI::App app_;
};

// The kind and message of whatever a command threw.
std::pair<ErrorKind, std::string> classify(const std::exception_ptr& failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const Error& e) {
    return {e.kind(), e.what()};
  } catch (const nlohmann::json::type_error& e) {
    // 316: a string that is not UTF-8 reached a JSON writer (hostile input).
    if (e.id == 316) return {ErrorKind::Invalid, fmt::format("cannot write JSON: {}", e.what())};
    return {ErrorKind::Internal, fmt::format("internal error: {}", e.what())};
  } catch (const std::filesystem::filesystem_error& e) {
    return {kind_from_errno(e.code().value()), e.what()};
  } catch (const std::exception& e) {
    return {ErrorKind::Internal, fmt::format("internal error: {}", e.what())};
  } catch (...) {
    return {ErrorKind::Internal, "internal error: an unknown exception"};
  }
}

}  // namespace
}  // namespace sacker::cli

int main(int argc, char** argv) {
  using namespace sacker;
  cli::guard_standard_descriptors();
  std::signal(SIGPIPE, SIG_IGN);  // a closed pipe is a write error (exit 8), not a silent death
  install_cleanup_on_signals();   // SIGINT/SIGTERM/SIGHUP remove this process's temp files first
  cli::Output out;
  try {
    cli::Parser(argc, argv).run(argc, argv, out);
    out.finish();
    return 0;
  } catch (...) {
    auto [kind, message] = cli::classify(std::current_exception());
    std::fflush(stdout);  // what was printed before the failure comes before its line
    cli::report_line(message);
    return exit_code(kind);
  }
}
