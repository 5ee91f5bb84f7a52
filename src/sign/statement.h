// What sacker signs: in-toto Statement v1 (github.com/in-toto/attestation,
// spec/v1/statement.md) in a DSSE envelope, payloadType "application/vnd.in-toto+json".
//
//   {"_type": "https://in-toto.io/Statement/v1",
//    "subject": [{"name": "<package>@<version>", "digest": {"sha256": "<blob sha256>"}}],
//    "predicateType": <one of ours>, "predicate": {...}}
//
// Our predicate types are names, nothing is fetched from them:
// - kVersionPredicate, a version as the ledger records it (signed on `add`):
//     {"package","version","sha256","size","basename","mode","created" (RFC 3339),
//      "metadata" (object), "ledger"}
// - kPromotionPredicate, a tag move (signed on `tag`):
//     {"package","tag","version","sha256","previous" (the tag's version before, or null),
//      "generation" (seq of the tag's event: grows with every move), "time" (RFC 3339,
//      the event's), "ledger"}
// "ledger" is the ledger id (ledger_id.h), so neither can be replayed into another
// ledger or package.
//
// Output is canonical (keys sorted, compact) and deterministic: the same input
// gives byte-identical statements, and (Ed25519 being deterministic) envelopes.
// Parsing is strict: exactly these fields and types, names validated, and the
// payload must be the canonical text of what it parses to.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sacker/record.h"
#include "sign/dsse.h"
#include "sign/keys.h"

namespace sacker::sign {

inline constexpr std::string_view kStatementType = "https://in-toto.io/Statement/v1";
inline constexpr std::string_view kInTotoPayloadType = "application/vnd.in-toto+json";
inline constexpr std::string_view kVersionPredicate = "https://sacker.dev/version/v1";
inline constexpr std::string_view kPromotionPredicate = "https://sacker.dev/promotion/v1";

struct VersionStatement {
  std::string ledger;
  VersionRecord record;  // every field but `signatures` (always empty here)
  bool operator==(const VersionStatement&) const = default;
};

struct PromotionStatement {
  std::string ledger;
  std::string package, tag;
  std::uint64_t version = 0;
  std::string sha256;
  std::optional<std::uint64_t> previous;
  std::uint64_t generation = 0;  // the tag event's seq (TagValue::seq)
  std::int64_t time = 0;         // the tag event's time, Unix seconds
  bool operator==(const PromotionStatement&) const = default;
};

// The statement of a record about to be stored (version assigned). Validates the
// record (validate_record) and the ledger id: Error(Invalid).
VersionStatement version_statement(const VersionRecord& record, std::string_view ledger);
// The statement of a tag event about to be stored (Tag or Rollback; seq, version
// and sha256 filled in, as ChangeContext::sign_event receives it). Error(Invalid)
// for another action, seq 0, a missing sha256 or a bad name.
PromotionStatement promotion_statement(const Event& event, std::string_view ledger);

// Canonical JSON text of the in-toto statement.
std::string statement_json(const VersionStatement& statement);
std::string statement_json(const PromotionStatement& statement);

// Parses a statement (an envelope's payload). Error(Invalid) "malformed version
// statement: ..." / "malformed promotion statement: ..." naming the problem
// (another predicate type included); the input is never quoted.
VersionStatement parse_version_statement(std::string_view payload);
PromotionStatement parse_promotion_statement(std::string_view payload);

// The predicate type of an in-toto payload, or nullopt if it is not one.
std::optional<std::string> predicate_type_of(std::string_view payload);

// What the ledger stores: the canonical envelope JSON of the statement signed by `key`.
// These are what ChangeContext::sign_record / sign_event return (one element each).
std::string sign_version(const VersionRecord& record, std::string_view ledger, const PrivateKey& key);
std::string sign_promotion(const Event& event, std::string_view ledger, const PrivateKey& key);

}  // namespace sacker::sign
