// etcd://host:port[/prefix] — the etcd ledger (v3 JSON gateway).
// The backend class lives in the .cpp; this header only declares its factory,
// registered in the scheme table (src/client/registry.cpp).
#pragma once

#include <memory>

#include "sacker/ledger.h"
#include "sacker/uri.h"

namespace sacker {

std::unique_ptr<Ledger> open_etcd_ledger(const Uri& uri);
inline constexpr LedgerScheme kEtcdLedgerScheme{"etcd", "etcd://host:port[,host:port...][/prefix]", open_etcd_ledger};

}  // namespace sacker
