// The sacker commands. Each takes the parsed arguments, prints its result to
// stdout (human or --json) and throws sacker::Error on failure.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sacker::cli {

struct Globals {
  std::optional<std::string> ledger, store, config;
  bool json = false, quiet = false, verbose = false;
};

struct Args {
  std::string package, spec, file, version, tag, output, name, expires = "1h", grace = "1h";
  std::vector<std::string> meta, tags;
  bool output_set = false, dry_run = false;
};

int run_command(const std::string& command, const Globals& globals, const Args& args);
std::string version_text();

}  // namespace sacker::cli
