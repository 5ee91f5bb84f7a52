// Configuration: resolve_config with a fuzzed environment and a fuzzed config
// file (~/.sacker.json or --config/$SACKER_CONFIG). Invariant: the result always
// names a ledger and at least one store, none of them empty.
#include <fuzzer/FuzzedDataProvider.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "fuzz_check.h"
#include "sacker/config.h"

using fuzz::check;

namespace {

// One scratch directory per process; the config file is rewritten for every input.
// (Never destroyed: the atexit handler that removes it runs after static destructors.)
const std::string& scratch_dir() {
  static const std::string* dir = [] {
    // tmpfs if there is one: rewriting a file on ext4 flushes it to disk at every close.
    const char* tmp = std::getenv("TMPDIR");
    const char* base = tmp && *tmp ? tmp : access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    auto* path = new std::string(std::string(base) + "/sacker-fuzz-config-XXXXXX");
    if (!mkdtemp(path->data())) fuzz::fail("mkdtemp failed");
    std::atexit([] {
      std::remove((scratch_dir() + "/.sacker.json").c_str());
      rmdir(scratch_dir().c_str());
    });
    return path;
  }();
  return *dir;
}

void write_file(const std::string& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) fuzz::fail("cannot write the config file", path);
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const std::string file = scratch_dir() + "/.sacker.json";
  std::map<std::string, std::string> vars;
  sacker::ConfigFlags flags;
  // How the file is found: --config, $SACKER_CONFIG or $HOME/.sacker.json.
  switch (in.ConsumeIntegralInRange(0, 2)) {
    case 0: flags.config_file = file; break;
    case 1: vars["SACKER_CONFIG"] = file; break;
    case 2: vars["HOME"] = scratch_dir(); break;
  }
  for (const char* name : {"SACKER_LEDGER", "SACKER_STORE", "XDG_DATA_HOME"})
    if (in.ConsumeBool()) vars[name] = in.ConsumeRandomLengthString(40);
  if (in.ConsumeBool()) flags.ledger = in.ConsumeRandomLengthString(40);
  if (in.ConsumeBool()) flags.store = in.ConsumeRandomLengthString(40);
  write_file(file, in.ConsumeRemainingBytesAsString());

  const sacker::EnvLookup env = [&vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
  try {
    const sacker::Config config = sacker::resolve_config(flags, env);
    check(!config.ledger.empty(), "a ledger is configured");
    check(!config.stores.empty(), "a store is configured");
    if (!flags.store)
      for (const auto& s : config.stores) check(!s.empty(), "no store is an empty string");
  } catch (const sacker::Error&) {
  }
  return 0;
}
