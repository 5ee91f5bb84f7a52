// s3://bucket[/prefix] — the S3 ledger (layout of the original Python sacker; write-only friendly).
// The backend class lives in the .cpp; this header only declares its factory,
// registered in src/core/backends.cpp.
#pragma once

#include <memory>

#include "sacker/ledger.h"
#include "sacker/uri.h"

namespace sacker {

std::unique_ptr<Ledger> open_s3_ledger(const Uri& uri);

}  // namespace sacker
