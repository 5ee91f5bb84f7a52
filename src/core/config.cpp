#include "sacker/config.h"

#include <fmt/core.h>

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>
#include <vector>

#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker {

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

std::string default_data_dir(const EnvLookup& env) {
  if (auto xdg = env("XDG_DATA_HOME"); xdg && !xdg->empty()) return *xdg + "/sacker";
  auto home = env("HOME");
  if (!home || home->empty())
    throw Error(ErrorKind::Invalid, "no data directory: neither XDG_DATA_HOME nor HOME is set");
  return *home + "/.local/share/sacker";
}

namespace {

struct FileConfig {
  std::optional<std::string> ledger;
  std::vector<std::string> stores;
  std::string trust, ledger_id;
  std::optional<std::string> parallel, part_size, stall_timeout;
};

// The "transfer" object: each value a string or a non-negative integer.
void read_transfer(const nlohmann::json& value, const std::string& path, FileConfig& fc) {
  if (!value.is_object())
    throw Error(ErrorKind::Invalid, fmt::format("config file {}: \"transfer\" must be an object", path));
  for (const auto& [key, v] : value.items()) {
    std::optional<std::string>* slot = key == "parallel"        ? &fc.parallel
                                       : key == "part_size"     ? &fc.part_size
                                       : key == "stall_timeout" ? &fc.stall_timeout
                                                                : nullptr;
    if (!slot)
      throw Error(ErrorKind::Invalid,
                  fmt::format("config file {}: unknown key \"transfer.{}\" (known: parallel, part_size, stall_timeout)",
                              path, printable(key)));
    if (v.is_string())
      *slot = v.get<std::string>();
    else if (v.is_number_unsigned())
      *slot = std::to_string(v.get<std::uint64_t>());
    else
      throw Error(ErrorKind::Invalid,
                  fmt::format("config file {}: \"transfer.{}\" must be a string or a number", path, key));
  }
}

// Where a syntax error is, as "line L, column C". Never the text around it: the
// file may hold a password, and the parser's "last read" would echo it.
std::string position_of(const std::string& text, std::size_t byte) {
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i + 1 < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return fmt::format("line {}, column {}", line, column);
}

// Parses the file's JSON, refusing a key given twice in one object (which would
// otherwise silently take the last value).
nlohmann::json parse_config_json(const std::string& text, const std::string& path) {
  std::vector<std::set<std::string>> keys;
  std::optional<std::string> duplicate;
  auto check = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::object_start) keys.emplace_back();
    if (event == Event::object_end && !keys.empty()) keys.pop_back();
    if (event == Event::key && !keys.empty() && !keys.back().insert(parsed.get<std::string>()).second && !duplicate)
      duplicate = parsed.get<std::string>();
    return true;
  };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text, check);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(ErrorKind::Invalid,
                fmt::format("config file {}: not valid JSON (syntax error at {})", path, position_of(text, e.byte)));
  } catch (const nlohmann::json::exception&) {
    // out_of_range: a number too large for any C++ type (found by fuzz_config).
    throw Error(ErrorKind::Invalid, fmt::format("config file {}: not valid JSON (a number out of range)", path));
  }
  if (duplicate)
    throw Error(ErrorKind::Invalid, fmt::format("config file {}: duplicate key \"{}\"", path, printable(*duplicate)));
  return j;
}

