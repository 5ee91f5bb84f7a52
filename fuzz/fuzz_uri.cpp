// Backend URIs as users and config files give them: parse_uri, redact_uri,
// split_authority. Invariants: redact_uri never throws; a URI
// that parses still parses after redaction, with the same scheme, path and query
// names, its userinfo (user and password) and every secret-looking query value replaced by "***",
// and redacting it again changes nothing.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "sacker/uri.h"

using fuzz::check;

namespace {

// uri.h: a name "looks secret" if it contains one of these words (any case).
bool looks_secret(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* word : {"pass", "pwd", "secret", "token", "key", "signature", "credential", "auth"})
    if (name.find(word) != std::string::npos) return true;
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  const std::string redacted = sacker::redact_uri(text);  // used while reporting bad URIs: must not throw
  (void)sacker::split_authority(text);

  sacker::Uri uri;
  try {
    uri = sacker::parse_uri(text);
  } catch (const sacker::Error&) {
    return 0;
  }
  check(uri.text == text, "Uri::text is the input");
  check(!uri.scheme.empty(), "a parsed URI has a scheme");
  for (char c : uri.scheme) check(!std::isupper(static_cast<unsigned char>(c)), "the scheme is lower-case");
  check(sacker::redact_uri(redacted) == redacted, "redact_uri is idempotent on valid URIs");

  const sacker::Uri shown =
      fuzz::must_succeed("a redacted valid URI parses", [&] { return sacker::parse_uri(redacted); });
  check(shown.scheme == uri.scheme && shown.path == uri.path, "redaction keeps scheme and path");
  if (uri.authority.find('@') != std::string::npos) {
    const auto a = sacker::split_authority(shown.authority);
    check(a.user == "***" && a.password.empty(), "redaction hides the userinfo", redacted);
  }
  for (const auto& [name, value] : uri.query) {
    auto it = shown.query.find(name);
    check(it != shown.query.end(), "redaction keeps every query name", name);
    if (looks_secret(name) && !value.empty())
      check(it->second == "***", "redaction hides secret query values", redacted);
  }
  return 0;
}
