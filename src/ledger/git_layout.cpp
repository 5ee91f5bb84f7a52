#include "ledger/git_layout.h"

#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "core/codec.h"
#include "kit/ledger_kit.h"

namespace sacker::git_layout {
namespace {

// JSON text as the files on the branch hold it: indented, one trailing newline.
std::string indented(const std::string& json) { return nlohmann::ordered_json::parse(json).dump(2) + "\n"; }

}  // namespace

std::string package_dir(const std::string& package) { return "packages/" + package; }
std::string versions_dir(const std::string& package) { return package_dir(package) + "/versions"; }
std::string tags_dir(const std::string& package) { return package_dir(package) + "/tags"; }
std::string events_dir(const std::string& package) { return package_dir(package) + "/events"; }
std::string counter_path(const std::string& package) { return package_dir(package) + "/next"; }
std::string record_path(const std::string& package, std::uint64_t version) {
  return versions_dir(package) + "/" + codec::zero_pad(version) + ".json";
}
std::string tag_path(const std::string& package, const std::string& tag) { return tags_dir(package) + "/" + tag; }
std::string event_path(const std::string& package, std::uint64_t seq) {
  return events_dir(package) + "/" + codec::zero_pad(seq) + ".json";
}

std::optional<std::uint64_t> numbered_json(std::string_view name) {
  if (name.size() != 25 || name.substr(20) != ".json") return std::nullopt;
  auto n = codec::parse_decimal(name.substr(0, 20));
  if (!n || *n == 0) return std::nullopt;
  return n;
}

std::string number_file(std::uint64_t n) { return fmt::format("{}\n", n); }

std::optional<std::uint64_t> parse_number_file(std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  auto n = codec::parse_decimal(text, UINT64_MAX, true);
  if (!n || *n == 0) return std::nullopt;
  return n;
}

std::string record_file(const VersionRecord& record) { return indented(record_to_json(record)); }
std::string event_file(const Event& event) { return indented(event_to_json(event)); }

std::string tag_file(const TagValue& value) { return indented(ledger_kit::tag_value_to_json(value)); }

std::optional<TagValue> parse_tag_file(const std::string& text) {
  if (auto legacy = parse_number_file(text)) return TagValue{*legacy, 0, {}};
  const auto j = nlohmann::json::parse(text, nullptr, false);
  auto number = [&](const char* key) -> std::optional<std::uint64_t> {
    auto it = j.is_object() ? j.find(key) : j.end();
    if (it == j.end() || !it->is_number_unsigned()) return std::nullopt;
    return it->get<std::uint64_t>();
  };
  auto version = number("version"), seq = number("seq");
  if (!version || !seq || *version == 0) return std::nullopt;
  TagValue value{*version, *seq, {}};
  if (auto it = j.find("signatures"); it != j.end()) {
    if (!it->is_array()) return std::nullopt;
    for (const auto& s : *it) {
      if (!s.is_object()) return std::nullopt;
      value.signatures.push_back(s.dump());
    }
  }
  return value;
}

std::string commit_message(const Event& e, const std::string& details) {
  std::string subject;
  switch (e.action) {
    case EventAction::Add: subject = fmt::format("add {} {}", e.package, e.version); break;
    case EventAction::Remove: subject = fmt::format("remove {} {}", e.package, e.version); break;
    case EventAction::Tag:
    case EventAction::Rollback:
      subject = fmt::format("{} {} {} {}", action_name(e.action), e.package, e.version, e.tag);
      break;
    case EventAction::Untag:
      subject = fmt::format("untag {} {} (was {})", e.package, e.tag, e.previous.value_or(0));
      break;
    case EventAction::Import: subject = fmt::format("import event {} {}", e.package, e.seq); break;
  }
  if (!e.actor.empty()) subject += " by " + e.actor;
  std::string body = e.comment.empty() ? "" : "comment: " + e.comment;
  if (!details.empty()) body += (body.empty() ? "" : "\n") + details;
  return body.empty() ? subject : subject + "\n\n" + body;
}

std::string record_details(const VersionRecord& r) {
  return fmt::format("sha256 {}\nsize {}\nbasename {}", r.sha256, r.size, r.basename);
}

}  // namespace sacker::git_layout
