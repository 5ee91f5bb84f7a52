// file:///path — the embedded default store: a content-addressed directory,
// <root>/<first two hex digits>/<sha256>. Blobs are written to a temp file in the
// same directory while being hashed, verified, fsynced and linked into place, so a
// blob is never visible under a sha it does not hash to.
#pragma once

#include <memory>

#include "sacker/store.h"
#include "sacker/uri.h"

namespace sacker {

std::unique_ptr<Store> open_file_store(const Uri& uri);
inline constexpr StoreScheme kFileStoreScheme{"file", "file:///path/to/blobs", open_file_store};

}  // namespace sacker
