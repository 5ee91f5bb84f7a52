#include "net/http_status.h"

#include <fmt/format.h>

#include "sacker/error.h"

namespace sacker::net {

std::string endpoint_host(std::string_view endpoint) {
  try {
    return parse_url(endpoint).host_header();
  } catch (const Error&) {
    return "the endpoint";
  }
}

void throw_for_status(const HttpResponse& r, const StatusFailure& f) {
  if (r.status == 429 || r.status >= 500 || f.busy)
    throw Error(
        ErrorKind::Unavailable,
        fmt::format("{}: server error {} ({}) from {}{}", f.target, r.status, f.detail, endpoint_host(f.endpoint),
                    r.attempts > 1 ? fmt::format(", after {} attempts", r.attempts) : ""));
  if (r.status == 409 || r.status == 412)
    throw Error(ErrorKind::Conflict, fmt::format("{}: conflict ({})", f.target, f.detail));
  if (r.status >= 300 && r.status < 400)
    throw Error(ErrorKind::Invalid,
                fmt::format("{}: redirected ({}): check the endpoint{}", f.target, f.detail, f.redirect_hint));
  throw Error(r.status >= 400 && r.status < 500 ? ErrorKind::Invalid : ErrorKind::Internal,
              fmt::format("{}: request refused with HTTP {} ({})", f.target, r.status, f.detail));
}

}  // namespace sacker::net
