#include "sacker/sha256.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
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

PartedSha256::PartedSha256(std::uint64_t part_size) { digest_.part_size = part_size; }

void PartedSha256::update(const void* data, std::size_t size) {
  whole_.update(data, size);
  digest_.size += size;
  if (digest_.part_size == 0) return;
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    if (!part_) part_ = std::make_unique<Sha256>();
    const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(size, digest_.part_size - in_part_));
    part_->update(p, take);
    p += take;
    size -= take;
    in_part_ += take;
    if (in_part_ == digest_.part_size) {
      digest_.part_sha256.push_back(part_->finish_hex());
      part_.reset();
      in_part_ = 0;
    }
  }
}

FileDigest PartedSha256::finish() {
  if (part_) digest_.part_sha256.push_back(part_->finish_hex());  // the shorter last part
  part_.reset();
  digest_.sha256 = whole_.finish_hex();
  return std::move(digest_);
}

FileDigest sha256_of_fd(int fd, const std::string& what, std::uint64_t part_size) {
  PartedSha256 hash(part_size);
  std::uint64_t offset = 0;
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot read " + what, errno);
    }
    if (n == 0) break;
    hash.update(buf.data(), static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
  }
  return hash.finish();
}

FileDigest sha256_file(const std::filesystem::path& path, std::uint64_t part_size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("cannot open " + path.string(), errno);
  try {
    FileDigest d = sha256_of_fd(fd, path.string(), part_size);
    ::close(fd);
    return d;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

}  // namespace sacker
