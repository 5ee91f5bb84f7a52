// postgres://user@host:port/db — the PostgreSQL ledger.
// The backend class lives in the .cpp; this header only declares its factory,
// registered in src/core/backends.cpp.
#pragma once

#include <memory>

#include "sacker/ledger.h"
#include "sacker/uri.h"

namespace sacker {

std::unique_ptr<Ledger> open_postgres_ledger(const Uri& uri);

}  // namespace sacker
