// DSSE v1 envelopes (github.com/secure-systems-lab/dsse, "envelope.md"):
//
//   {"payload": base64, "payloadType": TYPE, "signatures": [{"keyid": ID, "sig": base64}, ...]}
//
// Each signature is Ed25519 over PAE("DSSEv1", TYPE, payload), never over the JSON,
// so the envelope's encoding does not matter to the signature. The text form is
// canonical (nlohmann::json::dump(): compact, keys sorted), which is what the
// ledgers store in VersionRecord::signatures / Event::signatures.
//
// Parsing is strict (these come from a ledger, i.e. hostile input): exactly those
// fields, strict base64, 1..16 signatures, each with a key id (16 hex digits) and a
// 64-byte signature. The key id is matched exactly: a signature is checked only
// with the trusted key of that id, so a changed key id never verifies.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "sign/keys.h"

namespace sacker::sign {

inline constexpr std::size_t kMaxEnvelopeSignatures = 16;

struct EnvelopeSignature {
  std::string keyid;
  std::string sig;  // raw bytes (64 for Ed25519)
  bool operator==(const EnvelopeSignature&) const = default;
};

struct Envelope {
  std::string payload_type;
  std::string payload;  // raw bytes
  std::vector<EnvelopeSignature> signatures;
  bool operator==(const Envelope&) const = default;
};

// "DSSEv1" SP LEN(type) SP type SP LEN(payload) SP payload, lengths in ASCII decimal.
std::string pae(std::string_view payload_type, std::string_view payload);

// The canonical JSON text.
std::string envelope_to_json(const Envelope& envelope);
// Parses the canonical JSON text. Error(Invalid) "malformed signature envelope: ..."
// naming the problem; the input is never quoted.
Envelope envelope_from_json(std::string_view json);

// An envelope around `payload` with one signature by `key`.
Envelope sign_envelope(std::string_view payload_type, std::string_view payload, const PrivateKey& key);
// Adds `key`'s signature (a co-signer). A signature by the same key id is replaced.
void add_signature(Envelope& envelope, const PrivateKey& key);

// Trusted public keys by key id.
using KeyRing = std::map<std::string, PublicKey, std::less<>>;

struct SignatureCheck {
  enum class Result { Verified, UnknownKey, BadSignature };
  std::string keyid;
  Result result = Result::BadSignature;
};
// Checks every signature of `envelope` against `trusted`: a key id not in it is
// UnknownKey; a signature that does not verify with the key of its id is
// BadSignature. One entry per signature, in envelope order.
std::vector<SignatureCheck> verify_envelope(const Envelope& envelope, const KeyRing& trusted);
// The distinct key ids whose signatures verified (sorted).
std::vector<std::string> verified_key_ids(const std::vector<SignatureCheck>& checks);

}  // namespace sacker::sign
