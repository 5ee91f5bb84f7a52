// A chain of stores: the first is a local cache, the rest are remotes (config
// file "store": [cache, remote...]). Reads try the cache first and fill it from
// the first remote that has the blob (verified before it enters the cache);
// writes go to every remote and then to the cache.
#pragma once

#include <memory>
#include <vector>

#include "sacker/store.h"

namespace sacker {

std::unique_ptr<Store> make_chain_store(std::vector<std::unique_ptr<Store>> stores);

}  // namespace sacker
