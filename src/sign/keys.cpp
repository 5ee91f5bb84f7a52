#include "sign/keys.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "core/codec.h"
#include "core/files.h"
#include "sacker/error.h"
#include "sacker/names.h"
#include "sacker/sha256.h"

namespace sacker::sign {
namespace {

constexpr std::size_t kRawKeyBytes = 32;
constexpr std::size_t kSignatureBytes = 64;
// `openssl pkcs8 -scrypt`'s parameters: 16 MiB of memory, inside OpenSSL's default
// scrypt memory limit (32 MiB), so any OpenSSL 3 reads the key back.
constexpr std::uint64_t kScryptN = 1 << 14, kScryptR = 8, kScryptP = 1;

struct BioFree {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

// The reason OpenSSL gives, never its data: used only in Internal errors.
[[noreturn]] void throw_openssl(const std::string& what) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  char buf[256] = "unknown error";
  if (code != 0) ERR_error_string_n(code, buf, sizeof buf);
  throw Error(ErrorKind::Internal, fmt::format("{}: OpenSSL: {}", what, buf));
}

BioPtr memory_bio(std::string_view text) {
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (!bio) throw_openssl("cannot read PEM text");
  return bio;
}

// Supplies the passphrase to OpenSSL's PEM reader; with none it declines, so
// OpenSSL never falls back to prompting on the terminal.
int passphrase_callback(char* buf, int size, int /*rwflag*/, void* user) {
  const auto* pass = static_cast<const std::string_view*>(user);
  if (pass == nullptr || pass->empty() || pass->size() > static_cast<std::size_t>(size)) return -1;
  std::memcpy(buf, pass->data(), pass->size());
  return static_cast<int>(pass->size());
}

std::string raw_public_key(EVP_PKEY* pkey) {
  std::string raw(kRawKeyBytes, '\0');
  std::size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(pkey, reinterpret_cast<unsigned char*>(raw.data()), &len) != 1 || len != kRawKeyBytes)
    throw_openssl("cannot read the public key");
  return raw;
}

Secret bio_contents(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return Secret(std::string_view(data, len > 0 ? static_cast<std::size_t>(len) : 0));
}

// Creates `path` exclusively with `mode`, writes `text`, fsyncs. Returns false if it exists.
bool write_new_file(const std::filesystem::path& path, std::string_view text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) return false;
    throw_errno("cannot create " + path.string(), errno);
  }
  try {
    // The umask may have narrowed the mode; a key file is never wider than asked either.
    if (::fchmod(fd, mode) != 0) throw_errno("cannot set the mode of " + path.string(), errno);
    write_all(fd, text.data(), text.size(), path.string());
    if (::fsync(fd) != 0) throw_errno("cannot sync " + path.string(), errno);
  } catch (...) {
    ::close(fd);
    ::unlink(path.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    throw_errno("cannot write " + path.string(), err);
  }
  return true;
}

}  // namespace

Secret::Secret(Secret&& other) noexcept : value_(std::move(other.value_)) { other.wipe(); }

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    wipe();
    value_ = std::move(other.value_);
    other.wipe();
  }
  return *this;
}

void Secret::wipe(std::string& s) noexcept {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

void PkeyFree::operator()(evp_pkey_st* key) const noexcept { EVP_PKEY_free(key); }

namespace {

void init_sodium() {
  static const int ready = sodium_init();  // thread-safe; 1 = already initialised, fine
  if (ready < 0) throw Error(ErrorKind::Internal, "libsodium failed to initialise");
}

}  // namespace

// libsodium's SHA-256, not OpenSSL's: a command's first EVP digest fetches OpenSSL 3's
// providers (5.2 M instructions, more than the rest of an up-to-date download under a
// strict policy, bench/verify_bench.sh), and 32 bytes need no SHA extensions.
std::string key_id_of(std::string_view raw_public_key) {
  init_sodium();
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(raw_public_key.data()), raw_public_key.size());
  return codec::hex_encode(std::string_view(reinterpret_cast<const char*>(digest), 8));
}

