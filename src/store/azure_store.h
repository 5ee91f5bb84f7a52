// azure://account/container[/prefix] — the Azure Blob Storage store, blob name =
// prefix + sha256 hex. The backend class lives in the .cpp; this header only
// declares its factory, registered in the scheme table (src/client/registry.cpp).
#pragma once

#include <memory>

#include "sacker/store.h"
#include "sacker/uri.h"

namespace sacker {

std::unique_ptr<Store> open_azure_store(const Uri& uri);
inline constexpr StoreScheme kAzureStoreScheme{"azure", "azure://account/container[/prefix]", open_azure_store};

}  // namespace sacker
