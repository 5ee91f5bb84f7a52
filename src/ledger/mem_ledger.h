// mem://name — an in-process ledger, a first-class backend for fast tests of the
// logic above the ledgers (it passes the same conformance suite, except the
// cross-process tests it cannot take part in). Every Ledger opened on the same
// mem://name in one process shares one state; it is gone when the process ends.
#pragma once

#include <memory>

#include "sacker/ledger.h"

namespace sacker {

std::unique_ptr<Ledger> open_mem_ledger(const Uri& uri);
inline constexpr LedgerScheme kMemLedgerScheme{"mem", "mem://name", open_mem_ledger};

}  // namespace sacker
