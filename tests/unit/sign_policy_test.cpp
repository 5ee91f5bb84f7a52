// The trust policy: who may sign what, levels, revocation, retirement, rollback;
// the trust file's format; the trust state that remembers accepted promotions.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/codec.h"
#include "sacker/error.h"
#include "sign/dsse.h"
#include "sign/policy.h"
#include "sign/statement.h"
#include "sign/trust_state.h"
#include "sign_test_keys.h"
#include "support/records.h"
#include "support/test_env.h"

using namespace sacker;
using namespace sacker::sign;
using nlohmann::json;
using sacker::test::error_of;

namespace {

const char* kLedger = "s3://ledger-bucket/prod";

struct Keys {
  PrivateKey ci = PrivateKey::generate();
  PrivateKey release = PrivateKey::generate();
  PrivateKey old_ci = PrivateKey::generate();
  PrivateKey stranger = PrivateKey::generate();
};

Keys& keys() {
  static Keys k;
  return k;
}

std::string pem_json(const PrivateKey& k) { return json(k.public_key().to_pem()).dump(); }

// ci and old-ci sign versions of frontend-*, release signs promotions to live,
// ci or release those to any other tag; "tools-*" is audit, "scratch-*" skipped.
std::string trust_text(const std::string& extra_revoked = "", const std::string& old_ci_retired = "") {
  Keys& k = keys();
  std::string retired = old_ci_retired.empty() ? "" : ", \"retired\": \"" + old_ci_retired + "\"";
  return "{\"keys\": {\"ci\": {\"public_key\": " + pem_json(k.ci) +
         "}, \"release\": {\"public_key\": " + pem_json(k.release) + ", \"key_id\": \"" + k.release.key_id() +
         "\"}, \"old-ci\": {\"public_key\": " + pem_json(k.old_ci) + retired + "}}, \"revoked\": [" + extra_revoked +
         "], \"packages\": ["
         "{\"pattern\": \"frontend-*\", \"level\": \"strict\", \"versions\": [\"ci\", \"old-ci\"],"
         " \"promotions\": {\"live\": [\"release\"], \"*\": [\"release\", \"ci\"]}},"
         "{\"pattern\": \"tools-*\", \"level\": \"audit\", \"versions\": [\"ci\"]},"
         "{\"pattern\": \"scratch-*\", \"level\": \"skip\"}]}";
}

TrustPolicy policy(const std::string& text = trust_text()) { return TrustPolicy::parse(text, ".", "test"); }

VersionRecord signed_record(const std::string& package, int n, const PrivateKey& key,
                            const std::string& ledger = kLedger) {
  VersionRecord r = test::sample_record(package, n);
  r.version = static_cast<std::uint64_t>(n);
  r.signatures = {sign_version(r, ledger, key)};
  return r;
}

PromotionInput promotion(const VersionRecord& r, const std::string& tag, std::uint64_t seq, const PrivateKey& key,
                         const std::string& ledger = kLedger) {
  PromotionInput p;
  p.tag = tag;
  p.version = r.version;
  p.generation = seq;
  p.signatures = {sign_promotion(test::tag_event(r, tag, seq), ledger, key)};
  return p;
}

}  // namespace

TEST(SignPolicy, AcceptsWhatTheRightKeysSigned) {
  auto p = policy();
  VersionRecord r = signed_record("frontend-server", 3, keys().ci);
  Verdict v = p.evaluate(kLedger, r);
  EXPECT_TRUE(v.trusted) << v.reason;
  EXPECT_EQ(v.version_signers, std::vector<std::string>{keys().ci.key_id()});
  Verdict live = p.evaluate(kLedger, r, promotion(r, "live", 10, keys().release));
  EXPECT_TRUE(live.trusted) << live.reason;
  EXPECT_EQ(live.promotion_signers, std::vector<std::string>{keys().release.key_id()});
}

