// Signed deploys in the facade (issue 11): the signers a signing key puts into
// every change, and the trust policy checked on every record a client hands out.
//
// The one hook into the facade is Client::set_record_check: resolve (so download,
// download_to_fd and url) and info call it with the record and the tag it was
// resolved through, before any byte reaches a destination. What it does:
// 1. TrustPolicy::evaluate (sign/policy.h) with the ledger id, the record, and for
//    a tag the tag's stored promotion signatures and generation (its event seq),
//    and the generation this host accepted before (sign/trust_state.h);
// 2. a verified promotion raises the remembered generation (a lower one is a
//    rollback unless allowed: then it becomes the new baseline);
// 3. strict refuses a failed check with Error(NotTrusted), one line:
//    "<package> <spec>: not trusted (<check>[, key <id>]): <reason>"; audit
//    writes that line to `warn` and goes on; skip checks nothing.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "sacker/client.h"
#include "sacker/config.h"
#include "sign/keys.h"
#include "sign/policy.h"
#include "sign/trust_state.h"

namespace sacker {

// $XDG_STATE_HOME/sacker, else $HOME/.local/state/sacker (Error(Invalid) if neither is set).
std::filesystem::path default_state_dir(const EnvLookup& env);

// The id of the ledger statements name: the config file's "ledger_id", else the
// canonical form of the ledger URI (sign/ledger_id.h).
std::string ledger_id_of(const Config& config);

// The signing key of a command: the PEM file `file` if given, else the PEM text
// of $SACKER_SIGNING_KEY, else nullopt; decrypted with $SACKER_KEY_PASSPHRASE
// when it is encrypted. Error(Invalid) naming the source (never its text).
std::optional<sign::PrivateKey> signing_key(const std::optional<std::string>& file, const EnvLookup& env);

// Signers that sign with `key` for the ledger `ledger_id`: version statements on
// add, promotion statements on tag moves (rollback included).
Signers signers_for(std::shared_ptr<const sign::PrivateKey> key, std::string ledger_id);

struct TrustOptions {
  std::filesystem::path state_dir;               // where trust-state.json lives
  bool allow_rollback = false;                   // --allow-rollback
  std::function<void(const std::string&)> warn;  // audit findings, one line each
};

class TrustVerifier {
 public:
  TrustVerifier(sign::TrustPolicy policy, std::string ledger_id, TrustOptions options);

  // Steps 1 and 2 of the header comment; never throws for a failed check (the
  // verdict says it). Errors of the trust state (unreadable, damaged) do throw.
  sign::Verdict evaluate(const ResolvedRecord& resolved);
  // evaluate, then step 3.
  void enforce(const ResolvedRecord& resolved);
  // enforce as the facade's hook; the verifier must outlive the client.
  RecordCheck as_check() {
    return [this](const ResolvedRecord& r) { enforce(r); };
  }
  const std::string& ledger_id() const { return ledger_id_; }

 private:
  sign::TrustPolicy policy_;
  std::string ledger_id_;
  TrustOptions options_;
  sign::TrustState state_;
};

// "<package> <spec>: not trusted (<check>[, key <id>]): <reason>".
std::string not_trusted_line(const ResolvedRecord& resolved, const sign::Verdict& verdict);

}  // namespace sacker
