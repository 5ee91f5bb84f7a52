// The JSON API of `sacker serve`, the reading part: /api/v1/..., /healthz, /metrics.
// Field names are the CLI's --json ones (client/json_view.h). Tag changes are in
// api_write.cpp. The reference is docs/serve.md.
#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/codec.h"
#include "sacker/names.h"
#include "serve/api_support.h"
#include "serve/metrics.h"

namespace sacker::serve {
using namespace sacker::codec;
namespace api {

int http_status(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::NotFound: return 404;
    case ErrorKind::Invalid: return 400;
    case ErrorKind::Conflict: return 409;
    case ErrorKind::Denied:
    case ErrorKind::NotTrusted: return 403;
    case ErrorKind::Unavailable: return 503;
    case ErrorKind::Integrity: return 502;
    case ErrorKind::LocalIO:
    case ErrorKind::Internal: return 500;
  }
  return 500;
}

void send_json(Response& response, int status, const Json& document) {
  response.status = status;
  response.set_body(json_text(document) + "\n", "application/json");
  response.headers.set("Cache-Control", "no-store");
}

void send_error(Response& response, ErrorKind kind, std::string_view message) {
  metrics().error(kind);
  // Messages are ours (names in them already escaped by printable()); json_text
  // refuses invalid UTF-8, so make sure of it.
  std::string text(message);
  if (!is_valid_utf8(text)) text = printable(text, 400);
  send_json(response, http_status(kind), Json{{"error", {{"kind", kind_name(kind)}, {"message", text}}}});
}

std::string package_param(const Request& request) {
  const std::string& name = request.param("package");
  validate_package_name(name);
  return name;
}

std::optional<std::uint64_t> number_query(const Request& request, std::string_view name, std::uint64_t max) {
  auto text = request.query_value(name);
  if (!text) return std::nullopt;
  auto value = parse_decimal(*text, max);
  if (!value)
    throw Error(ErrorKind::Invalid,
                fmt::format("invalid ?{}='{}': a whole number from 0 to {}", name, printable(*text), max));
  return value;
}

void route(Router& router, const std::string& method, const std::string& pattern, Handler handler) {
  router.add(method, pattern, metrics().instrument(method, pattern, std::move(handler)));
}

}  // namespace api

namespace {

using namespace api;

constexpr std::uint64_t kDefaultLimit = 50, kMaxLimit = 1000;

// What a tag map says about one version: the tags pointing at it, sorted.
std::vector<std::string> tags_of(const std::map<std::string, std::uint64_t>& tags, std::uint64_t version) {
  std::vector<std::string> out;
  for (const auto& [tag, v] : tags)
    if (v == version) out.push_back(tag);
  return out;
}

Spec spec_param(const Request& request) {
  const std::string& text = request.param("spec");
  return parse_spec(text);
}

// get_range's sink onto the HTTP layer's Write; a gone client stops the read.
struct ClientGone {};
class WriteSink : public BlobSink {
 public:
  explicit WriteSink(const Write& write) : write_(write) {}
  void write(const char* data, std::size_t size) override {
    if (!write_(data, size)) throw ClientGone{};
  }

