// postgres://user@host:port/db — the PostgreSQL ledger.
// The backend class lives in the .cpp; this header only declares its factory,
// registered in the scheme table (src/client/registry.cpp).
#pragma once

#include <memory>

#include "sacker/ledger.h"
#include "sacker/uri.h"

namespace sacker {

std::unique_ptr<Ledger> open_postgres_ledger(const Uri& uri);
inline constexpr LedgerScheme kPostgresLedgerScheme{"postgres", "postgres://user@host:port/db", open_postgres_ledger};
inline constexpr LedgerScheme kPostgresqlLedgerScheme{"postgresql", "postgresql://user@host:port/db", open_postgres_ledger};

}  // namespace sacker
