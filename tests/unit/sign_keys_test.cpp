// Ed25519 keys: RFC 8032 vectors, PEM round trips, passphrases, key ids, key files.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <filesystem>

#include "core/codec.h"
#include "sacker/error.h"
#include "sacker/sha256.h"
#include "sign/keys.h"
#include "sign_test_keys.h"
#include "support/process.h"
#include "support/records.h"
#include "support/test_env.h"

using namespace sacker;
using namespace sacker::sign;
using sacker::test::error_of;
namespace fs = std::filesystem;

namespace {

std::string pem_of_other_algorithm(const char* algorithm) {
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, algorithm);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PKCS8PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  EVP_PKEY_free(pkey);
  return pem;
}

// No part of a PEM body (a base64 line) appears in `message`.
void expect_no_pem_in(const std::string& message, const std::string& pem) {
  std::size_t start = 0;
  while (start < pem.size()) {
    std::size_t end = pem.find('\n', start);
    std::string line = pem.substr(start, end - start);
    if (line.size() > 8 && line.rfind("-----", 0) != 0) EXPECT_EQ(message.find(line.substr(0, 8)), std::string::npos);
    if (end == std::string::npos) break;
    start = end + 1;
  }
}

}  // namespace

TEST(SignKeys, Rfc8032VectorSignsAndVerifies) {
  const PrivateKey key = test::rfc8032_key();
  EXPECT_EQ(codec::hex_encode(key.public_key().raw()), test::kRfc8032PublicHex);
  const std::string sig = key.sign("");
  EXPECT_EQ(codec::hex_encode(sig), test::kRfc8032EmptySignatureHex);
  EXPECT_TRUE(key.public_key().verify("", sig));
  EXPECT_FALSE(key.public_key().verify("x", sig));
  EXPECT_FALSE(key.public_key().verify("", sig.substr(0, 63)));
}

TEST(SignKeys, KeyIdIsSha256PrefixOfTheRawPublicKeyAndStable) {
  const PrivateKey key = test::rfc8032_key();
  EXPECT_EQ(key.key_id(), test::kRfc8032KeyId);
  const std::string raw = key.public_key().raw();
  EXPECT_EQ(key.key_id(), Sha256::hex_of(raw.data(), raw.size()).substr(0, 16));
  EXPECT_TRUE(is_key_id(key.key_id()));
  // The same id whichever way the key arrives.
  EXPECT_EQ(PublicKey::from_pem(key.public_key().to_pem()).key_id(), test::kRfc8032KeyId);
  EXPECT_EQ(PublicKey::from_raw(raw).key_id(), test::kRfc8032KeyId);
  EXPECT_EQ(PrivateKey::from_pem(key.to_pem().view()).key_id(), test::kRfc8032KeyId);
  EXPECT_EQ(PrivateKey::from_pem(key.to_pem("pw").view(), "pw").key_id(), test::kRfc8032KeyId);
  for (const char* bad : {"", "21FE31DFA154A261", "21fe31dfa154a26", "21fe31dfa154a2610", "21fe31dfa154a26g"})
    EXPECT_FALSE(is_key_id(bad)) << bad;
}

TEST(SignKeys, GeneratedKeysAreDistinctAndRoundTrip) {
  const PrivateKey a = PrivateKey::generate(), b = PrivateKey::generate();
  EXPECT_NE(a.key_id(), b.key_id());
  const Secret pem = a.to_pem();
  EXPECT_NE(pem.view().find("-----BEGIN PRIVATE KEY-----"), std::string_view::npos);
  const PrivateKey again = PrivateKey::from_pem(pem.view());
  EXPECT_EQ(again.key_id(), a.key_id());
  EXPECT_EQ(again.sign("m"), a.sign("m"));  // Ed25519 is deterministic
  EXPECT_TRUE(b.public_key().verify("m", b.sign("m")));
  EXPECT_FALSE(b.public_key().verify("m", a.sign("m")));
  const std::string pub = a.public_key().to_pem();
  EXPECT_NE(pub.find("-----BEGIN PUBLIC KEY-----"), std::string::npos);
}