bool is_key_id(std::string_view text) noexcept {
  if (text.size() != 16) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// --- PublicKey

PublicKey PublicKey::from_raw(std::string_view raw) {
  if (raw.size() != kRawKeyBytes)
    throw Error(ErrorKind::Invalid, fmt::format("public key: {} bytes, an Ed25519 key has 32", raw.size()));
  PublicKey key;
  key.raw_ = std::string(raw);
  key.key_id_ = key_id_of(raw);
  return key;
}

namespace {

// The DER of an Ed25519 SubjectPublicKeyInfo is these 12 bytes and the 32 key bytes
// (RFC 8410 section 4; DER has one encoding, so matching it is a full parse).
constexpr std::string_view kEd25519SpkiPrefix{"\x30\x2a\x30\x05\x06\x03\x2b\x65\x70\x03\x21\x00", 12};

// The raw key of an SPKI PEM exactly as `openssl pkey -pubout` writes it, or nullopt
// for anything else. OpenSSL 3's PEM_read_bio_PUBKEY runs its decoder machinery,
// ~6 million instructions a key: this keeps loading a trust file (every download
// from cron) well under a millisecond.
std::optional<std::string> plain_ed25519_spki(std::string_view pem) {
  constexpr std::string_view begin = "-----BEGIN PUBLIC KEY-----\n", end = "-----END PUBLIC KEY-----";
  if (pem.substr(0, begin.size()) != begin) return std::nullopt;
  pem.remove_prefix(begin.size());
  while (!pem.empty() && (pem.back() == '\n' || pem.back() == '\r')) pem.remove_suffix(1);
  if (pem.size() < end.size() || pem.substr(pem.size() - end.size()) != end) return std::nullopt;
  pem.remove_suffix(end.size());
  std::string body;
  for (char c : pem)
    if (c != '\n') body += c;
  auto der = codec::base64_decode(body);
  if (!der || der->size() != kEd25519SpkiPrefix.size() + kRawKeyBytes ||
      der->compare(0, kEd25519SpkiPrefix.size(), kEd25519SpkiPrefix) != 0)
    return std::nullopt;
  return der->substr(kEd25519SpkiPrefix.size());
}

}  // namespace

PublicKey PublicKey::from_pem(std::string_view pem, std::string_view what) {
  if (auto raw = plain_ed25519_spki(pem)) return from_raw(*raw);
  auto bio = memory_bio(pem);
  EVP_PKEY* pkey = PEM_read_bio_PUBKEY(bio.get(), nullptr, passphrase_callback, nullptr);
  ERR_clear_error();
  if (pkey == nullptr)
    throw Error(ErrorKind::Invalid, fmt::format("{}: not a PEM public key (\"BEGIN PUBLIC KEY\")", what));
  std::unique_ptr<evp_pkey_st, PkeyFree> owner(pkey);
  if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519)
    throw Error(ErrorKind::Invalid, fmt::format("{}: not an Ed25519 key", what));
  return from_raw(raw_public_key(pkey));
}

// The SPKI PEM `openssl pkey -pubout` writes (44 DER bytes: one base64 line).
std::string PublicKey::to_pem() const {
  return "-----BEGIN PUBLIC KEY-----\n" + codec::base64_encode(std::string(kEd25519SpkiPrefix) + raw_) +
         "\n-----END PUBLIC KEY-----\n";
}

// Verification is libsodium's, not OpenSSL's: the first EVP_PKEY and the first
// EVP_DigestVerifyInit of a process fetch OpenSSL 3's key management and signature
// providers, ~8.7 million instructions (callgrind), which every cron download under a
// trust policy would pay; crypto_sign_verify_detached needs only the 32 raw bytes
// (and is stricter: it refuses small-order keys and non-canonical signatures, which
// a key made by `key gen` never produces). Signing stays with OpenSSL (PKCS#8 keys).
bool PublicKey::verify(std::string_view message, std::string_view signature) const {
  if (signature.size() != kSignatureBytes || raw_.size() != kRawKeyBytes) return false;
  init_sodium();
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signature.data()),
                                     reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                                     reinterpret_cast<const unsigned char*>(raw_.data())) == 0;
}

// --- PrivateKey

PrivateKey::PrivateKey(evp_pkey_st* pkey) : pkey_(pkey) { public_ = PublicKey::from_raw(raw_public_key(pkey)); }

