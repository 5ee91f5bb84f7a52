// The named in-process state behind mem:// backends: every open of mem://NAME in
// one process gets the same State (so a ledger or store opened twice, by two
// clients or two threads, is one), created empty on first use and kept for the
// process's life. State guards itself (it holds its own mutex).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "kit/uri_options.h"
#include "sacker/uri.h"

namespace sacker {

// mem://NAME (no options) -> the State of that name. Error(Invalid) for mem:// with
// no name or with an option.
template <typename State>
std::shared_ptr<State> mem_instance(const Uri& uri) {
  UriOptions(uri).finish();
  if (uri.authority.empty() && uri.path.empty()) throw_invalid_uri(uri, "expected mem://name");
  static std::mutex registry_mutex;
  static std::map<std::string, std::shared_ptr<State>> registry;
  std::lock_guard lock(registry_mutex);
  auto& slot = registry[uri.authority + uri.path];
  if (!slot) slot = std::make_shared<State>();
  return slot;
}

}  // namespace sacker