TEST(SignKeys, EncryptedKeyNeedsTheRightPassphrase) {
  const PrivateKey key = PrivateKey::generate();
  const std::string passphrase = "correct horse battery staple";
  const std::string pem(key.to_pem(passphrase).view());
  EXPECT_NE(pem.find("-----BEGIN ENCRYPTED PRIVATE KEY-----"), std::string::npos);
  EXPECT_EQ(pem.find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
  EXPECT_EQ(PrivateKey::from_pem(pem, passphrase).key_id(), key.key_id());

  for (const std::string& wrong : {std::string("correct horse battery stapl"), std::string("x")}) {
    Error e = error_of([&] { PrivateKey::from_pem(pem, wrong); });
    EXPECT_EQ(e.kind(), ErrorKind::Invalid);
    EXPECT_NE(std::string(e.what()).find("wrong passphrase"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find(wrong), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find(passphrase), std::string::npos) << e.what();
    expect_no_pem_in(e.what(), pem);
  }
  Error none = error_of([&] { PrivateKey::from_pem(pem); });
  EXPECT_EQ(none.kind(), ErrorKind::Invalid);
  EXPECT_NE(std::string(none.what()).find("encrypted and no passphrase"), std::string::npos) << none.what();
  // Encrypting twice gives other bytes (fresh salt and IV), the same key.
  const std::string pem2(key.to_pem(passphrase).view());
  EXPECT_NE(pem, pem2);
  EXPECT_EQ(PrivateKey::from_pem(pem2, passphrase).key_id(), key.key_id());
}

TEST(SignKeys, EncryptedKeyIsScryptAndAes256CbcAndOpensslReadsIt) {
  const PrivateKey key = test::rfc8032_key();
  const fs::path dir = test::make_temp_dir("sign-keys");
  test::write_file(dir / "k.pem", std::string(key.to_pem("s3cret").view()));
  auto parsed = test::run_process({"openssl", "asn1parse", "-in", (dir / "k.pem").string()});
  ASSERT_EQ(parsed.exit_code, 0) << parsed.err;
  EXPECT_NE(parsed.out.find("PBES2"), std::string::npos) << parsed.out;
  EXPECT_NE(parsed.out.find(":scrypt"), std::string::npos) << parsed.out;
  EXPECT_NE(parsed.out.find("aes-256-cbc"), std::string::npos) << parsed.out;
  auto pub =
      test::run_process({"openssl", "pkey", "-in", (dir / "k.pem").string(), "-passin", "pass:s3cret", "-pubout"});
  ASSERT_EQ(pub.exit_code, 0) << pub.err;
  EXPECT_EQ(pub.out, key.public_key().to_pem());
  fs::remove_all(dir);
}

TEST(SignKeys, RefusesWhatIsNotAnEd25519KeyWithoutEchoingIt) {
  const PrivateKey key = PrivateKey::generate();
  const std::string pub = key.public_key().to_pem();
  const std::string x25519 = pem_of_other_algorithm("X25519");
  struct Case {
    std::string pem, expect;
  };
  for (const Case& c : {Case{"", "not a PEM private key"}, Case{"hello", "not a PEM private key"},
                        Case{pub, "not a PEM private key"}, Case{x25519, "not an Ed25519 key"},
                        Case{std::string(test::kRfc8032Pem).substr(0, 50), "not a PEM private key"}}) {
    Error e = error_of([&] { PrivateKey::from_pem(c.pem, {}, "--sign k.key"); });
    EXPECT_EQ(e.kind(), ErrorKind::Invalid);
    EXPECT_NE(std::string(e.what()).find(c.expect), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).rfind("--sign k.key: ", 0), 0u) << e.what();
    expect_no_pem_in(e.what(), c.pem);
  }
  const std::string priv(key.to_pem().view());
  for (const std::string& bad : {std::string(), std::string("junk"), priv, x25519}) {
    Error e = error_of([&] { PublicKey::from_pem(bad); });
    EXPECT_EQ(e.kind(), ErrorKind::Invalid) << e.what();
    expect_no_pem_in(e.what(), bad);
  }
  EXPECT_EQ(error_of([] { PublicKey::from_raw(std::string(31, 'x')); }).kind(), ErrorKind::Invalid);
}

TEST(SignKeys, SecretsAreWipedAndMovedOut) {
  Secret a("passphrase");
  Secret b(std::move(a));
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the moved-from secret is empty
  EXPECT_EQ(b.view(), "passphrase");
  std::string s = "hunter2";
  Secret::wipe(s);
  EXPECT_TRUE(s.empty());
}

TEST(SignKeys, WritesKeyFilesExclusivelyWithPrivateModes) {
  const fs::path dir = test::make_temp_dir("sign-keyfiles");
  const mode_t old_umask = ::umask(022);
  const PrivateKey key = PrivateKey::generate();
  const KeyFiles files = write_key_files(dir, "release", key, "pw");
  EXPECT_EQ(files.private_key, dir / "release.key");
  EXPECT_EQ(files.public_key, dir / "release.pub");
  struct stat st {};
  ASSERT_EQ(::stat(files.private_key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(::stat(files.public_key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_EQ(PrivateKey::from_pem(test::read_file(files.private_key), "pw").key_id(), key.key_id());
  EXPECT_EQ(PublicKey::from_pem(test::read_file(files.public_key)).key_id(), key.key_id());

  // Never replaced: the second key is refused and the first one stays.
  const std::string before = test::read_file(files.private_key);
  EXPECT_EQ(error_of([&] { write_key_files(dir, "release", PrivateKey::generate()); }).kind(), ErrorKind::Conflict);
  EXPECT_EQ(test::read_file(files.private_key), before);
  // A stray NAME.pub: refused, and no NAME.key is left behind.
  test::write_file(dir / "stray.pub", "x");
  EXPECT_EQ(error_of([&] { write_key_files(dir, "stray", key); }).kind(), ErrorKind::Conflict);
  EXPECT_FALSE(fs::exists(dir / "stray.key"));
  // A stray NAME.key (no .pub): refused, left as it was.
  test::write_file(dir / "lone.key", "mine");
  EXPECT_EQ(error_of([&] { write_key_files(dir, "lone", key); }).kind(), ErrorKind::Conflict);
  EXPECT_EQ(test::read_file(dir / "lone.key"), "mine");
  EXPECT_FALSE(fs::exists(dir / "lone.pub"));
  for (const char* bad : {"", "../x", "a/b", ".hidden", "-x", "a b"})
    EXPECT_EQ(error_of([&] { write_key_files(dir, bad, key); }).kind(), ErrorKind::Invalid) << bad;
  EXPECT_EQ(error_of([&] { write_key_files(dir / "missing", "k", key); }).kind(), ErrorKind::NotFound);
  ::umask(old_umask);
  fs::remove_all(dir);
}

TEST(SignKeys, PublicKeyPemFastPathAgreesWithOpenssl) {
  // The usual PEM takes the fast path; other spellings of the same key (CRLF, text
  // before the block) go through OpenSSL's reader: all give the same key.
  const PrivateKey key = PrivateKey::generate();
  const std::string pem = key.public_key().to_pem();
  EXPECT_EQ(PublicKey::from_pem(pem).raw(), key.public_key().raw());
  std::string crlf;
  for (char c : pem) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  EXPECT_EQ(PublicKey::from_pem(crlf).raw(), key.public_key().raw());
  EXPECT_EQ(PublicKey::from_pem("a comment\n" + pem).raw(), key.public_key().raw());
  // One changed DER byte of the algorithm identifier is not an Ed25519 key any more.
  std::string der = *codec::base64_decode(pem.substr(27, pem.find("-----END") - 28));
  der[8] = static_cast<char>(der[8] ^ 1);
  const std::string bad = "-----BEGIN PUBLIC KEY-----\n" + codec::base64_encode(der) + "\n-----END PUBLIC KEY-----\n";
  EXPECT_EQ(test::error_of([&] { PublicKey::from_pem(bad); }).kind(), ErrorKind::Invalid);
}
