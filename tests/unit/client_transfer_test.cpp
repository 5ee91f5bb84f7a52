// add and download through the facade (issue 7 points 5, 9, 10, 11, 14, 17, 19):
// modes, the symlink rule, verify-first, corrupt blobs repaired, long basenames,
// what a failed add says.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "fixtures/client_fixture.h"
#include "support/records.h"

namespace sacker::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
}

std::string sha_of(const std::string& s) { return Sha256::hex_of(s.data(), s.size()); }

// Sets the umask for one scope.
struct Umask {
  explicit Umask(mode_t m) : old(::umask(m)) {}
  ~Umask() { ::umask(old); }
  mode_t old;
};

// Hands out other bytes than it stores (a tampered or broken store).
class LyingStore final : public ForwardingStore {
 public:
  LyingStore(std::unique_ptr<Store> inner, std::string bytes) : ForwardingStore(std::move(inner)), bytes_(bytes) {}
  void get(const std::string&, BlobSink& sink, Progress*) override {
    for (char c : bytes_) sink.write(&c, 1);
  }

 private:
  std::string bytes_;
};

// Asks for part digests (as the S3 store does for a multipart upload) and keeps
// the digest add hands over.
class PartDigestStore final : public ForwardingStore {
 public:
  PartDigestStore(std::unique_ptr<Store> inner, std::uint64_t part, FileDigest& got)
      : ForwardingStore(std::move(inner)), part_(part), got_(got) {}
  std::uint64_t part_digest_size(std::uint64_t) override { return part_; }
  bool put_digested_file(const std::filesystem::path& source, const FileDigest& digest, Progress* p) override {
    got_ = digest;
    return ForwardingStore::put_digested_file(source, digest, p);
  }

 private:
  std::uint64_t part_;
  FileDigest& got_;
};

// A pipe-free capture of what a download streams: a temp file's fd.
struct Captured {
  explicit Captured(const fs::path& p) : path(p), fd(::open(p.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600)) {}
  ~Captured() { ::close(fd); }
  std::string text() const { return read_file(path); }
  fs::path path;
  int fd;
};

class Transfer : public ClientTest {
 protected:
  void use_file_store() { store_uri = "file://" + (dir / "blobs").string(); }
  fs::path blob_path(const std::string& sha) { return dir / "blobs" / sha.substr(0, 2) / sha; }
  void tamper(const std::string& sha, const std::string& bytes) {
    ::chmod(blob_path(sha).c_str(), 0644);
    write_file(blob_path(sha), bytes);
  }
};

TEST_F(Transfer, SetuidSetgidAndStickyAreNeverRecordedNorApplied) {
  auto c = client();
  auto src = dir / "tool";
  write_file(src, "tool");
  ::chmod(src.c_str(), 07755);
  AddRequest r{"suid", src.string(), std::nullopt, {}, {}, ""};
  // Not recorded: another reader of the ledger (the original Python sacker) would apply them.
  EXPECT_EQ(c->add(r).record.mode, 0755u);
  Umask mask(022);
  c->download("suid", Spec{}, dir / "out");
  EXPECT_EQ(mode_of(dir / "out"), 0755u);
}

// add's key hash also digests the parts the store asks for, so the store need
// not read the file to hash it again; standard input is spooled and gets none.
TEST_F(Transfer, AddHandsTheStoreThePartDigestsOfItsKeyHash) {
  FileDigest got;
  auto c = client(nullptr, std::make_unique<PartDigestStore>(open_store(store_uri), 4, got));
  const std::string content = "0123456789";
  auto src = dir / "ten";
  write_file(src, content);
  const auto r = c->add(AddRequest{"parts", src.string(), std::nullopt, {}, {}, ""}).record;
  EXPECT_EQ(got.sha256, r.sha256);
  EXPECT_EQ(got.size, 10u);
  EXPECT_EQ(got.part_size, 4u);
  EXPECT_EQ(got.part_sha256, (std::vector<std::string>{Sha256::hex_of("0123", 4), Sha256::hex_of("4567", 4),
                                                       Sha256::hex_of("89", 2)}));
  c->download("parts", Spec{}, dir / "out");
  EXPECT_EQ(read_file(dir / "out"), content);
}

TEST_F(Transfer, AHostileModeIsStrippedAndTheUmaskApplies) {
  auto c = client();
  add(*c, "app", "bytes");
  auto r = *open_ledger(ledger_uri)->get("app", 1);
  r.version = 2;
  r.mode = 06777;
  open_ledger(ledger_uri)->put_record(r);
  {
    Umask mask(022);
    c->download("app", Spec{Spec::Kind::Version, 2, ""}, dir / "a");
    EXPECT_EQ(mode_of(dir / "a"), 0755u);
  }
  Umask mask(077);
  c->download("app", Spec{Spec::Kind::Version, 2, ""}, dir / "b");
  EXPECT_EQ(mode_of(dir / "b"), 0700u);
  write_file(dir / "c", "bytes");  // already there: only the mode is set, with the same rule
  ::chmod((dir / "c").c_str(), 06777);
  EXPECT_FALSE(c->download("app", Spec{Spec::Kind::Version, 2, ""}, dir / "c").transferred);
  EXPECT_EQ(mode_of(dir / "c"), 0700u);
}

