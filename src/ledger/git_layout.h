// The files of the git ledger's branch (the tree is drawn at the top of git_ledger.cpp):
// their paths, and their contents written and parsed. Pure functions: the parsers take
// hostile text and return nullopt for anything that is not in the layout, so the
// ledger words the error with the path (and runs the kit's read-back checks).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sacker/ledger.h"
#include "sacker/record.h"

namespace sacker::git_layout {

std::string package_dir(const std::string& package);                         // packages/<pkg>
std::string versions_dir(const std::string& package);                        // packages/<pkg>/versions
std::string tags_dir(const std::string& package);                            // packages/<pkg>/tags
std::string events_dir(const std::string& package);                          // packages/<pkg>/events
std::string counter_path(const std::string& package);                        // packages/<pkg>/next
std::string record_path(const std::string& package, std::uint64_t version);  // versions/<v:020>.json
std::string tag_path(const std::string& package, const std::string& tag);    // tags/<tag>
std::string event_path(const std::string& package, std::uint64_t seq);       // events/<seq:020>.json

// "00000000000000000023.json" -> 23 (a version or seq file name); nullopt for anything else.
std::optional<std::uint64_t> numbered_json(std::string_view name);
// The counter, and tags written before history: "23\n" (positive, no leading zeros).
std::string number_file(std::uint64_t n);
std::optional<std::uint64_t> parse_number_file(std::string_view text);

// Records and events: their JSON (record_to_json, event_to_json) indented, one per file.
std::string record_file(const VersionRecord& record);
std::string event_file(const Event& event);

// {"version": v, "seq": s, "signatures": [...]} (signatures only when there are any).
std::string tag_file(const TagValue& value);
// That, or "<version>\n" (seq 0, unsigned). The signatures are canonicalised but not
// checked (ledger_kit::checked_tag_value does that).
std::optional<TagValue> parse_tag_file(const std::string& text);

// The message of a change's commit: "add frontend-server 23", "tag frontend-server 23
// live by alice", "untag frontend-server live (was 23)", ...; the body holds the
// comment and `details`.
std::string commit_message(const Event& event, const std::string& details = {});
// "sha256 ...\nsize ...\nbasename ...": the details of an added or imported record.
std::string record_details(const VersionRecord& record);

}  // namespace sacker::git_layout
