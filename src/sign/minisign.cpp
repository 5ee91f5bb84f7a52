#include "sign/minisign.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <memory>

#include "core/codec.h"
#include "sacker/error.h"

namespace sacker::sign {
namespace {

constexpr std::size_t kDigestBytes = 64;

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};

class Blake2b {
 public:
  Blake2b() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_blake2b512(), nullptr) != 1)
      throw Error(ErrorKind::Internal, "BLAKE2b-512 is not available in this OpenSSL");
  }
  void update(const void* data, std::size_t size) {
    if (EVP_DigestUpdate(ctx_.get(), data, size) != 1) throw Error(ErrorKind::Internal, "BLAKE2b-512 failed");
  }
  std::string finish() {
    std::string out(kDigestBytes, '\0');
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), reinterpret_cast<unsigned char*>(out.data()), &len) != 1 || len != kDigestBytes)
      throw Error(ErrorKind::Internal, "BLAKE2b-512 failed");
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx_;
};

// minisign's key number is 8 bytes, shown as a little-endian number in upper-case hex.
std::string key_number(const PublicKey& key) { return *codec::hex_decode(key.key_id()); }

std::string shown(const std::string& keynum) {
  std::string hex = codec::hex_encode(std::string(keynum.rbegin(), keynum.rend()));
  for (char& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return hex;
}

}  // namespace

std::string minisign_public_key(const PublicKey& key) {
  const std::string keynum = key_number(key);
  return fmt::format("untrusted comment: minisign public key {}\n{}\n", shown(keynum),
                     codec::base64_encode("Ed" + keynum + key.raw()));
}

std::string minisign_signature(const PrivateKey& key, std::string_view blake2b512, std::string_view trusted_comment) {
  if (blake2b512.size() != kDigestBytes)
    throw Error(ErrorKind::Invalid, "minisign signature: the digest is not 64 bytes of BLAKE2b-512");
  for (unsigned char c : trusted_comment)
    if (c < 0x20 && c != '\t')
      throw Error(ErrorKind::Invalid, "minisign signature: the trusted comment must be one line of text");
  const std::string keynum = key_number(key.public_key());
  const std::string sig = key.sign(blake2b512);
  const std::string global = key.sign(sig + std::string(trusted_comment));
  return fmt::format("untrusted comment: signature from sacker key {}\n{}\ntrusted comment: {}\n{}\n", key.key_id(),
                     codec::base64_encode("ED" + keynum + sig), trusted_comment, codec::base64_encode(global));
}

std::string blake2b512(std::string_view bytes) {
  Blake2b h;
  h.update(bytes.data(), bytes.size());
  return h.finish();
}

std::string blake2b512_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("cannot read " + path.string(), errno);
  Blake2b h;
  std::string buf(1 << 20, '\0');
  while (true) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw_errno("cannot read " + path.string(), err);
    }
    if (n == 0) break;
    h.update(buf.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  return h.finish();
}

}  // namespace sacker::sign
