// The reference tables and sacker(1), generated from the parser and the command
// table at build time (src/CMakeLists.txt runs `sacker __man`).
#include <fmt/core.h>

#include <CLI/CLI.hpp>

#include "cli/command.h"
#include "cli/reference.h"

namespace sacker::cli {

const std::vector<ReferenceEntry>& exit_codes() {
  static const std::vector<ReferenceEntry> codes = {
      {"0", "ok"},
      {"1", "internal error"},
      {"2", "usage or invalid input"},
      {"3", "not found"},
      {"4", "conflict"},
      {"5", "integrity (sha256 mismatch)"},
      {"6", "permission denied"},
      {"7", "backend unavailable"},
      {"8", "local I/O error"},
      {"9", "not trusted (a signature check of the trust policy failed)"},
  };
  return codes;
}

const std::vector<ReferenceEntry>& environment_variables() {
  static const std::vector<ReferenceEntry> vars = {
      {"SACKER_LEDGER", "the ledger URI when --ledger is not given"},
      {"SACKER_STORE", "the store URI when --store is not given"},
      {"SACKER_CONFIG", "the config file (else ~/.sacker.json); it must exist when named"},
      {"SACKER_ACTOR", "who makes the change, for history, when --actor is not given"},
      {"SACKER_SIGNING_KEY", "the PEM text of the signing key when --sign is not given (CI secrets)"},
      {"SACKER_KEY_PASSPHRASE", "the passphrase of an encrypted signing key (key gen: encrypt with it)"},
      {"XDG_STATE_HOME", "the promotions accepted before live in $XDG_STATE_HOME/sacker (else ~/.local/state/sacker)"},
      {"XDG_DATA_HOME", "the embedded default lives in $XDG_DATA_HOME/sacker (else ~/.local/share/sacker)"},
      {"HOME", "where ~/.sacker.json and the default data directory are"},
      {"AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN", "AWS credentials, as the AWS CLI reads them"},
      {"AWS_REGION, AWS_DEFAULT_REGION, AWS_PROFILE",
       "AWS region and the profile in ~/.aws/credentials and ~/.aws/config"},
      {"AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_DYNAMODB", "S3-compatible and local servers"},
      {"AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE", "web identity credentials (CI OIDC)"},
      {"AWS_CA_BUNDLE, HTTPS_PROXY, NO_PROXY", "TLS trust and proxies"},
  };
  return vars;
}

const std::vector<ReferenceEntry>& files() {
  static const std::vector<ReferenceEntry> list = {
      {"~/.sacker.json", "the config file: {\"ledger\": URI, \"store\": URI or [cache, remote...]}"},
      {"$XDG_DATA_HOME/sacker/ledger.db", "the embedded default ledger (SQLite)"},
      {"$XDG_DATA_HOME/sacker/blobs", "the embedded default store (a directory)"},
      {"~/.aws/credentials, ~/.aws/config", "AWS credentials and profiles"},
      {"/usr/share/bash-completion/completions/sacker, /usr/share/zsh/vendor-completions/_sacker, "
       "/usr/share/fish/vendor_completions.d/sacker.fish",
       "the shell completions; they ask the binary (sacker __complete) for commands, options, packages and tags"},
  };
  return list;
}

std::string exit_codes_line() {
  std::string line = "Exit codes:";
  const auto& codes = exit_codes();
  for (std::size_t i = 0; i < codes.size(); ++i)
    line += fmt::format(" {} {}{}", codes[i].name, codes[i].meaning, i + 1 < codes.size() ? "," : ".");
  return line;
}

namespace {

// Text for roff: backslashes and hyphens escaped, no line may start a request.
std::string roff(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\')
      out += "\\e";
    else if (c == '-')
      out += "\\-";
    else
      out += c;
  }
  std::string safe;
  bool line_start = true;
  for (char c : out) {
    if (line_start && (c == '.' || c == '\'')) safe += "\\&";
    safe += c;
    line_start = c == '\n';
  }
  return safe;
}

// "-o,--output TEXT" for an option; the positional's name for a positional.
std::string option_label(const CLI::Option& o) {
  if (o.get_positional() && !o.nonpositional()) return "<" + o.get_name(true) + ">";
  std::string label = o.get_name(false, true);
  if (o.get_items_expected_min() > 0)
    label += " " + std::string(o.get_type_name().empty() ? "VALUE" : o.get_type_name());
  return label;
}

void options_section(std::string& out, const CLI::App& app) {
  for (const CLI::Option* o : app.get_options()) {
    if (o == app.get_help_ptr() || o == app.get_help_all_ptr() || o == app.get_version_ptr()) continue;
    out += ".TP\n.B " + roff(option_label(*o)) + "\n" + roff(o->get_description()) + "\n";
  }
}

void entries_section(std::string& out, const char* title, const std::vector<ReferenceEntry>& entries) {
  out += fmt::format(".SH {}\n", title);
  for (const auto& e : entries) out += ".TP\n.B " + roff(e.name) + "\n" + roff(e.meaning) + "\n";
}

}  // namespace

std::string man_page(const CLI::App& app) {
  std::string out = fmt::format(".TH SACKER 1 \"\" \"sacker {}\" \"User Commands\"\n.nh\n.ad l\n", SACKER_VERSION);
  out += ".SH NAME\nsacker \\- package \\-> version \\-> sha256 in a ledger, blobs in a store\n";
  out += ".SH SYNOPSIS\n.B sacker\n" +
         roff("[--ledger URI] [--store URI] [--config FILE] [--actor NAME] [--json] [-q|-v] <command> ...") + "\n";
  out += ".SH DESCRIPTION\n" +
         roff(
             "sacker records package name -> monotonically increasing version -> sha256 of a blob, puts tags on "
             "versions (\"latest\" is reserved and always means the highest version), keeps those records in a "
             "ledger and the bytes in a store addressed only by sha256. Ledger and store are backends chosen by URI; "
             "the embedded default (SQLite and a directory under $XDG_DATA_HOME/sacker) needs no server.") +
         "\n.PP\n" +
         roff(
             "A spec is a version number (23) or a tag (live, latest). Errors go to standard error as one line, "
             "'sacker: <what failed>: <why>'; 'sacker config' shows the effective ledger and store.") +
         "\n.PP\n" +
         roff(
             "Configuration precedence: command-line flags > $SACKER_LEDGER / $SACKER_STORE > the config file "
             "($SACKER_CONFIG, else ~/.sacker.json) > the embedded default.") +
         "\n";
  out += ".SH GLOBAL OPTIONS\n";
  options_section(out, app);
  out += ".SH COMMANDS\n";
  for (const auto& c : command_table()) {
    out += fmt::format(".SS {}\n{}\n.PP\nUsage: \\fB{}\\fR\n", roff(c.name), roff(c.help), roff(c.usage));
    options_section(out, *app.get_subcommand(c.name));
    out += ".PP\nExample:\n.RS\n.nf\n" + roff(c.example) + "\n.fi\n.RE\n";
  }
  entries_section(out, "EXIT STATUS", exit_codes());
  entries_section(out, "ENVIRONMENT", environment_variables());
  entries_section(out, "FILES", files());
  out += ".SH SEE ALSO\n" + roff("sacker help COMMAND; the README of the sacker sources.") + "\n";
  return out;
}

}  // namespace sacker::cli
