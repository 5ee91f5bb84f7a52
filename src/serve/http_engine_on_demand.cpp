// serve::Server with cpp-httplib loaded from sacker-http.so on first use (the sacker
// command with SACKER_BACKEND_MODULES; client/backend_module.h).
#include "client/backend_module.h"
#include "serve/http_engine.h"

namespace sacker::serve {

std::unique_ptr<HttpEngine> make_http_engine(Router router, ServerOptions options) {
  const auto* module = static_cast<const HttpModule*>(load_module("http", "the HTTP server of sacker serve"));
  return module->make(std::move(router), std::move(options));
}

}  // namespace sacker::serve
