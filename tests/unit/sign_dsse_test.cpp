// DSSE envelopes: PAE, canonical text, strict parsing, and every single-bit flip failing.
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "core/codec.h"
#include "sacker/error.h"
#include "sign/dsse.h"
#include "sign/statement.h"
#include "sign_test_keys.h"
#include "support/records.h"

using namespace sacker;
using namespace sacker::sign;
using sacker::test::error_of;

namespace {

KeyRing ring_of(std::initializer_list<const PrivateKey*> keys) {
  KeyRing ring;
  for (const auto* k : keys) ring.emplace(k->key_id(), k->public_key());
  return ring;
}

// Whether the envelope text verifies with `ring`: parses and has a verified signature.
bool verifies(const std::string& text, const KeyRing& ring) {
  try {
    return !verified_key_ids(verify_envelope(envelope_from_json(text), ring)).empty();
  } catch (const Error&) {
    return false;
  }
}

void flip_every_bit(std::string& bytes, const std::function<void(std::size_t)>& check) {
  for (std::size_t i = 0; i < bytes.size() * 8; ++i) {
    bytes[i / 8] = static_cast<char>(bytes[i / 8] ^ (1 << (i % 8)));
    check(i);
    bytes[i / 8] = static_cast<char>(bytes[i / 8] ^ (1 << (i % 8)));
  }
}

Envelope sample_envelope(const PrivateKey& key) {
  auto record = test::sample_record("frontend", 23);
  record.version = 23;
  return sign_envelope(kInTotoPayloadType, statement_json(version_statement(record, "sqlite:///l.db")), key);
}

}  // namespace

