// The write forms of the pages, present only with `sacker serve --allow-writes`:
// /login (a token from the tokens file -> a session cookie), /logout, and per package
// promote, untag and rollback, each a GET that shows what will change and a POST that
// changes it.
//
// Every POST passes, in order (a failure answers a page and changes nothing):
// - not cross-site: a browser's Sec-Fetch-Site other than same-origin/none, or an
//   Origin of "null", is 403 (the cookie is SameSite=Strict as well);
// - a live session (else 303 to /login) whose CSRF token the form carries (compared in
//   constant time; 403 otherwise), of a token with scope promote (403);
// - for a tag in --protect (default live): the package name typed into the form (400);
// - a compare-and-swap against what the form showed: promote and untag carry the
//   tag's version then ("expect"), rollback the seq of the move it undoes. A tag that
//   moved meanwhile answers 409, "moved by someone else", and the form anew.
#include <fmt/core.h>

#include <algorithm>

#include "core/codec.h"
#include "sacker/error.h"
#include "sacker/names.h"
#include "serve/pages_internal.h"

namespace sacker::serve::pages {
namespace {

using html::escape;
using html::url_part;

// --- the checks every POST passes ------------------------------------------------

// A form post's fields; Error(Invalid) for a body that is not a form.
QueryPairs form_of(const Request& req) {
  auto form = parse_query(req.body);
  if (!form) throw Error(ErrorKind::Invalid, "the form's body is not application/x-www-form-urlencoded");
  return *form;
}

bool cross_site(const Request& req) {
  if (auto site = req.headers.get("Sec-Fetch-Site"); site && *site != "same-origin" && *site != "none") return true;
  if (auto origin = req.headers.get("Origin"); origin && *origin == "null") return true;
  return false;
}

// Where a login returns to: a path of ours only (no "//host", no scheme: no open
// redirect). Browsers drop tabs and newlines from a URL and read '\\' as '/', so
// "/\t/evil" would be "//evil": any control byte, space or backslash gives "/".
std::string safe_next(std::string_view next) {
  const bool odd = std::any_of(next.begin(), next.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f || c == '\\';
  });
  if (odd || next.empty() || next.front() != '/' || next.rfind("//", 0) == 0) return "/";
  return std::string(next);
}

void redirect(Response& res, const std::string& location) {
  res.status = 303;
  res.headers.set("Location", location);
  res.headers.set("Cache-Control", "no-store");
  res.set_body("", "text/plain; charset=utf-8");
}

void to_login(Response& res, const Request& req) {
  std::string back = req.raw_path;
  if (!req.raw_query.empty() && req.method == "GET") back += "?" + req.raw_query;
  redirect(res, "/login?next=" + url_part(back));
}

// The session allowed to change tags, or nullopt after answering (303 / 403).
std::optional<WebSession> promoter(Pages& p, const Request& req, Response& res, const QueryPairs* form) {
  if (form && cross_site(req)) {
    html::message_page(res, 403, "Refused", "a cross-site form post (Sec-Fetch-Site / Origin): nothing changed",
                       p.nav(req));
    return std::nullopt;
  }
  auto s = p.session(req);
  if (!s) {
    if (form) {
      html::message_page(res, 403, "Signed out", "your session ended: log in and submit the form again", p.nav(req));
    } else {
      to_login(res, req);
    }
    return std::nullopt;
  }
  if (form && !constant_time_equal(form_value(*form, "csrf"), s->csrf)) {
    html::message_page(res, 403, "Refused", "the form's CSRF token does not match your session: reload the page",
                       p.nav(req));
    return std::nullopt;
  }
  if (s->principal.scope != Scope::Promote) {
    html::message_page(res, 403, "Not allowed",
                       fmt::format("token '{}' has scope read: changing tags needs scope promote", s->principal.name),
                       p.nav(req));
    return std::nullopt;
  }
  return s;
}

bool is_protected(const Pages& p, const std::string& tag) {
  const auto& tags = p.site.options.protected_tags;
  return std::find(tags.begin(), tags.end(), tag) != tags.end();
}

std::uint64_t version_field(std::string_view text, const char* what) {
  auto v = codec::parse_decimal(text);
  if (!v || *v == 0) throw Error(ErrorKind::Invalid, fmt::format("{} must be a version number", what));
  return *v;
}

// "expect" as the form carried it: a version, or "none" (the tag did not exist).
TagExpectation expect_field(std::string_view text) {
  if (text == "none") return TagExpectation::absent();
  return TagExpectation::at(version_field(text, "expect"));
}

// --- the forms -------------------------------------------------------------------

// One side of "live: 41 -> 42": the version with its age and size, or "(none)".
std::string side(Client& client, const std::string& package, std::optional<std::uint64_t> version, std::int64_t now,
                 const char* id) {
  if (!version) return fmt::format("<td id=\"{}\">(none)</td><td></td><td></td>", id);
  auto r = client.resolve(package, Spec{Spec::Kind::Version, *version, {}});
  return fmt::format("<td id=\"{}\"><a href=\"/packages/{}/versions/{}\">{}</a></td><td>{}</td><td>{}</td>", id,
                     url_part(package), *version, *version, html::time_cell(r.created, now), html::size(r.size));
}

std::string confirm_field(const Pages& p, const std::string& package, const std::string& tag) {
  if (!is_protected(p, tag)) return "";
  return fmt::format(
      "<p class=\"protect\">'{0}' is protected: type the package name <code>{1}</code> to confirm.</p>"
      "<p><label>package name <input name=\"confirm\" id=\"confirm\" autocomplete=\"off\" required></label></p>",
      escape(tag), escape(package));
}

// The confirmation page of a change of `tag` from `from` to `to` (nullopt: removed).
void change_form(Pages& p, const Request& req, Response& res, const WebSession& s, const std::string& verb,
                 const std::string& package, const std::string& tag, std::optional<std::uint64_t> from,
                 std::optional<std::uint64_t> to, const std::string& hidden, int status = 200,
                 const std::string& notice = "") {
  auto client = p.site.clients.lease();
  const std::int64_t now = p.now();
  const std::string arrow = fmt::format("{}: {} -> {}", tag, from ? std::to_string(*from) : "(none)",
                                        to ? std::to_string(*to) : "(removed)");
  std::string main = fmt::format(
      "<h1>{0} <a href=\"/packages/{1}\">{2}</a></h1>{3}<p class=\"change\" id=\"change\">{4}</p>"
      "<table id=\"sides\"><thead><tr><th></th><th>version</th><th>created</th><th>size</th></tr></thead><tbody>"
      "<tr><th>now</th>{5}</tr><tr><th>after</th>{6}</tr></tbody></table>"
      "<form id=\"change-form\" method=\"post\" action=\"{7}\"><input type=\"hidden\" name=\"csrf\" value=\"{8}\">{9}"
      "<p><label>comment <input name=\"comment\" id=\"comment\" size=\"60\"></label></p>{10}"
      "<p><button type=\"submit\" id=\"submit\">{0}</button> <a href=\"/packages/{1}\">cancel</a></p></form>",
      escape(verb), url_part(package), escape(package), notice, escape(arrow), side(*client, package, from, now, "from"),
      side(*client, package, to, now, "to"), escape(req.raw_path), escape(s.csrf), hidden,
      confirm_field(p, package, tag));
  res.status = status;
  send_html(res, html::page(fmt::format("{} {} {}", verb, package, tag), p.nav(req), main));
}

std::string hidden(std::string_view name, std::string_view value) {
  return fmt::format("<input type=\"hidden\" name=\"{}\" value=\"{}\">", escape(name), escape(value));
}

std::optional<std::uint64_t> tag_now(Client& client, const std::string& package, const std::string& tag) {
  auto tags = client.tags(package);
  auto it = tags.find(tag);
  return it == tags.end() ? std::nullopt : std::optional(it->second);
}

// The 409 page: what happened, and the form again on the tag as it is now.
std::string moved_notice(const Error& e) {
  return fmt::format("<p class=\"error\" id=\"moved\">Moved by someone else since you looked ({}). Below is the "
                     "tag as it is now: confirm again to go on from there.</p>",
                     escape(e.what()));
}

// The typed confirmation of a protected tag; Error(Invalid) when it is not the name.
void check_confirmation(const Pages& p, const QueryPairs& form, const std::string& package, const std::string& tag) {
  if (is_protected(p, tag) && form_value(form, "confirm") != package)
    throw Error(ErrorKind::Invalid, fmt::format("'{}' is protected: type the package name '{}' to confirm; nothing "
                                                "changed",
                                                tag, package));
}

std::string user_tag(const std::string& text) {
  validate_user_tag(text);
  return text;
}

// What a form page and its post start with: the session allowed to change tags, the
// package and the tag (from the query on GET, from the form on POST, whose typed
// confirmation is checked too); nullopt after answering (see promoter()).
struct Change {
  QueryPairs form;  // empty for a GET
  WebSession session;
  std::string package, tag;
};
std::optional<Change> begin_change(Pages& p, const Request& req, Response& res, bool post) {
  Change c;
  if (post) c.form = form_of(req);
  auto s = promoter(p, req, res, post ? &c.form : nullptr);
  if (!s) return std::nullopt;
  c.session = *s;
  c.package = req.param("package");
  validate_package_name(c.package);
  c.tag = user_tag(post ? form_value(c.form, "tag") : query(req, "tag"));
  if (post) check_confirmation(p, c.form, c.package, c.tag);
  return c;
}

// Runs `apply` on a lease acting as the session's principal, then lands on the tag's
// history. A Conflict (the tag moved since the form was shown) goes to `moved`
// instead, which answers the 409 page; other errors go up to guarded().
void commit_change(Pages& p, Response& res, const Change& c, const std::function<void(Client&)>& apply,
                   const std::function<void(const Error&)>& moved) {
  try {
    auto client = p.site.clients.lease();
    ActingAs acting(*client, c.session.principal);
    apply(*client);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::Conflict) throw;
    return moved(e);
  }
  redirect(res, fmt::format("/packages/{}/history?tag={}", url_part(c.package), url_part(c.tag)));
}