 private:
  const Write& write_;
};

void packages(Site& site, Response& res) {
  auto client = site.clients.lease();
  send_json(res, 200, Json{{"packages", client->list()}});
}

void package(Site& site, const Request& req, Response& res) {
  const auto name = package_param(req);
  auto client = site.clients.lease();
  auto tags = client->tags(name);  // NotFound for an unknown package
  auto versions = client->versions(name);
  auto latest = client->resolve(name, Spec{});
  Json tag_map = Json::object();
  for (const auto& [tag, version] : tags) tag_map[tag] = version;
  send_json(res, 200,
            Json{{"package", name},
                 {"latest", record_json(latest, tags_of(tags, latest.version))},
                 {"tags", tag_map},
                 {"version_count", versions.size()}});
}

// Newest first; ?cursor= is the next_cursor of the page before (versions below it).
void versions(Site& site, const Request& req, Response& res) {
  const auto name = package_param(req);
  const auto limit = number_query(req, "limit", kMaxLimit).value_or(kDefaultLimit);
  if (limit == 0) throw Error(ErrorKind::Invalid, fmt::format("invalid ?limit=0: 1 to {}", kMaxLimit));
  std::optional<std::uint64_t> cursor;
  if (auto text = req.query_value("cursor")) {
    cursor = parse_decimal(*text);
    if (!cursor || *cursor == 0)
      throw Error(ErrorKind::Invalid,
                  fmt::format("invalid ?cursor='{}': use the next_cursor of the page before", printable(*text)));
  }
  auto client = site.clients.lease();
  auto all = client->versions(name);
  auto tags = client->tags(name);
  Json page = Json::array();
  std::optional<std::uint64_t> next;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (cursor && *it >= *cursor) continue;
    if (page.size() == limit) {
      next = page.back()["version"].get<std::uint64_t>();
      break;
    }
    page.push_back(record_json(client->resolve(name, Spec{Spec::Kind::Version, *it, {}}), tags_of(tags, *it)));
  }
  Json doc{{"package", name}, {"versions", page}};
  doc["next_cursor"] = next ? Json(std::to_string(*next)) : Json();
  send_json(res, 200, doc);
}

void version(Site& site, const Request& req, Response& res) {
  const auto name = package_param(req);
  const auto spec = spec_param(req);
  auto client = site.clients.lease();
  auto info = client->info(name, spec);
  send_json(res, 200, record_json(info.record, info.tags));
}

// Bytes per get_range while streaming a blob: the memory a download holds (a store may
// buffer a whole range, as S3's ranged GET does) and, on S3, one request each.
constexpr std::uint64_t kBlobPiece = 8 << 20;

void blob(Site& site, const Request& req, Response& res) {
  const auto name = package_param(req);
  const auto spec = spec_param(req);
  VersionRecord record;
  std::string etag;
  {
    auto client = site.clients.lease();
    record = client->resolve(name, spec);
    // The blob must be there before a 200 goes out: a missing blob is a 404, not a short body.
    auto stat = client->store().stat(record.sha256);
    if (!stat)
      throw Error(ErrorKind::NotFound,
                  fmt::format("{} {}: blob {} is not in the store", name, record.version, record.sha256));
    etag = stat->etag;
  }
  const std::string sha = record.sha256;
  Site* site_ptr = &site;
  res.stream(record.size, "application/octet-stream",
             [site_ptr, sha, etag](std::uint64_t offset, std::uint64_t length, const Write& write) {
               try {
                 auto client = site_ptr->clients.lease();
                 WriteSink sink(write);
                 // Piece by piece, each written as it comes; every piece of the same
                 // object (If-Match on its ETag where the store has one).
                 while (length > 0) {
                   const std::uint64_t n = std::min(length, kBlobPiece);
                   client->store().get_range(sha, offset, n, etag, sink);
                   offset += n;
                   length -= n;
                 }
                 return true;
               } catch (const ClientGone&) {
                 return false;
               } catch (const Error& e) {
                 metrics().error(e.kind());
                 return false;
               }
             });
  res.headers.set("ETag", "\"" + sha + "\"");
  res.headers.set("Content-Disposition", "attachment; filename*=UTF-8''" + percent_encode(record.basename));
  res.headers.set("X-Content-Type-Options", "nosniff");
}

void tags(Site& site, const Request& req, Response& res) {
  const auto name = package_param(req);
  auto client = site.clients.lease();
  send_json(res, 200, tags_json(name, client->tag_infos(name)));
}

void history(Site& site, const Request& req, Response& res) {
  const auto name = package_param(req);
  HistoryQuery query;
  if (auto tag = req.query_value("tag")) {
    validate_tag_name(*tag);
    query.tag = std::string(*tag);
  }
  query.limit = number_query(req, "limit", kMaxLimit).value_or(0);
  query.before = number_query(req, "before", UINT64_MAX).value_or(0);
  auto client = site.clients.lease();
  auto events = client->history(name, query);
  Json array = Json::array();
  for (const auto& e : events) array.push_back(event_json(e));
  Json doc{{"package", name}, {"events", array}};
  doc["next_before"] = query.limit && events.size() == query.limit ? Json(events.back().seq) : Json();
  send_json(res, 200, doc);
}

