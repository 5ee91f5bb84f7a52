// What the commands print: the one stdout writer (every byte checked, DESIGN.md
// invariant 9), the --json documents and the human renderings of results.
// JSON field names are stable and shared with the web API: the renderings of
// records, events and tags live in client/json_view.h.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "client/json_view.h"
#include "core/codec.h"
#include "sacker/record.h"

namespace sacker::cli {

using sacker::Json;
using sacker::event_json;
using sacker::json_text;
using sacker::record_json;
using sacker::tags_json;
using sacker::codec::human_size;

// Standard output. Writes are buffered; finish() flushes and throws
// Error(LocalIO) if any write since the start failed (full disk, closed stdout,
// /dev/full, a closed pipe). Raw bytes (download -o -, export) bypass it but are
// checked by finish() too, since they go through the same FILE or fd.
class Output {
 public:
  // Human text: a newline is added unless there is one; bytes a terminal could
  // interpret (control bytes other than '\n', C1 controls, invalid UTF-8) are
  // written as \xNN.
  void text(std::string_view text);
  // One JSON document on one line; every non-ASCII character \u-escaped.
  // Error(Invalid) if a string in it is not valid UTF-8.
  void json(const Json& document);
  void finish();
};

// A diagnostic (an error, a -v line) as one line for stderr: newlines become
// spaces, every URI in it is redacted (redact_uri: userinfo, secret query values,
// URIs nested in query values) and bytes a terminal could interpret are escaped.
std::string diagnostic(std::string_view text);
// Writes "sacker: <diagnostic(text)>\n" to stderr.
void report_line(std::string_view text);

// An untrusted string with control bytes, C1 controls and invalid UTF-8 as \xNN
// (valid printable UTF-8 is kept, unlike printable(), and nothing is cut).
std::string display(std::string_view untrusted);

std::string record_human(const VersionRecord& record, const std::vector<std::string>& tags);
// Events newest first as a table: SEQ TIME ACTION VERSION TAG PREVIOUS ACTOR COMMENT.
std::string history_human(const std::vector<Event>& events);
// Rows as columns separated by two spaces; the last column is not padded.
std::string table(const std::vector<std::vector<std::string>>& rows);

}  // namespace sacker::cli
