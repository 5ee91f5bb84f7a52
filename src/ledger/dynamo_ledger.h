// dynamo://region/table-prefix — the DynamoDB ledger (tables of the original Python sacker).
// The backend class lives in the .cpp; this header only declares its factory,
// registered in the scheme table (src/client/registry.cpp).
#pragma once

#include <memory>

#include "sacker/ledger.h"
#include "sacker/uri.h"

namespace sacker {

std::unique_ptr<Ledger> open_dynamo_ledger(const Uri& uri);
inline constexpr LedgerScheme kDynamoLedgerScheme{"dynamo", "dynamo://region/table-prefix", open_dynamo_ledger};

}  // namespace sacker