FileConfig read_config_file(const std::string& path, bool must_exist) {
  FileConfig fc;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      if (must_exist) throw Error(ErrorKind::NotFound, fmt::format("config file {}: does not exist", path));
      return fc;
    }
    throw_errno(fmt::format("config file {}", path), err);
  }
  if (S_ISDIR(st.st_mode))
    throw Error(ErrorKind::Invalid, fmt::format("config file {}: is a directory, not a file", path));
  std::ifstream in(path);
  if (!in) throw Error(ErrorKind::Denied, fmt::format("config file {}: cannot be read", path));
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) throw Error(ErrorKind::LocalIO, fmt::format("config file {}: cannot be read", path));
  nlohmann::json j = parse_config_json(text.str(), path);
  if (!j.is_object()) throw Error(ErrorKind::Invalid, fmt::format("config file {}: must be a JSON object", path));
  for (const auto& [key, value] : j.items()) {
    if (key == "ledger") {
      if (!value.is_string() || value.get<std::string>().empty())
        throw Error(ErrorKind::Invalid, fmt::format("config file {}: \"ledger\" must be a URI string", path));
      fc.ledger = value.get<std::string>();
    } else if (key == "store") {
      if (value.is_string() && !value.get<std::string>().empty()) {
        fc.stores = {value.get<std::string>()};
      } else if (value.is_array() && !value.empty()) {
        for (const auto& item : value) {
          if (!item.is_string() || item.get<std::string>().empty())
            throw Error(ErrorKind::Invalid,
                        fmt::format("config file {}: \"store\" list entries must be URI strings", path));
          fc.stores.push_back(item.get<std::string>());
        }
      } else {
        throw Error(ErrorKind::Invalid,
                    fmt::format("config file {}: \"store\" must be a URI or a non-empty list of URIs", path));
      }
    } else if (key == "trust" || key == "ledger_id") {
      if (!value.is_string() || value.get<std::string>().empty())
        throw Error(ErrorKind::Invalid, fmt::format("config file {}: \"{}\" must be a non-empty string", path, key));
      std::string text = value.get<std::string>();
      if (key == "trust" && text.front() != '/') {
        const auto slash = path.rfind('/');
        if (slash != std::string::npos) text = path.substr(0, slash + 1) + text;
      }
      (key == "trust" ? fc.trust : fc.ledger_id) = text;
    } else if (key == "transfer") {
      read_transfer(value, path, fc);
    } else {
      throw Error(ErrorKind::Invalid,
                  fmt::format("config file {}: unknown key \"{}\" (known: ledger, store, trust, ledger_id, transfer)",
                              path, printable(key)));
    }
  }
  return fc;
}

}  // namespace

Config resolve_config(const ConfigFlags& flags, const EnvLookup& env) {
  // An empty flag is a mistake (an unset variable in a CI script), never "use the
  // default": that would record into a throw-away ledger and print a version.
  for (const auto& [flag, value] :
       {std::pair{"--ledger", &flags.ledger}, {"--store", &flags.store}, {"--config", &flags.config_file}})
    if (*value && (*value)->empty()) throw Error(ErrorKind::Invalid, fmt::format("{}: must not be empty", flag));
  std::string file;
  bool explicit_file = false;
  if (flags.config_file) {
    file = *flags.config_file;
    explicit_file = true;
  } else if (auto c = env("SACKER_CONFIG"); c && !c->empty()) {
    file = *c;
    explicit_file = true;
  } else if (auto home = env("HOME"); home && !home->empty()) {
    file = *home + "/.sacker.json";
  }
  FileConfig fc;
  if (!file.empty()) fc = read_config_file(file, explicit_file);

  Config config;
  std::string ledger_from, store_from;
  if (flags.ledger) {
    config.ledger = *flags.ledger;
    ledger_from = "--ledger";
  } else if (auto v = env("SACKER_LEDGER"); v && !v->empty()) {
    config.ledger = *v;
    ledger_from = "SACKER_LEDGER";
  } else if (fc.ledger) {
    config.ledger = *fc.ledger;
    ledger_from = file;
  }
  if (flags.store) {
    config.stores = {*flags.store};
    store_from = "--store";
  } else if (auto v = env("SACKER_STORE"); v && !v->empty()) {
    config.stores = {*v};
    store_from = "SACKER_STORE";
  } else if (!fc.stores.empty()) {
    config.stores = fc.stores;
    store_from = file;
  }
  if (config.ledger.empty() || config.stores.empty()) {
    std::string data = default_data_dir(env);
    if (config.ledger.empty()) {
      config.ledger = "sqlite://" + data + "/ledger.db";
      ledger_from = "default";
    }
    if (config.stores.empty()) {
      config.stores = {"file://" + data + "/blobs"};
      store_from = "default";
    }
  }
  config.source = fmt::format("ledger from {}, store from {}", ledger_from, store_from);
  config.ledger_from = ledger_from;
  config.store_from = store_from;
  config.trust = fc.trust;
  config.ledger_id = fc.ledger_id;
  config.config_file = file;
  config.config_file_explicit = explicit_file;
  config.parallel = fc.parallel;
  config.part_size = fc.part_size;
  config.stall_timeout = fc.stall_timeout;
  return config;
}

}  // namespace sacker