std::optional<std::uint64_t> current_tag(Pages& p, const Change& c) {
  auto client = p.site.clients.lease();
  return tag_now(*client, c.package, c.tag);
}

// --- promote -----------------------------------------------------------------------

void promote_form(Pages& p, const Request& req, Response& res, const Change& c, std::uint64_t version,
                  int status = 200, const std::string& notice = "") {
  const auto from = current_tag(p, c);
  change_form(p, req, res, c.session, "Promote", c.package, c.tag, from, version,
              hidden("tag", c.tag) + hidden("version", std::to_string(version)) +
                  hidden("expect", from ? std::to_string(*from) : "none"),
              status, notice);
}

void promote_page(Pages& p, const Request& req, Response& res) {
  auto c = begin_change(p, req, res, false);
  if (!c) return;
  const std::uint64_t version = version_field(query(req, "version"), "version");
  {
    auto client = p.site.clients.lease();
    client->resolve(c->package, Spec{Spec::Kind::Version, version, {}});  // NotFound for a version that is not there
  }
  promote_form(p, req, res, *c, version);
}

void promote_post(Pages& p, const Request& req, Response& res) {
  auto c = begin_change(p, req, res, true);
  if (!c) return;
  const std::uint64_t version = version_field(form_value(c->form, "version"), "version");
  const TagExpectation expect = expect_field(form_value(c->form, "expect"));
  commit_change(
      p, res, *c,
      [&](Client& client) { client.tag(TagRequest{c->package, version, c->tag, form_value(c->form, "comment"), expect}); },
      [&](const Error& e) { promote_form(p, req, res, *c, version, 409, moved_notice(e)); });
}

