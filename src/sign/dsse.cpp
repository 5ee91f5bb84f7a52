#include "sign/dsse.h"

#include <fmt/core.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/codec.h"
#include "sacker/error.h"

namespace sacker::sign {
namespace {

constexpr std::size_t kMaxPayloadTypeBytes = 256;

[[noreturn]] void malformed(const std::string& why) {
  throw Error(ErrorKind::Invalid, "malformed signature envelope: " + why);
}

const nlohmann::json& member(const nlohmann::json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end()) malformed(fmt::format("no '{}'", name));
  return *it;
}

std::string string_member(const nlohmann::json& object, const char* name) {
  const auto& value = member(object, name);
  if (!value.is_string()) malformed(fmt::format("'{}' is not a string", name));
  return value.get<std::string>();
}

std::string base64_member(const nlohmann::json& object, const char* name) {
  auto bytes = codec::base64_decode(string_member(object, name));
  if (!bytes) malformed(fmt::format("'{}' is not base64", name));
  return std::move(*bytes);
}

void only_members(const nlohmann::json& object, std::initializer_list<const char*> names, const char* what) {
  for (const auto& item : object.items()) {
    const std::string& key = item.key();  // (clang 14 cannot capture a structured binding)
    if (std::none_of(names.begin(), names.end(), [&](const char* n) { return key == n; }))
      malformed(fmt::format("{} has an unknown field", what));
  }
}

}  // namespace

std::string pae(std::string_view payload_type, std::string_view payload) {
  return fmt::format("DSSEv1 {} {} {} ", payload_type.size(), payload_type, payload.size()).append(payload);
}

std::string envelope_to_json(const Envelope& envelope) {
  nlohmann::json sigs = nlohmann::json::array();
  for (const auto& s : envelope.signatures) sigs.push_back({{"keyid", s.keyid}, {"sig", codec::base64_encode(s.sig)}});
  return nlohmann::json{{"payload", codec::base64_encode(envelope.payload)},
                        {"payloadType", envelope.payload_type},
                        {"signatures", std::move(sigs)}}
      .dump();
}

Envelope envelope_from_json(std::string_view json) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception&) {
    malformed("not JSON");  // never nlohmann's message: it quotes the input
  }
  if (!j.is_object()) malformed("not a JSON object");
  // What the ledgers store; also refuses duplicate keys, which a parser would silently resolve.
  if (j.dump() != json) malformed("not in canonical form (compact, keys sorted)");
  only_members(j, {"payload", "payloadType", "signatures"}, "the envelope");
  Envelope e;
  e.payload = base64_member(j, "payload");
  e.payload_type = string_member(j, "payloadType");
  if (e.payload_type.empty() || e.payload_type.size() > kMaxPayloadTypeBytes || !codec::is_valid_utf8(e.payload_type))
    malformed("'payloadType' is not a media type");
  const auto& sigs = member(j, "signatures");
  if (!sigs.is_array() || sigs.empty() || sigs.size() > kMaxEnvelopeSignatures)
    malformed(fmt::format("'signatures' is not an array of 1 to {} signatures", kMaxEnvelopeSignatures));
  for (const auto& s : sigs) {
    if (!s.is_object()) malformed("a signature is not an object");
    only_members(s, {"keyid", "sig"}, "a signature");
    EnvelopeSignature sig{string_member(s, "keyid"), base64_member(s, "sig")};
    if (!is_key_id(sig.keyid)) malformed("a 'keyid' is not 16 lower-case hex digits");
    if (sig.sig.size() != 64) malformed("a 'sig' is not a 64-byte Ed25519 signature");
    e.signatures.push_back(std::move(sig));
  }
  return e;
}

Envelope sign_envelope(std::string_view payload_type, std::string_view payload, const PrivateKey& key) {
  Envelope e{std::string(payload_type), std::string(payload), {}};
  add_signature(e, key);
  return e;
}

void add_signature(Envelope& envelope, const PrivateKey& key) {
  EnvelopeSignature sig{key.key_id(), key.sign(pae(envelope.payload_type, envelope.payload))};
  auto same = std::find_if(envelope.signatures.begin(), envelope.signatures.end(),
                           [&](const EnvelopeSignature& s) { return s.keyid == sig.keyid; });
  if (same != envelope.signatures.end()) {
    *same = std::move(sig);
    return;
  }
  if (envelope.signatures.size() >= kMaxEnvelopeSignatures)
    throw Error(ErrorKind::Invalid, fmt::format("an envelope holds at most {} signatures", kMaxEnvelopeSignatures));
  envelope.signatures.push_back(std::move(sig));
}

std::vector<SignatureCheck> verify_envelope(const Envelope& envelope, const KeyRing& trusted) {
  std::vector<SignatureCheck> checks;
  const std::string message = pae(envelope.payload_type, envelope.payload);
  for (const auto& s : envelope.signatures) {
    auto key = trusted.find(s.keyid);
    SignatureCheck::Result result = SignatureCheck::Result::UnknownKey;
    if (key != trusted.end())
      result =
          key->second.verify(message, s.sig) ? SignatureCheck::Result::Verified : SignatureCheck::Result::BadSignature;
    checks.push_back({s.keyid, result});
  }
  return checks;
}

std::vector<std::string> verified_key_ids(const std::vector<SignatureCheck>& checks) {
  std::vector<std::string> ids;
  for (const auto& c : checks)
    if (c.result == SignatureCheck::Result::Verified) ids.push_back(c.keyid);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

}  // namespace sacker::sign
