// add_page_routes: the HTML pages of `sacker serve` (see docs/serve.md).
#include <fmt/core.h>

#include <ctime>

#include "sacker/error.h"
#include "serve/pages_internal.h"

namespace sacker::serve {
namespace pages {

std::int64_t Pages::now() const {
  return site.now ? site.now() : static_cast<std::int64_t>(std::time(nullptr));
}

std::optional<WebSession> Pages::session(const Request& request) {
  if (!site.options.allow_writes) return std::nullopt;
  const auto cookie = request.headers.get("Cookie");
  if (!cookie) return std::nullopt;
  return sessions.find(cookie_value(*cookie, Sessions::kCookie), now());
}

html::Nav Pages::nav(const Request& request) {
  html::Nav nav;
  nav.writes = site.options.allow_writes;
  if (auto s = session(request)) nav.principal = s->principal.name;
  return nav;
}

void Pages::guarded(const Request& request, Response& response, const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    int status = 500;
    const char* title = "Error";
    switch (e.kind()) {
      case ErrorKind::NotFound: status = 404, title = "Not found"; break;
      case ErrorKind::Invalid: status = 400, title = "Invalid request"; break;
      case ErrorKind::Conflict: status = 409, title = "Conflict"; break;
      case ErrorKind::Unavailable: status = 503, title = "Backend unavailable"; break;
      case ErrorKind::Denied: status = 502, title = "Backend denied access"; break;
      default: break;
    }
    html::message_page(response, status, title, e.what(), nav(request));
  }
}

std::string form_value(const QueryPairs& form, std::string_view key) {
  for (const auto& kv : form)
    if (kv.first == key) return kv.second;
  return "";
}

std::string query(const Request& request, std::string_view key) {
  return std::string(request.query_value(key).value_or(""));
}

void send_html(Response& response, const std::string& document) {
  html::send(response, document);
}

}  // namespace pages

void add_page_routes(Router& router, Site& site) {
  auto shared = std::make_shared<pages::Pages>(site);
  pages::add_read_routes(router, shared);
  pages::add_write_routes(router, shared);
  pages::add_asset_routes(router);
}

}  // namespace sacker::serve
