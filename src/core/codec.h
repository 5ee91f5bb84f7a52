// Text codecs and small parsers, written once for every layer (URIs, backends,
// wire clients). All are pure and never throw: a malformed input is
// std::nullopt, so each caller words its own error with its own context.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sacker::codec {

// The HTTP date (RFC 9110 IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT") of Unix
// seconds, and back (Last-Modified, Date, x-ms-date); nullopt if `text` is not one.
std::string http_date(std::int64_t unix_seconds);
std::optional<std::int64_t> parse_http_date(std::string_view text);

// Lower-case hex of raw bytes, and back (either case accepted; odd length or a
// non-hex digit -> nullopt).
std::string hex_encode(std::string_view bytes);
std::optional<std::string> hex_decode(std::string_view hex);

// RFC 4648 base64 with padding. decode is strict: only the standard alphabet, the
// length a multiple of 4, '=' only as final padding, and the unused bits of the
// last symbol zero (so every byte string has exactly one accepted encoding).
std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

// RFC 3986 percent-decoding. A '%' not followed by two hex digits -> nullopt;
// with plus_is_space (form/query style) '+' becomes ' '. When allow_nul is false
// (the default) "%00" is refused too: a NUL would cut a path or password short in
// the C APIs below.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space = false, bool allow_nul = false);
// Percent-encodes every byte except the RFC 3986 unreserved set (A-Z a-z 0-9 - . _ ~)
// and the characters in `keep` (e.g. "/" for paths). Upper-case hex, as SigV4 wants.
std::string percent_encode(std::string_view text, std::string_view keep = "");
// A byte count for people: "512 B", "1.2 MiB" (binary units, one decimal).
std::string human_size(std::uint64_t bytes);

// A decimal number: 1..20 ASCII digits only (no sign, no space, no "0x"), at most
// `max`. Leading zeros are allowed (zero-padded keys) unless reject_leading_zeros.
std::optional<std::uint64_t> parse_decimal(std::string_view text, std::uint64_t max = UINT64_MAX,
                                           bool reject_leading_zeros = false);
// A signed decimal ("-12", "7") within [INT64_MIN, INT64_MAX].
std::optional<std::int64_t> parse_signed_decimal(std::string_view text);
// `value` in decimal, left-padded with zeros to `width` digits, so that byte
// order equals numeric order for keys (width 20 holds every uint64).
std::string zero_pad(std::uint64_t value, int width = 20);

// ASCII whitespace (space, \t, \r, \n, \f, \v) trimmed from both ends.
std::string_view trim(std::string_view text);
// trim(), and every inner run of that whitespace as one space (AWS SigV4's
// "Trimall", Azure Shared Key's canonical header values).
std::string trim_all(std::string_view text);
// Text for an XML element or attribute: & < > " ' as entities.
std::string xml_escape(std::string_view text);
// ASCII letters lower-cased; other bytes unchanged.
std::string to_lower(std::string_view text);
// Case-insensitive ASCII equality.
bool iequals(std::string_view a, std::string_view b);

// True if `text` is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool is_valid_utf8(std::string_view text);

}  // namespace sacker::codec
