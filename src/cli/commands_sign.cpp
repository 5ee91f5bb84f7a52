// Signed deploys (docs/signing.md): `key gen`, `verify`, and the options other
// commands take to sign (add, tag, rollback: --sign) and to apply a trust policy
// (download, info, url: --trust, --allow-rollback).
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <memory>

#include "cli/command.h"
#include "client/trust.h"
#include "sacker/error.h"
#include "sacker/names.h"
#include "sacker/sha256.h"

namespace sacker::cli {
namespace {

void declare_key(CLI::App& c, Args& a) {
  c.add_option("action", a.action, "gen")->required();
  c.add_option("name", a.key_name, "the key's name: writes NAME.key (private, 0600) and NAME.pub")->required();
  c.add_option("--dir", a.key_dir, "where to write the files (default: the current directory)");
}

void key(Session& s, const Args& a) {
  if (a.action != "gen")
    throw Error(ErrorKind::Invalid, fmt::format("key: unknown action '{}' (known: gen)", printable(a.action)));
  const auto passphrase = process_env()("SACKER_KEY_PASSPHRASE");
  const sign::PrivateKey key = sign::PrivateKey::generate();
  const std::filesystem::path dir = a.key_dir.empty() ? std::filesystem::path(".") : std::filesystem::path(a.key_dir);
  const auto files = sign::write_key_files(dir, a.key_name, key, passphrase.value_or(""));
  if (s.json())
    return s.out().json({{"key_id", key.key_id()},
                         {"private_key", files.private_key.string()},
                         {"public_key", files.public_key.string()},
                         {"encrypted", passphrase && !passphrase->empty()}});
  s.out().text(key.key_id());
  if (!s.quiet())
    report_line(fmt::format("wrote {} (keep it secret{}) and {}", files.private_key.string(),
                            passphrase && !passphrase->empty() ? ", encrypted with $SACKER_KEY_PASSPHRASE" : "",
                            files.public_key.string()));
}

// The verifier of a command (--trust, else the config file's "trust"), or nullptr.
std::shared_ptr<TrustVerifier> verifier(Session& s, const Args& a) {
  const Config& config = s.config();
  std::string file = a.trust ? *a.trust : config.trust;
  if (a.trust && a.trust->empty()) throw Error(ErrorKind::Invalid, "--trust: give a trust file");
  if (file.empty()) return nullptr;
  TrustOptions options;
  options.state_dir = default_state_dir(process_env());
  options.allow_rollback = a.allow_rollback;
  options.warn = [](const std::string& line) { report_line(line); };
  return std::make_shared<TrustVerifier>(sign::TrustPolicy::load(file), ledger_id_of(config), std::move(options));
}

void declare_verify(CLI::App& c, Args& a) {
  package_arg(c, a);
  spec_arg(c, a);
  c.add_option("--file", a.file, "also check that this local file is the signed blob");
  trust_options(c, a);
}

Json signers_json(const std::vector<std::string>& ids) {
  Json out = Json::array();
  for (const auto& id : ids) out.push_back(id);
  return out;
}

void verify(Session& s, const Args& a) {
  auto v = verifier(s, a);
  if (!v)
    throw Error(ErrorKind::Invalid,
                "verify: no trust policy (give --trust FILE or \"trust\" in the config file; see docs/signing.md)");
  const ResolvedRecord resolved = s.client().resolve_unchecked(a.package, spec_argument(a.spec));
  sign::Verdict verdict = v->evaluate(resolved);
  const VersionRecord& r = resolved.record;
  std::string file_sha;
  if (!a.file.empty() && (verdict.trusted || verdict.level == sign::Level::Skip)) {
    file_sha = sha256_file(a.file).sha256;
    if (file_sha != r.sha256) {
      verdict.trusted = false;
      verdict.level = sign::Level::Strict;  // a file that is not the release is never "audit"
      verdict.failed = sign::Check::SubjectMismatch;
      verdict.key_id.clear();
      verdict.reason = fmt::format("{} hashes to {}, not to the signed sha256 {}", a.file, file_sha, r.sha256);
    }
  }
  const bool refused = !verdict.trusted && verdict.level == sign::Level::Strict;
  if (s.json()) {
    Json doc = {{"package", r.package},
                {"spec", a.spec},
                {"version", r.version},
                {"sha256", r.sha256},
                {"ledger_id", v->ledger_id()},
                {"level", sign::level_name(verdict.level)},
                {"trusted", verdict.trusted},
                {"check", verdict.failed == sign::Check::None ? Json() : Json(sign::check_name(verdict.failed))},
                {"key_id", verdict.key_id.empty() ? Json() : Json(verdict.key_id)},
                {"reason", verdict.reason},
                {"version_signers", signers_json(verdict.version_signers)},
                {"promotion_signers", signers_json(verdict.promotion_signers)}};
    if (!resolved.tag.empty()) {
      doc["tag"] = resolved.tag;
      doc["generation"] = resolved.tag_value->seq;
    }
    if (!a.file.empty()) doc["file"] = {{"path", a.file}, {"sha256", file_sha}};
    s.out().json(doc);
  } else if (!refused) {
    s.out().text(fmt::format("{} {}: version {}, sha256 {}", r.package, a.spec, r.version, r.sha256));
    if (verdict.level == sign::Level::Skip) {
      s.out().text("not checked: " + verdict.reason);
    } else {
      for (const auto& id : verdict.version_signers) s.out().text("version signed by key " + id);
      for (const auto& id : verdict.promotion_signers)
        s.out().text(
            fmt::format("promotion to {} (generation {}) signed by key {}", resolved.tag, resolved.tag_value->seq, id));
      if (!file_sha.empty()) s.out().text(a.file + " is that blob");
      s.out().text(verdict.trusted ? fmt::format("trusted ({})", sign::level_name(verdict.level))
                                   : "NOT trusted (audit): " + verdict.reason);
    }
  }
  if (refused) throw Error(ErrorKind::NotTrusted, not_trusted_line(resolved, verdict));
}

}  // namespace

void sign_option(CLI::App& c, Args& a) {
  c.add_option_function<std::string>(
      "--sign", [&a](const std::string& f) { a.sign = f; },
      "sign with this private key (PEM file; else $SACKER_SIGNING_KEY holds the PEM text)");
}

void trust_options(CLI::App& c, Args& a) {
  c.add_option_function<std::string>(
      "--trust", [&a](const std::string& f) { a.trust = f; },
      "check signatures against this trust file (else the config file's \"trust\"); refusals exit 9");
  c.add_flag("--allow-rollback", a.allow_rollback,
             "accept a tag's promotion older than one accepted before (and remember it as the new baseline)");
}

void use_signing_key(Session& s, const Args& a) {
  auto key = signing_key(a.sign, process_env());
  if (!key) return;
  s.client().set_signers(
      signers_for(std::make_shared<const sign::PrivateKey>(std::move(*key)), ledger_id_of(s.config())));
}

void use_trust(Session& s, const Args& a) {
  if (auto v = verifier(s, a)) s.client().set_record_check([v](const ResolvedRecord& r) { v->enforce(r); });
}

const std::vector<Command>& sign_commands() {
  static const std::vector<Command> commands = {
      {"key", "make an Ed25519 signing key pair (NAME.key, NAME.pub) and print its key id",
       "sacker key gen NAME [--dir DIR]", "SACKER_KEY_PASSPHRASE=... sacker key gen release", declare_key, key},
      {"verify", "check a record's signatures against the trust policy, without downloading",
       "sacker verify <pkg> <spec> [--file F] [--trust FILE] [--allow-rollback]",
       "sacker verify frontend-server live --trust /etc/sacker/trust.json", declare_verify, verify},
  };
  return commands;
}

}  // namespace sacker::cli
