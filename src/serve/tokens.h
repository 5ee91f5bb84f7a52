// Bearer tokens of `sacker serve --allow-writes --tokens FILE`.
//
// The file holds one token a line, "NAME SCOPE sha256:HEX" ('#' starts a comment,
// blank lines are skipped): NAME is recorded as the actor of what the token changes
// (1..128 of [A-Za-z0-9._@:+-]), SCOPE is read or promote, HEX the sha256 of the
// secret; the secret itself is never stored. `sacker serve --new-token NAME --scope
// promote` makes a secret and prints it once with the line to add.
//
// The file must not be writable by group or others (whoever can write it can add a
// token): Error(Denied). Readable by others is allowed (only hashes of 256-bit
// secrets are in it) but reported as a warning.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "serve/site.h"

namespace sacker::serve {

class TokenSet {
 public:
  struct Entry {
    Principal principal;
    std::string digest;  // 32 raw bytes: sha256 of the secret
  };

  // Parses a tokens file's text. Error(Invalid) "<what> line N: why" for a bad line
  // (never echoing the hash), or a repeated hash.
  static TokenSet parse(std::string_view text, const std::string& what);
  // Reads and parses `path`, checking its permissions (see above). Warnings (a file
  // readable by others) go to `warnings`.
  static TokenSet load(const std::filesystem::path& path, std::vector<std::string>* warnings = nullptr);

  // The principal of `secret`, or nullopt. Hashes the secret and compares it with
  // every entry in constant time (CRYPTO_memcmp, no early exit). Thread-safe.
  std::optional<Principal> authenticate(std::string_view secret) const;
  Authenticate authenticator() const;  // a copy of this set inside

  std::size_t size() const { return entries_.size(); }

 private:
  std::vector<Entry> entries_;
};

struct NewToken {
  std::string secret;  // "sacker_" + 64 hex digits: shown once, never stored
  std::string line;    // "NAME SCOPE sha256:HEX", for the tokens file
};
// Error(Invalid) for a bad name.
NewToken make_token(const std::string& name, Scope scope);
// "read" / "promote"; Error(Invalid) for anything else.
Scope parse_scope(std::string_view text);
const char* scope_name(Scope scope) noexcept;

}  // namespace sacker::serve
