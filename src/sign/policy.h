// The trust policy: which keys may sign which packages' versions and which tags'
// promotions, and what happens when a check fails. Read from a trust file (JSON):
//
//   {
//     "keys": {                                  // name -> Ed25519 public key
//       "ci":      {"file": "keys/ci.pub"},      //   SPKI PEM file, relative to the trust file
//       "release": {"public_key": "-----BEGIN PUBLIC KEY-----\n...", "key_id": "3f2a9c0d1e2b4a5c"},
//       "ci-2025": {"file": "keys/ci-2025.pub", "retired": "2026-01-01T00:00:00Z"}
//     },
//     "revoked": ["0123456789abcdef"],           // key ids (or key names)
//     "packages": [                              // the first matching pattern applies
//       {"pattern": "frontend-*", "level": "strict",
//        "versions": ["ci", "ci-2025"],          // or {"keys": [...], "threshold": 2}
//        "promotions": {"live": ["release"], "*": ["release", "ci"]}},
//       {"pattern": "*", "level": "audit", "versions": ["ci"]}
//     ]
//   }
//
// - pattern: a glob over package names ('*' any run of characters, '?' one).
//   A package no entry matches is refused (check NoPolicy): a trust file covers
//   everything it does not skip explicitly ({"pattern": "*", "level": "skip"}).
// - level: strict (a failed check refuses), audit (reported, the caller proceeds),
//   skip (nothing is checked). Default strict.
// - versions: the keys whose signature of the version statement counts; at least
//   `threshold` (default 1) distinct ones must verify.
// - promotions: per tag name ("*": any other tag) the keys whose signature of the
//   promotion statement counts. A tag without an entry needs no promotion signature.
// - key_id, if given, must be the id of that public key (a guard against swapped files).
// - retired: the key stops signing at that time; what it signed before keeps
//   verifying (the signed "created" of a version, "time" of a promotion, decide).
// - revoked: a revoked key verifies nothing, old releases included.
// Unknown fields anywhere are refused: a typo must not weaken a policy silently.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sacker/record.h"
#include "sign/dsse.h"
#include "sign/keys.h"

namespace sacker::sign {

enum class Level { Strict, Audit, Skip };
const char* level_name(Level level) noexcept;  // "strict", "audit", "skip"

// The failed check, in --json as check_name(): "unsigned", "unknown key",
// "bad signature", "revoked", "expired", "subject mismatch", "wrong signer",
// "rollback", "no policy"; None ("") when nothing failed.
enum class Check {
  None,
  NoPolicy,         // no pattern of the trust file matches the package
  Unsigned,         // no signature where one is required
  UnknownKey,       // signed by a key the trust file does not know
  BadSignature,     // a signature (or its envelope) does not verify
  Revoked,          // signed by a revoked key
  Expired,          // signed by a retired key after its retirement
  SubjectMismatch,  // a valid signature of another package, version, sha256, ledger, tag or generation
  WrongSigner,      // a known key, but not one trusted for this (e.g. the CI key on "live")
  Rollback,         // an older promotion generation than one accepted before
};
const char* check_name(Check check) noexcept;

struct TrustedKey {
  std::string name;
  PublicKey key;
  std::optional<std::int64_t> retired;  // Unix seconds
};

struct SignerRule {
  std::vector<std::string> key_ids;
  std::size_t threshold = 1;
};

struct PackageRule {
  std::string pattern;
  Level level = Level::Strict;
  SignerRule versions;
  std::map<std::string, SignerRule> promotions;  // tag (or "*") -> signers
};

// A tag being resolved, as the ledger returned it, and what the client accepted before.
struct PromotionInput {
  std::string tag;
  std::uint64_t version = 0;                         // where the tag points (TagValue::version)
  std::uint64_t generation = 0;                      // the seq of the event that put it there (TagValue::seq)
  std::vector<std::string> signatures;               // stored with that event (TagValue::signatures)
  std::optional<std::uint64_t> accepted_generation;  // TrustState::accepted
  bool allow_rollback = false;
};

struct Verdict {
  bool trusted = false;  // every check passed (false under skip: nothing was checked)
  Level level = Level::Strict;
  Check failed = Check::None;
  std::vector<std::string> version_signers;    // key ids whose version signature verified and matched
  std::vector<std::string> promotion_signers;  // the same for the promotion
  std::string key_id;                          // the key the failure is about, if any
  std::string reason;                          // one line, for "sacker: <what>: <reason>"
  // Whether the caller may go on: trusted, or a level that does not refuse.
  bool allows_use() const { return trusted || level != Level::Strict; }
};

class TrustPolicy {
 public:
  // Parses a trust file's text; key files are read relative to `base_dir`.
  // Error(Invalid) "trust file <origin>: ..." naming the problem; NotFound/Denied
  // for a key file that cannot be read.
  static TrustPolicy parse(std::string_view text, const std::filesystem::path& base_dir, std::string_view origin);
  // Reads and parses a trust file.
  static TrustPolicy load(const std::filesystem::path& file);

  // The rule for a package (first matching pattern), or nullptr.
  const PackageRule* rule_for(std::string_view package) const;
  // A key the file knows, by id, or nullptr.
  const TrustedKey* key(std::string_view key_id) const;
  bool revoked(std::string_view key_id) const;

  // Checks `record` (its signatures) and, when resolving a tag, the promotion:
  // version signatures first, then the promotion's, then rollback. Pure (no clock,
  // no files): `ledger_id` is the verifier's id of the ledger the record came from.
  Verdict evaluate(std::string_view ledger_id, const VersionRecord& record,
                   const std::optional<PromotionInput>& promotion = std::nullopt) const;

 private:
  std::map<std::string, TrustedKey, std::less<>> keys_;  // by key id
  std::vector<std::string> revoked_;                     // sorted key ids
  std::vector<PackageRule> rules_;
};

// Glob match: '*' any run of characters (also none), '?' exactly one.
bool glob_match(std::string_view pattern, std::string_view text) noexcept;

}  // namespace sacker::sign
