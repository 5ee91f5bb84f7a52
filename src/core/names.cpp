#include "sacker/names.h"

#include <fmt/core.h>

#include <cstdint>

#include "core/codec.h"
#include "sacker/error.h"

namespace sacker {
namespace {

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

bool all_digits(std::string_view s) {
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return !s.empty();
}

void validate_name(std::string_view name, const char* what) {
  if (name.empty()) throw Error(ErrorKind::Invalid, fmt::format("invalid {} name '': must not be empty", what));
  if (name.size() > kMaxNameLength)
    throw Error(ErrorKind::Invalid,
                fmt::format("invalid {} name '{}': longer than {} characters", what, printable(name), kMaxNameLength));
  for (char c : name) {
    if (!is_name_char(c))
      throw Error(ErrorKind::Invalid,
                  fmt::format("invalid {} name '{}': only letters, digits, '.', '_' and '-' are allowed", what,
                              printable(name)));
  }
  if (name.front() == '.' || name.front() == '-')
    throw Error(ErrorKind::Invalid,
                fmt::format("invalid {} name '{}': must not start with '.' or '-'", what, printable(name)));
}

}  // namespace

std::string printable(std::string_view s, std::size_t max) {
  std::string out;
  std::size_t n = 0;
  for (unsigned char c : s) {
    if (++n > max) {
      out += "...";
      break;
    }
    if (c < 0x20 || c >= 0x7f || c == '\\')
      out += fmt::format("\\x{:02x}", c);
    else
      out += static_cast<char>(c);
  }
  return out;
}

void validate_package_name(std::string_view name) { validate_name(name, "package"); }

void validate_tag_name(std::string_view name) {
  validate_name(name, "tag");
  if (all_digits(name))
    throw Error(ErrorKind::Invalid,
                fmt::format("invalid tag name '{}': a tag cannot be all digits (it would read as a version)", name));
}

void validate_user_tag(std::string_view name) {
  validate_tag_name(name);
  if (name == kLatestTag)
    throw Error(ErrorKind::Invalid, "invalid tag 'latest': it is reserved and always means the highest version");
}

void validate_basename(std::string_view name) {
  if (name.empty()) throw Error(ErrorKind::Invalid, "invalid file name '': must not be empty");
  if (name == "." || name == "..")
    throw Error(ErrorKind::Invalid, fmt::format("invalid file name '{}': not a plain file name", name));
  if (name.size() > 255)
    throw Error(ErrorKind::Invalid, fmt::format("invalid file name '{}': longer than 255 bytes", printable(name)));
  for (unsigned char c : name) {
    if (c == '/' || c == '\\')
      throw Error(ErrorKind::Invalid,
                  fmt::format("invalid file name '{}': must not contain a path separator", printable(name)));
    if (c < 0x20 || c == 0x7f)
      throw Error(ErrorKind::Invalid,
                  fmt::format("invalid file name '{}': must not contain control characters", printable(name)));
  }
  if (!codec::is_valid_utf8(name))
    throw Error(ErrorKind::Invalid, fmt::format("invalid file name '{}': not valid UTF-8", printable(name)));
}

void validate_metadata_key(std::string_view key) {
  bool ok = !key.empty() && key.size() <= kMaxNameLength;
  for (char c : key) ok = ok && is_name_char(c);
  ok = ok && key.front() != '.' && key.front() != '-' && key.front() != '_';
  if (!ok)
    throw Error(ErrorKind::Invalid, fmt::format("invalid metadata key '{}': use 1-128 letters, digits, '.', '_', '-', "
                                                "starting with a letter or digit",
                                                printable(key)));
}

void validate_metadata_value(std::string_view value) {
  if (value.size() > 1024)
    throw Error(ErrorKind::Invalid,
                fmt::format("invalid metadata value '{}': longer than 1024 bytes", printable(value)));
  for (unsigned char c : value)
    if (c < 0x20 || c == 0x7f)
      throw Error(ErrorKind::Invalid,
                  fmt::format("invalid metadata value '{}': must not contain control characters", printable(value)));
  if (!codec::is_valid_utf8(value))
    throw Error(ErrorKind::Invalid, fmt::format("invalid metadata value '{}': not valid UTF-8", printable(value)));
}

bool is_valid_sha256_hex(std::string_view hex) noexcept {
  if (hex.size() != 64) return false;
  for (char c : hex)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

void validate_sha256_hex(std::string_view hex, std::string_view what) {
  if (!is_valid_sha256_hex(hex))
    throw Error(ErrorKind::Invalid,
                fmt::format("{}: '{}' is not a sha256 hex digest (64 lower-case hex digits)", what, printable(hex)));
}

}  // namespace sacker
