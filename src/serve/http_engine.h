// The part of serve::Server that runs on cpp-httplib (serve/http_server.cpp), behind
// an interface so that the sacker command loads it, with libcpp-httplib and libssl,
// only for `sacker serve`: from the module sacker-http.so (client/backend_module.h)
// when backends load on demand, else linked in (http_engine_linked.cpp).
#pragma once

#include <memory>

#include "serve/http_server.h"

namespace sacker::serve {

class HttpEngine {
 public:
  virtual ~HttpEngine() = default;  // stops, as stop()
  virtual void start() = 0;         // Server::start
  virtual int port_number() const = 0;
  virtual void stop() = 0;          // Server::stop
};

// The cpp-httplib engine (http_server.cpp).
std::unique_ptr<HttpEngine> make_httplib_engine(Router router, ServerOptions options);
// What Server uses: make_httplib_engine linked in, or the module's.
std::unique_ptr<HttpEngine> make_http_engine(Router router, ServerOptions options);

// The entry of sacker-http.so (http_module.cpp).
struct HttpModule {
  const char* abi;
  const char* name;  // "http"
  std::unique_ptr<HttpEngine> (*make)(Router router, ServerOptions options);
};

}  // namespace sacker::serve