// --- untag ---------------------------------------------------------------------------

void untag_form(Pages& p, const Request& req, Response& res, const Change& c, int status = 200,
                const std::string& notice = "") {
  const auto from = current_tag(p, c);
  if (!from) throw Error(ErrorKind::NotFound, fmt::format("package {} has no tag '{}'", c.package, c.tag));
  change_form(p, req, res, c.session, "Untag", c.package, c.tag, from, std::nullopt,
              hidden("tag", c.tag) + hidden("expect", std::to_string(*from)), status, notice);
}

void untag_page(Pages& p, const Request& req, Response& res) {
  if (auto c = begin_change(p, req, res, false)) untag_form(p, req, res, *c);
}

void untag_post(Pages& p, const Request& req, Response& res) {
  auto c = begin_change(p, req, res, true);
  if (!c) return;
  const TagExpectation expect = expect_field(form_value(c->form, "expect"));
  commit_change(
      p, res, *c, [&](Client& client) { client.untag(c->package, c->tag, form_value(c->form, "comment"), expect); },
      [&](const Error& e) { untag_form(p, req, res, *c, 409, moved_notice(e)); });
}

// --- rollback ----------------------------------------------------------------------

// The latest move of `tag` (what a rollback undoes); Error(NotFound) without one.
Event last_move(Client& client, const std::string& package, const std::string& tag) {
  auto events = client.history(package, HistoryQuery{tag, 1, 0});
  if (events.empty() || !events.front().previous)
    throw Error(ErrorKind::NotFound,
                fmt::format("package {}: tag '{}' has no earlier version to roll back to", package, tag));
  return events.front();
}