// Point 17, the one rule: a symlink at the destination is replaced by the file,
// whatever its target holds; the target is never written or chmod-ed.
TEST_F(Transfer, ASymlinkDestinationIsReplacedNeverFollowed) {
  auto c = client();
  add(*c, "app", "release 1");
  for (const std::string& target_content : {std::string("release 1"), std::string("something else")}) {
    const fs::path victim = dir / "victim", link = dir / "link";
    fs::remove(link);
    write_file(victim, target_content);
    ::chmod(victim.c_str(), 0600);
    fs::create_symlink(victim, link);
    auto result = c->download("app", Spec{}, link);
    EXPECT_TRUE(result.transferred);
    EXPECT_FALSE(fs::is_symlink(link)) << target_content;
    EXPECT_EQ(read_file(link), "release 1");
    EXPECT_EQ(read_file(victim), target_content);
    EXPECT_EQ(mode_of(victim), 0600u) << "chmod went through the link";
  }
}

TEST_F(Transfer, AnUpToDateFileIsKeptAndOtherKindsAreRefused) {
  auto c = client();
  add(*c, "app", "release 1");
  c->download("app", Spec{}, dir / "out");
  struct stat before {};
  ::stat((dir / "out").c_str(), &before);
  EXPECT_FALSE(c->download("app", Spec{}, dir / "out").transferred);
  struct stat after {};
  ::stat((dir / "out").c_str(), &after);
  EXPECT_EQ(before.st_ino, after.st_ino);
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0644), 0);
  auto e = error_of([&] { c->download("app", Spec{}, dir / "fifo"); });
  EXPECT_EQ(e.kind(), ErrorKind::Invalid);
  EXPECT_THAT(e.what(), HasSubstr("not a regular file"));
  EXPECT_EQ(error_of([&] { c->download("app", Spec{}, fs::path()); }).kind(), ErrorKind::Invalid);
}

// Point 11: the temp file's name is cut to fit; every legal basename downloads.
TEST_F(Transfer, BasenamesUpTo255BytesDownload) {
  auto c = client();
  for (std::size_t length : {240u, 241u, 250u, 255u}) {
    const std::string name = std::string(length - 4, 'n') + ".bin";
    auto src = dir / "src";
    write_file(src, "long " + std::to_string(length));
    AddRequest r{"long", src.string(), name, {}, {}, ""};
    c->add(r);
    fs::create_directories(dir / "d");
    auto result = c->download("long", Spec{}, dir / "d");
    EXPECT_EQ(result.destination.filename(), name);
    EXPECT_EQ(read_file(dir / "d" / name), "long " + std::to_string(length));
  }
}

// Point 9.
TEST_F(Transfer, StreamingABadBlobSaysTheWrittenBytesAreCorrupt) {
  add(*client(), "app", "release 1");
  auto c = client(nullptr, std::make_unique<LyingStore>(open_store(store_uri), "release 2"));
  Captured out(dir / "stdout");
  auto e = error_of([&] { c->download_to_fd("app", Spec{}, out.fd, false); });
  EXPECT_EQ(e.kind(), ErrorKind::Integrity);
  EXPECT_THAT(e.what(), HasSubstr("the 9 bytes already written to file descriptor"));
  EXPECT_THAT(e.what(), HasSubstr("corrupt"));
  EXPECT_THAT(e.what(), Not(HasSubstr("nothing was written")));
  EXPECT_EQ(out.text(), "release 2");
}

TEST_F(Transfer, VerifyFirstWritesNothingOfABadBlob) {
  add(*client(), "app", "release 1");
  auto bad = client(nullptr, std::make_unique<LyingStore>(open_store(store_uri), "release 2"));
  Captured out(dir / "stdout");
  auto e = error_of([&] { bad->download_to_fd("app", Spec{}, out.fd, true); });
  EXPECT_EQ(e.kind(), ErrorKind::Integrity);
  EXPECT_THAT(e.what(), HasSubstr("nothing was written"));
  EXPECT_EQ(out.text(), "");
  auto good = client();
  good->download_to_fd("app", Spec{}, out.fd, true);
  EXPECT_EQ(out.text(), "release 1");
}

TEST_F(Transfer, NeverMoreThanTheRecordedSizeIsWritten) {
  add(*client(), "app", "release 1");
  auto c = client(nullptr, std::make_unique<LyingStore>(open_store(store_uri), "release 1 and a lot more"));
  Captured out(dir / "stdout");
  auto e = error_of([&] { c->download_to_fd("app", Spec{}, out.fd, false); });
  EXPECT_EQ(e.kind(), ErrorKind::Integrity);
  EXPECT_THAT(e.what(), HasSubstr("longer than the 9 bytes"));
  EXPECT_EQ(out.text(), "release 1");
  EXPECT_EQ(error_of([&] { c->download("app", Spec{}, dir / "f"); }).kind(), ErrorKind::Integrity);
  EXPECT_FALSE(fs::exists(dir / "f"));
}

