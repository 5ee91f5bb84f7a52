// The read-only pages: packages, package, version, history, lookup, status.
#include <fmt/core.h>

#include <algorithm>
#include <map>

#include "core/codec.h"
#include "sacker/error.h"
#include "sacker/names.h"
#include "sacker/spec.h"
#include "serve/pages_internal.h"

namespace sacker::serve::pages {
namespace {

using html::escape;
using html::url_part;

constexpr std::size_t kPageSize = 20;

std::string chips(const std::vector<std::string>& tags, const std::string& package) {
  std::string out;
  for (const auto& t : tags)
    out += fmt::format("<a class=\"chip\" href=\"/packages/{}/versions/{}\">{}</a> ", url_part(package), url_part(t),
                       escape(t));
  return out;
}

std::string copy_button(const std::string& text) {
  return fmt::format("<button type=\"button\" class=\"copy\" data-copy=\"{}\" hidden>copy</button>", escape(text));
}

std::string metadata_list(const Metadata& m) {
  std::string out;
  for (const auto& kv : m)
    out += fmt::format("<span class=\"meta\"><b>{}</b>={}</span> ", escape(kv.first), escape(kv.second));
  return out;
}

std::string event_rows(const std::vector<Event>& events, std::int64_t now) {
  std::string rows;
  for (const auto& e : events) {
    std::string change;
    switch (e.action) {
      case EventAction::Tag:
      case EventAction::Rollback:
        change = e.previous ? fmt::format("{}: {} -&gt; {}", escape(e.tag), *e.previous, e.version)
                            : fmt::format("{}: new -&gt; {}", escape(e.tag), e.version);
        break;
      case EventAction::Untag:
        change = fmt::format("{}: {} -&gt; removed", escape(e.tag), e.previous ? std::to_string(*e.previous) : "?");
        break;
      default:
        change = e.tag.empty() ? fmt::format("version {}", e.version)
                               : fmt::format("{} at version {}", escape(e.tag), e.version);
    }
    rows += fmt::format(
        "<tr class=\"event\" data-seq=\"{}\" data-action=\"{}\" data-tag=\"{}\"><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td><td class=\"actor\">{}</td><td class=\"comment\">{}</td></tr>",
        e.seq, action_name(e.action), escape(e.tag), e.seq, html::time_cell(e.time, now), action_name(e.action),
        change, escape(e.actor), escape(e.comment));
  }
  return "<table class=\"history\"><thead><tr><th>#</th><th>when</th><th>action</th><th>change</th><th>who</th>"
         "<th>comment</th></tr></thead><tbody>" +
         rows + "</tbody></table>";
}

void packages_page(Pages& p, const Request& req, Response& res) {
  const std::string q = query(req, "q");
  const std::string needle = codec::to_lower(q);
  auto client = p.site.clients.lease();
  const auto names = client->list();
  const std::int64_t now = p.now();
  std::string rows;
  std::size_t shown = 0;
  for (const auto& name : names) {
    if (!needle.empty() && codec::to_lower(name).find(needle) == std::string::npos) continue;
    ++shown;
    std::string row;
    try {
      const auto infos = client->tag_infos(name);
      const auto count = client->versions(name).size();
      std::uint64_t latest = 0;
      std::int64_t changed = 0;
      std::vector<std::string> tags;
      for (const auto& t : infos) {
        if (t.tag == "latest") latest = t.version;
        else tags.push_back(t.tag);
        if (t.last_event) changed = std::max(changed, t.last_event->time);
      }
      if (changed == 0) changed = client->resolve(name, Spec{}).created;
      row = fmt::format("<td class=\"latest\">{}</td><td class=\"tags\">{}</td><td>{}</td><td class=\"count\">{}</td>",
                        latest, chips(tags, name), html::time_cell(changed, now), count);
    } catch (const Error& e) {
      row = fmt::format("<td colspan=\"4\" class=\"error\">{}</td>", escape(e.what()));
    }
    rows += fmt::format("<tr data-name=\"{}\"><td class=\"name\"><a href=\"/packages/{}\">{}</a></td>{}</tr>",
                        escape(codec::to_lower(name)), url_part(name), escape(name), row);
  }
  send_html(res, html::page(
                     "Packages", p.nav(req),
                     fmt::format("<h1>Packages</h1><form id=\"filter-form\" method=\"get\" action=\"/\"><label>Filter "
                                 "<input id=\"filter\" name=\"q\" value=\"{}\" autocomplete=\"off\"></label> <button "
                                 "type=\"submit\">filter</button></form><p><span id=\"count\">{}</span> of {} "
                                 "packages</p><table id=\"packages\"><thead><tr><th>package</th><th>latest</th>"
                                 "<th>tags</th><th>last change</th><th>versions</th></tr></thead><tbody>{}</tbody>"
                                 "</table>",
                                 escape(q), shown, names.size(), rows)));
}

// The tag to put in the copy-ready download line: a protected tag that exists, else "latest".
std::string download_spec(const SiteOptions& options, const std::map<std::string, std::uint64_t>& tags) {
  for (const auto& t : options.protected_tags)
    if (tags.count(t)) return t;
  return "latest";
}

void package_page(Pages& p, const Request& req, Response& res) {
  const std::string& name = req.param("package");
  auto client = p.site.clients.lease();
  auto all = client->versions(name);
  const auto tags = client->tags(name);
  std::map<std::uint64_t, std::vector<std::string>> by_version;
  for (const auto& kv : tags) by_version[kv.second].push_back(kv.first);
  std::uint64_t before = 0;
  if (const auto b = req.query_value("before"); b && !b->empty()) before = parse_version(*b);
  std::vector<std::uint64_t> newest_first(all.rbegin(), all.rend());
  auto from = std::find_if(newest_first.begin(), newest_first.end(),
                           [&](std::uint64_t v) { return before == 0 || v < before; });
  const std::int64_t now = p.now();
  std::string rows;
  std::size_t n = 0;
  auto it = from;
  for (; it != newest_first.end() && n < kPageSize; ++it, ++n) {
    const auto r = client->resolve(name, Spec{Spec::Kind::Version, *it, {}});
    rows += fmt::format(
        "<tr class=\"version\" data-version=\"{0}\"><td><a href=\"/packages/{1}/versions/{0}\">{0}</a></td><td>{2}</td>"
        "<td>{3}</td><td><code title=\"{4}\">{5}</code> {6}</td><td>{7}</td><td>{8}</td><td class=\"tags\">{9}</td></tr>",
        r.version, url_part(name), html::time_cell(r.created, now), html::size(r.size), r.sha256,
        r.sha256.substr(0, 12), copy_button(r.sha256), escape(r.basename), metadata_list(r.metadata),
        chips(by_version[r.version], name));
  }
  std::string pager;
  if (before != 0) pager += fmt::format("<a href=\"/packages/{}\">newest</a> ", url_part(name));
  if (it != newest_first.end())
    pager += fmt::format("<a id=\"older\" href=\"/packages/{}?before={}\">older</a>", url_part(name), *(it - 1));
  std::string tag_rows;
  const bool writes = p.site.options.allow_writes;
  for (const auto& kv : tags) {
    std::string actions;
    if (writes && kv.first != "latest")
      actions = fmt::format("<a href=\"/packages/{0}/rollback?tag={1}\">roll back</a> "
                            "<a href=\"/packages/{0}/untag?tag={1}\">untag</a>",
                            url_part(name), url_part(kv.first));
    tag_rows += fmt::format("<tr data-tag=\"{0}\"><td>{0}</td><td>{1}</td><td>{2}</td></tr>", escape(kv.first),
                            kv.second, actions);
  }
  const std::string command = fmt::format("sacker download {} {}", name, download_spec(p.site.options, tags));
  send_html(res, html::page(name, p.nav(req),
                            fmt::format("<h1>{0}</h1><p class=\"command\"><code id=\"download-command\">{1}</code> {2}"
                                        "</p><p><a href=\"/packages/{3}/history\">history</a></p><h2>Tags</h2><table "
                                        "id=\"tags\"><tbody>{4}</tbody></table><h2>Versions</h2><p>{5} versions</p>"
                                        "<table id=\"versions\"><thead><tr><th>version</th><th>created</th><th>size"
                                        "</th><th>sha256</th><th>basename</th><th>metadata</th><th>tags</th></tr>"
                                        "</thead><tbody>{6}</tbody></table><p class=\"pager\">{7}</p>",
                                        escape(name), escape(command), copy_button(command), url_part(name), tag_rows,
                                        all.size(), rows, pager)));
}

void version_page(Pages& p, const Request& req, Response& res) {
  const std::string& name = req.param("package");
  auto client = p.site.clients.lease();
  const auto info = client->info(name, parse_spec(req.param("spec")));
  const auto& r = info.record;
  std::vector<Event> events;
  for (auto& e : client->history(name, {}))
    if (e.version == r.version || (e.previous && *e.previous == r.version)) events.push_back(std::move(e));
  const std::int64_t now = p.now();
  std::string sigs = r.signatures.empty() ? "none" : std::to_string(r.signatures.size());
  std::string promote;
  if (p.site.options.allow_writes)
    promote = fmt::format(
        "<h2>Promote</h2><form id=\"promote-start\" method=\"get\" action=\"/packages/{}/promote\"><input "
        "type=\"hidden\" name=\"version\" value=\"{}\"><label>tag <input name=\"tag\" value=\"{}\" required></label> "
        "<button type=\"submit\">promote…</button></form>",
        url_part(name), r.version, escape(p.site.options.protected_tags.empty() ? "" : p.site.options.protected_tags[0]));
  const std::string command = fmt::format("sacker download {} {}", name, r.version);
  send_html(
      res,
      html::page(
          fmt::format("{} {}", name, r.version), p.nav(req),
          fmt::format(
              "<h1><a href=\"/packages/{0}\">{1}</a> version {2}</h1><table id=\"record\"><tbody>"
              "<tr><th>version</th><td>{2}</td></tr><tr><th>created</th><td>{3} ({4})</td></tr>"
              "<tr><th>size</th><td>{5} ({6} bytes)</td></tr><tr><th>sha256</th><td><code id=\"sha256\">{7}</code> {8}"
              "</td></tr><tr><th>basename</th><td>{9}</td></tr><tr><th>mode</th><td>{10:04o}</td></tr>"
              "<tr><th>metadata</th><td>{11}</td></tr><tr><th>signatures</th><td>{12}</td></tr>"
              "<tr><th>tags</th><td class=\"tags\">{13}</td></tr></tbody></table>"
              "<p><a id=\"download\" href=\"/api/v1/packages/{0}/versions/{2}/blob\">download</a> "
              "<code>{14}</code> {15}</p>{16}<h2>History</h2>{17}",
              url_part(name), escape(name), r.version, format_utc(r.created), html::time_cell(r.created, now),
              html::size(r.size), r.size, r.sha256, copy_button(r.sha256), escape(r.basename), r.mode,
              metadata_list(r.metadata), sigs, chips(info.tags, name), escape(command), copy_button(command), promote,
              event_rows(events, now))));
}

void history_page(Pages& p, const Request& req, Response& res) {
  const std::string& name = req.param("package");
  const std::string tag = query(req, "tag");
  HistoryQuery hq;
  if (!tag.empty()) {
    validate_tag_name(tag);
    hq.tag = tag;
  }
  hq.limit = 50;
  if (const auto b = req.query_value("before"); b && !b->empty()) hq.before = parse_version(*b);
  auto client = p.site.clients.lease();
  const auto events = client->history(name, hq);
  std::string filters = fmt::format("<a class=\"chip\" href=\"/packages/{}/history\">all</a> ", url_part(name));
  for (const auto& kv : client->tags(name))
    if (kv.first != "latest")
      filters += fmt::format("<a class=\"chip\" href=\"/packages/{}/history?tag={}\">{}</a> ", url_part(name),
                             url_part(kv.first), escape(kv.first));
  std::string pager;
  if (events.size() == hq.limit)
    pager = fmt::format("<a id=\"older\" href=\"/packages/{}/history?tag={}&amp;before={}\">older</a>", url_part(name),
                        url_part(tag), events.back().seq);
  send_html(res, html::page(fmt::format("{} history", name), p.nav(req),
                            fmt::format("<h1><a href=\"/packages/{}\">{}</a> history{}</h1><form method=\"get\" "
                                        "action=\"/packages/{}/history\"><label>tag <input name=\"tag\" value=\"{}\">"
                                        "</label> <button type=\"submit\">filter</button></form><p>{}</p>{}<p "
                                        "class=\"pager\">{}</p>",
                                        url_part(name), escape(name), tag.empty() ? "" : " of " + escape(tag),
                                        url_part(name), escape(tag), filters, event_rows(events, p.now()), pager)));
}

void lookup_page(Pages& p, const Request& req, Response& res) {
  const std::string sha = query(req, "sha256");
  std::string result;
  if (!sha.empty()) {
    try {
      auto client = p.site.clients.lease();
      const auto found = client->find_by_sha256(sha);
      std::string rows;
      for (const auto& r : found)
        rows += fmt::format("<tr><td><a href=\"/packages/{0}\">{1}</a></td><td><a href=\"/packages/{0}/versions/{2}\">"
                            "{2}</a></td><td><code>{3}</code></td><td>{4}</td></tr>",
                            url_part(r.package), escape(r.package), r.version, r.sha256, escape(r.basename));
      result = found.empty() ? "<p id=\"result\">No package version references it.</p>"
                             : fmt::format("<table id=\"result\"><tbody>{}</tbody></table>", rows);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::Invalid) throw;
      res.status = 400;
      result = fmt::format("<p id=\"message\" class=\"error\">{}</p>", escape(e.what()));
    }
  }
  send_html(res, html::page("Lookup", p.nav(req),
                            fmt::format("<h1>Lookup by sha256</h1><form method=\"get\" action=\"/lookup\"><label>sha256 "
                                        "or a prefix of 12+ hex digits <input name=\"sha256\" value=\"{}\" size=\"64\">"
                                        "</label> <button type=\"submit\">look up</button></form>{}",
                                        escape(sha), result)));
}

std::string probe(const std::function<void()>& read) {
  try {
    read();
    return "<span class=\"ok\">reachable</span>";
  } catch (const std::exception& e) {
    return fmt::format("<span class=\"error\">{}</span>", escape(e.what()));
  }
}

void status_page(Pages& p, const Request& req, Response& res) {
  auto client = p.site.clients.lease();
  const std::string ledger = probe([&] { client->ledger().latest("sacker-status-probe"); });
  const std::string store = probe([&] { client->store().contains(std::string(64, '0')); });
  const auto& o = p.site.options;
  send_html(res, html::page("Status", p.nav(req),
                            fmt::format("<h1>Status</h1><table id=\"status\"><tbody><tr><th>ledger</th><td>{}</td>"
                                        "<td id=\"ledger\">{}</td></tr><tr><th>store</th><td>{}</td><td id=\"store\">{}"
                                        "</td></tr><tr><th>sacker</th><td colspan=\"2\" id=\"version\">{}</td></tr>"
                                        "<tr><th>mode</th><td colspan=\"2\" id=\"mode\">{}</td></tr></tbody></table>",
                                        escape(o.ledger_uri), ledger, escape(o.store_uri), store,
                                        escape(o.sacker_version), o.allow_writes ? "writes allowed" : "read-only")));
}

}  // namespace

void add_read_routes(Router& router, const Shared& pages) {
  auto route = [&](std::string_view pattern, void (*fn)(Pages&, const Request&, Response&)) {
    router.get(pattern, [pages, fn](const Request& req, Response& res) {
      pages->guarded(req, res, [&] { fn(*pages, req, res); });
    });
  };
  route("/", packages_page);
  route("/packages/{package}", package_page);
  route("/packages/{package}/versions/{spec}", version_page);
  route("/packages/{package}/history", history_page);
  route("/lookup", lookup_page);
  route("/status", status_page);
}

}  // namespace sacker::serve::pages
