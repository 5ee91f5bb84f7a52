// The entry of sacker-http.so: the cpp-httplib engine of serve::Server
// (serve/http_engine.h, client/backend_module.h).
#include "serve/http_engine.h"

#ifndef SACKER_MODULE_ABI
#error "SACKER_MODULE_ABI is set by src/serve/CMakeLists.txt"
#endif

namespace {
const sacker::serve::HttpModule kModule{SACKER_MODULE_ABI, "http", sacker::serve::make_httplib_engine};
}  // namespace

extern "C" __attribute__((visibility("default"))) const sacker::serve::HttpModule* sacker_module_v1() {
  return &kModule;
}
