// Validation of every name that reaches a key, a path or a file name
// (DESIGN.md invariant 6). Each validate_* throws Error(Invalid) with a
// one-line reason naming the offending value (control bytes escaped).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sacker {

inline constexpr std::size_t kMaxNameLength = 128;
inline constexpr std::string_view kLatestTag = "latest";

// Package and tag names: ASCII letters, digits, '.', '_', '-'; 1..128 characters;
// not starting with '.' or '-'.
void validate_package_name(std::string_view name);
// A tag name as above that is not all digits (so a spec is never ambiguous).
// "latest" passes: it is a valid spec.
void validate_tag_name(std::string_view name);
// A tag a user may set or remove: a valid tag name other than "latest".
void validate_user_tag(std::string_view name);
// A plain file name: no '/', no NUL or control bytes, not "", "." or "..", at most 255 bytes,
// valid UTF-8 (it is written as JSON).
void validate_basename(std::string_view name);
// A metadata key: 1..128 of [A-Za-z0-9_.-], starting with a letter or digit
// (they travel as x-amz-meta-* headers and JSON keys). Values: no control bytes, <= 1024 bytes,
// valid UTF-8.
void validate_metadata_key(std::string_view key);
void validate_metadata_value(std::string_view value);

bool is_valid_sha256_hex(std::string_view hex) noexcept;
// Throws Error(Invalid) "<what>: not a sha256 hex digest".
void validate_sha256_hex(std::string_view hex, std::string_view what);

// A printable rendering of an untrusted string for error messages (a name, a
// server's message, a process's stderr): one line, control and non-ASCII bytes and
// '\' as \xNN, truncated to `max` bytes of input ("..." marks the cut).
std::string printable(std::string_view untrusted, std::size_t max = 80);

}  // namespace sacker
