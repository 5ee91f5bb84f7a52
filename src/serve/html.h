// Small helpers the HTML pages share (pages_*.cpp): escaping of untrusted text, URL
// segments, human-readable sizes and ages, and the one page layout.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "serve/http_server.h"

namespace sacker::serve::html {

// Text and attribute values: & < > " ' escaped (codec::xml_escape; HTML5 knows &apos;). Every string from the ledger
// (names, metadata, comments, actors) goes through this.
std::string escape(std::string_view text);
// One path segment or query value, %-encoded (unreserved characters kept).
std::string url_part(std::string_view text);
// "1.2 MiB", "512 B".
std::string size(std::uint64_t bytes);
// "3 h ago" relative to now; "in the future" for clock skew.
std::string age(std::int64_t then, std::int64_t now);
// RFC 3339 UTC in a <time> element, its age as the title.
std::string time_cell(std::int64_t then, std::int64_t now);

struct Nav {
  std::string principal;  // "" when not logged in
  bool writes = false;    // show the login link
};

// The whole document: head (title, /static/pages.css, /static/pages.js), header with
// navigation, `main` as given (already escaped HTML).
std::string page(std::string_view title, const Nav& nav, const std::string& main);
// Sets the body to `document` as text/html with the pages' strict Content-Security-Policy,
// no caching, nosniff, no referrer.
void send(Response& response, const std::string& document);
// Sets `response` to `status` with a one-line message page (escaped).
void message_page(Response& response, int status, std::string_view title, std::string_view message,
                  const Nav& nav = {});

}  // namespace sacker::serve::html
