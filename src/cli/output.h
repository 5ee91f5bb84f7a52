// Human and --json renderings of command results. JSON field names are stable:
// package, version, sha256, size, basename, mode, created, metadata, tags.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "sacker/record.h"

namespace sacker::cli {

std::string record_json(const VersionRecord& r, const std::vector<std::string>& tags);
std::string record_human(const VersionRecord& r, const std::vector<std::string>& tags);
std::string json_string_list(const std::string& key, const std::vector<std::string>& values);
std::string versions_json(const std::string& package, const std::vector<std::uint64_t>& versions);
std::string tags_json(const std::string& package, const std::map<std::string, std::uint64_t>& tags);
// {"key": value, ...} from pre-rendered JSON values.
std::string json_object(const std::vector<std::pair<std::string, std::string>>& fields);
std::string json_quote(const std::string& s);
std::string json_string_array(const std::vector<std::string>& values);
std::string human_size(std::uint64_t bytes);

}  // namespace sacker::cli
