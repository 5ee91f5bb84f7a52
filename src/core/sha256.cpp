#include "sacker/sha256.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "sacker/error.h"

namespace sacker {

struct Sha256::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  if (!impl_->ctx || EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) != 1)
    throw Error(ErrorKind::Internal, "sha256: OpenSSL initialisation failed");
}

Sha256::~Sha256() { EVP_MD_CTX_free(impl_->ctx); }

void Sha256::update(const void* data, std::size_t size) {
  if (size && EVP_DigestUpdate(impl_->ctx, data, size) != 1) throw Error(ErrorKind::Internal, "sha256: update failed");
}

std::string Sha256::finish_raw() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(impl_->ctx, digest, &len) != 1) throw Error(ErrorKind::Internal, "sha256: final failed");
  return std::string(reinterpret_cast<char*>(digest), len);
}

std::string Sha256::finish_hex() {
  std::string raw = finish_raw();
  return to_hex(raw.data(), raw.size());
}

std::string Sha256::hex_of(const void* data, std::size_t size) {
  Sha256 h;
  h.update(data, size);
  return h.finish_hex();
}

std::string to_hex(const void* data, std::size_t size) {
  static const char digits[] = "0123456789abcdef";
  const auto* p = static_cast<const unsigned char*>(data);
  std::string out(size * 2, '0');
  for (std::size_t i = 0; i < size; ++i) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  return out;
}

FileDigest sha256_file(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("cannot open " + path.string(), errno);
  Sha256 h;
  FileDigest d;
  std::vector<char> buf(1 << 20);
  while (true) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      throw_errno("cannot read " + path.string(), err);
    }
    if (n == 0) break;
    h.update(buf.data(), static_cast<std::size_t>(n));
    d.size += static_cast<std::uint64_t>(n);
  }
  ::close(fd);
  d.sha256 = h.finish_hex();
  return d;
}

}  // namespace sacker
