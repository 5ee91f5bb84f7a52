// Cheap polling (issue 10 point 6): a download of an unchanged destination does not
// re-hash it (DownloadResult::bytes_hashed counts what the check hashed), and
// anything that changed the file on disk makes it hash again, with the right result.
// Run with the entry in the directory's xattr and in the sidecar, on the mem and
// file stores, through the plain and the resumable download.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <fmt/core.h>

#include <cstdlib>
#include <cstring>
#include <tuple>

#include "client/known_sha.h"
#include "sacker/sha256.h"
#include "fixtures/client_fixture.h"
#include "support/fs_clock.h"

namespace sacker::test {
namespace {

namespace fs = std::filesystem;
using client_detail::content_key;
using client_detail::sha_sidecar_path;

struct Param {
  bool xattr;
  bool file_store;
  bool resumable;
};

std::string name_of(const ::testing::TestParamInfo<Param>& i) {
  return std::string(i.param.xattr ? "Xattr" : "Sidecar") + (i.param.file_store ? "FileStore" : "MemStore") +
         (i.param.resumable ? "Resumable" : "Plain");
}

class KnownSha : public ClientTest, public ::testing::WithParamInterface<Param> {
 protected:
  void SetUp() override {
    ClientTest::SetUp();
    if (GetParam().xattr) {
      ::unsetenv("SACKER_TEST_NO_XATTR");
      if (::setxattr(dir.c_str(), "user.sacker.probe", "1", 1, 0) != 0)
        GTEST_SKIP() << "the test directory's file system has no user xattrs (" << std::strerror(errno) << ")";
      ::removexattr(dir.c_str(), "user.sacker.probe");
    } else {
      ::setenv("SACKER_TEST_NO_XATTR", "1", 1);
    }
    if (GetParam().file_store) store_uri = "file://" + (dir / "blobs").string();
    options.chunk_size = GetParam().resumable ? 4096 : 0;
    c = client();
    content = std::string(3 * 4096 + 17, 'a');
    for (std::size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>('a' + i % 23);
    add(*c, "app", content);
    out = dir / "out";
  }
  void TearDown() override {
    ::unsetenv("SACKER_TEST_NO_XATTR");
    ClientTest::TearDown();
  }
  DownloadResult download() { return c->download("app", Spec{}, out, nullptr, options); }
  // A download, then one that may hash (the first entry can be too recent to keep),
  // then the state every later poll sees.
  void settle() {
    download();
    wait_until_fs_clock_passes(out);
    download();
  }
  bool has_dir_xattr() {
    char names[4096];
    const ssize_t n = ::listxattr(dir.c_str(), names, sizeof names);
    return n > 0 && std::string(names, static_cast<std::size_t>(n)).find("user.sacker.sha256.") != std::string::npos;
  }
  void restore_mtime(const struct stat& st) {
    const struct timespec times[2] = {st.st_atim, st.st_mtim};
    ASSERT_EQ(::utimensat(AT_FDCWD, out.c_str(), times, 0), 0);
  }

  DownloadOptions options;
  std::unique_ptr<Client> c;
  std::string content;
  fs::path out;
};

TEST_P(KnownSha, AnUnchangedDestinationIsNotRehashed) {
  const auto first = download();
  EXPECT_TRUE(first.transferred);
  wait_until_fs_clock_passes(out);
  const auto second = download();
  EXPECT_FALSE(second.transferred);
  EXPECT_TRUE(second.bytes_hashed == 0 || second.bytes_hashed == content.size()) << second.bytes_hashed;
  for (int i = 0; i < 3; ++i) {
    const auto again = download();
    EXPECT_FALSE(again.transferred);
    EXPECT_EQ(again.bytes_hashed, 0u);
  }
  EXPECT_EQ(read_file(out), content);
  // Where the entry is: without xattrs, the sidecar only; with them, the directory's
  // xattr or (an entry written in the download's clock tick, dropped there) the sidecar.
  if (!GetParam().xattr) EXPECT_FALSE(has_dir_xattr());
  EXPECT_TRUE(has_dir_xattr() || fs::exists(sha_sidecar_path(out)));
}

TEST_P(KnownSha, ATouchedFileIsRehashedAndKept) {
  settle();
  struct stat st {};
  ASSERT_EQ(::stat(out.c_str(), &st), 0);
  restore_mtime(st);  // same mtime, new ctime
  const auto r = download();
  EXPECT_FALSE(r.transferred);
  EXPECT_EQ(r.bytes_hashed, content.size());
  EXPECT_EQ(read_file(out), content);
}

TEST_P(KnownSha, AFileChangedInPlaceWithItsMtimeRestoredIsDownloadedAgain) {
  settle();
  struct stat st {};
  ASSERT_EQ(::stat(out.c_str(), &st), 0);
  {
    const int fd = ::open(out.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, "Z", 1, 100), 1);  // same size, same inode
    ::close(fd);
  }
  restore_mtime(st);
  const auto r = download();
  EXPECT_TRUE(r.transferred);
  EXPECT_EQ(r.bytes_hashed, content.size());
  EXPECT_EQ(read_file(out), content);
}

TEST_P(KnownSha, AReplacedFileIsRehashed) {
  settle();
  write_file(dir / "copy", content);
  fs::rename(dir / "copy", out);
  const auto r = download();
  EXPECT_FALSE(r.transferred);
  EXPECT_EQ(r.bytes_hashed, content.size());
}

TEST_P(KnownSha, AnEntryIsNeverTrustedBeyondItsKey) {
  settle();
  struct stat st {};
  ASSERT_EQ(::stat(out.c_str(), &st), 0);
  const auto key = content_key(st);
  const std::string right = Sha256::hex_of(content.data(), content.size());
  // Forged in the sidecar, the only place read from now on.
  char names[4096];
  const ssize_t n = ::listxattr(dir.c_str(), names, sizeof names);
  for (ssize_t i = 0; i < n; i += static_cast<ssize_t>(std::strlen(names + i)) + 1) ::removexattr(dir.c_str(), names + i);
  ::setenv("SACKER_TEST_NO_XATTR", "1", 1);
  const auto forge = [&](const std::string& sha, const client_detail::ContentKey& k) {
    write_file(sha_sidecar_path(out), fmt::format("sacker-sha256 1 {} {} {} {} {} {} out\n", sha, k.dev, k.ino, k.size,
                                                  k.mtime_ns, k.ctime_ns));
  };
  // A wrong sha under the file's exact key: the file is hashed, found right, kept.
  forge(std::string(64, 'e'), key);
  auto r = download();
  EXPECT_FALSE(r.transferred);
  EXPECT_EQ(r.bytes_hashed, content.size());
  // The right sha under a key of another state (the file since changed, mtime
  // restored): never trusted, the bad bytes are replaced.
  {
    const int fd = ::open(out.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, "Z", 1, 5), 1);
    ::close(fd);
  }
  restore_mtime(st);
  forge(right, key);
  r = download();
  EXPECT_TRUE(r.transferred);
  EXPECT_EQ(read_file(out), content);
  // Garbage in the entry is a miss, never an error.
  wait_until_fs_clock_passes(out);
  write_file(sha_sidecar_path(out), "sacker-sha256 1 not an entry\n");
  r = download();
  EXPECT_FALSE(r.transferred);
}

TEST_P(KnownSha, AChangedModeIsFixedAndHashedOnceMore) {
  settle();
  ASSERT_EQ(::chmod(out.c_str(), 0600), 0);
  auto r = download();
  EXPECT_FALSE(r.transferred);
  EXPECT_EQ(r.bytes_hashed, content.size());
  struct stat st {};
  ASSERT_EQ(::stat(out.c_str(), &st), 0);
  EXPECT_NE(st.st_mode & 0777, 0600u);
  wait_until_fs_clock_passes(out);
  download();  // hashes once more (the chmod made the state new), then remembers
  EXPECT_EQ(download().bytes_hashed, 0u);
}

// What remember_sha256 answers, which the download's wait for the clock relies on:
// Kept once the file system's clock is past the file's ctime, NotKept for a file
// changed since its key was taken (never TooRecent: waiting would not help).
TEST_P(KnownSha, RememberSaysKeptOnceTheClockPassedAndNotKeptForAChangedFile) {
  using client_detail::Remembered;
  using client_detail::remember_sha256;
  const fs::path f = dir / "remembered";
  write_file(f, "one");
  const int fd = ::open(f.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  struct stat st {};
  ASSERT_EQ(::fstat(fd, &st), 0);
  const auto key = content_key(st);
  const std::string sha = Sha256::hex_of("one", 3);
  const Remembered now = remember_sha256(f, fd, key, sha);
  EXPECT_TRUE(now == Remembered::TooRecent || now == Remembered::Kept);
  wait_until_fs_clock_passes(f);
  EXPECT_EQ(remember_sha256(f, fd, key, sha), Remembered::Kept);
  ASSERT_EQ(::pwrite(fd, "two", 3, 0), 3);
  EXPECT_EQ(remember_sha256(f, fd, key, sha), Remembered::NotKept);
  ::close(fd);
}

INSTANTIATE_TEST_SUITE_P(Where, KnownSha,
                         ::testing::Values(Param{true, false, false}, Param{false, false, false},
                                           Param{true, true, false}, Param{false, true, false},
                                           Param{true, true, true}, Param{false, false, true}),
                         name_of);

}  // namespace
}  // namespace sacker::test
