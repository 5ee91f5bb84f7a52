// The JSON renderings of records, events and tags that every front end shows: the
// CLI's --json (cli/output.h) and the web server's /api/v1 (serve/api.cpp) use these,
// so their field names are one and the same. Records use package, version, sha256,
// size, basename, mode, created, metadata (+ signatures) and tags; events the names
// of event_to_json (sacker/record.h).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sacker/client.h"
#include "sacker/record.h"

namespace sacker {

using Json = nlohmann::ordered_json;

// record_to_json's fields + "tags".
Json record_json(const VersionRecord& record, const std::vector<std::string>& tags);
Json event_json(const Event& event);
// {"package", "tags": {tag: version}, "last_event": {tag: event or null}}.
Json tags_json(const std::string& package, const std::vector<TagInfo>& tags);

// A document as one line of text, every non-ASCII character \u-escaped.
// Error(Invalid) if a string in it is not valid UTF-8.
std::string json_text(const Json& document);

}  // namespace sacker
