// s3://bucket[/prefix] — the S3 store, key = prefix + sha256 hex.
// The backend class lives in the .cpp; this header only declares its factory,
// registered in the scheme table (src/client/registry.cpp).
#pragma once

#include <memory>

#include "sacker/store.h"
#include "sacker/uri.h"

namespace sacker {

std::unique_ptr<Store> open_s3_store(const Uri& uri);
inline constexpr StoreScheme kS3StoreScheme{"s3", "s3://bucket[/prefix]", open_s3_store};

}  // namespace sacker
