// The scheme table: the one place that maps URI schemes to backend factories.
// `sacker --version` lists it, so the list of compiled-in backends cannot drift.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sacker/ledger.h"
#include "sacker/store.h"
#include "sacker/uri.h"

namespace sacker {

using LedgerFactory = std::unique_ptr<Ledger> (*)(const Uri& uri);
using StoreFactory = std::unique_ptr<Store> (*)(const Uri& uri);

struct LedgerBackend {
  std::string_view scheme;
  std::string_view example;  // "sqlite:///path/ledger.db"
  LedgerFactory open;
};
struct StoreBackend {
  std::string_view scheme;
  std::string_view example;
  StoreFactory open;
};

const std::vector<LedgerBackend>& ledger_backends();
const std::vector<StoreBackend>& store_backends();

// Open a backend by URI. Throws Error(Invalid) for an unknown scheme (naming the
// known ones) or a malformed URI; opening does not contact a server unless the
// backend must (connection-oriented ones may connect lazily or at once).
std::unique_ptr<Ledger> open_ledger(std::string_view uri);
std::unique_ptr<Store> open_store(std::string_view uri);
// One store, or for several URIs a chain: the first is the cache, the rest remotes.
std::unique_ptr<Store> open_store_chain(const std::vector<std::string>& uris);

}  // namespace sacker