TEST(SignPolicy, RefusesUnsignedUnknownAndWrongSigner) {
  auto p = policy();
  VersionRecord unsigned_record = test::sample_record("frontend-server", 3);
  unsigned_record.version = 3;
  Verdict v = p.evaluate(kLedger, unsigned_record);
  EXPECT_FALSE(v.allows_use());
  EXPECT_EQ(v.failed, Check::Unsigned);

  v = p.evaluate(kLedger, signed_record("frontend-server", 3, keys().stranger));
  EXPECT_EQ(v.failed, Check::UnknownKey);
  EXPECT_EQ(v.key_id, keys().stranger.key_id());

  // The release key may promote but not sign versions; the CI key may not promote to live.
  v = p.evaluate(kLedger, signed_record("frontend-server", 3, keys().release));
  EXPECT_EQ(v.failed, Check::WrongSigner);
  VersionRecord r = signed_record("frontend-server", 3, keys().ci);
  v = p.evaluate(kLedger, r, promotion(r, "live", 10, keys().ci));
  EXPECT_EQ(v.failed, Check::WrongSigner);
  EXPECT_EQ(v.key_id, keys().ci.key_id());
  // ...but to another tag it may ("*").
  EXPECT_TRUE(p.evaluate(kLedger, r, promotion(r, "staging", 10, keys().ci)).trusted);
  // An unsigned promotion to live is refused.
  PromotionInput bare = promotion(r, "live", 10, keys().release);
  bare.signatures.clear();
  EXPECT_EQ(p.evaluate(kLedger, r, bare).failed, Check::Unsigned);
}

TEST(SignPolicy, ASubjectSwappedAcrossPackagesLedgersVersionsOrTagsFails) {
  auto p = policy();
  // A valid signature of frontend-api 3 copied onto frontend-server 3.
  VersionRecord other = signed_record("frontend-api", 3, keys().ci);
  VersionRecord r = test::sample_record("frontend-server", 3);
  r.version = 3;
  r.signatures = other.signatures;
  EXPECT_EQ(p.evaluate(kLedger, r).failed, Check::SubjectMismatch);
  // Signed for another ledger.
  EXPECT_EQ(p.evaluate(kLedger, signed_record("frontend-server", 3, keys().ci, "s3://staging-ledger")).failed,
            Check::SubjectMismatch);
  // The same record under another version number (a replay into a newer slot).
  VersionRecord moved = signed_record("frontend-server", 3, keys().ci);
  moved.version = 4;
  EXPECT_EQ(p.evaluate(kLedger, moved).failed, Check::SubjectMismatch);
  // Any field of the record changed after signing.
  VersionRecord changed = signed_record("frontend-server", 3, keys().ci);
  changed.sha256 = std::string(64, 'b');
  EXPECT_EQ(p.evaluate(kLedger, changed).failed, Check::SubjectMismatch);
  changed = signed_record("frontend-server", 3, keys().ci);
  changed.metadata["n"] = "x";
  EXPECT_EQ(p.evaluate(kLedger, changed).failed, Check::SubjectMismatch);
  // A promotion of live copied to a tag "staging", to another version, another generation, ledger.
  VersionRecord good = signed_record("frontend-server", 3, keys().ci);
  PromotionInput swapped = promotion(good, "live", 10, keys().release);
  swapped.tag = "canary";
  EXPECT_EQ(p.evaluate(kLedger, good, swapped).failed, Check::SubjectMismatch);
  PromotionInput generation = promotion(good, "live", 10, keys().release);
  generation.generation = 11;
  EXPECT_EQ(p.evaluate(kLedger, good, generation).failed, Check::SubjectMismatch);
  VersionRecord v4 = signed_record("frontend-server", 4, keys().ci);
  PromotionInput of3 = promotion(good, "live", 10, keys().release);
  of3.version = 4;
  EXPECT_EQ(p.evaluate(kLedger, v4, of3).failed, Check::SubjectMismatch);
  EXPECT_EQ(p.evaluate(kLedger, good, promotion(good, "live", 10, keys().release, "s3://other")).failed,
            Check::SubjectMismatch);
  // A version statement offered as a promotion.
  PromotionInput wrong_kind = promotion(good, "live", 10, keys().release);
  wrong_kind.signatures = {sign_version(good, kLedger, keys().release)};
  EXPECT_EQ(p.evaluate(kLedger, good, wrong_kind).failed, Check::SubjectMismatch);
}

TEST(SignPolicy, EveryBitFlipOfAStoredSignatureFails) {
  auto p = policy();
  VersionRecord r = signed_record("frontend-server", 3, keys().ci);
  const std::string text = r.signatures[0];
  Envelope e = envelope_from_json(text);
  // Flip every bit of payload, payload type, signature and key id through the parsed envelope.
  auto check = [&](const Envelope& flipped) {
    VersionRecord t = r;
    try {
      t.signatures = {envelope_to_json(flipped)};
    } catch (const nlohmann::json::exception&) {
      return;  // a payload type that is not UTF-8 cannot be stored (sign_dsse_test checks it unstored)
    }
    Verdict v = p.evaluate(kLedger, t);
    EXPECT_FALSE(v.trusted);
    EXPECT_FALSE(v.allows_use());
  };
  for (std::string Envelope::*field : {&Envelope::payload, &Envelope::payload_type})
    for (std::size_t i = 0; i < (e.*field).size() * 8; ++i) {
      Envelope f = e;
      (f.*field)[i / 8] = static_cast<char>((f.*field)[i / 8] ^ (1 << (i % 8)));
      check(f);
    }
  for (std::string EnvelopeSignature::*field : {&EnvelopeSignature::sig, &EnvelopeSignature::keyid})
    for (std::size_t i = 0; i < (e.signatures[0].*field).size() * 8; ++i) {
      Envelope f = e;
      std::string& s = f.signatures[0].*field;
      s[i / 8] = static_cast<char>(s[i / 8] ^ (1 << (i % 8)));
      check(f);
    }
}

