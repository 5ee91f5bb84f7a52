// mem://name — an in-process store for fast tests of the logic above the stores
// (it passes the store conformance suite). Every Store opened on the same
// mem://name in one process shares the blobs; they are gone when the process ends.
#pragma once

#include <memory>

#include "sacker/store.h"

namespace sacker {

std::unique_ptr<Store> open_mem_store(const Uri& uri);
inline constexpr StoreScheme kMemStoreScheme{"mem", "mem://name", open_mem_store};

}  // namespace sacker
