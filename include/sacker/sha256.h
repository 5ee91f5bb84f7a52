// Streaming SHA-256 through OpenSSL EVP (SHA-NI where the CPU has it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

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

// What one read of a file tells: its sha256 and size and, when asked for, the
// sha256 of each `part_size` slice (part i is bytes [i * part_size, (i + 1) *
// part_size), the last one shorter), for a store whose server checks every part
// (Store::part_digest_size): then the upload need not read the file to hash again.
struct FileDigest {
  std::string sha256;
  std::uint64_t size = 0;
  std::uint64_t part_size = 0;           // 0: no part digests
  std::vector<std::string> part_sha256;  // hex, one per part when part_size > 0
};

// SHA-256 of a stream and, if part_size > 0, of each of its parts, in one pass.
class PartedSha256 {
 public:
  explicit PartedSha256(std::uint64_t part_size = 0);
  // update() is update_whole() and update_parts(); the two halves touch disjoint
  // state, so two threads may run them over the same bytes, each in order
  // (sha256_of_fd does: one read, two cores).
  void update(const void* data, std::size_t size) { update_whole(data, size), update_parts(data, size); }
  void update_whole(const void* data, std::size_t size);
  void update_parts(const void* data, std::size_t size);
  // The digest of everything given; the object must not be used afterwards.
  FileDigest finish();

 private:
  Sha256 whole_;
  std::unique_ptr<Sha256> part_;
  FileDigest digest_;
  std::uint64_t in_part_ = 0;
};

// Hashes a file in 1 MiB reads; with its part digests if part_size > 0, in 4 MiB
// reads whose parts a second thread hashes from the same buffers. Throws
// Error(NotFound/Denied/LocalIO).
FileDigest sha256_file(const std::filesystem::path& path, std::uint64_t part_size = 0);
// The same for an open file, read with pread from offset 0; `what` names it in errors.
FileDigest sha256_of_fd(int fd, const std::string& what, std::uint64_t part_size = 0);

std::string to_hex(const void* data, std::size_t size);

}  // namespace sacker