PrivateKey PrivateKey::generate() {
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (pkey == nullptr) throw_openssl("cannot generate an Ed25519 key");
  return PrivateKey(pkey);
}

PrivateKey PrivateKey::from_pem(std::string_view pem, std::string_view passphrase, std::string_view what) {
  const bool encrypted = pem.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string_view::npos;
  if (encrypted && passphrase.empty())
    throw Error(ErrorKind::Invalid, fmt::format("{}: the key is encrypted and no passphrase was given", what));
  auto bio = memory_bio(pem);
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio.get(), nullptr, passphrase_callback, &passphrase);
  ERR_clear_error();
  if (pkey == nullptr)
    throw Error(ErrorKind::Invalid, encrypted ? fmt::format("{}: wrong passphrase (or a damaged key)", what)
                                              : fmt::format("{}: not a PEM private key (\"BEGIN PRIVATE KEY\")", what));
  std::unique_ptr<evp_pkey_st, PkeyFree> owner(pkey);
  if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519)
    throw Error(ErrorKind::Invalid, fmt::format("{}: not an Ed25519 key", what));
  return PrivateKey(owner.release());
}

Secret PrivateKey::to_pem(std::string_view passphrase) const {
  // Secure-heap memory BIO: OpenSSL wipes it when freed.
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio) throw_openssl("cannot encode the private key");
  if (passphrase.empty()) {
    if (PEM_write_bio_PKCS8PrivateKey(bio.get(), pkey_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
      throw_openssl("cannot encode the private key");
    return bio_contents(bio.get());
  }
  X509_ALGOR* pbe = PKCS5_pbe2_set_scrypt(EVP_aes_256_cbc(), nullptr, 0, nullptr, kScryptN, kScryptR, kScryptP);
  if (pbe == nullptr) throw_openssl("cannot set up the key encryption");
  PKCS8_PRIV_KEY_INFO* info = EVP_PKEY2PKCS8(pkey_.get());
  if (info == nullptr) {
    X509_ALGOR_free(pbe);
    throw_openssl("cannot encode the private key");
  }
  X509_SIG* sealed = PKCS8_set0_pbe(passphrase.data(), static_cast<int>(passphrase.size()), info, pbe);
  PKCS8_PRIV_KEY_INFO_free(info);  // OpenSSL cleanses the key bytes it held
  if (sealed == nullptr) {
    X509_ALGOR_free(pbe);
    throw_openssl("cannot encrypt the private key");
  }
  const int ok = PEM_write_bio_PKCS8(bio.get(), sealed);
  X509_SIG_free(sealed);
  if (ok != 1) throw_openssl("cannot encode the private key");
  return bio_contents(bio.get());
}

std::string PrivateKey::sign(std::string_view message) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  std::string sig(kSignatureBytes, '\0');
  std::size_t len = sig.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1 ||
      len != kSignatureBytes)
    throw_openssl("cannot sign");
  return sig;
}

// --- files

KeyFiles write_key_files(const std::filesystem::path& dir, std::string_view name, const PrivateKey& key,
                         std::string_view passphrase) {
  try {
    validate_package_name(name);
  } catch (const Error&) {
    throw Error(ErrorKind::Invalid, fmt::format("invalid key name '{}': use letters, digits, '.', '_', '-' "
                                                "(not starting with '.' or '-')",
                                                printable(name)));
  }
  KeyFiles files{dir / (std::string(name) + ".key"), dir / (std::string(name) + ".pub")};
  if (std::error_code ec; std::filesystem::exists(files.public_key, ec))
    throw Error(ErrorKind::Conflict, fmt::format("{} already exists", files.public_key.string()));
  const Secret pem = key.to_pem(passphrase);
  if (!write_new_file(files.private_key, pem.view(), 0600))
    throw Error(ErrorKind::Conflict, fmt::format("{} already exists", files.private_key.string()));
  try {
    if (!write_new_file(files.public_key, key.public_key().to_pem(), 0644))
      throw Error(ErrorKind::Conflict, fmt::format("{} already exists", files.public_key.string()));
    fsync_directory(dir);
  } catch (...) {
    ::unlink(files.private_key.c_str());
    throw;
  }
  return files;
}

}  // namespace sacker::sign
