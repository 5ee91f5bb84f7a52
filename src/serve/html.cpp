#include "serve/html.h"

#include <fmt/core.h>

#include "core/codec.h"
#include "sacker/record.h"

namespace sacker::serve::html {

std::string escape(std::string_view text) { return codec::xml_escape(text); }

std::string url_part(std::string_view text) { return codec::percent_encode(text); }

std::string size(std::uint64_t bytes) { return codec::human_size(bytes); }

std::string age(std::int64_t then, std::int64_t now) {
  if (then > now) return "in the future";
  const std::int64_t d = now - then;
  if (d < 60) return fmt::format("{} s ago", d);
  if (d < 3600) return fmt::format("{} min ago", d / 60);
  if (d < 86400) return fmt::format("{} h ago", d / 3600);
  return fmt::format("{} d ago", d / 86400);
}

std::string time_cell(std::int64_t then, std::int64_t now) {
  const std::string utc = format_utc(then);
  return fmt::format("<time datetime=\"{0}\" title=\"{0}\">{1}</time>", utc, escape(age(then, now)));
}

std::string page(std::string_view title, const Nav& nav, const std::string& main) {
  std::string user;
  if (!nav.principal.empty())
    user = fmt::format("<span class=\"who\">signed in as <b id=\"principal\">{}</b></span> <a href=\"/logout\">log out</a>",
                       escape(nav.principal));
  else if (nav.writes)
    user = "<a href=\"/login\">log in</a>";
  return fmt::format(
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{} · sacker</title>"
      "<link rel=\"stylesheet\" href=\"/static/pages.css\"><script src=\"/static/pages.js\" defer></script>"
      "</head><body><header><a class=\"brand\" href=\"/\">sacker</a> <nav><a href=\"/\">packages</a> "
      "<a href=\"/lookup\">lookup</a> <a href=\"/status\">status</a></nav> <span class=\"user\">{}</span></header>"
      "<main>{}</main></body></html>\n",
      escape(title), user, main);
}

void send(Response& response, const std::string& document) {
  response.set_body(document, "text/html; charset=utf-8");
  response.headers.set("Content-Security-Policy",
                       "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
                       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'");
  response.headers.set("X-Content-Type-Options", "nosniff");
  response.headers.set("Referrer-Policy", "same-origin");
  response.headers.set("Cache-Control", "no-store");
}

void message_page(Response& response, int status, std::string_view title, std::string_view message,
                  const Nav& nav) {
  response.status = status;
  send(response, page(title, nav,
                         fmt::format("<h1>{}</h1><p id=\"message\" class=\"error\">{}</p><p><a href=\"/\">all packages</a></p>",
                                     escape(title), escape(message))));
}

}  // namespace sacker::serve::html
