// serve::Server with cpp-httplib linked in (sacker_serve: the tests, and the sacker
// command built without SACKER_BACKEND_MODULES).
#include "serve/http_engine.h"

namespace sacker::serve {

std::unique_ptr<HttpEngine> make_http_engine(Router router, ServerOptions options) {
  return make_httplib_engine(std::move(router), std::move(options));
}

}  // namespace sacker::serve
