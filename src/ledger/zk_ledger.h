// zk://host:port[,host:port...]/chroot — the ZooKeeper ledger.
// The backend class lives in the .cpp; this header only declares its factory,
// registered in the scheme table (src/client/registry.cpp).
#pragma once

#include <memory>

#include "sacker/ledger.h"
#include "sacker/uri.h"

namespace sacker {

std::unique_ptr<Ledger> open_zk_ledger(const Uri& uri);
inline constexpr LedgerScheme kZkLedgerScheme{"zk", "zk://host:port[,host:port...]/chroot", open_zk_ledger};

}  // namespace sacker
