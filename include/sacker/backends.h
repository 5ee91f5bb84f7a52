// The scheme table: the one place that maps URI schemes to backend factories.
// Each backend declares its entry next to its factory (kSqliteLedgerScheme in
// ledger/sqlite_ledger.h, ...); CMake's sacker_backend() lists the compiled-in
// ones, and `sacker --version` prints this table, so the list cannot drift.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sacker/ledger.h"
#include "sacker/store.h"
#include "sacker/uri.h"

namespace sacker {

const std::vector<LedgerScheme>& ledger_schemes();
const std::vector<StoreScheme>& store_schemes();

// Open a backend by URI. Throws Error(Invalid) for an unknown scheme (naming the
// known ones) or a malformed URI; opening does not contact a server unless the
// backend must (connection-oriented ones may connect lazily or at once).
std::unique_ptr<Ledger> open_ledger(std::string_view uri);
std::unique_ptr<Store> open_store(std::string_view uri);
// One store, or for several URIs a chain: the first is the cache, the rest remotes.
std::unique_ptr<Store> open_store_chain(const std::vector<std::string>& uris);

}  // namespace sacker
