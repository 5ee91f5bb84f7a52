// The table, the session (the facade opened on first use) and the arguments the
// commands share.
#include <fmt/core.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/command.h"
#include "sacker/backends.h"
#include "sacker/config.h"
#include "sacker/error.h"
#include "sacker/log.h"
#include "sacker/names.h"
#include "sacker/uri.h"

namespace sacker::cli {

Session::Session(const Globals& globals, Output& out, std::function<std::string(const std::string&)> help)
    : globals_(globals), out_(out), help_(std::move(help)) {}
Session::~Session() = default;

const Config& Session::config() {
  if (!config_) config_ = resolve_config({globals_.ledger, globals_.store, globals_.config}, process_env());
  return *config_;
}

Client& Session::client() {
  if (client_) return *client_;
  const Config& config = this->config();
  if (globals_.verbose) {
    set_verbose_log([](const std::string& line) { report_line(line); });
    std::string stores;
    for (const auto& s : config.stores) stores += (stores.empty() ? "" : ", ") + redact_uri(s);
    report_line(fmt::format("ledger {}, store {} ({})", redact_uri(config.ledger), stores, config.source));
  }
  client_ = std::make_unique<Client>(open_ledger(config.ledger), open_store_chain(config.stores), Client::Clock{},
                                     identity(globals_));
  return *client_;
}

const std::vector<Command>& command_table() {
  static const std::vector<Command> table = [] {
    std::vector<Command> all;
    for (const auto* part :
         {&read_commands(), &write_commands(), &admin_commands(), &sign_commands(), &doctor_commands(),
          &serve_commands()})
      all.insert(all.end(), part->begin(), part->end());
    return all;
  }();
  return table;
}

const Command* find_command(const std::string& name) {
  for (const auto& c : command_table())
    if (name == c.name) return &c;
  return nullptr;
}

void package_arg(CLI::App& c, Args& a) { c.add_option("package", a.package, "the package name")->required(); }

void spec_arg(CLI::App& c, Args& a) {
  c.add_option("spec", a.spec, "a version number or a tag, e.g. 23, live, latest")->required();
}

void comment_opt(CLI::App& c, Args& a) {
  c.add_option("--comment", a.comment, "why: recorded in the event, shown by history");
}

void no_options(CLI::App&, Args&) {}

Spec spec_argument(const std::string& text) {
  // "-1" or "+3" would otherwise be judged as a tag name: say what a spec is.
  if (text.size() > 1 && (text[0] == '-' || text[0] == '+') &&
      text.find_first_not_of("0123456789", 1) == std::string::npos)
    throw Error(
        ErrorKind::Invalid,
        fmt::format("invalid spec '{}': a version number is positive (1, 2, 3, ...); a tag is a name like live", text));
  return parse_spec(text);
}

TagExpectation expect_argument(const std::optional<std::string>& text) {
  if (!text) return TagExpectation::any();
  if (*text == "none") return TagExpectation::absent();
  if (text->empty() || text->find_first_not_of("0123456789") != std::string::npos)
    throw Error(
        ErrorKind::Invalid,
        fmt::format("invalid --expect '{}': give the version the tag points to now, or none", printable(*text)));
  return TagExpectation::at(parse_version(*text));
}

std::string version_text() {
  std::string ledgers, stores;
  for (const auto& b : ledger_schemes()) ledgers += " " + std::string(b.scheme);
  for (const auto& b : store_schemes()) stores += " " + std::string(b.scheme);
  return fmt::format("sacker {}\nledgers:{}\nstores:{}\n", SACKER_VERSION, ledgers, stores);
}

ClientIdentity identity(const Globals& globals) {
  if (globals.actor && globals.actor->empty()) throw Error(ErrorKind::Invalid, "--actor: must not be empty");
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::snprintf(host, sizeof host, "unknown-host");
  return ClientIdentity{globals.actor ? *globals.actor : default_actor(process_env()),
                        fmt::format("sacker {} on {}", SACKER_VERSION, host)};
}

}  // namespace sacker::cli
