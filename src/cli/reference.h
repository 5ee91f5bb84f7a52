// What `sacker --help` and the man page say beyond the command table, in one
// place: exit codes, environment variables, files. main.cpp's help footers and
// manpage.cpp are both built from these tables, so they cannot disagree.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace sacker::cli {

struct ReferenceEntry {
  const char* name;     // "3", "SACKER_LEDGER", "~/.sacker.json"
  const char* meaning;  // one line
};

const std::vector<ReferenceEntry>& exit_codes();
const std::vector<ReferenceEntry>& environment_variables();
const std::vector<ReferenceEntry>& files();

// "Exit codes: 0 ok, 1 internal error, ..." for the help footers.
std::string exit_codes_line();

// sacker(1) in man(7) roff, from the parser (every command's options and the
// global options), the command table and the tables above.
std::string man_page(const CLI::App& app);

// The words the bash completion offers for WORDS[CWORD] (WORDS[0] is "sacker"):
// commands and options from the parser, package names and tags from the ledger.
// Never throws: a ledger that cannot be read completes nothing.
std::vector<std::string> completions(const CLI::App& app, const std::vector<std::string>& words, std::size_t cword);

}  // namespace sacker::cli
