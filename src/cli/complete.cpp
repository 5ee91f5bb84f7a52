// `sacker __complete CWORD WORDS...`, for the bash completion (packaging/bash-completion/sacker):
// commands and options come from the parser, package names and tags from the ledger.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>

#include "cli/command.h"
#include "cli/reference.h"
#include "sacker/backends.h"
#include "sacker/config.h"
#include "sacker/ledger.h"

namespace sacker::cli {
namespace {

bool takes_value(const CLI::App& app, const CLI::App* command, const std::string& word) {
  if (word.find('=') != std::string::npos) return false;
  for (const CLI::App* a : {&app, command}) {
    if (!a) continue;
    const CLI::Option* o = a->get_option_no_throw(word);
    if (o && o->get_items_expected_min() > 0) return true;
  }
  return false;
}

void add_options(const CLI::App& app, std::vector<std::string>& out) {
  for (const CLI::Option* o : app.get_options()) {
    if (o->get_positional() && !o->nonpositional()) continue;
    for (const auto& l : o->get_lnames()) out.push_back("--" + l);
    for (const auto& s : o->get_snames()) out.push_back("-" + s);
  }
}

// The names the ledger holds, or nothing: completion is never an error, and it
// must not create an embedded ledger that does not exist yet.
class LedgerNames {
 public:
  explicit LedgerNames(const ConfigFlags& flags) : flags_(flags) {}
  std::vector<std::string> packages() {
    return guarded([](Ledger& l) { return l.packages(); });
  }
  std::vector<std::string> versions(const std::string& package) {
    return guarded([&](Ledger& l) {
      std::vector<std::string> out;
      for (auto v : l.versions(package)) out.push_back(std::to_string(v));
      return out;
    });
  }
  std::vector<std::string> tags(const std::string& package) {
    return guarded([&](Ledger& l) {
      std::vector<std::string> out;
      if (!l.versions(package).empty()) out.push_back("latest");
      for (const auto& [tag, value] : l.tag_values(package)) out.push_back(tag);
      return out;
    });
  }

 private:
  template <class F>
  std::vector<std::string> guarded(F f) {
    try {
      if (!ledger_) {
        Config config = resolve_config(flags_, process_env());
        constexpr std::string_view sqlite = "sqlite://";
        if (config.ledger.rfind(sqlite, 0) == 0) {
          std::string path = config.ledger.substr(sqlite.size());
          path = path.substr(0, path.find('?'));
          if (!std::filesystem::exists(path)) return {};
        }
        ledger_ = open_ledger(config.ledger);
      }
      return f(*ledger_);
    } catch (...) {
      return {};
    }
  }
  ConfigFlags flags_;
  std::unique_ptr<Ledger> ledger_;
};

}  // namespace

std::vector<std::string> completions(const CLI::App& app, const std::vector<std::string>& words, std::size_t cword) {
  if (cword == 0 || cword > words.size()) return {};
  const std::string cur = cword < words.size() ? words[cword] : "";
  ConfigFlags flags;
  const CLI::App* command = nullptr;
  std::vector<std::string> positionals;  // the command's arguments before the current word
  for (std::size_t i = 1; i < cword; ++i) {
    const std::string& w = words[i];
    if (!w.empty() && w[0] == '-') {
      if (takes_value(app, command, w) && i + 1 < cword) {
        const std::string& value = words[i + 1];
        if (w == "--ledger") flags.ledger = value;
        if (w == "--store") flags.store = value;
        if (w == "--config") flags.config_file = value;
        ++i;
      }
      continue;
    }
    if (!command) {
      if (find_command(w))
        command = app.get_subcommand(w);
      else
        return {};
    } else {
      positionals.push_back(w);
    }
  }
  // The value of an option: files (the bash side falls back to them), nothing of ours.
  if (cword >= 2 && takes_value(app, command, words[cword - 1])) return {};

  std::vector<std::string> candidates;
  if (!cur.empty() && cur[0] == '-') {
    add_options(app, candidates);
    if (command) add_options(*command, candidates);
  } else if (!command) {
    for (const auto& c : command_table()) candidates.push_back(c.name);
  } else {
    std::vector<const CLI::Option*> slots;
    for (const CLI::Option* o : command->get_options())
      if (o->get_positional() && !o->nonpositional()) slots.push_back(o);
    if (positionals.size() < slots.size() || (!slots.empty() && slots.back()->get_expected_max() > 1)) {
      const CLI::Option* slot = positionals.size() < slots.size() ? slots[positionals.size()] : slots.back();
      const std::string name = slot->get_name(true);
      LedgerNames ledger(flags);
      const std::string package = positionals.empty() ? "" : positionals.front();
      if (name == "package")
        candidates = ledger.packages();
      else if (name == "spec") {
        candidates = ledger.tags(package);
        for (auto& v : ledger.versions(package)) candidates.push_back(v);
      } else if (name == "version")
        candidates = ledger.versions(package);
      else if (name == "tag")
        candidates = ledger.tags(package);
      else if (name == "command")
        for (const auto& c : command_table()) candidates.push_back(c.name);
    }
  }
  std::vector<std::string> out;
  for (auto& c : candidates)
    if (c.rfind(cur, 0) == 0 && std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  return out;
}

}  // namespace sacker::cli