TEST(SignPolicy, RevokedKeysVerifyNothingRetiredKeysKeepOldReleases) {
  VersionRecord r = signed_record("frontend-server", 3, keys().ci);
  auto revoked = policy(trust_text("\"" + keys().ci.key_id() + "\""));
  Verdict v = revoked.evaluate(kLedger, r);
  EXPECT_EQ(v.failed, Check::Revoked);
  EXPECT_EQ(v.key_id, keys().ci.key_id());
  // By name too.
  EXPECT_EQ(policy(trust_text("\"ci\"")).evaluate(kLedger, r).failed, Check::Revoked);
  // Revocation takes that key's vote away; another trusted key's signature still counts.
  VersionRecord bare = r;
  bare.signatures.clear();
  VersionRecord both = r;
  both.signatures.push_back(sign_version(bare, kLedger, keys().old_ci));
  EXPECT_TRUE(revoked.evaluate(kLedger, both).trusted);

  // old-ci retired at 1700000003: version 2 (created ...002) keeps verifying, 4 (...004) not.
  auto retired = policy(trust_text("", "2023-11-14T22:13:23Z"));  // 1700000003
  EXPECT_TRUE(retired.evaluate(kLedger, signed_record("frontend-server", 2, keys().old_ci)).trusted);
  EXPECT_EQ(retired.evaluate(kLedger, signed_record("frontend-server", 4, keys().old_ci)).failed, Check::Expired);
}

TEST(SignPolicy, LevelsAuditAndSkipAndUncoveredPackages) {
  auto p = policy();
  VersionRecord r = test::sample_record("tools-lint", 1);
  r.version = 1;
  Verdict audit = p.evaluate(kLedger, r);
  EXPECT_FALSE(audit.trusted);
  EXPECT_EQ(audit.failed, Check::Unsigned);
  EXPECT_TRUE(audit.allows_use());
  Verdict skip = p.evaluate(kLedger, test::sample_record("scratch-x", 1));
  EXPECT_EQ(skip.level, Level::Skip);
  EXPECT_TRUE(skip.allows_use());
  Verdict none = p.evaluate(kLedger, test::sample_record("backend", 1));
  EXPECT_EQ(none.failed, Check::NoPolicy);
  EXPECT_FALSE(none.allows_use());
}

TEST(SignPolicy, RollbackBelowTheAcceptedGenerationUnlessAllowed) {
  auto p = policy();
  VersionRecord r = signed_record("frontend-server", 3, keys().ci);
  PromotionInput old = promotion(r, "live", 10, keys().release);
  old.accepted_generation = 12;
  Verdict v = p.evaluate(kLedger, r, old);
  EXPECT_EQ(v.failed, Check::Rollback);
  old.allow_rollback = true;
  EXPECT_TRUE(p.evaluate(kLedger, r, old).trusted);
  old.allow_rollback = false;
  old.accepted_generation = 10;
  EXPECT_TRUE(p.evaluate(kLedger, r, old).trusted);
}

TEST(SignPolicy, TwoKeyThreshold) {
  Keys& k = keys();
  std::string text = "{\"keys\": {\"a\": {\"public_key\": " + pem_json(k.ci) +
                     "}, \"b\": {\"public_key\": " + pem_json(k.release) +
                     "}}, \"packages\": [{\"pattern\": \"*\", \"versions\": {\"keys\": [\"a\", \"b\"], "
                     "\"threshold\": 2}}]}";
  auto p = policy(text);
  VersionRecord r = signed_record("app", 1, k.ci);
  Verdict one = p.evaluate(kLedger, r);
  EXPECT_FALSE(one.trusted);
  EXPECT_NE(one.reason.find("1 of 2"), std::string::npos) << one.reason;
  // The same key twice is one vote.
  VersionRecord twice = r;
  twice.signatures.push_back(r.signatures[0]);
  EXPECT_FALSE(p.evaluate(kLedger, twice).trusted);
  VersionRecord both = r;
  VersionRecord bare = r;
  bare.signatures.clear();
  both.signatures.push_back(sign_version(bare, kLedger, k.release));
  EXPECT_TRUE(p.evaluate(kLedger, both).trusted);
}