TEST(SignDsse, PaeIsTheSpecsEncoding) {
  // The example of the DSSE protocol document.
  EXPECT_EQ(pae("http://example.com/HelloWorld", "hello world"),
            "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
  EXPECT_EQ(pae("", ""), "DSSEv1 0  0 ");
  EXPECT_EQ(pae("t", std::string("a\0b", 3)), std::string("DSSEv1 1 t 3 a\0b", 16));
}

TEST(SignDsse, EnvelopeTextIsCanonicalAndRoundTrips) {
  const PrivateKey key = test::rfc8032_key();
  const Envelope e = sign_envelope("text/plain", "hello", key);
  const std::string text = envelope_to_json(e);
  EXPECT_EQ(text, nlohmann::json::parse(text).dump());
  EXPECT_EQ(text.rfind("{\"payload\":\"aGVsbG8=\",\"payloadType\":\"text/plain\",\"signatures\":[{\"keyid\":\"" +
                           std::string(test::kRfc8032KeyId) + "\",\"sig\":\"",
                       0),
            0u)
      << text;
  EXPECT_EQ(envelope_from_json(text), e);
  // Deterministic: the same key and payload give the same bytes.
  EXPECT_EQ(envelope_to_json(sign_envelope("text/plain", "hello", key)), text);
  // What the ledgers accept as a stored signature (record.h: canonical object, <= 64 KiB).
  auto record = test::sample_record("frontend", 1);
  record.version = 1;
  record.signatures = {text};
  EXPECT_NO_THROW(validate_record(record));
}

TEST(SignDsse, VerifiesAgainstTrustedKeysOnly) {
  const PrivateKey key = test::rfc8032_key(), other = PrivateKey::generate();
  const Envelope e = sample_envelope(key);
  auto checks = verify_envelope(e, ring_of({&key}));
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_EQ(checks[0].result, SignatureCheck::Result::Verified);
  EXPECT_EQ(checks[0].keyid, key.key_id());
  EXPECT_EQ(verify_envelope(e, ring_of({&other}))[0].result, SignatureCheck::Result::UnknownKey);
  EXPECT_EQ(verify_envelope(e, {})[0].result, SignatureCheck::Result::UnknownKey);
  // The other key filed under this key's id: the signature does not verify with it.
  KeyRing swapped;
  swapped.emplace(key.key_id(), other.public_key());
  EXPECT_EQ(verify_envelope(e, swapped)[0].result, SignatureCheck::Result::BadSignature);
}

TEST(SignDsse, SeveralSignaturesPerEnvelope) {
  const PrivateKey a = test::rfc8032_key(), b = PrivateKey::generate(), c = PrivateKey::generate();
  Envelope e = sample_envelope(a);
  add_signature(e, b);
  add_signature(e, a);  // the same key again replaces its signature
  ASSERT_EQ(e.signatures.size(), 2u);
  const Envelope back = envelope_from_json(envelope_to_json(e));
  EXPECT_EQ(back, e);
  std::vector<std::string> both = {a.key_id(), b.key_id()};
  std::sort(both.begin(), both.end());
  EXPECT_EQ(verified_key_ids(verify_envelope(back, ring_of({&a, &b, &c}))), both);
  EXPECT_EQ(verified_key_ids(verify_envelope(back, ring_of({&b}))), std::vector<std::string>{b.key_id()});
  while (e.signatures.size() < kMaxEnvelopeSignatures) e.signatures.push_back(e.signatures[0]);
  EXPECT_EQ(error_of([&] { add_signature(e, c); }).kind(), ErrorKind::Invalid);
}

TEST(SignDsse, EverySingleBitFlipOfPayloadTypeSignatureOrKeyIdFails) {
  const PrivateKey key = test::rfc8032_key();
  const KeyRing ring = ring_of({&key});
  const Envelope original = sample_envelope(key);
  ASSERT_TRUE(verifies(envelope_to_json(original), ring));
  std::size_t flips = 0;
  auto expect_fails = [&](const Envelope& e, const char* field, std::size_t bit) {
    ++flips;
    EXPECT_TRUE(verified_key_ids(verify_envelope(e, ring)).empty()) << field << " bit " << bit;
    // As stored text too, where it can be stored at all: a payload type that is
    // not UTF-8 cannot be written as JSON.
    std::string text;
    try {
      text = envelope_to_json(e);
    } catch (const nlohmann::json::exception&) {
      return;
    }
    EXPECT_FALSE(verifies(text, ring)) << field << " bit " << bit;
  };
  Envelope e = original;
  flip_every_bit(e.payload, [&](std::size_t bit) { expect_fails(e, "payload", bit); });
  flip_every_bit(e.payload_type, [&](std::size_t bit) { expect_fails(e, "payloadType", bit); });
  flip_every_bit(e.signatures[0].sig, [&](std::size_t bit) { expect_fails(e, "sig", bit); });
  flip_every_bit(e.signatures[0].keyid, [&](std::size_t bit) { expect_fails(e, "keyid", bit); });
  EXPECT_EQ(e, original);
  EXPECT_EQ(flips, 8 * (original.payload.size() + original.payload_type.size() + 64 + 16));
}

TEST(SignDsse, EverySingleBitFlipOfTheStoredTextFails) {
  const PrivateKey key = test::rfc8032_key();
  const KeyRing ring = ring_of({&key});
  std::string text = envelope_to_json(sample_envelope(key));
  ASSERT_TRUE(verifies(text, ring));
  flip_every_bit(text, [&](std::size_t bit) { EXPECT_FALSE(verifies(text, ring)) << "bit " << bit; });
}

TEST(SignDsse, ParsingIsStrictAndNeverQuotesTheInput) {
  const PrivateKey key = test::rfc8032_key();
  const std::string good = envelope_to_json(sign_envelope("text/plain", "hello", key));
  auto j = nlohmann::json::parse(good);
  auto with = [&](const std::function<void(nlohmann::json&)>& edit) {
    auto copy = j;
    edit(copy);
    return copy.dump();
  };
  const std::string sig64 = codec::base64_encode(std::string(64, 'x'));
  const std::vector<std::string> bad = {
      "",
      "[]",
      "{\"payload\": \"aGVsbG8=\"}",
      nlohmann::json::parse(good).dump(1),  // not compact
      with([](auto& x) { x["extra"] = 1; }),
      with([](auto& x) { x.erase("payload"); }),
      with([](auto& x) { x.erase("payloadType"); }),
      with([](auto& x) { x["payloadType"] = ""; }),
      with([](auto& x) { x["payload"] = "aGVsbG8"; }),   // unpadded
      with([](auto& x) { x["payload"] = "aGVsbG9="; }),  // non-zero unused bits
      with([](auto& x) { x["payload"] = 5; }),
      with([](auto& x) { x["signatures"] = nlohmann::json::array(); }),
      with([](auto& x) { x["signatures"] = "x"; }),
      with([](auto& x) { x["signatures"][0].erase("keyid"); }),
      with([](auto& x) { x["signatures"][0]["keyid"] = "21FE31DFA154A261"; }),
      with([](auto& x) { x["signatures"][0]["keyid"] = ""; }),
      with([](auto& x) { x["signatures"][0]["extra"] = 1; }),
      with([&](auto& x) { x["signatures"][0]["sig"] = codec::base64_encode(std::string(63, 'x')); }),
      with([&](auto& x) {
        for (int i = 0; i < 16; ++i) x["signatures"].push_back({{"keyid", "0123456789abcdef"}, {"sig", sig64}});
      }),
      "{\"payload\":\"aGVsbG8=\",\"payload\":\"aGVsbG8=\",\"payloadType\":\"text/plain\",\"signatures\":[]}",
  };
  for (const auto& text : bad) {
    Error e = error_of([&] { envelope_from_json(text); });
    EXPECT_EQ(e.kind(), ErrorKind::Invalid) << text;
    EXPECT_EQ(std::string(e.what()).rfind("malformed signature envelope: ", 0), 0u) << e.what();
    EXPECT_EQ(std::string(e.what()).find("aGVsbG8"), std::string::npos) << e.what();
  }
}
