#include "ledger/dynamo_items.h"

#include <fmt/core.h>

#include "core/codec.h"
#include "kit/ledger_kit.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker::dynamo_items {
namespace {

// Runs `fn`; an Error(Invalid) from it is rethrown naming the item.
template <typename F>
auto guarded(const Where& where, F&& fn) {
  try {
    return fn();
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::Invalid) throw;
    if (std::string_view(e.what()).rfind(where.ledger, 0) == 0) throw;
    bad_item(where, e.what());
  }
}

std::string signatures_text(const std::vector<std::string>& signatures) {
  json a = json::array();
  for (const auto& s : signatures) a.push_back(json::parse(s));
  return a.dump();
}

std::vector<std::string> signatures_of(const json& item, const Where& where) {
  std::vector<std::string> out;
  if (!item.contains("signatures")) return out;
  json a = json::parse(string_attr(item, "signatures", where), nullptr, false);
  if (a.is_discarded() || !a.is_array()) bad_item(where, "signatures is not a JSON array");
  for (const auto& s : a) {
    if (!s.is_object()) bad_item(where, "a signature is not a JSON object");
    out.push_back(s.dump());
  }
  return out;
}

std::optional<Event> carried_event(const json& item, const std::string& package, const Where& where) {
  if (!item.contains("event")) return std::nullopt;
  Event e = guarded(where, [&] { return event_from_json(string_attr(item, "event", where)); });
  if (e.package != package) bad_item(where, "its event belongs to another package");
  return e;
}

Metadata parse_metadata(const json& item, const Where& where) {
  Metadata out;
  if (!item.contains("metadata")) return out;
  const json& a = item["metadata"];
  if (a.is_object() && a.contains("S") && a["S"].is_string()) {
    json obj = json::parse(a["S"].get<std::string>(), nullptr, false);
    if (obj.is_discarded()) bad_item(where, "metadata is not JSON");
    if (obj.is_null()) return out;  // json.dumps(None)
    if (!obj.is_object()) bad_item(where, "metadata is not a JSON object");
    for (const auto& [k, v] : obj.items()) {
      if (!v.is_string()) bad_item(where, fmt::format("metadata '{}' is not a string", printable(k)));
      out[k] = v.get<std::string>();
    }
  } else if (a.is_object() && a.contains("M") && a["M"].is_object()) {
    for (const auto& [k, v] : a["M"].items()) {
      if (!v.is_object() || !v.contains("S") || !v["S"].is_string())
        bad_item(where, fmt::format("metadata '{}' is not a string", printable(k)));
      out[k] = v["S"].get<std::string>();
    }
  } else if (!(a.is_object() && a.contains("NULL"))) {
    bad_item(where, "metadata is neither a JSON string nor a map");
  }
  return out;
}

}  // namespace

json S(const std::string& s) { return json{{"S", s}}; }
json N(std::uint64_t n) { return json{{"N", std::to_string(n)}}; }
json N(std::int64_t n) { return json{{"N", std::to_string(n)}}; }

void bad_item(const Where& where, const std::string& why) {
  throw ledger_kit::corrupt(where.ledger, fmt::format("table {} item {}: {}", where.table, where.item, why));
}

std::string string_attr(const json& item, const char* name, const Where& where) {
  if (!item.is_object() || !item.contains(name) || !item[name].is_object() || !item[name].contains("S") ||
      !item[name]["S"].is_string())
    bad_item(where, fmt::format("attribute '{}' is missing or not a string", name));
  return item[name]["S"].get<std::string>();
}

std::optional<std::int64_t> number_attr(const json& item, const char* name, bool required, const Where& where) {
  if (!item.is_object() || !item.contains(name)) {
    if (required) bad_item(where, fmt::format("attribute '{}' is missing", name));
    return std::nullopt;
  }
  const json& a = item[name];
  if (!a.is_object() || !a.contains("N") || !a["N"].is_string())
    bad_item(where, fmt::format("attribute '{}' is not a number", name));
  const std::string text = a["N"].get<std::string>();
  auto value = codec::parse_signed_decimal(text);
  if (!value) bad_item(where, fmt::format("attribute '{}' is not a whole number: {}", name, printable(text)));
  return value;
}

