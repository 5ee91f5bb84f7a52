// sqlite:///path/ledger.db — the embedded default ledger. WAL mode, a busy
// timeout, and BEGIN IMMEDIATE around every read-modify-write, so concurrent
// processes on one host never lose or duplicate a version. Versions 1, 2, 3 per
// package; a per-package counter keeps removed numbers from being reused.
#pragma once

#include <memory>

#include "sacker/ledger.h"
#include "sacker/uri.h"

namespace sacker {

std::unique_ptr<Ledger> open_sqlite_ledger(const Uri& uri);
inline constexpr LedgerScheme kSqliteLedgerScheme{"sqlite", "sqlite:///path/ledger.db", open_sqlite_ledger};

}  // namespace sacker
