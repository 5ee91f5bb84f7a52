#include "client/json_view.h"

#include <fmt/core.h>

#include "sacker/error.h"

namespace sacker {

Json record_json(const VersionRecord& r, const std::vector<std::string>& tags) {
  Json j = Json::parse(record_to_json(r));
  j["tags"] = tags;
  return j;
}

Json event_json(const Event& e) { return Json::parse(event_to_json(e)); }

Json tags_json(const std::string& package, const std::vector<TagInfo>& infos) {
  Json tags = Json::object(), last = Json::object();
  for (const auto& t : infos) {
    tags[t.tag] = t.version;
    last[t.tag] = t.last_event ? event_json(*t.last_event) : Json();
  }
  return Json{{"package", package}, {"tags", tags}, {"last_event", last}};
}

std::string json_text(const Json& document) {
  try {
    return document.dump(-1, ' ', true, Json::error_handler_t::strict);
  } catch (const nlohmann::json::type_error& e) {
    std::string why = e.what();  // "[json.exception.type_error.316] invalid UTF-8 byte at index 0: 0xFF"
    if (auto end = why.find("] "); end != std::string::npos) why.erase(0, end + 2);
    throw Error(ErrorKind::Invalid, fmt::format("cannot print JSON: a name or value is not valid UTF-8 ({})", why));
  }
}

}  // namespace sacker
