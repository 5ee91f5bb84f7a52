// The sacker commands as one table. Each entry names a command, says in one line
// what it does, shows its usage and an example, declares its options on a CLI11
// subcommand and runs it. main.cpp builds the parser and the help texts from the
// table and is the one place where errors become exit codes: a command reports
// every failure, usage errors included, by throwing sacker::Error.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/output.h"
#include "sacker/client.h"
#include "sacker/config.h"
#include "sacker/spec.h"

namespace CLI {
class App;
}

namespace sacker::cli {

// The options every command takes (before or after the command's name).
struct Globals {
  std::optional<std::string> ledger, store, config, actor;
  bool json = false, quiet = false, verbose = false;
};

// The arguments of all commands; a command's declare() binds the fields it uses.
struct Args {
  std::string package, spec, version, tag, file, comment, command;
  std::optional<std::string> name, output, expect, keep_newer;
  std::vector<std::string> meta, tags, packages;
  std::string grace = "1h", expires = "1h";
  std::size_t limit = 0, keep_last = 0, keep_rollback = 5;
  std::uint64_t before = 0;
  bool dry_run = false, verify_first = false, all = false, apply = false, no_resume = false, read_only = false,
       abort = false;
  // Signed deploys (commands_sign.cpp): --sign, --trust, --allow-rollback, key gen ACTION NAME [--dir].
  std::optional<std::string> sign, trust;
  bool allow_rollback = false;
  std::string action, key_name, key_dir;
  std::optional<std::string> older_than, parallel, part_size, stall_timeout;
  // sacker serve (commands_serve.cpp).
  std::string listen = "127.0.0.1:8080", scope = "read";
  std::optional<std::string> tokens, protect, new_token;
  bool allow_writes = false;
};

// What a running command works with: the options, standard output, the facade
// (opened on first use, so `help` needs no ledger) and the help texts.
class Session {
 public:
  Session(const Globals& globals, Output& out, std::function<std::string(const std::string&)> help);
  ~Session();
  const Globals& globals() const { return globals_; }
  bool json() const { return globals_.json; }
  bool quiet() const { return globals_.quiet; }
  bool verbose() const { return globals_.verbose; }
  Output& out() { return out_; }
  Client& client();
  // The effective configuration (flags > environment > config file > default).
  const Config& config();
  // The help of one command ("" for the overview); Error(Invalid) for an unknown one.
  std::string help(const std::string& command) const { return help_(command); }

 private:
  const Globals& globals_;
  Output& out_;
  std::function<std::string(const std::string&)> help_;
  std::unique_ptr<Client> client_;
  std::optional<Config> config_;
};

struct Command {
  const char* name;
  const char* help;     // one line, for the command list
  const char* usage;    // e.g. "sacker tag <pkg> <version> <tag> [--comment TEXT] [--expect VERSION|none]"
  const char* example;  // a complete command line
  void (*declare)(CLI::App& command, Args& args);
  void (*run)(Session& session, const Args& args);
};

// Every command, in the order `sacker help` lists them.
const std::vector<Command>& command_table();
const std::vector<Command>& read_commands();    // commands_read.cpp
const std::vector<Command>& write_commands();   // commands_write.cpp
const std::vector<Command>& admin_commands();   // commands_admin.cpp
const std::vector<Command>& doctor_commands();  // commands_doctor.cpp
const std::vector<Command>& sign_commands();    // commands_sign.cpp
const std::vector<Command>& serve_commands();   // commands_serve.cpp
const Command* find_command(const std::string& name);

// Declarations shared by the commands: the <package> and <spec> positionals,
// --comment, and a command without options.
void package_arg(CLI::App& command, Args& args);
void spec_arg(CLI::App& command, Args& args);
void comment_opt(CLI::App& command, Args& args);
void no_options(CLI::App& command, Args& args);
// Signed deploys (commands_sign.cpp): --sign KEY (add, tag, rollback) and
// --trust FILE / --allow-rollback (download, info, url, verify); the use_ calls
// put the key and the trust policy into the session's client before it is used.
void sign_option(CLI::App& command, Args& args);
void trust_options(CLI::App& command, Args& args);
void use_signing_key(Session& session, const Args& args);
void use_trust(Session& session, const Args& args);
// --parallel, --part-size, --stall-timeout (transfer_options.cpp), and their
// values with the config file's "transfer" as the fallback.
void transfer_opts(CLI::App& command, Args& args);
TransferOptions transfer_options(Session& session, const Args& args);

// Argument parsing shared by the commands: Error(Invalid) naming the argument.
Spec spec_argument(const std::string& text);
TagExpectation expect_argument(const std::optional<std::string>& text);
// "sacker <version>\nledgers: ...\nstores: ...", from the scheme table.
std::string version_text();
// The ClientIdentity of this process: --actor or default_actor(), and
// "sacker <version> on <hostname>".
ClientIdentity identity(const Globals& globals);

}  // namespace sacker::cli
