// The JSON API's tag changes: PUT and DELETE /api/v1/packages/{package}/tags/{tag}.
// Each is a compare-and-swap (Client::tag / untag with a TagExpectation): a tag that
// moved since the caller looked answers 409 and changes nothing. Writes need
// --allow-writes (403 otherwise) and a bearer token of scope promote (401 without a
// valid one, 403 for a read token); the token's name is recorded as the actor.
#include <fmt/core.h>

#include "core/codec.h"
#include "sacker/names.h"
#include "serve/api_support.h"

namespace sacker::serve::api {
using namespace sacker::codec;
namespace {

// The principal allowed to write, or nullopt after answering 401/403.
std::optional<Principal> writer(Site& site, const Request& req, Response& res) {
  if (!site.options.allow_writes || !site.authenticate) {
    send_error(res, ErrorKind::Denied, "writes are off: this server runs --read-only");
    return std::nullopt;
  }
  auto header = req.headers.get("Authorization");
  std::optional<Principal> who;
  constexpr std::string_view kBearer = "Bearer ";
  if (header && header->size() > kBearer.size() && iequals(header->substr(0, kBearer.size()), kBearer))
    who = site.authenticate(header->substr(kBearer.size()));
  if (!who) {
    send_error(res, ErrorKind::Denied, "a valid bearer token is needed (Authorization: Bearer ...)");
    res.status = 401;
    res.headers.set("WWW-Authenticate", "Bearer realm=\"sacker\"");
    return std::nullopt;
  }
  if (who->scope != Scope::Promote) {
    send_error(res, ErrorKind::Denied, fmt::format("token '{}' has scope read: changing tags needs scope promote",
                                                   printable(who->name)));
    return std::nullopt;
  }
  return who;
}

// The body: a JSON object (an empty body is {} for DELETE).
Json body_of(const Request& req, bool may_be_empty) {
  if (req.body.empty() && may_be_empty) return Json::object();
  Json body = Json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object())
    throw Error(ErrorKind::Invalid, "the request body must be a JSON object like {\"version\":42,\"expect\":41}");
  for (const auto& item : body.items())
    if (item.key() != "version" && item.key() != "expect" && item.key() != "comment")
      throw Error(ErrorKind::Invalid,
                  fmt::format("unknown field '{}' in the request body (version, expect, comment)", printable(item.key())));
  return body;
}

// expect: a version number, "none" (the tag must not exist), or absent/null (any).
TagExpectation expectation(const Json& body) {
  auto it = body.find("expect");
  if (it == body.end() || it->is_null()) return TagExpectation::any();
  if (it->is_string() && it->get<std::string>() == "none") return TagExpectation::absent();
  if (it->is_number_unsigned() && it->get<std::uint64_t>() > 0) return TagExpectation::at(it->get<std::uint64_t>());
  throw Error(ErrorKind::Invalid, "\"expect\" must be the version the tag points to now (a number), \"none\" or null");
}

std::string comment(const Json& body) {
  auto it = body.find("comment");
  if (it == body.end() || it->is_null()) return {};
  if (!it->is_string()) throw Error(ErrorKind::Invalid, "\"comment\" must be a string");
  return it->get<std::string>();
}

std::string conflict_message(const Error& e, const std::string& package, const std::string& tag) {
  return fmt::format("{} {}: moved by someone else since you looked ({}); reload and try again", package, tag,
                     e.what());
}

void put_tag(Site& site, const Request& req, Response& res) {
  auto who = writer(site, req, res);
  if (!who) return;
  const auto package = package_param(req);
  const std::string tag = req.param("tag");
  validate_user_tag(tag);
  const Json body = body_of(req, false);
  auto v = body.find("version");
  if (v == body.end() || !v->is_number_unsigned() || v->get<std::uint64_t>() == 0)
    throw Error(ErrorKind::Invalid, "\"version\" must be the version number to point the tag at");
  TagRequest request{package, v->get<std::uint64_t>(), tag, comment(body), expectation(body)};
  auto client = site.clients.lease();
  ActingAs acting(*client, *who);
  std::optional<Event> event;
  try {
    event = client->tag(request);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::Conflict) throw;
    return send_error(res, ErrorKind::Conflict, conflict_message(e, package, tag));
  }
  send_json(res, 200,
            Json{{"package", package},
                 {"tag", tag},
                 {"version", request.version},
                 {"event", event ? event_json(*event) : Json()}});
}

void delete_tag(Site& site, const Request& req, Response& res) {
  auto who = writer(site, req, res);
  if (!who) return;
  const auto package = package_param(req);
  const std::string tag = req.param("tag");
  validate_user_tag(tag);
  const Json body = body_of(req, true);
  if (body.contains("version")) throw Error(ErrorKind::Invalid, "DELETE takes expect and comment, not version");
  auto client = site.clients.lease();
  ActingAs acting(*client, *who);
  Event event;
  try {
    event = client->untag(package, tag, comment(body), expectation(body));
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::Conflict) throw;
    return send_error(res, ErrorKind::Conflict, conflict_message(e, package, tag));
  }
  send_json(res, 200, Json{{"package", package}, {"untagged", tag}, {"event", event_json(event)}});
}

}  // namespace

void add_write_routes(Router& router, Site& site) {
  Site* s = &site;
  route(router, "PUT", "/api/v1/packages/{package}/tags/{tag}", [s](const Request& req, Response& res) {
    answer(res, [&] { put_tag(*s, req, res); });
  });
  route(router, "DELETE", "/api/v1/packages/{package}/tags/{tag}", [s](const Request& req, Response& res) {
    answer(res, [&] { delete_tag(*s, req, res); });
  });
}

}  // namespace sacker::serve::api
