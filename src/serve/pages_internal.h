// What the page route files (pages_read.cpp, pages_promote.cpp, assets.cpp) share.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "serve/html.h"
#include "serve/sessions.h"
#include "serve/site.h"

namespace sacker::serve::pages {

struct Pages {
  explicit Pages(Site& s) : site(s) {}
  Site& site;
  Sessions sessions;

  std::int64_t now() const;
  // The request's live login session, if any.
  std::optional<WebSession> session(const Request& request);
  html::Nav nav(const Request& request);
  // Runs `body`; a sacker::Error becomes a one-line message page (NotFound 404,
  // Invalid 400, Conflict 409, Unavailable 503, Denied 502, others 500).
  void guarded(const Request& request, Response& response, const std::function<void()>& body);
};

using Shared = std::shared_ptr<Pages>;

void add_read_routes(Router& router, const Shared& pages);
// The login and promote / untag / rollback forms (pages_promote.cpp); none when read-only.
void add_write_routes(Router& router, const Shared& pages);
void add_asset_routes(Router& router);

// A form body (x-www-form-urlencoded) field, or "".
std::string form_value(const QueryPairs& form, std::string_view key);
// The first value of a query parameter, or "".
std::string query(const Request& request, std::string_view key);
void send_html(Response& response, const std::string& document);

}  // namespace sacker::serve::pages