TEST(SignPolicyFile, RefusesTyposAndBadKeys) {
  auto err = [](const std::string& text) { return error_of([&] { policy(text); }); };
  EXPECT_EQ(err("{\"keys\": {}, \"packges\": []}").kind(), ErrorKind::Invalid);
  EXPECT_NE(std::string(err("{\"keys\": {}, \"packges\": []}").what()).find("packges"), std::string::npos);
  EXPECT_EQ(err("not json").kind(), ErrorKind::Invalid);
  EXPECT_EQ(err("{\"keys\": {\"a\": {\"public_key\": \"junk\"}}, \"packages\": []}").kind(), ErrorKind::Invalid);
  // A key id that is not the key's.
  std::string swapped = "{\"keys\": {\"a\": {\"public_key\": " + pem_json(keys().ci) +
                        ", \"key_id\": \"0123456789abcdef\"}}, \"packages\": []}";
  EXPECT_EQ(err(swapped).kind(), ErrorKind::Invalid);
  // A rule naming a key the file does not have.
  EXPECT_EQ(err("{\"keys\": {}, \"packages\": [{\"pattern\": \"*\", \"versions\": [\"nobody\"]}]}").kind(),
            ErrorKind::Invalid);
}

TEST(SignPolicyFile, ReadsKeyFilesRelativeToTheTrustFile) {
  auto dir = test::make_temp_dir("sign-policy");
  std::filesystem::create_directories(dir / "keys");
  test::write_file(dir / "keys" / "ci.pub", keys().ci.public_key().to_pem());
  test::write_file(dir / "trust.json",
                   "{\"keys\": {\"ci\": {\"file\": \"keys/ci.pub\"}}, \"packages\": [{\"pattern\": \"*\", "
                   "\"versions\": [\"ci\"]}]}");
  auto p = TrustPolicy::load(dir / "trust.json");
  EXPECT_TRUE(p.evaluate(kLedger, signed_record("app", 1, keys().ci)).trusted);
  EXPECT_EQ(error_of([&] { TrustPolicy::load(dir / "missing.json"); }).kind(), ErrorKind::NotFound);
}

TEST(SignTrustState, RemembersTheHighestGenerationPerLedgerPackageAndTag) {
  auto dir = test::make_temp_dir("sign-state") / "state";
  TrustState state(dir);
  EXPECT_FALSE(state.accepted(kLedger, "app", "live"));
  EXPECT_EQ(state.accept(kLedger, "app", "live", {10, 3}), TrustState::Outcome::Recorded);
  EXPECT_EQ(state.accept(kLedger, "app", "live", {10, 3}), TrustState::Outcome::Unchanged);
  EXPECT_EQ(state.accept(kLedger, "app", "live", {9, 2}), TrustState::Outcome::Rollback);
  EXPECT_EQ(state.accepted(kLedger, "app", "live")->generation, 10u);
  EXPECT_EQ(state.accept(kLedger, "app", "live", {12, 4}), TrustState::Outcome::Recorded);
  // Other ledgers, packages and tags are separate.
  EXPECT_FALSE(state.accepted("s3://other", "app", "live"));
  EXPECT_FALSE(state.accepted(kLedger, "app", "canary"));
  // --allow-rollback makes the older one the baseline.
  EXPECT_EQ(state.accept(kLedger, "app", "live", {9, 2}, true), TrustState::Outcome::Recorded);
  EXPECT_EQ(state.accepted(kLedger, "app", "live")->version, 2u);
  struct stat st {};
  ASSERT_EQ(::stat((dir / "trust-state.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // A damaged file is refused, never silently forgotten.
  test::write_file(dir / "trust-state.json", "{\"format\": 1, \"ledgers\": [");
  EXPECT_EQ(error_of([&] { state.accepted(kLedger, "app", "live"); }).kind(), ErrorKind::Invalid);
}

TEST(SignTrustState, ConcurrentAcceptsLoseNoUpdate) {
  auto dir = test::make_temp_dir("sign-state-race") / "state";
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      TrustState state(dir);
      for (int i = 0; i < 10; ++i) state.accept(kLedger, "pkg" + std::to_string(t), "live", {std::uint64_t(i + 1), 1});
    });
  for (auto& th : threads) th.join();
  TrustState state(dir);
  for (int t = 0; t < 4; ++t) EXPECT_EQ(state.accepted(kLedger, "pkg" + std::to_string(t), "live")->generation, 10u);
}
