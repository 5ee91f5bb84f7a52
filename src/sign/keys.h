// Ed25519 signing keys (OpenSSL 3 EVP): generation, PEM encoding, key ids.
//
// - Private keys are PKCS#8 PEM ("PRIVATE KEY"), or with a passphrase PKCS#8
//   PBES2 ("ENCRYPTED PRIVATE KEY": AES-256-CBC, key from scrypt N=2^14 r=8 p=1,
//   what `openssl pkcs8 -topk8 -scrypt` writes). Public keys are SPKI PEM
//   ("PUBLIC KEY"), what `openssl pkey -pubout` writes.
// - The key id is the first 16 hex digits (8 bytes) of the sha256 of the 32 raw
//   public key bytes. It is a label for finding the key, not a security boundary:
//   a signature is only ever checked with the public key the trust file holds.
// - Secrets (private key bytes, PEM text, passphrases) never appear in messages;
//   the buffers this code fills with them are wiped when released.
// Thread-safety: the key objects are immutable after construction; a const
// object may be shared between threads.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

struct evp_pkey_st;  // OpenSSL's EVP_PKEY

namespace sacker::sign {

// A string wiped (OPENSSL_cleanse) when destroyed or reassigned: PEM text of a
// private key, a passphrase read from somewhere. Move-only.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string_view value) : value_(value) {}
  ~Secret() { wipe(); }
  Secret(Secret&& other) noexcept;
  Secret& operator=(Secret&& other) noexcept;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  std::string_view view() const { return value_; }
  bool empty() const { return value_.empty(); }

  // Overwrites the bytes of `s` with zeros and empties it.
  static void wipe(std::string& s) noexcept;

 private:
  void wipe() noexcept { wipe(value_); }
  std::string value_;
};

struct PkeyFree {
  void operator()(evp_pkey_st* key) const noexcept;
};

class PublicKey {
 public:
  // From the 32 raw Ed25519 public key bytes. Error(Invalid) for another length.
  static PublicKey from_raw(std::string_view raw);
  // From SPKI PEM text. Error(Invalid) "<what>: ..." if it is not a PEM public key
  // or not an Ed25519 one; the text itself is never quoted.
  static PublicKey from_pem(std::string_view pem, std::string_view what = "public key");

  const std::string& raw() const { return raw_; }  // 32 bytes
  const std::string& key_id() const { return key_id_; }
  std::string to_pem() const;
  // Whether `signature` (64 bytes) is a valid Ed25519 signature of `message`.
  bool verify(std::string_view message, std::string_view signature) const;

 private:
  std::string raw_, key_id_;  // no OpenSSL object: see verify() in keys.cpp
};

class PrivateKey {
 public:
  // A new key pair from OpenSSL's CSPRNG.
  static PrivateKey generate();
  // From PKCS#8 PEM, encrypted or not. Error(Invalid) "<what>: ..." saying which
  // of these it is: encrypted but no passphrase given; wrong passphrase (or a
  // damaged key); not a PEM private key; not an Ed25519 key. The passphrase is
  // ignored for an unencrypted key. Never prompts on a terminal.
  static PrivateKey from_pem(std::string_view pem, std::string_view passphrase = {},
                             std::string_view what = "signing key");

  // PKCS#8 PEM; encrypted (PBES2, AES-256-CBC, scrypt) when `passphrase` is not empty.
  Secret to_pem(std::string_view passphrase = {}) const;
  const PublicKey& public_key() const { return public_; }
  const std::string& key_id() const { return public_.key_id(); }
  // The 64-byte Ed25519 signature of `message` (deterministic, RFC 8032).
  std::string sign(std::string_view message) const;

 private:
  explicit PrivateKey(evp_pkey_st* pkey);
  std::unique_ptr<evp_pkey_st, PkeyFree> pkey_;
  PublicKey public_;
};

// The key id of 32 raw public key bytes (see the header comment).
std::string key_id_of(std::string_view raw_public_key);
// True for 16 lower-case hex digits.
bool is_key_id(std::string_view text) noexcept;

struct KeyFiles {
  std::filesystem::path private_key, public_key;
};
// Writes `dir`/NAME.key (the private key PEM, mode 0600, created with O_EXCL, so
// an existing key is never replaced) and `dir`/NAME.pub (the public key PEM, mode
// 0644, O_EXCL too), each fsynced. NAME is a plain name ([A-Za-z0-9._-], as a
// package name). Error(Conflict) if either file exists (nothing is left behind),
// Error(Invalid) for a bad name, errno kinds for the file system.
KeyFiles write_key_files(const std::filesystem::path& dir, std::string_view name, const PrivateKey& key,
                         std::string_view passphrase = {});

}  // namespace sacker::sign