void rollback_form(Pages& p, const Request& req, Response& res, const Change& c, int status = 200,
                   const std::string& notice = "") {
  Event move;
  {
    auto client = p.site.clients.lease();
    move = last_move(*client, c.package, c.tag);
  }
  change_form(p, req, res, c.session, "Roll back", c.package, c.tag, current_tag(p, c), move.previous,
              hidden("tag", c.tag) + hidden("seq", std::to_string(move.seq)), status, notice);
}

void rollback_page(Pages& p, const Request& req, Response& res) {
  if (auto c = begin_change(p, req, res, false)) rollback_form(p, req, res, *c);
}

void rollback_post(Pages& p, const Request& req, Response& res) {
  auto c = begin_change(p, req, res, true);
  if (!c) return;
  const std::uint64_t seq = version_field(form_value(c->form, "seq"), "seq");
  commit_change(
      p, res, *c, [&](Client& client) { client.rollback(c->package, c->tag, form_value(c->form, "comment"), seq); },
      [&](const Error& e) { rollback_form(p, req, res, *c, 409, moved_notice(e)); });
}

// --- login -------------------------------------------------------------------------

void login_form(Pages& p, const Request& req, Response& res, const std::string& next, int status,
                const std::string& error) {
  res.status = status;
  send_html(res, html::page("Log in", p.nav(req),
                            fmt::format("<h1>Log in</h1>{}<form id=\"login-form\" method=\"post\" action=\"/login\">"
                                        "<input type=\"hidden\" name=\"next\" value=\"{}\"><p><label>token <input "
                                        "type=\"password\" name=\"token\" id=\"token\" autocomplete=\"off\" required>"
                                        "</label></p><p><button type=\"submit\" id=\"login\">log in</button></p></form>"
                                        "<p>A token from the server's tokens file (<code>sacker serve --new-token "
                                        "NAME --scope promote</code>).</p>",
                                        error.empty() ? "" : "<p class=\"error\" id=\"message\">" + escape(error) + "</p>",
                                        escape(next))));
}

void login_page(Pages& p, const Request& req, Response& res) {
  login_form(p, req, res, safe_next(query(req, "next")), 200, "");
}

void login_post(Pages& p, const Request& req, Response& res) {
  const QueryPairs form = form_of(req);
  if (cross_site(req))
    return html::message_page(res, 403, "Refused", "a cross-site form post: nothing changed", p.nav(req));
  const std::string next = safe_next(form_value(form, "next"));
  std::optional<Principal> who;
  if (p.site.authenticate) who = p.site.authenticate(form_value(form, "token"));
  if (!who) return login_form(p, req, res, next, 401, "that token is not in the server's tokens file");
  const std::string id = p.sessions.create(*who, p.now());
  std::string cookie = fmt::format("{}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}", Sessions::kCookie, id,
                                   Sessions::kLifetimeSeconds);
  if (auto proto = req.headers.get("X-Forwarded-Proto"); proto && *proto == "https") cookie += "; Secure";
  redirect(res, next);
  res.headers.set("Set-Cookie", cookie);
}

void logout(Pages& p, const Request& req, Response& res) {
  if (auto cookie = req.headers.get("Cookie")) p.sessions.remove(cookie_value(*cookie, Sessions::kCookie));
  redirect(res, "/");
  res.headers.set("Set-Cookie", fmt::format("{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0", Sessions::kCookie));
}

}  // namespace

void add_write_routes(Router& router, const Shared& pages) {
  if (!pages->site.options.allow_writes) return;  // a read-only server has no such route: 404
  auto route = [&](const char* method, std::string_view pattern, void (*fn)(Pages&, const Request&, Response&)) {
    router.add(method, std::string(pattern), [pages, fn](const Request& req, Response& res) {
      pages->guarded(req, res, [&] { fn(*pages, req, res); });
    });
  };
  route("GET", "/login", login_page);
  route("POST", "/login", login_post);
  route("GET", "/logout", logout);
  route("GET", "/packages/{package}/promote", promote_page);
  route("POST", "/packages/{package}/promote", promote_post);
  route("GET", "/packages/{package}/untag", untag_page);
  route("POST", "/packages/{package}/untag", untag_post);
  route("GET", "/packages/{package}/rollback", rollback_page);
  route("POST", "/packages/{package}/rollback", rollback_post);
}

}  // namespace sacker::serve::pages
