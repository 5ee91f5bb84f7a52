#include "sign/policy.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>

#include "sacker/error.h"
#include "sacker/names.h"
#include "sign/statement.h"

namespace sacker::sign {
namespace {

// Which failure to report when several signatures fail differently: the one
// that most suggests an attack (or needs the operator) first.
int severity(Check c) {
  switch (c) {
    case Check::Revoked: return 6;
    case Check::BadSignature: return 5;
    case Check::SubjectMismatch: return 4;
    case Check::Expired: return 3;
    case Check::WrongSigner: return 2;
    case Check::UnknownKey: return 1;
    default: return 0;
  }
}

struct Finding {
  Check check = Check::None;
  std::string key_id, reason;
};

struct Tally {
  std::vector<std::string> good;  // distinct key ids, sorted
  Finding worst;
  void note(Finding f) {
    if (severity(f.check) > severity(worst.check)) worst = std::move(f);
  }
};

// What a verified payload is about: "" if it is the subject being verified (and
// its signed time in `signed_time`), else why not.
using Matcher = std::function<std::string(std::string_view payload, std::int64_t& signed_time)>;

template <typename T>
std::string differs(const char* field, const T& signed_value, const T& actual) {
  return signed_value == actual ? "" : fmt::format("its {} differs", field);
}

std::string record_mismatch(const VersionRecord& s, const VersionRecord& r) {
  for (const std::string& d :
       {differs("package", s.package, r.package), differs("version", s.version, r.version),
        differs("sha256", s.sha256, r.sha256), differs("size", s.size, r.size),
        differs("basename", s.basename, r.basename), differs("mode", s.mode, r.mode),
        differs("created time", s.created, r.created), differs("metadata", s.metadata, r.metadata)})
    if (!d.empty()) return d;
  return "";
}

}  // namespace

const char* level_name(Level level) noexcept {
  switch (level) {
    case Level::Strict: return "strict";
    case Level::Audit: return "audit";
    case Level::Skip: return "skip";
  }
  return "strict";
}

const char* check_name(Check check) noexcept {
  switch (check) {
    case Check::None: return "";
    case Check::NoPolicy: return "no policy";
    case Check::Unsigned: return "unsigned";
    case Check::UnknownKey: return "unknown key";
    case Check::BadSignature: return "bad signature";
    case Check::Revoked: return "revoked";
    case Check::Expired: return "expired";
    case Check::SubjectMismatch: return "subject mismatch";
    case Check::WrongSigner: return "wrong signer";
    case Check::Rollback: return "rollback";
  }
  return "";
}

bool glob_match(std::string_view pattern, std::string_view text) noexcept {
  // Iterative with one backtrack point (the last '*'): linear in practice, never exponential.
  std::size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

const PackageRule* TrustPolicy::rule_for(std::string_view package) const {
  for (const auto& rule : rules_)
    if (glob_match(rule.pattern, package)) return &rule;
  return nullptr;
}

const TrustedKey* TrustPolicy::key(std::string_view key_id) const {
  auto it = keys_.find(key_id);
  return it == keys_.end() ? nullptr : &it->second;
}

bool TrustPolicy::revoked(std::string_view key_id) const {
  return std::binary_search(revoked_.begin(), revoked_.end(), key_id);
}

namespace {

// Every signature of every envelope in `envelopes`, checked against `rule`.
// `subject` names what is verified, for reasons ("version 23 of frontend").
Tally tally(const TrustPolicy& policy, const std::vector<std::string>& envelopes, const SignerRule& rule,
            const std::string& subject, const std::string& signs_what, const Matcher& match) {
  Tally t;
  auto label = [&](const std::string& id) {
    const TrustedKey* k = policy.key(id);
    return k ? fmt::format("key '{}' ({})", k->name, id) : fmt::format("key {}", id);
  };
  for (const auto& text : envelopes) {
    Envelope envelope;
    try {
      envelope = envelope_from_json(text);
    } catch (const Error&) {
      t.note({Check::BadSignature, "", fmt::format("a signature of {} is not a valid signature envelope", subject)});
      continue;
    }
    // The payload is read only once a trusted key's signature covers it.
    std::optional<std::string> mismatch;
    std::int64_t signed_time = 0;
    for (const auto& sig : envelope.signatures) {
      const std::string& id = sig.keyid;
      const TrustedKey* key = policy.key(id);
      if (policy.revoked(id)) {
        t.note({Check::Revoked, id, fmt::format("{} is signed by revoked {}", subject, label(id))});
      } else if (key == nullptr) {
        t.note({Check::UnknownKey, id, fmt::format("{} is signed by unknown key {}", subject, id)});
      } else if (std::find(rule.key_ids.begin(), rule.key_ids.end(), id) == rule.key_ids.end()) {
        t.note({Check::WrongSigner, id, fmt::format("{} may not sign {}", label(id), signs_what)});
      } else if (!key->key.verify(pae(envelope.payload_type, envelope.payload), sig.sig)) {
        t.note({Check::BadSignature, id, fmt::format("the signature of {} by {} does not verify", subject, label(id))});
      } else {
        if (!mismatch)
          mismatch = envelope.payload_type != kInTotoPayloadType ? "it is not an in-toto statement"
                                                                 : match(envelope.payload, signed_time);
        if (!mismatch->empty()) {
          t.note({Check::SubjectMismatch, id,
                  fmt::format("{} signed something else than {}: {}", label(id), subject, *mismatch)});
        } else if (key->retired && signed_time >= *key->retired) {
          t.note({Check::Expired, id,
                  fmt::format("{} was retired at {}, before it signed {} (at {})", label(id), format_utc(*key->retired),
                              subject, format_utc(signed_time))});
        } else {
          t.good.push_back(id);
        }
      }
    }
  }
  std::sort(t.good.begin(), t.good.end());
  t.good.erase(std::unique(t.good.begin(), t.good.end()), t.good.end());
  return t;
}

// Fills `v` with the failure of a tally that has fewer than `threshold` good signatures.
void fail_with(Verdict& v, const Tally& t, std::size_t threshold, bool any_signature,
               const std::string& unsigned_reason) {
  if (t.worst.check != Check::None) {
    v.failed = t.worst.check;
    v.key_id = t.worst.key_id;
    v.reason = t.worst.reason;
  } else {
    v.failed = Check::Unsigned;
    v.reason = unsigned_reason;
  }
  if (any_signature && threshold > 1)
    v.reason += fmt::format(" ({} of {} required signatures verified)", t.good.size(), threshold);
}

}  // namespace

Verdict TrustPolicy::evaluate(std::string_view ledger_id, const VersionRecord& record,
                              const std::optional<PromotionInput>& promotion) const {
  Verdict v;
  const std::string package = printable(record.package);
  const PackageRule* rule = rule_for(record.package);
  if (rule == nullptr) {
    v.failed = Check::NoPolicy;
    v.reason = fmt::format("no entry of the trust file matches package '{}'", package);
    return v;
  }
  v.level = rule->level;
  if (rule->level == Level::Skip) {
    v.reason = fmt::format("the trust policy skips checks for package '{}'", package);
    return v;
  }

  const std::string version_subject = fmt::format("version {} of {}", record.version, package);
  Tally versions = tally(*this, record.signatures, rule->versions, version_subject,
                         fmt::format("versions of {}", package), [&](std::string_view payload, std::int64_t& time) {
                           VersionStatement s;
                           try {
                             s = parse_version_statement(payload);
                           } catch (const Error&) {
                             return std::string("it is not a version statement");
                           }
                           time = s.record.created;
                           if (s.ledger != ledger_id)
                             return fmt::format("it is for ledger '{}', not '{}'", printable(s.ledger), ledger_id);
                           VersionRecord unsigned_record = record;
                           unsigned_record.signatures.clear();
                           return record_mismatch(s.record, unsigned_record);
                         });
  v.version_signers = versions.good;
  if (versions.good.size() < rule->versions.threshold) {
    fail_with(v, versions, rule->versions.threshold, !record.signatures.empty(),
              fmt::format("{} is not signed", version_subject));
    return v;
  }

  if (promotion) {
    auto entry = rule->promotions.find(promotion->tag);
    if (entry == rule->promotions.end()) entry = rule->promotions.find("*");
    if (entry != rule->promotions.end()) {
      const PromotionInput& tag = *promotion;
      const std::string subject =
          fmt::format("the promotion of {} to '{}'", version_subject, printable(promotion->tag));
      Tally promotions = tally(
          *this, tag.signatures, entry->second, subject,
          fmt::format("promotions of {} to '{}'", package, printable(promotion->tag)),
          [&](std::string_view payload, std::int64_t& time) {
            PromotionStatement s;
            try {
              s = parse_promotion_statement(payload);
            } catch (const Error&) {
              return std::string("it is not a promotion statement");
            }
            time = s.time;
            if (s.ledger != ledger_id)
              return fmt::format("it is for ledger '{}', not '{}'", printable(s.ledger), ledger_id);
            for (const std::string& d :
                 {differs("package", s.package, record.package), differs("tag", s.tag, promotion->tag),
                  differs("version", s.version, tag.version), differs("version", s.version, record.version),
                  differs("sha256", s.sha256, record.sha256), differs("generation", s.generation, tag.generation)})
              if (!d.empty()) return d;
            return std::string();
          });
      v.promotion_signers = promotions.good;
      if (promotions.good.size() < entry->second.threshold) {
        fail_with(v, promotions, entry->second.threshold, !tag.signatures.empty(),
                  fmt::format("{} is not signed", subject));
        return v;
      }
      if (promotion->accepted_generation && tag.generation < *promotion->accepted_generation &&
          !promotion->allow_rollback) {
        v.failed = Check::Rollback;
        v.reason = fmt::format(
            "tag '{}' of {} is at generation {}, older than generation {} accepted before "
            "(an older, validly signed promotion: --allow-rollback accepts it)",
            printable(promotion->tag), package, tag.generation, *promotion->accepted_generation);
        return v;
      }
    }
  }
  v.trusted = true;
  v.reason = fmt::format("{} is signed by {}", version_subject, fmt::join(v.version_signers, ", "));
  if (!v.promotion_signers.empty())
    v.reason +=
        fmt::format("; its promotion to '{}' by {}", printable(promotion->tag), fmt::join(v.promotion_signers, ", "));
  return v;
}

}  // namespace sacker::sign
