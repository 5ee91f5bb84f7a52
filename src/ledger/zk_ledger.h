// zk://host:port[,host:port...]/chroot — the ZooKeeper ledger.
// The backend class lives in the .cpp; this header only declares its factory,
// registered in src/core/backends.cpp.
#pragma once

#include <memory>

#include "sacker/ledger.h"
#include "sacker/uri.h"

namespace sacker {

std::unique_ptr<Ledger> open_zk_ledger(const Uri& uri);

}  // namespace sacker
