// Keys shared by the signing unit tests.
#pragma once

#include <string>

#include "sacker/record.h"
#include "sign/keys.h"

namespace sacker::test {

// RFC 8032 section 7.1, TEST 1, as PKCS#8 PEM.
inline constexpr const char* kRfc8032Pem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
    "-----END PRIVATE KEY-----\n";
inline constexpr const char* kRfc8032PublicHex = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
inline constexpr const char* kRfc8032EmptySignatureHex =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24"
    "655141438e7a100b";
// The first 16 hex digits of sha256(public key bytes), computed independently (Python hashlib).
inline constexpr const char* kRfc8032KeyId = "21fe31dfa154a261";

inline sign::PrivateKey rfc8032_key() { return sign::PrivateKey::from_pem(kRfc8032Pem); }

// A tag event as the ledger hands it to ChangeContext::sign_event.
inline Event tag_event(const VersionRecord& r, const std::string& tag, std::uint64_t seq,
                       std::optional<std::uint64_t> previous = std::nullopt) {
  Event e;
  e.seq = seq;
  e.time = 1700000500 + static_cast<std::int64_t>(seq);
  e.action = EventAction::Tag;
  e.package = r.package;
  e.version = r.version;
  e.tag = tag;
  e.previous = previous;
  e.sha256 = r.sha256;
  return e;
}

}  // namespace sacker::test
