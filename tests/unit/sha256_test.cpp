// core/sha256: the key hash that also digests the parts an S3 multipart upload
// sends (issue 10: one read of the file hashes both).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <utility>

#include "sacker/error.h"
#include "sacker/sha256.h"
#include "support/test_env.h"

namespace sacker {
namespace {

namespace fs = std::filesystem;

std::string bytes_of(std::size_t size) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>((i * 131 + i / 7) & 0xff);
  return s;
}

// The part digests equal the sha256 of each slice, however the stream is cut.
TEST(PartedSha256, EachPartIsTheShaOfItsSliceForAnyFeedSize) {
  const std::uint64_t part = 1000;
  for (std::size_t size : {0u, 1u, 999u, 1000u, 1001u, 2999u, 3000u, 4321u}) {
    const std::string data = bytes_of(size);
    for (std::size_t feed : {1u, 7u, 1000u, 4096u}) {
      PartedSha256 hash(part);
      for (std::size_t at = 0; at < size; at += feed) hash.update(data.data() + at, std::min(feed, size - at));
      const FileDigest d = hash.finish();
      EXPECT_EQ(d.sha256, Sha256::hex_of(data.data(), size));
      EXPECT_EQ(d.size, size);
      EXPECT_EQ(d.part_size, part);
      ASSERT_EQ(d.part_sha256.size(), (size + part - 1) / part) << size << " bytes fed by " << feed;
      for (std::size_t i = 0; i < d.part_sha256.size(); ++i)
        EXPECT_EQ(d.part_sha256[i], Sha256::hex_of(data.data() + i * part, std::min<std::size_t>(part, size - i * part)))
            << "part " << i << " of " << size << " bytes fed by " << feed;
    }
  }
}

TEST(PartedSha256, NoPartSizeMeansNoPartDigests) {
  PartedSha256 hash;
  hash.update("abc", 3);
  const FileDigest d = hash.finish();
  EXPECT_EQ(d.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(d.part_size, 0u);
  EXPECT_TRUE(d.part_sha256.empty());
}

// Part digests come from a second thread over the reader's buffers (a ring of
// four 4 MiB buffers): sizes that wrap the ring and cut parts mid-buffer.
TEST(Sha256File, HashesTheFileAndItsPartsInOneRead) {
  const fs::path dir = test::make_temp_dir("sacker-sha256");
  const fs::path file = dir / "blob";
  for (auto [size, part] : {std::pair<std::size_t, std::uint64_t>{(3 << 20) + 17, 3 << 19},
                            {(37 << 20) + 3, 6 << 20}, {(1 << 20), 5 << 20}}) {
    const std::string sha = test::write_random_file(file, size, static_cast<unsigned>(size));
    const FileDigest plain = sha256_file(file);
    EXPECT_EQ(plain.sha256, sha);
    EXPECT_EQ(plain.size, size);
    EXPECT_TRUE(plain.part_sha256.empty());
    const FileDigest parted = sha256_file(file, part);
    EXPECT_EQ(parted.sha256, sha);
    EXPECT_EQ(parted.size, size);
    std::string all(size, '\0');
    std::FILE* f = std::fopen(file.c_str(), "rb");
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(std::fread(all.data(), 1, size, f), size);
    std::fclose(f);
    ASSERT_EQ(parted.part_sha256.size(), (size + part - 1) / part) << size;
    for (std::size_t i = 0; i < parted.part_sha256.size(); ++i) {
      const std::size_t from = i * part;
      EXPECT_EQ(parted.part_sha256[i], Sha256::hex_of(all.data() + from, std::min<std::size_t>(part, size - from)))
          << "part " << i << " of " << size << " bytes";
    }
  }
  for (std::uint64_t part : {0u, 1u << 20}) {
    try {
      sha256_file(dir / "missing", part);
      ADD_FAILURE() << "a missing file was hashed";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::NotFound) << e.what();
    }
  }
  // A read error in the middle (a directory reads as EISDIR) is thrown, not hung on.
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  try {
    sha256_of_fd(fd, dir.string(), 1 << 20);
    ADD_FAILURE() << "a directory was hashed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot read"), std::string::npos) << e.what();
  }
  ::close(fd);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace sacker
