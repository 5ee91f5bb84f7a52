// s3://bucket[/prefix] — the S3 ledger (layout of the original Python sacker; write-only friendly).
// The backend class lives in the .cpp; this header only declares its factory,
// registered in the scheme table (src/client/registry.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "sacker/ledger.h"
#include "sacker/uri.h"

namespace sacker {

std::unique_ptr<Ledger> open_s3_ledger(const Uri& uri);
inline constexpr LedgerScheme kS3LedgerScheme{"s3", "s3://bucket[/prefix]", open_s3_ledger};

// For tests: the same ledger with its clock (Unix milliseconds) injected, e.g. a
// frozen clock that makes every add collide.
std::unique_ptr<Ledger> open_s3_ledger_with_clock(const Uri& uri, std::function<std::int64_t()> now_ms);

}  // namespace sacker
