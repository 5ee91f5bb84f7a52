// webhdfs://namenode:port[,namenode2:port]/path and swebhdfs:// (TLS) — the HDFS
// store over the WebHDFS REST protocol, file = <path>/<sha256 hex>. The backend
// class lives in the .cpp; this header only declares its factory, registered in the
// scheme table (src/client/registry.cpp). Options and auth: docs/stores/webhdfs.md.
#pragma once

#include <memory>

#include "sacker/store.h"
#include "sacker/uri.h"

namespace sacker {

std::unique_ptr<Store> open_webhdfs_store(const Uri& uri);
inline constexpr StoreScheme kWebHdfsStoreScheme{"webhdfs", "webhdfs://namenode:9870[,namenode2:9870]/path",
                                                 open_webhdfs_store};
inline constexpr StoreScheme kSwebHdfsStoreScheme{"swebhdfs", "swebhdfs://namenode:9871[,namenode2:9871]/path",
                                                  open_webhdfs_store};

}  // namespace sacker
