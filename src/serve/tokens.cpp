#include "serve/tokens.h"

#include <fmt/core.h>
#include <openssl/crypto.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "core/codec.h"
#include "core/random.h"
#include "sacker/error.h"
#include "sacker/names.h"
#include "sacker/sha256.h"

namespace sacker::serve {
using namespace sacker::codec;
namespace {

constexpr std::string_view kDigestPrefix = "sha256:";

void validate_token_name(std::string_view name, const std::string& where) {
  bool ok = !name.empty() && name.size() <= kMaxNameLength;
  for (char c : name)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                c == '@' || c == ':' || c == '+' || c == '-');
  if (!ok)
    throw Error(ErrorKind::Invalid, fmt::format("{}: token name '{}' must be 1..128 of A-Z a-z 0-9 . _ @ : + -", where,
                                                printable(name)));
}

std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    auto end = line.find_first_of(" \t", i);
    if (end == std::string_view::npos) end = line.size();
    if (end > i) fields.push_back(line.substr(i, end - i));
    i = end;
  }
  return fields;
}

}  // namespace

Scope parse_scope(std::string_view text) {
  if (text == "read") return Scope::Read;
  if (text == "promote") return Scope::Promote;
  throw Error(ErrorKind::Invalid, fmt::format("invalid scope '{}': read or promote", printable(text)));
}

const char* scope_name(Scope scope) noexcept { return scope == Scope::Promote ? "promote" : "read"; }

TokenSet TokenSet::parse(std::string_view text, const std::string& what) {
  TokenSet set;
  std::size_t number = 0;
  for (std::size_t start = 0; start <= text.size();) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    const std::string where = fmt::format("{} line {}", what, number);
    auto fields = fields_of(line);
    if (fields.empty()) {
      if (end == text.size()) break;
      continue;
    }
    if (fields.size() != 3)
      throw Error(ErrorKind::Invalid, fmt::format("{}: expected 'NAME SCOPE sha256:HEX' ({} fields)", where,
                                                  fields.size()));
    validate_token_name(fields[0], where);
    Scope scope;
    try {
      scope = parse_scope(fields[1]);
    } catch (const Error& e) {
      throw Error(ErrorKind::Invalid, fmt::format("{}: {}", where, e.what()));
    }
    std::string_view hex = fields[2];
    if (hex.substr(0, kDigestPrefix.size()) != kDigestPrefix || !is_valid_sha256_hex(hex.substr(kDigestPrefix.size())))
      throw Error(ErrorKind::Invalid,
                  fmt::format("{}: the third field must be sha256: and 64 lower-case hex digits (the hash of the "
                              "secret, not the secret)",
                              where));
    std::string digest = *hex_decode(hex.substr(kDigestPrefix.size()));
    for (const auto& e : set.entries_)
      if (e.digest == digest)
        throw Error(ErrorKind::Invalid, fmt::format("{}: the same secret hash is already on an earlier line", where));
    set.entries_.push_back({Principal{std::string(fields[0]), scope}, std::move(digest)});
    if (end == text.size()) break;
  }
  return set;
}

TokenSet TokenSet::load(const std::filesystem::path& path, std::vector<std::string>* warnings) {
  const std::string what = fmt::format("tokens file {}", printable(path.string(), 200));
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) throw_errno(what, errno);
  if (!S_ISREG(st.st_mode)) throw Error(ErrorKind::Invalid, what + ": not a regular file");
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    throw Error(ErrorKind::Denied,
                fmt::format("{}: writable by group or others (mode {:04o}); whoever can write it can add a token "
                            "(chmod 600)",
                            what, st.st_mode & 07777));
  if ((st.st_mode & S_IROTH) && warnings)
    warnings->push_back(fmt::format("{}: readable by others (mode {:04o}); it holds only hashes, but chmod 600 is "
                                    "better",
                                    what, st.st_mode & 07777));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_errno(what, errno);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw Error(ErrorKind::LocalIO, what + ": read failed");
  return parse(text.str(), what);
}

std::optional<Principal> TokenSet::authenticate(std::string_view secret) const {
  Sha256 hash;
  hash.update(secret.data(), secret.size());
  const std::string digest = hash.finish_raw();
  const Entry* found = nullptr;
  for (const auto& e : entries_)  // every entry, no early exit
    if (CRYPTO_memcmp(e.digest.data(), digest.data(), digest.size()) == 0) found = &e;
  if (!found) return std::nullopt;
  return found->principal;
}

Authenticate TokenSet::authenticator() const {
  auto copy = std::make_shared<const TokenSet>(*this);
  return [copy](std::string_view secret) { return copy->authenticate(secret); };
}

NewToken make_token(const std::string& name, Scope scope) {
  validate_token_name(name, "--new-token");
  NewToken token;
  token.secret = "sacker_" + random_hex(32);
  token.line = fmt::format("{} {} sha256:{}", name, scope_name(scope),
                           Sha256::hex_of(token.secret.data(), token.secret.size()));
  return token;
}

}  // namespace sacker::serve
