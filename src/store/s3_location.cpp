#include "store/s3_location.h"

#include <fmt/core.h>

#include <algorithm>
#include <string_view>

#include "core/codec.h"
#include "kit/uri_options.h"
#include "sacker/names.h"

namespace sacker {

S3Uri parse_s3_uri(const Uri& uri, const std::vector<std::string>& allowed) {
  S3Uri out;
  out.display = redact_uri(uri.text);
  if (uri.authority.empty()) throw_invalid_uri(uri, "expected s3://bucket[/prefix]");
  // Never echo userinfo: it is where a pasted key or token would be.
  if (uri.authority.find('@') != std::string::npos)
    throw_invalid_uri(uri, "an s3 URI takes no user or password (credentials come from the AWS chain: "
                           "environment, profile, instance role)");
  out.bucket = uri.authority;
  // S3's rules (3-63 of a-z 0-9 . -), loosened to the legacy us-east-1 names
  // (upper case and '_'); nothing that could change the URL's structure.
  if (out.bucket.size() < 3 || out.bucket.size() > 255)
    throw_invalid_uri(uri, fmt::format("'{}' is not a valid bucket name (3 to 63 characters)", printable(out.bucket)));
  const bool plain = std::all_of(out.bucket.begin(), out.bucket.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
           c == '_';
  });
  if (!plain) throw_invalid_uri(uri, fmt::format("'{}' is not a valid bucket name", printable(out.bucket)));
  std::string prefix = uri.path;
  while (!prefix.empty() && prefix.front() == '/') prefix.erase(prefix.begin());
  for (unsigned char c : prefix)
    if (c < 0x20 || c == 0x7f) throw_invalid_uri(uri, "the prefix contains a control character");
  if (prefix.find("//") != std::string::npos) throw_invalid_uri(uri, "the prefix contains an empty path segment");
  if (!prefix.empty() && prefix.back() != '/') prefix += '/';
  out.prefix = prefix;
  UriOptions options(uri);
  for (const auto& name : allowed)
    if (auto value = options.take(name)) out.options[name] = *value;
  options.finish();
  return out;
}

net::HttpHeaders s3_acl_headers(const S3Uri& uri) {
  auto it = uri.options.find("acl");
  if (it == uri.options.end()) return {};
  static const char* const canned[] = {
      "private",       "public-read",       "public-read-write",        "authenticated-read",
      "aws-exec-read", "bucket-owner-read", "bucket-owner-full-control"};
  for (const char* c : canned)
    if (it->second == c) return {{"x-amz-acl", it->second}};
  throw Error(ErrorKind::Invalid,
              fmt::format("invalid URI '{}': acl={} is not a canned ACL (e.g. bucket-owner-full-control)",
                          printable(uri.display), printable(it->second)));
}

std::uint64_t s3_size_option(const S3Uri& uri, const std::string& name, std::uint64_t fallback, std::uint64_t min,
                             std::uint64_t max) {
  auto it = uri.options.find(name);
  if (it == uri.options.end()) return fallback;
  std::string_view text = it->second;
  std::uint64_t unit = 1;
  for (auto [suffix, factor] :
       {std::pair{"KiB", 1ULL << 10}, std::pair{"MiB", 1ULL << 20}, std::pair{"GiB", 1ULL << 30},
        std::pair{"K", 1ULL << 10}, std::pair{"M", 1ULL << 20}, std::pair{"G", 1ULL << 30}}) {
    std::string_view s = suffix;
    if (text.size() > s.size() && text.substr(text.size() - s.size()) == s) {
      text.remove_suffix(s.size());
      unit = factor;
      break;
    }
  }
  auto v = codec::parse_decimal(text);
  if (!v || *v > max / unit || *v * unit < min)
    throw Error(ErrorKind::Invalid, fmt::format("invalid URI '{}': option {}={} must be a number from {} to {}",
                                                printable(uri.display), name, printable(it->second), min, max));
  return *v * unit;
}

}  // namespace sacker
