// s3://bucket[/prefix] — the S3 store, key = prefix + sha256 hex.
// The backend class lives in the .cpp; this header only declares its factory,
// registered in src/core/backends.cpp.
#pragma once

#include <memory>

#include "sacker/store.h"
#include "sacker/uri.h"

namespace sacker {

std::unique_ptr<Store> open_s3_store(const Uri& uri);

}  // namespace sacker
