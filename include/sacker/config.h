// Where the ledger and the store are: flags > $SACKER_LEDGER/$SACKER_STORE > the
// config file ($SACKER_CONFIG, else ~/.sacker.json) > the embedded default
// (sqlite + file under $XDG_DATA_HOME/sacker, else ~/.local/share/sacker).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace sacker {

struct Config {
  std::string ledger;               // a URI
  std::vector<std::string> stores;  // one URI, or cache first then remotes
  std::string source;               // where the values came from, for -v
  // Where each came from: "--ledger"/"--store" (a flag), "SACKER_LEDGER"/"SACKER_STORE"
  // (the environment), the config file's path, or "default".
  std::string ledger_from, store_from;
  // Signed deploys (docs/signing.md), from the config file only: "trust", a trust
  // file (a relative path is taken from the config file's directory; "" if none),
  // and "ledger_id", the id signed statements carry ("": from the ledger URI).
  std::string trust, ledger_id;
  std::string config_file;            // the config file consulted ("" if none: no HOME)
  bool config_file_explicit = false;  // named by --config or $SACKER_CONFIG
  // The config file's "transfer": {"parallel": 4, "part_size": "16M", "stall_timeout": "30s"}
  // (numbers or strings; flags of add and download override them).
  std::optional<std::string> parallel, part_size, stall_timeout;
};

// Reads an environment variable; injectable for tests. Returns nullopt if unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup process_env();

struct ConfigFlags {
  std::optional<std::string> ledger, store, config_file;
};

// Pure apart from reading the config file. Throws Error(Invalid) for a malformed
// config file (naming the file and the problem), Error(NotFound) if an explicitly
// named config file (--config or $SACKER_CONFIG) does not exist. A missing
// ~/.sacker.json is not an error.
Config resolve_config(const ConfigFlags& flags, const EnvLookup& env);

// $XDG_DATA_HOME/sacker or $HOME/.local/share/sacker.
std::string default_data_dir(const EnvLookup& env);

}  // namespace sacker
