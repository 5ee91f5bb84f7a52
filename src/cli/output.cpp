#include "cli/output.h"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "sacker/error.h"
#include "sacker/uri.h"

namespace sacker::cli {
namespace {

// The length of the UTF-8 sequence at text[i] if it is valid and not a control
// (C1: U+0080..U+009F); 0 otherwise.
std::size_t printable_sequence(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  if (c >= 0x20 && c < 0x7f) return 1;
  std::size_t length = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (length == 0 || i + length > text.size()) return 0;
  std::uint32_t code = c & (0x7f >> length);
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    code = (code << 6) | (byte(i + k) & 0x3f);
  }
  const std::uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code < min[length] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff) || code < 0xa0) return 0;
  return length;
}

std::string escape(std::string_view text, bool keep_newlines) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    if (keep_newlines && text[i] == '\n') {
      out += '\n';
      ++i;
    } else if (auto n = printable_sequence(text, i)) {
      out.append(text.substr(i, n));
      i += n;
    } else {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(text[i]));
      ++i;
    }
  }
  return out;
}

std::size_t columns(std::string_view text) {
  return static_cast<std::size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xc0) != 0x80; }));
}

void write(std::string_view bytes) {
  if (!bytes.empty()) std::fwrite(bytes.data(), 1, bytes.size(), stdout);
}

}  // namespace

void Output::text(std::string_view text) {
  write(escape(text, true));
  if (text.empty() || text.back() != '\n') write("\n");
}

void Output::json(const Json& document) { write(json_text(document) + "\n"); }

void Output::finish() {
  errno = 0;
  const bool flushed = std::fflush(stdout) == 0;
  const int err = errno;
  if (!flushed || std::ferror(stdout))
    throw Error(ErrorKind::LocalIO,
                fmt::format("cannot write standard output: {}", err ? std::strerror(err) : "a write failed"));
}

std::string diagnostic(std::string_view text) {
  // Messages name URIs as the user wrote them, quoted or not: redact every
  // "scheme://..." run up to a space or a quote, whoever composed the message.
  std::string redacted;
  for (std::size_t i = 0; i < text.size();) {
    auto sep = text.find("://", i);
    if (sep == std::string_view::npos) {
      redacted.append(text.substr(i));
      break;
    }
    auto start = sep;
    while (start > i && (std::isalnum(static_cast<unsigned char>(text[start - 1])) || text[start - 1] == '+' ||
                         text[start - 1] == '-' || text[start - 1] == '.'))
      --start;
    auto end = text.find_first_of(" \t\n'\"`<>", sep);
    if (end == std::string_view::npos) end = text.size();
    redacted.append(text.substr(i, start - i));
    redacted += redact_uri(text.substr(start, end - start));
    i = end;
  }
  std::replace(redacted.begin(), redacted.end(), '\n', ' ');
  return escape(redacted, false);
}

void report_line(std::string_view text) {
  std::string line = "sacker: " + diagnostic(text) + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

std::string display(std::string_view untrusted) { return escape(untrusted, false); }

std::string record_human(const VersionRecord& r, const std::vector<std::string>& tags) {
  std::string tag_list;
  for (const auto& t : tags) tag_list += (tag_list.empty() ? "" : ", ") + t;
  std::string out = fmt::format(
      "package:  {}\nversion:  {}\nsha256:   {}\nsize:     {} ({} bytes)\nbasename: {}\nmode:     {:04o}\ncreated:  "
      "{}\ntags:     {}\n",
      r.package, r.version, r.sha256, human_size(r.size), r.size, display(r.basename), r.mode, format_utc(r.created),
      tag_list.empty() ? "-" : tag_list);
  for (const auto& [k, v] : r.metadata) out += fmt::format("meta:     {}={}\n", display(k), display(v));
  return out;
}

std::string history_human(const std::vector<Event>& events) {
  std::vector<std::vector<std::string>> rows = {
      {"SEQ", "TIME", "ACTION", "VERSION", "TAG", "PREVIOUS", "ACTOR", "COMMENT"}};
  const auto or_dash = [](const std::string& s) { return s.empty() ? std::string("-") : display(s); };
  for (const auto& e : events)
    rows.push_back({std::to_string(e.seq), format_utc(e.time), action_name(e.action),
                    e.version ? std::to_string(e.version) : "-", or_dash(e.tag),
                    e.previous ? std::to_string(*e.previous) : "-", or_dash(e.actor), display(e.comment)});
  return table(rows);
}

std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows)
    for (std::size_t c = 0; c + 1 < row.size(); ++c) {
      if (width.size() <= c) width.resize(c + 1, 0);
      width[c] = std::max(width[c], columns(row[c]));
    }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(width[c] - columns(row[c]) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace sacker::cli
