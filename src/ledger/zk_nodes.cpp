#include "ledger/zk_nodes.h"

#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "core/codec.h"
#include "kit/ledger_kit.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker::zk {

using ledger_kit::corrupt;

namespace {

// `parse(data)`, its Error(Invalid) restated as corrupt content at `path`.
template <typename Parse>
auto parse_node(const std::string& ledger, const std::string& path, const std::string& data, Parse parse) {
  try {
    return parse(data);
  } catch (const Error& e) {
    throw corrupt(ledger, fmt::format("{}: {}", path, e.what()));
  }
}

}  // namespace

std::string Nodes::version_path(const std::string& p, std::uint64_t v) const {
  return versions_path(p) + "/" + codec::zero_pad(v);
}

std::string Nodes::event_path(const std::string& p, std::uint64_t seq) const {
  return events_path(p) + "/" + codec::zero_pad(seq);
}

std::uint64_t Nodes::number_name(const std::string& dir, const std::string& name) const {
  auto n = name.size() == 20 ? codec::parse_decimal(name, kMaxNumber) : std::nullopt;
  if (!n || *n == 0) throw corrupt(ledger_, fmt::format("unexpected znode '{}' in {}", printable(name), dir));
  return *n;
}

std::optional<Counter> Nodes::counter(const std::string& path, const Reply& reply) const {
  if (reply.rc == ZNONODE) return std::nullopt;
  auto n = codec::parse_decimal(reply.data, kMaxNumber - 1);
  if (!n || *n == 0) throw corrupt(ledger_, fmt::format("{} holds '{}', not a counter", path, printable(reply.data)));
  return Counter{*n, reply.stat.version};
}

VersionRecord Nodes::record_at(const std::string& package, std::uint64_t version, const Reply& reply) const {
  const std::string path = version_path(package, version);
  VersionRecord r = parse_node(ledger_, path, reply.data, record_from_json);
  if (r.package != package || r.version != version)
    throw corrupt(ledger_, fmt::format("{} holds the record of {} version {}", path, printable(r.package), r.version));
  return ledger_kit::checked_record(ledger_, std::move(r));
}

TagValue Nodes::tag_at(const std::string& path, const Reply& reply) const {
  if (!reply.data.empty() && reply.data.front() != '{') {
    auto v = codec::parse_decimal(reply.data, kMaxNumber);
    if (!v || *v == 0)
      throw corrupt(ledger_, fmt::format("{} holds '{}', not a tag value", path, printable(reply.data)));
    return TagValue{*v, 0, {}};
  }
  return ledger_kit::checked_tag_value(ledger_, path, reply.data);
}

Event Nodes::event_at(const std::string& package, std::uint64_t seq, const Reply& reply) const {
  const std::string path = event_path(package, seq);
  Event e = parse_node(ledger_, path, reply.data, event_from_json);
  if (e.package != package || e.seq != seq)
    throw corrupt(ledger_, fmt::format("{} holds event {} of {}", path, e.seq, printable(e.package)));
  return ledger_kit::checked_event(ledger_, std::move(e));
}

std::string Nodes::encode_event(const Event& e, const std::string& op_id) {
  auto doc = nlohmann::ordered_json::parse(event_to_json(e));
  doc["op_id"] = op_id;
  return doc.dump();
}

std::string Nodes::op_id_of(const std::string& data) {
  auto doc = nlohmann::json::parse(data, nullptr, false);
  if (!doc.is_object()) return {};
  auto it = doc.find("op_id");
  return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace sacker::zk
