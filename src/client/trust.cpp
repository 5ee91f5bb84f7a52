#include "client/trust.h"

#include <fmt/core.h>

#include "sacker/error.h"
#include "sacker/names.h"
#include "sign/ledger_id.h"
#include "sign/statement.h"
#include "sign/text_file.h"

namespace sacker {

namespace {
constexpr std::size_t kMaxKeyFileBytes = 64 * 1024;
}

std::filesystem::path default_state_dir(const EnvLookup& env) {
  if (auto x = env("XDG_STATE_HOME"); x && !x->empty()) return std::filesystem::path(*x) / "sacker";
  if (auto home = env("HOME"); home && !home->empty())
    return std::filesystem::path(*home) / ".local" / "state" / "sacker";
  throw Error(ErrorKind::Invalid,
              "trust: neither $XDG_STATE_HOME nor $HOME is set, so there is nowhere to remember accepted promotions");
}

std::string ledger_id_of(const Config& config) { return sign::ledger_id(config.ledger, config.ledger_id); }

std::optional<sign::PrivateKey> signing_key(const std::optional<std::string>& file, const EnvLookup& env) {
  std::optional<sign::Secret> pem;
  std::string what;
  if (file) {
    if (file->empty()) throw Error(ErrorKind::Invalid, "--sign: give the signing key's PEM file");
    what = "signing key " + *file;
    std::string text = *sign::read_text_file(*file, "signing key", kMaxKeyFileBytes);
    pem.emplace(text);
    sign::Secret::wipe(text);
  } else if (auto text = env("SACKER_SIGNING_KEY"); text && !text->empty()) {
    what = "signing key from $SACKER_SIGNING_KEY";
    pem.emplace(*text);
    sign::Secret::wipe(*text);
  } else {
    return std::nullopt;
  }
  std::optional<std::string> passphrase = env("SACKER_KEY_PASSPHRASE");
  sign::Secret pass(passphrase.value_or(""));
  if (passphrase) sign::Secret::wipe(*passphrase);
  return sign::PrivateKey::from_pem(pem->view(), pass.view(), what);
}

Signers signers_for(std::shared_ptr<const sign::PrivateKey> key, std::string ledger_id) {
  sign::validate_ledger_id(ledger_id);
  Signers s;
  s.sign_record = [key, ledger_id](const VersionRecord& r) {
    return std::vector<std::string>{sign::sign_version(r, ledger_id, *key)};
  };
  s.sign_event = [key, ledger_id](const Event& e) {
    return std::vector<std::string>{sign::sign_promotion(e, ledger_id, *key)};
  };
  return s;
}

TrustVerifier::TrustVerifier(sign::TrustPolicy policy, std::string ledger_id, TrustOptions options)
    : policy_(std::move(policy)),
      ledger_id_(std::move(ledger_id)),
      options_(std::move(options)),
      state_(options_.state_dir) {
  sign::validate_ledger_id(ledger_id_);
}

sign::Verdict TrustVerifier::evaluate(const ResolvedRecord& resolved) {
  const VersionRecord& r = resolved.record;
  std::optional<sign::PromotionInput> promotion;
  if (resolved.tag_value) {
    promotion.emplace();
    promotion->tag = resolved.tag;
    promotion->version = resolved.tag_value->version;
    promotion->generation = resolved.tag_value->seq;
    promotion->signatures = resolved.tag_value->signatures;
    promotion->allow_rollback = options_.allow_rollback;
    if (auto seen = state_.accepted(ledger_id_, r.package, resolved.tag))
      promotion->accepted_generation = seen->generation;
  }
  sign::Verdict v = policy_.evaluate(ledger_id_, r, promotion);
  // Only a verified promotion moves the baseline: what nobody trusted signed
  // cannot raise it (and lock out the real one) nor lower it.
  if (v.trusted && promotion && !v.promotion_signers.empty()) {
    const auto outcome =
        state_.accept(ledger_id_, r.package, resolved.tag, {promotion->generation, r.version}, options_.allow_rollback);
    if (outcome == sign::TrustState::Outcome::Rollback) {  // another process accepted a newer one meanwhile
      v.trusted = false;
      v.failed = sign::Check::Rollback;
      v.reason = fmt::format("tag '{}' of {} is at generation {}, older than one accepted meanwhile",
                             printable(resolved.tag), printable(r.package), promotion->generation);
    }
  }
  return v;
}

void TrustVerifier::enforce(const ResolvedRecord& resolved) {
  const sign::Verdict v = evaluate(resolved);
  if (v.trusted || v.level == sign::Level::Skip) return;
  const std::string line = not_trusted_line(resolved, v);
  if (v.level == sign::Level::Strict) throw Error(ErrorKind::NotTrusted, line);
  if (options_.warn) options_.warn("warning (audit): " + line);
}

std::string not_trusted_line(const ResolvedRecord& resolved, const sign::Verdict& v) {
  const std::string spec = resolved.tag.empty() ? std::to_string(resolved.record.version) : printable(resolved.tag);
  const std::string key = v.key_id.empty() ? "" : ", key " + v.key_id;
  return fmt::format("{} {}: not trusted ({}{}): {}", printable(resolved.record.package), spec,
                     sign::check_name(v.failed), key, v.reason);
}

}  // namespace sacker