TEST_F(Transfer, VerifyFirstSpoolsIntoTmpdir) {
  add(*client(), "app", "release 1");
  auto c = client();
  Captured out(dir / "stdout");
  const char* old = std::getenv("TMPDIR");
  const std::string saved = old ? old : "";
  ::setenv("TMPDIR", "/nonexistent", 1);
  auto e = error_of([&] { c->download_to_fd("app", Spec{}, out.fd, true); });
  old ? ::setenv("TMPDIR", saved.c_str(), 1) : ::unsetenv("TMPDIR");
  EXPECT_EQ(e.kind(), ErrorKind::LocalIO) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("/nonexistent"));
}

// Point 10: re-adding the original repairs a blob of the wrong size or bytes.
TEST_F(Transfer, ReAddingTheOriginalRepairsACorruptFileStoreBlob) {
  use_file_store();
  auto c = client();
  add(*c, "app", "release 1");
  for (const std::string& bad : {std::string("corrupted and longer"), std::string("release 2")}) {
    tamper(sha_of("release 1"), bad);
    auto again = add(*c, "app", "release 1");
    Captured out(dir / "stdout");
    c->download_to_fd("app", Spec{Spec::Kind::Version, again.version, ""}, out.fd);
    EXPECT_EQ(out.text(), "release 1") << "was: " << bad;
    EXPECT_EQ(mode_of(blob_path(sha_of("release 1"))), 0444u);
  }
}

TEST_F(Transfer, TheMemStoreRepairsToo) {
  auto c = client();
  add(*c, "app", "release 1");
  auto path = dir / "same-sha";
  write_file(path, "release 1");
  // The mem store's re-use checks the bytes it holds; an honest re-add is re-used.
  EXPECT_FALSE(open_store(store_uri)->put_file(sha_of("release 1"), path, 9, nullptr));
}

TEST_F(Transfer, ACacheChainFallsBackToTheRemoteAndEvictsABadCopy) {
  const fs::path cache = dir / "cache", remote = dir / "remote";
  auto chain = [&] { return open_store_chain({"file://" + cache.string(), "file://" + remote.string()}); };
  auto c = client(nullptr, chain());
  add(*c, "app", "release 1");
  const std::string sha = sha_of("release 1");
  const fs::path cached = cache / sha.substr(0, 2) / sha;
  ASSERT_TRUE(fs::exists(cached));
  ::chmod(cached.c_str(), 0644);
  write_file(cached, "release 2");
  Captured out(dir / "stdout");
  c->download_to_fd("app", Spec{}, out.fd);
  EXPECT_EQ(out.text(), "release 1");
  EXPECT_TRUE(!fs::exists(cached) || read_file(cached) == "release 1") << "the bad cache copy stayed";
}

// Point 19: a failed ledger write after the upload says the blob stays until gc.
TEST_F(Transfer, AFailedAddSaysTheUploadedBlobStaysUntilGc) {
  class Denies final : public ForwardingLedger {
   public:
    using ForwardingLedger::ForwardingLedger;
    std::uint64_t add(const VersionRecord&, const ChangeContext&) override {
      throw Error(ErrorKind::Denied, "ledger: read-only");
    }
  };
  auto c = client(std::make_unique<Denies>(open_ledger(ledger_uri)));
  auto e = error_of([&] { add(*c, "app", "release 1"); });
  EXPECT_EQ(e.kind(), ErrorKind::Denied);
  EXPECT_THAT(e.what(), HasSubstr("stays in the store"));
  EXPECT_THAT(e.what(), HasSubstr("until gc removes it"));
  auto again = error_of([&] { add(*c, "app", "release 1"); });
  EXPECT_THAT(again.what(), Not(HasSubstr("gc"))) << "nothing was uploaded the second time";
}

TEST_F(Transfer, InvalidInputIsRefusedBeforeAnythingIsStored) {
  auto c = client();
  auto src = dir / "f";
  write_file(src, "x");
  for (const AddRequest& bad : {AddRequest{"app", src.string(), std::string(""), {}, {}, ""},
                                AddRequest{"app", src.string(), std::nullopt, {}, {"123"}, ""},
                                AddRequest{"app", src.string(), std::nullopt, {}, {}, "a\x1b[2J"},
                                AddRequest{"app", "", std::nullopt, {}, {}, ""}})
    EXPECT_EQ(error_of([&] { c->add(bad); }).kind(), ErrorKind::Invalid);
  EXPECT_EQ(open_store(store_uri)->list().size(), 0u);
}

// Point 14: a store root that is a regular file is local I/O, not "not found".
TEST_F(Transfer, AStoreRootThatIsAFileIsALocalIOError) {
  write_file(dir / "rootfile", "not a directory");
  store_uri = "file://" + (dir / "rootfile").string();
  auto c = client();
  auto e = error_of([&] { add(*c, "app", "x"); });
  EXPECT_EQ(e.kind(), ErrorKind::LocalIO) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("not a directory"));
}

}  // namespace
}  // namespace sacker::test