std::uint64_t positive_attr(const json& item, const char* name, const Where& where) {
  auto v = number_attr(item, name, true, where);
  if (*v <= 0) bad_item(where, fmt::format("{} {} is not positive", name, *v));
  return static_cast<std::uint64_t>(*v);
}

json version_key(const std::string& package, std::uint64_t version) {
  return {{"package_name", S(package)}, {"version", N(version)}};
}
json tag_key(const std::string& package, const std::string& tag) {
  return {{"package_name", S(package)}, {"tag", S(tag)}};
}
json event_key(const std::string& package, std::uint64_t seq) {
  return {{"package_name", S(package)}, {"seq", N(seq)}};
}

json version_item(const VersionRecord& r, const Event* add) {
  json meta = json::object();
  for (const auto& [k, v] : r.metadata) meta[k] = v;
  json item = version_key(r.package, r.version);
  item["sha"] = S(r.sha256);
  item["basename"] = S(r.basename);
  item["mode"] = N(static_cast<std::uint64_t>(r.mode));
  item["metadata"] = S(meta.dump());
  item["size"] = N(r.size);
  item["created"] = N(r.created);
  if (!r.signatures.empty()) item["signatures"] = S(signatures_text(r.signatures));
  if (add) item["event"] = S(event_to_json(*add));
  try {
    (void)item.dump();
  } catch (const json::exception&) {
    throw Error(ErrorKind::Invalid, fmt::format("{}: DynamoDB strings must be valid UTF-8 (the basename or a metadata "
                                                "value is not)",
                                                r.package));
  }
  return item;
}

VersionItem parse_version_item(const json& item, const std::string& package, const Where& at) {
  VersionItem out;
  VersionRecord& r = out.record;
  r.version = positive_attr(item, "version", at);
  const Where where{at.ledger, at.table, fmt::format("({}, {})", printable(package), r.version)};
  r.package = string_attr(item, "package_name", where);
  if (r.package != package) bad_item(where, "package_name does not match its key");
  r.sha256 = string_attr(item, "sha", where);
  r.basename = string_attr(item, "basename", where);
  std::int64_t mode = *number_attr(item, "mode", true, where);
  // The original stored os.stat().st_mode: drop the regular-file type bits.
  if (mode > 07777 && (mode & ~std::int64_t{07777}) == 0100000) mode &= 07777;
  if (mode < 0 || mode > 07777) bad_item(where, fmt::format("mode {} is not a file mode", mode));
  r.mode = static_cast<std::uint32_t>(mode);
  auto size = number_attr(item, "size", false, where).value_or(0);
  if (size < 0) bad_item(where, "size is negative");
  r.size = static_cast<std::uint64_t>(size);
  r.created = number_attr(item, "created", false, where).value_or(0);
  r.metadata = parse_metadata(item, where);
  r.signatures = signatures_of(item, where);
  guarded(where, [&] {
    validate_record(r);
    return 0;
  });
  out.event = parse_carried_add(item, package, where);
  return out;
}

std::optional<Event> parse_carried_add(const json& item, const std::string& package, const Where& at) {
  const std::uint64_t version = positive_attr(item, "version", at);
  const Where where{at.ledger, at.table, fmt::format("({}, {})", printable(package), version)};
  auto e = carried_event(item, package, where);
  if (e && (e->action != EventAction::Add || e->version != version))
    bad_item(where, "its event is not the add of this version");
  return e;
}

json tag_item(const std::string& package, const std::string& tag, const TagValue& value, const Event* event) {
  json item = tag_key(package, tag);
  item["version"] = N(value.version);
  item["seq"] = N(value.seq);
  if (!value.signatures.empty()) item["signatures"] = S(signatures_text(value.signatures));
  if (event) item["event"] = S(event_to_json(*event));
  return item;
}

