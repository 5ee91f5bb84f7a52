// The generic end of a REST client's error mapping (S3, Azure Blob): what an HTTP
// status means once the client has handled its service's own answers (denied,
// not found, integrity codes, wrong region). One place, so that every wire client
// words and classifies "the server is busy", "conflict", "redirected" and
// "refused" alike. The statuses a caller does not handle itself:
//   429, 5xx, or `busy` (the service's "slow down" code)  -> Error(Unavailable)
//       "<target>: server error <status> (<detail>) from <host>[, after N attempts]"
//   409, 412                                             -> Error(Conflict)
//       "<target>: conflict (<detail>)"
//   3xx                                                  -> Error(Invalid)
//       "<target>: redirected (<detail>): check the endpoint<redirect_hint>"
//   any other 4xx -> Error(Invalid), anything else -> Error(Internal)
//       "<target>: request refused with HTTP <status> (<detail>)"
// `detail` is already printable (the caller quotes the server's code and message
// through printable()); nothing here reads a header or the body.
#pragma once

#include <string>
#include <string_view>

#include "net/http.h"

namespace sacker::net {

struct StatusFailure {
  std::string_view target;         // what was asked: "s3://bucket/key", "azure://account/container/blob"
  std::string_view detail;         // the service's error code (or "HTTP <status>") and message
  std::string_view endpoint;       // the service's base URL; only its host:port is shown
  std::string_view redirect_hint;  // appended to "check the endpoint", e.g. " and AWS_REGION (eu-west-1)"
  bool busy = false;               // the service's own code says "retry later" (SlowDown, ServerBusy ...)
};

[[noreturn]] void throw_for_status(const HttpResponse& response, const StatusFailure& failure);

// host[:port] of an endpoint URL for messages (never its userinfo, path or query);
// "the endpoint" when it does not parse.
std::string endpoint_host(std::string_view endpoint);

}  // namespace sacker::net
