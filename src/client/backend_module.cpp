// The loader of backend modules (client/backend_module.h), linked into the sacker
// command when backends load on demand (SACKER_BACKEND_MODULES).
#include "client/backend_module.h"

#include <dlfcn.h>
#include <fmt/core.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "sacker/error.h"

#ifndef SACKER_MODULE_ABI
#error "SACKER_MODULE_ABI is set by src/CMakeLists.txt"
#endif
#ifndef SACKER_MODULE_INSTALL_DIR
#error "SACKER_MODULE_INSTALL_DIR (bindir -> libdir/sacker/modules, relative) is set by src/CMakeLists.txt"
#endif

namespace sacker {
namespace {

std::string directory_of_this_program() {
  std::vector<char> buffer(4096);
  ssize_t n = ::readlink("/proc/self/exe", buffer.data(), buffer.size() - 1);
  if (n <= 0) return ".";
  std::string path(buffer.data(), static_cast<std::size_t>(n));
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// Where sacker-<family>.so may be: the installed layout first, then the build tree's.
std::vector<std::string> candidate_paths(const char* name) {
  const std::string dir = directory_of_this_program();
  const std::string file = fmt::format("sacker-{}.so", name);
  return {dir + "/" + SACKER_MODULE_INSTALL_DIR + "/" + file, dir + "/modules/" + file};
}

// What every module's entry starts with.
struct ModuleHead {
  const char* abi;
  const char* name;
};

const void* load(const char* name, const char* what) {
  std::string tried;
  for (const auto& path : candidate_paths(name)) {
    if (::access(path.c_str(), F_OK) != 0) {
      tried += (tried.empty() ? "" : ", ") + path;
      continue;
    }
    // RTLD_NOW: a symbol the module needs and the command lacks fails here, with a
    // message, not later in the middle of a transfer.
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* why = ::dlerror();
      throw Error(ErrorKind::Internal,
                  fmt::format("cannot load {} from {}: {}", what, path, why ? why : "unknown dlopen error"));
    }
    using Entry = const ModuleHead* (*)();
    auto entry = reinterpret_cast<Entry>(::dlsym(handle, kModuleEntrySymbol));
    const ModuleHead* head = entry ? entry() : nullptr;
    if (!head || !head->abi || std::strcmp(head->abi, SACKER_MODULE_ABI) != 0)
      throw Error(ErrorKind::Internal,
                  fmt::format("cannot load {} from {}: it belongs to another build of sacker "
                              "(module {}, this sacker {}); reinstall sacker",
                              what, path, head && head->abi ? head->abi : "without a build stamp", SACKER_MODULE_ABI));
    return head;
  }
  throw Error(ErrorKind::Internal,
              fmt::format("cannot load {}: no module at {} (an incomplete installation: reinstall sacker)", what, tried));
}

template <typename Scheme>
const Scheme& find_entry(const Scheme* table, const char* family, const char* scheme) {
  for (const Scheme* s = table; s && s->scheme; ++s)
    if (std::strcmp(s->scheme, scheme) == 0) return *s;
  throw Error(ErrorKind::Internal, fmt::format("the {} backend module has no '{}' scheme", family, scheme));
}

}  // namespace

const void* load_module(const char* name, const char* what) {
  static std::mutex mutex;
  static std::map<std::string, const void*> loaded;
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = loaded[name];
  if (!slot) slot = load(name, what);
  return slot;
}

const BackendModule& backend_module(const char* family) {
  return *static_cast<const BackendModule*>(load_module(family, fmt::format("the {} backends", family).c_str()));
}

std::unique_ptr<Ledger> open_module_ledger(const char* family, const char* scheme, const Uri& uri) {
  return find_entry(backend_module(family).ledgers, family, scheme).open(uri);
}

std::unique_ptr<Store> open_module_store(const char* family, const char* scheme, const Uri& uri) {
  return find_entry(backend_module(family).stores, family, scheme).open(uri);
}

}  // namespace sacker
