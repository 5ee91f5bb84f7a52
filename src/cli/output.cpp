#include "cli/output.h"

#include <fmt/core.h>

#include <nlohmann/json.hpp>

namespace sacker::cli {

using ojson = nlohmann::ordered_json;

std::string record_json(const VersionRecord& r, const std::vector<std::string>& tags) {
  ojson j = ojson::parse(record_to_json(r));
  j["tags"] = tags;
  return j.dump();
}

std::string human_size(std::uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = -1;
  while (v >= 1024 && u < 3) {
    v /= 1024;
    ++u;
  }
  return fmt::format("{:.1f} {}", v, units[u]);
}

std::string record_human(const VersionRecord& r, const std::vector<std::string>& tags) {
  std::string tag_list;
  for (const auto& t : tags) tag_list += (tag_list.empty() ? "" : ", ") + t;
  std::string out = fmt::format(
      "package:  {}\nversion:  {}\nsha256:   {}\nsize:     {} ({} bytes)\nbasename: {}\nmode:     {:04o}\ncreated:  "
      "{}\ntags:     {}\n",
      r.package, r.version, r.sha256, human_size(r.size), r.size, r.basename, r.mode, format_utc(r.created),
      tag_list.empty() ? "-" : tag_list);
  for (const auto& [k, v] : r.metadata) out += fmt::format("meta:     {}={}\n", k, v);
  return out;
}

std::string json_string_list(const std::string& key, const std::vector<std::string>& values) {
  ojson j;
  j[key] = values;
  return j.dump();
}

std::string versions_json(const std::string& package, const std::vector<std::uint64_t>& versions) {
  ojson j;
  j["package"] = package;
  j["versions"] = versions;
  return j.dump();
}

std::string tags_json(const std::string& package, const std::map<std::string, std::uint64_t>& tags) {
  ojson j;
  j["package"] = package;
  j["tags"] = ojson::object();
  for (const auto& [t, v] : tags) j["tags"][t] = v;
  return j.dump();
}

std::string json_object(const std::vector<std::pair<std::string, std::string>>& fields) {
  ojson j = ojson::object();
  for (const auto& [k, v] : fields) j[k] = ojson::parse(v);
  return j.dump();
}

std::string json_quote(const std::string& s) { return ojson(s).dump(); }

std::string json_string_array(const std::vector<std::string>& values) { return ojson(values).dump(); }

}  // namespace sacker::cli
