// End-to-end: signed deploys (issue 11) through the real sacker binary on the
// embedded default. CI signs on add, release signs the promotion to live,
// production downloads live under a strict trust policy; every way of getting
// an untrusted record in front of production is refused with exit 9 and leaves
// the destination as it was.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

#include "core/codec.h"
#include "e2e/sandbox.h"

namespace sacker::test {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kNotTrusted = 9;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// A sandbox with keys ci, release and stranger in work/keys and a strict trust
// file work/trust.json: versions by ci, promotions to live by release only.
class Signed : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(s_.work() / "keys");
    std::filesystem::create_directories(s_.work() / "prod");
    for (const char* name : {"ci", "release", "stranger"}) {
      auto r = run({"key", "gen", name, "--dir", "keys"});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      ids_[name] = trim(r.out);
    }
    write_trust("trust.json", "strict", "");
  }

  void write_trust(const std::string& name, const std::string& level, const std::string& revoked) {
    s_.write(name,
             "{\"keys\": {\"ci\": {\"file\": \"keys/ci.pub\"}, \"release\": {\"file\": \"keys/release.pub\"}},"
             " \"revoked\": [" +
                 revoked +
                 "],"
                 " \"packages\": [{\"pattern\": \"*\", \"level\": \"" +
                 level +
                 "\", \"versions\": [\"ci\"],"
                 " \"promotions\": {\"live\": [\"release\"]}}]}");
  }

  ProcessResult run(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) const {
    std::vector<std::string> e = {"XDG_STATE_HOME=" + (s_.home() / "state").string(),
                                  "SACKER_SIGNING_KEY=", "SACKER_KEY_PASSPHRASE="};
    e.insert(e.end(), env.begin(), env.end());
    return s_.run(args, "", e);
  }

  // CI: add `content` as a new version of `package`, signed with `key` ("" unsigned).
  std::string add(const std::string& package, const std::string& content, const std::string& key) {
    s_.write("build.jar", content);
    std::vector<std::string> args = {"add", package, "build.jar"};
    if (!key.empty()) args.insert(args.end(), {"--sign", "keys/" + key + ".key"});
    auto r = run(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return trim(r.out);
  }
  void promote(const std::string& package, const std::string& version, const std::string& key) {
    std::vector<std::string> args = {"tag", package, version, "live"};
    if (!key.empty()) args.insert(args.end(), {"--sign", "keys/" + key + ".key"});
    auto r = run(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  ProcessResult deploy(const std::string& package, const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> args = {"download", package, "live", "-o", "prod/app.jar", "--trust", "trust.json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run(args);
  }
  std::string deployed() const { return read_file(s_.work() / "prod/app.jar"); }

  // Expects a refusal with exit 9 naming `check`, the destination unchanged.
  void expect_refused(const ProcessResult& r, const std::string& check, const std::string& before) {
    EXPECT_EQ(r.exit_code, kNotTrusted) << r.out << r.err;
    EXPECT_THAT(r.err, HasSubstr("not trusted (" + check));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
    EXPECT_EQ(deployed(), before) << "the destination is untouched";
    for (const auto& entry : std::filesystem::directory_iterator(s_.work() / "prod"))
      EXPECT_EQ(entry.path().filename(), "app.jar") << "no temp file is left behind";
  }

  void sql(const std::string& statement) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((s_.data() / "ledger.db").c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db, statement.c_str(), nullptr, nullptr, &error), SQLITE_OK) << (error ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
  }
  // The row of tag `live`: version, seq, signatures.
  std::tuple<std::int64_t, std::int64_t, std::string> live_row(const std::string& package) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open((s_.data() / "ledger.db").c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT version, seq, signatures FROM tags WHERE package = ? AND tag = 'live'", -1, &st,
                       nullptr);
    sqlite3_bind_text(st, 1, package.c_str(), -1, SQLITE_TRANSIENT);
    std::tuple<std::int64_t, std::int64_t, std::string> row;
    EXPECT_EQ(sqlite3_step(st), SQLITE_ROW);
    row = {sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
           reinterpret_cast<const char*>(sqlite3_column_text(st, 2))};
    sqlite3_finalize(st);
    sqlite3_close(db);
    return row;
  }
  static std::string quoted(const std::string& text) {
    std::string out = "'";
    for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
    return out + "'";
  }

  Sandbox s_;
  std::map<std::string, std::string> ids_;
};

TEST_F(Signed, KeyGenWritesAPrivatePkcs8KeyAndAPublicKey) {
  EXPECT_THAT(ids_["ci"], ::testing::MatchesRegex("[0-9a-f]{16}"));
  EXPECT_NE(ids_["ci"], ids_["release"]);
  struct stat st {};
  ASSERT_EQ(::stat((s_.work() / "keys/ci.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_THAT(read_file(s_.work() / "keys/ci.key"), HasSubstr("-----BEGIN PRIVATE KEY-----"));
  EXPECT_THAT(read_file(s_.work() / "keys/ci.pub"), HasSubstr("-----BEGIN PUBLIC KEY-----"));
  // OpenSSL reads both and derives the same public key.
  auto pub = run_process({"openssl", "pkey", "-in", (s_.work() / "keys/ci.key").string(), "-pubout"});
  EXPECT_EQ(pub.out, read_file(s_.work() / "keys/ci.pub"));
  // An existing key is never replaced.
  auto again = run({"key", "gen", "ci", "--dir", "keys"});
  EXPECT_EQ(again.exit_code, 4) << again.err;
  // A passphrase encrypts it; signing then needs it.
  auto enc = run({"key", "gen", "vault", "--dir", "keys"}, {"SACKER_KEY_PASSPHRASE=correct horse"});
  ASSERT_EQ(enc.exit_code, 0) << enc.err;
  EXPECT_THAT(read_file(s_.work() / "keys/vault.key"), HasSubstr("ENCRYPTED PRIVATE KEY"));
  s_.write("x.jar", "x");
  auto no_pass = run({"add", "x", "x.jar", "--sign", "keys/vault.key"});
  EXPECT_EQ(no_pass.exit_code, 2) << no_pass.err;
  EXPECT_THAT(no_pass.err, Not(HasSubstr("PRIVATE KEY")));
  EXPECT_EQ(run({"versions", "x"}).exit_code, 3) << "nothing was recorded";
  auto wrong = run({"add", "x", "x.jar", "--sign", "keys/vault.key"}, {"SACKER_KEY_PASSPHRASE=wrong"});
  EXPECT_EQ(wrong.exit_code, 2) << wrong.err;
  auto right = run({"add", "x", "x.jar", "--sign", "keys/vault.key"}, {"SACKER_KEY_PASSPHRASE=correct horse"});
  EXPECT_EQ(right.exit_code, 0) << right.err;
}

TEST_F(Signed, CiSignsReleasePromotesProductionDeploys) {
  const std::string v1 = add("app", "build 1", "ci");
  promote("app", v1, "release");
  auto r = deploy("app");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(deployed(), "build 1");

  auto v = run({"--json", "verify", "app", "live", "--trust", "trust.json", "--file", "prod/app.jar"});
  ASSERT_EQ(v.exit_code, 0) << v.err;
  json doc = json::parse(v.out);
  EXPECT_EQ(doc["trusted"], true);
  EXPECT_EQ(doc["level"], "strict");
  EXPECT_EQ(doc["version_signers"], json::array({ids_["ci"]}));
  EXPECT_EQ(doc["promotion_signers"], json::array({ids_["release"]}));
  EXPECT_TRUE(doc["check"].is_null());
  auto human = run({"verify", "app", "live", "--trust", "trust.json"});
  EXPECT_THAT(human.out, HasSubstr("version signed by key " + ids_["ci"]));
  EXPECT_THAT(human.out, HasSubstr("signed by key " + ids_["release"]));

  // The PEM text in $SACKER_SIGNING_KEY (a CI secret) signs as well as --sign.
  s_.write("build.jar", "build 2");
  auto env_add = run({"add", "app", "build.jar"}, {"SACKER_SIGNING_KEY=" + read_file(s_.work() / "keys/ci.key")});
  ASSERT_EQ(env_add.exit_code, 0) << env_add.err;
  promote("app", trim(env_add.out), "release");
  ASSERT_EQ(deploy("app").exit_code, 0);
  EXPECT_EQ(deployed(), "build 2");
  // Up to date: nothing moves, still checked.
  auto again = deploy("app");
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("already up to date"));
}

TEST_F(Signed, UnsignedUnknownKeyAndCiPromotedLiveAreRefused) {
  promote("app", add("app", "good", "ci"), "release");
  ASSERT_EQ(deploy("app").exit_code, 0);

  promote("unsigned", add("unsigned", "evil 1", ""), "release");
  expect_refused(deploy("unsigned"), "unsigned", "good");

  promote("unknown", add("unknown", "evil 2", "stranger"), "release");
  auto unknown = deploy("unknown");
  expect_refused(unknown, "unknown key", "good");
  EXPECT_THAT(unknown.err, HasSubstr(ids_["stranger"]));

  promote("self", add("self", "evil 3", "ci"), "ci");  // the CI key may not promote to live
  expect_refused(deploy("self"), "wrong signer", "good");

  promote("bare", add("bare", "evil 4", "ci"), "");  // an unsigned promotion to live
  expect_refused(deploy("bare"), "unsigned", "good");

  // info and verify apply the same policy; --json names the check and the key.
  EXPECT_EQ(run({"info", "unknown", "live", "--trust", "trust.json"}).exit_code, kNotTrusted);
  auto v = run({"--json", "verify", "unknown", "live", "--trust", "trust.json"});
  EXPECT_EQ(v.exit_code, kNotTrusted);
  json doc = json::parse(v.out);
  EXPECT_EQ(doc["check"], "unknown key");
  EXPECT_EQ(doc["key_id"], ids_["stranger"]);
  // Streaming to stdout is refused before the first byte.
  auto out = run({"download", "unsigned", "live", "-o", "-", "--trust", "trust.json"});
  EXPECT_EQ(out.exit_code, kNotTrusted);
  EXPECT_EQ(out.out, "");
  // A local file that is not the signed blob.
  s_.write("other.jar", "not the release");
  auto file = run({"verify", "app", "live", "--trust", "trust.json", "--file", "other.jar"});
  EXPECT_EQ(file.exit_code, kNotTrusted);
  EXPECT_THAT(file.err, HasSubstr("subject mismatch"));
}

TEST_F(Signed, TamperedSignaturesAndRecordsAreRefused) {
  promote("app", add("app", "good", "ci"), "release");
  ASSERT_EQ(deploy("app").exit_code, 0);
  const std::string v2 = add("app", "build 2", "ci");
  promote("app", v2, "release");

  // One bit of the version signature flipped in the ledger.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((s_.data() / "ledger.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "SELECT signatures FROM versions WHERE package = 'app' AND version = 2", -1, &st, nullptr);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  json sigs = json::parse(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
  sqlite3_finalize(st);
  sqlite3_close(db);
  const std::string original = sigs.dump();
  std::string raw = *codec::base64_decode(sigs[0]["signatures"][0]["sig"].get<std::string>());
  raw[5] = static_cast<char>(raw[5] ^ 0x10);
  sigs[0]["signatures"][0]["sig"] = codec::base64_encode(raw);
  sql("UPDATE versions SET signatures = " + quoted(sigs.dump()) + " WHERE package = 'app' AND version = 2");
  expect_refused(deploy("app"), "bad signature", "good");

  // The record changed under a valid signature (another sha256: a swapped blob).
  sql("UPDATE versions SET signatures = " + quoted(original) + " WHERE package = 'app' AND version = 2");
  sql("UPDATE versions SET sha256 = (SELECT sha256 FROM versions WHERE package = 'app' AND version = 1) "
      "WHERE package = 'app' AND version = 2");
  expect_refused(deploy("app"), "subject mismatch", "good");
}

TEST_F(Signed, ALedgerPointedBackAtAnOlderSignedPromotionIsARollback) {
  const std::string v1 = add("app", "build 1", "ci");
  promote("app", v1, "release");
  ASSERT_EQ(deploy("app").exit_code, 0);
  const auto old_row = live_row("app");
  promote("app", add("app", "build 2", "ci"), "release");
  ASSERT_EQ(deploy("app").exit_code, 0);
  EXPECT_EQ(deployed(), "build 2");
  const auto new_row = live_row("app");
  EXPECT_GT(std::get<1>(new_row), std::get<1>(old_row)) << "the generation grows with each move";

  // live edited back to version 1 with the old, validly signed promotion.
  sql("UPDATE tags SET version = " + std::to_string(std::get<0>(old_row)) +
      ", seq = " + std::to_string(std::get<1>(old_row)) + ", signatures = " + quoted(std::get<2>(old_row)) +
      " WHERE package = 'app' AND tag = 'live'");
  expect_refused(deploy("app"), "rollback", "build 2");
  // Pointed at version 1 keeping the new promotion's signature: it signed version 2.
  sql("UPDATE tags SET version = 1, seq = " + std::to_string(std::get<1>(new_row)) +
      ", signatures = " + quoted(std::get<2>(new_row)) + " WHERE package = 'app' AND tag = 'live'");
  expect_refused(deploy("app"), "subject mismatch", "build 2");

  // A deliberate rollback is accepted when asked for, and becomes the baseline.
  sql("UPDATE tags SET version = " + std::to_string(std::get<0>(old_row)) +
      ", seq = " + std::to_string(std::get<1>(old_row)) + ", signatures = " + quoted(std::get<2>(old_row)) +
      " WHERE package = 'app' AND tag = 'live'");
  auto allowed = deploy("app", {"--allow-rollback"});
  ASSERT_EQ(allowed.exit_code, 0) << allowed.err;
  EXPECT_EQ(deployed(), "build 1");
  EXPECT_EQ(deploy("app").exit_code, 0) << "the old generation is the baseline now";
}

TEST_F(Signed, SignedRollbackIsANewPromotionWithAHigherGeneration) {
  promote("app", add("app", "build 1", "ci"), "release");
  promote("app", add("app", "build 2", "ci"), "release");
  ASSERT_EQ(deploy("app").exit_code, 0);
  EXPECT_EQ(deployed(), "build 2");
  auto rb = run({"rollback", "app", "live", "--sign", "keys/release.key"});
  ASSERT_EQ(rb.exit_code, 0) << rb.err;
  auto r = deploy("app");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(deployed(), "build 1");
}

TEST_F(Signed, RevokedKeysAuditLevelAndTheConfigFilesTrust) {
  promote("app", add("app", "build 1", "ci"), "release");
  write_trust("revoked.json", "strict", "\"" + ids_["ci"] + "\"");
  auto revoked = run({"download", "app", "live", "-o", "prod/app.jar", "--trust", "revoked.json"});
  EXPECT_EQ(revoked.exit_code, kNotTrusted);
  EXPECT_THAT(revoked.err, HasSubstr("not trusted (revoked, key " + ids_["ci"]));
  EXPECT_FALSE(std::filesystem::exists(s_.work() / "prod/app.jar"));

  // audit: reported on stderr, the download goes on.
  promote("loose", add("loose", "unsigned build", ""), "");
  write_trust("audit.json", "audit", "");
  auto audit = run({"download", "loose", "live", "-o", "prod/app.jar", "--trust", "audit.json"});
  EXPECT_EQ(audit.exit_code, 0) << audit.err;
  EXPECT_THAT(audit.err, HasSubstr("warning (audit)"));
  EXPECT_EQ(deployed(), "unsigned build");

  // "trust" in the config file applies without --trust (relative to the config file).
  s_.write("sacker.json", "{\"trust\": \"trust.json\"}");
  auto cfg = run({"download", "loose", "live", "-o", "prod/app.jar"},
                 {"SACKER_CONFIG=" + (s_.work() / "sacker.json").string()});
  EXPECT_EQ(cfg.exit_code, kNotTrusted) << cfg.err;
  // Without any policy nothing is checked (today's behaviour).
  EXPECT_EQ(run({"download", "loose", "live", "-o", "prod/app.jar"}).exit_code, 0);
}

// Signatures travel with export/import; "ledger_id" in the config file names the
// ledger in statements, so a migrated ledger keeps verifying (and another does not).
TEST_F(Signed, ExportImportCarriesSignaturesUnderAStableLedgerId) {
  s_.write("sacker.json", "{\"ledger_id\": \"acme-prod\"}");
  const std::string config = "SACKER_CONFIG=" + (s_.work() / "sacker.json").string();
  s_.write("build.jar", "build 1");
  ASSERT_EQ(run({"add", "app", "build.jar", "--sign", "keys/ci.key"}, {config}).exit_code, 0);
  ASSERT_EQ(run({"tag", "app", "1", "live", "--sign", "keys/release.key"}, {config}).exit_code, 0);
  auto exported = run({"export"}, {config});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  s_.write("backup.jsonl", exported.out);
  const std::string other = "sqlite://" + (s_.home() / "migrated.db").string();
  ASSERT_EQ(run({"--ledger", other, "import", "backup.jsonl"}, {config}).exit_code, 0);
  auto r = run({"--ledger", other, "download", "app", "live", "-o", "prod/app.jar", "--trust", "trust.json"}, {config});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(deployed(), "build 1");
  // Without the shared id the migrated ledger is another ledger: the statements name "acme-prod".
  auto elsewhere = run({"--ledger", other, "verify", "app", "live", "--trust", "trust.json"});
  EXPECT_EQ(elsewhere.exit_code, kNotTrusted);
  EXPECT_THAT(elsewhere.err, HasSubstr("subject mismatch"));
}

}  // namespace
}  // namespace sacker::test
