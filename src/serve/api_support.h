// What the JSON API's route files share (api.cpp: reads, api_write.cpp: tag changes):
// JSON answers, errors as {"error":{"kind","message"}} with the ErrorKind's status,
// and the checks of names taken from a path.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "client/json_view.h"
#include "sacker/error.h"
#include "sacker/spec.h"
#include "serve/http_server.h"
#include "serve/site.h"

namespace sacker::serve::api {

// NotFound 404, Invalid 400, Conflict 409, Denied 403, NotTrusted 403,
// Unavailable 503, Integrity 502, LocalIO and Internal 500.
int http_status(ErrorKind kind) noexcept;

void send_json(Response& response, int status, const Json& document);
// {"error":{"kind":kind_name,"message":...}}, counted in metrics().error.
void send_error(Response& response, ErrorKind kind, std::string_view message);
// Runs `body`; a sacker::Error becomes send_error with its kind's status.
template <typename F>
void answer(Response& response, F&& body) {
  try {
    body();
  } catch (const Error& e) {
    send_error(response, e.kind(), e.what());
  }
}

// The {p} of a route, validated as a package name (Error(Invalid)).
std::string package_param(const Request& request);
// A query parameter as a decimal count in [0, max]; nullopt if absent.
// Error(Invalid) naming it otherwise.
std::optional<std::uint64_t> number_query(const Request& request, std::string_view name, std::uint64_t max);

// Registers `handler` on `router`, counted in metrics() under `pattern`.
void route(Router& router, const std::string& method, const std::string& pattern, Handler handler);

void add_write_routes(Router& router, Site& site);  // api_write.cpp

}  // namespace sacker::serve::api
