// Streaming SHA-256 through OpenSSL EVP (SHA-NI where the CPU has it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace sacker {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, std::size_t size);
  // Lower-case hex digest; the object must not be used afterwards.
  std::string finish_hex();
  // Raw 32-byte digest; the object must not be used afterwards.
  std::string finish_raw();

  static std::string hex_of(const void* data, std::size_t size);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct FileDigest {
  std::string sha256;
  std::uint64_t size = 0;
};
// Hashes a file in 1 MiB reads. Throws Error(NotFound/Denied/LocalIO).
FileDigest sha256_file(const std::filesystem::path& path);

std::string to_hex(const void* data, std::size_t size);

}  // namespace sacker