TagItem parse_tag_item(const json& item, const std::string& package, const std::string& tag, const Where& at) {
  const Where where{at.ledger, at.table, fmt::format("({}, {})", printable(package), printable(tag))};
  guarded(where, [&] {
    validate_user_tag(tag);
    return 0;
  });
  TagItem out;
  out.value.version = positive_attr(item, "version", where);
  auto seq = number_attr(item, "seq", false, where).value_or(0);
  if (seq < 0) bad_item(where, fmt::format("seq {} is negative", seq));
  out.value.seq = static_cast<std::uint64_t>(seq);
  out.value.signatures = signatures_of(item, where);
  // The kit's rules for a stored tag value (signatures as an event's).
  out.value = ledger_kit::checked_tag_value(where.ledger, fmt::format("table {} item {}", where.table, where.item),
                                            ledger_kit::tag_value_to_json(out.value));
  out.event = carried_event(item, package, where);
  if (out.event && (out.event->tag != tag || out.event->seq != out.value.seq ||
                    out.event->version != out.value.version || out.event->signatures != out.value.signatures))
    bad_item(where, "its event is not the one that set the tag");
  return out;
}

json event_item(const Event& e) {
  json item = event_key(e.package, e.seq);
  item["event"] = S(event_to_json(e));
  if (!e.tag.empty()) item["tag"] = S(e.tag);
  return item;
}

Event parse_event_item(const json& item, const std::string& package, const Where& at) {
  const std::uint64_t seq = positive_attr(item, "seq", at);
  const Where where{at.ledger, at.table, fmt::format("({}, {})", printable(package), seq)};
  Event e = guarded(where, [&] { return event_from_json(string_attr(item, "event", where)); });
  if (e.seq != seq) bad_item(where, fmt::format("the event says seq {}", e.seq));
  if (e.package != package) bad_item(where, "the event belongs to another package");
  return e;
}

json Tables::by_package(const std::string& table, const std::string& package, const char* projection) const {
  json q = {{"TableName", table},
            {"KeyConditionExpression", "#p = :p"},
            {"ExpressionAttributeNames", {{"#p", "package_name"}}},
            {"ExpressionAttributeValues", {{":p", S(package)}}},
            {"ConsistentRead", true}};
  if (projection) {
    q["ProjectionExpression"] = "#x";
    q["ExpressionAttributeNames"]["#x"] = projection;
  }
  return q;
}

std::optional<VersionItem> Tables::read_version(const std::string& package, std::uint64_t version) {
  json resp =
      client_.call("GetItem", versions_,
                   {{"TableName", versions_}, {"Key", version_key(package, version)}, {"ConsistentRead", true}});
  if (!resp.contains("Item")) return std::nullopt;
  return parse_version_item(resp["Item"], package, where(versions_, package));
}

std::optional<TagItem> Tables::read_tag(const std::string& package, const std::string& tag) {
  json resp =
      client_.call("GetItem", tags_, {{"TableName", tags_}, {"Key", tag_key(package, tag)}, {"ConsistentRead", true}});
  if (!resp.contains("Item")) return std::nullopt;
  return parse_tag_item(resp["Item"], package, tag, where(tags_, package));
}

std::map<std::string, TagItem> Tables::tag_items(const std::string& package) {
  std::map<std::string, TagItem> out;
  client_.paginate("Query", tags_, by_package(tags_, package), page_size_, [&](const json& item) {
    std::string tag = string_attr(item, "tag", where(tags_, package));
    if (!tag.empty() && tag[0] == '#') return true;  // reserved items (the counter)
    out.emplace(tag, parse_tag_item(item, package, tag, where(tags_, package)));
    return true;
  });
  return out;
}

bool Tables::put_if_absent(const std::string& table, const json& item, const char* range) {
  return client_
      .call_conditional("PutItem", table,
                        {{"TableName", table},
                         {"Item", item},
                         {"ConditionExpression", "attribute_not_exists(#r)"},
                         {"ExpressionAttributeNames", {{"#r", range}}}})
      .has_value();
}

bool Tables::holds(const std::string& table, const json& key, const json& item) {
  json resp = client_.call("GetItem", table, {{"TableName", table}, {"Key", key}, {"ConsistentRead", true}});
  return resp.contains("Item") && resp["Item"] == item;
}