void lookup(Site& site, const Request& req, Response& res) {
  const std::string& hex = req.param("sha256");
  auto client = site.clients.lease();
  auto records = client->find_by_sha256(hex);
  std::map<std::string, std::map<std::string, std::uint64_t>> tags;
  Json array = Json::array();
  for (const auto& r : records) {
    auto it = tags.find(r.package);
    if (it == tags.end()) it = tags.emplace(r.package, client->tags(r.package)).first;
    array.push_back(record_json(r, tags_of(it->second, r.version)));
  }
  send_json(res, 200, Json{{"query", to_lower(hex)}, {"versions", array}});
}

void status(Site& site, Response& res) {
  Json ledger{{"uri", site.options.ledger_uri}}, store{{"uri", site.options.store_uri}};
  bool ok = true;
  try {
    auto client = site.clients.lease();
    try {
      client->list();
      ledger["reachable"] = true;
    } catch (const Error& e) {
      ok = false;
      ledger["reachable"] = false;
      ledger["error"] = {{"kind", kind_name(e.kind())}, {"message", e.what()}};
    }
    try {
      client->store().contains(std::string(64, '0'));
      store["reachable"] = true;
    } catch (const Error& e) {
      ok = false;
      store["reachable"] = false;
      store["error"] = {{"kind", kind_name(e.kind())}, {"message", e.what()}};
    }
  } catch (const Error& e) {  // the client itself could not be opened
    ok = false;
    ledger["reachable"] = false;
    ledger["error"] = {{"kind", kind_name(e.kind())}, {"message", e.what()}};
  }
  send_json(res, ok ? 200 : 503,
            Json{{"sacker_version", site.options.sacker_version},
                 {"read_only", !site.options.allow_writes},
                 {"protected_tags", site.options.protected_tags},
                 {"ledger", ledger},
                 {"store", store},
                 {"time", format_utc(site.now ? site.now() : 0)}});
}

}  // namespace

void add_api_routes(Router& router, Site& site) {
  Site* s = &site;
  const auto get = [&router](const std::string& pattern, Handler handler) {
    route(router, "GET", pattern, [handler = std::move(handler)](const Request& req, Response& res) {
      answer(res, [&] { handler(req, res); });
    });
  };
  get("/api/v1/packages", [s](const Request&, Response& res) { packages(*s, res); });
  get("/api/v1/packages/{package}", [s](const Request& req, Response& res) { package(*s, req, res); });
  get("/api/v1/packages/{package}/versions", [s](const Request& req, Response& res) { versions(*s, req, res); });
  get("/api/v1/packages/{package}/versions/{spec}",
      [s](const Request& req, Response& res) { version(*s, req, res); });
  get("/api/v1/packages/{package}/versions/{spec}/blob",
      [s](const Request& req, Response& res) { blob(*s, req, res); });
  get("/api/v1/packages/{package}/tags", [s](const Request& req, Response& res) { tags(*s, req, res); });
  get("/api/v1/packages/{package}/history", [s](const Request& req, Response& res) { history(*s, req, res); });
  get("/api/v1/lookup/{sha256}", [s](const Request& req, Response& res) { lookup(*s, req, res); });
  get("/api/v1/status", [s](const Request&, Response& res) { status(*s, res); });
  route(router, "GET", "/healthz", [](const Request&, Response& res) {
    res.set_body("ok\n", "text/plain; charset=utf-8");
    res.headers.set("Cache-Control", "no-store");
  });
  route(router, "GET", "/metrics", [](const Request&, Response& res) {
    res.set_body(metrics().render(), "text/plain; version=0.0.4; charset=utf-8");
    res.headers.set("Cache-Control", "no-store");
  });
  add_write_routes(router, site);
}

}  // namespace sacker::serve