std::pair<std::uint64_t, std::uint64_t> Counters::reserve(const std::string& package, bool version) {
  json names = {{"#s", "last_seq"}};
  if (version) names["#a"] = "allocated";
  json resp = client_.call("UpdateItem", table_,
                           {{"TableName", table_},
                            {"Key", tag_key(package, kCounterTag)},
                            {"UpdateExpression", version ? "ADD #a :one, #s :one" : "ADD #s :one"},
                            {"ExpressionAttributeNames", names},
                            {"ExpressionAttributeValues", {{":one", N(std::uint64_t{1})}}},
                            {"ReturnValues", "UPDATED_NEW"}});
  const json attrs = resp.value("Attributes", json::object());
  const Where where{ledger_, table_, fmt::format("({}, {})", printable(package), kCounterTag)};
  return {version ? positive_attr(attrs, "allocated", where) : 0, positive_attr(attrs, "last_seq", where)};
}

void Counters::raise(const std::string& package, const char* name, std::uint64_t at_least) {
  client_.call_conditional("UpdateItem", table_,
                           {{"TableName", table_},
                            {"Key", tag_key(package, kCounterTag)},
                            {"UpdateExpression", "SET #a = :n"},
                            {"ConditionExpression", "attribute_not_exists(#a) OR #a < :n"},
                            {"ExpressionAttributeNames", {{"#a", name}}},
                            {"ExpressionAttributeValues", {{":n", N(at_least)}}}});
}

void Counters::give_back(const std::string& package, std::uint64_t number) {
  try {
    client_.call_conditional("UpdateItem", table_,
                             {{"TableName", table_},
                              {"Key", tag_key(package, kCounterTag)},
                              {"UpdateExpression", "SET #a = :prev"},
                              {"ConditionExpression", "#a = :n"},
                              {"ExpressionAttributeNames", {{"#a", "allocated"}}},
                              {"ExpressionAttributeValues", {{":n", N(number)}, {":prev", N(number - 1)}}}});
  } catch (const Error&) {
    // The original error is the one to report.
  }
}

std::vector<Event> Tables::history(const std::string& package, const HistoryQuery& query) {
  std::map<std::uint64_t, Event> found;  // by seq; the events table's copy wins
  // The events table, newest first: the `limit` newest matches are enough.
  json q = by_package(events_, package);
  q["ScanIndexForward"] = false;
  if (query.before != 0) {
    q["KeyConditionExpression"] = "#p = :p AND #s < :b";
    q["ExpressionAttributeNames"]["#s"] = "seq";
    q["ExpressionAttributeValues"][":b"] = N(query.before);
  }
  if (query.tag) {
    q["FilterExpression"] = "#t = :t";
    q["ExpressionAttributeNames"]["#t"] = "tag";
    q["ExpressionAttributeValues"][":t"] = S(*query.tag);
  }
  try {
    client_.paginate("Query", events_, q, page_size_, [&](const json& item) {
      Event e = parse_event_item(item, package, where(events_, package));
      found.emplace(e.seq, std::move(e));
      return query.limit == 0 || found.size() < query.limit;
    });
  } catch (const aws::DynamoMissingTable&) {
    // a ledger from before history: no events table yet
  }
  // The events the current items carry (not copied yet).
  if (!query.tag) {
    json versions = by_package(versions_, package);
    versions["ProjectionExpression"] = "#v, #e";
    versions["ExpressionAttributeNames"]["#v"] = "version";
    versions["ExpressionAttributeNames"]["#e"] = "event";
    client_.paginate("Query", versions_, versions, page_size_, [&](const json& item) {
      if (item.contains("event"))
        if (auto e = parse_carried_add(item, package, where(versions_, package))) found.emplace(e->seq, std::move(*e));
      return true;
    });
    for (auto& [tag, item] : tag_items(package))
      if (item.event) found.emplace(item.event->seq, std::move(*item.event));
  } else if (auto item = read_tag(package, *query.tag); item && item->event) {
    found.emplace(item->event->seq, std::move(*item->event));
  }
  std::vector<Event> all;
  for (auto& [seq, e] : found) all.push_back(ledger_kit::checked_event(ledger_, std::move(e)));
  return ledger_kit::select_history(std::move(all), query);
}

}  // namespace sacker::dynamo_items
