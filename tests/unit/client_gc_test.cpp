// gc (issue 7 points 2, 3, 18): a minimum grace period; a blob re-used by an add
// while gc runs is kept (seams that run the add at the exact moment, no sleeps);
// a version recorded meanwhile keeps its blob; killed uploads' temp files go.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>
#include <thread>

#include "core/files.h"
#include "fixtures/client_fixture.h"
#include "support/records.h"

namespace sacker::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string sha_of(const std::string& s) { return Sha256::hex_of(s.data(), s.size()); }

void backdate(const fs::path& p, std::chrono::seconds age) {
  fs::last_write_time(p, fs::file_time_type::clock::now() - age);
}

// Runs `hook` (once) when gc is about to delete a blob, before the store decides.
class HookedStore final : public ForwardingStore {
 public:
  HookedStore(std::unique_ptr<Store> inner, std::function<void(const std::string&)> hook)
      : ForwardingStore(std::move(inner)), hook_(std::move(hook)) {}
  bool remove_if_not_modified_after(const std::string& sha, std::int64_t not_after) override {
    if (hook_) std::exchange(hook_, nullptr)(sha);
    return ForwardingStore::remove_if_not_modified_after(sha, not_after);
  }
  std::vector<BlobInfo> list() override {
    auto out = ForwardingStore::list();
    if (after_list) std::exchange(after_list, nullptr)();
    return out;
  }
  std::function<void()> after_list;

 private:
  std::function<void(const std::string&)> hook_;
};

class Gc : public ClientTest {
 protected:
  // One garbage blob ("release 1", its version removed); gc's clock two hours
  // ahead, so the blob is past any grace period without touching its mtime.
  void make_garbage(Client& c) { c.remove("app", add(c, "app", "release 1").version); }
  std::unique_ptr<Client> collector(std::unique_ptr<Store> store) {
    const auto ahead = static_cast<std::int64_t>(std::time(nullptr)) + 2 * 3600;
    return std::make_unique<Client>(open_ledger(ledger_uri), std::move(store), [ahead] { return ahead; });
  }
  void expect_downloads(Client& c, std::uint64_t version, const std::string& content) {
    auto out = dir / ("dl-" + std::to_string(version));
    c.download("app", Spec{Spec::Kind::Version, version, ""}, out);
    EXPECT_EQ(read_file(out), content);
  }
};

TEST_F(Gc, AGraceBelowTheMinimumIsRefused) {
  auto c = client();
  make_garbage(*c);
  for (std::int64_t grace : {0, 1, 59}) {
    auto e = error_of([&] { c->gc(false, grace); });
    EXPECT_EQ(e.kind(), ErrorKind::Invalid) << grace;
    EXPECT_THAT(e.what(), HasSubstr("grace"));
  }
  EXPECT_EQ(open_store(store_uri)->list().size(), 1u);
  EXPECT_NO_THROW(c->gc(false, Client::kMinGcGraceSeconds));
}

TEST_F(Gc, RemovesOnlyUnreferencedBlobsOlderThanTheGrace) {
  clock = static_cast<std::int64_t>(std::time(nullptr));  // the mem store's clock
  auto c = client();
  add(*c, "app", "keep");
  make_garbage(*c);
  auto young = c->gc(false, 3600);
  EXPECT_EQ(young.removed.size(), 0u);
  EXPECT_EQ(young.young, 1u);
  EXPECT_EQ(young.referenced, 1u);
  auto later = collector(open_store(store_uri));
  auto dry = later->gc(true, 3600);
  EXPECT_EQ(dry.removed.size(), 1u);
  EXPECT_EQ(open_store(store_uri)->list().size(), 2u) << "a dry run removes nothing";
  auto real = later->gc(false, 3600);
  ASSERT_EQ(real.removed.size(), 1u);
  EXPECT_EQ(real.removed[0].sha256, sha_of("release 1"));
  expect_downloads(*c, 1, "keep");
}

// Point 2, in the facade: the add runs at the moment gc goes to delete the blob it
// chose; the store's conditional delete sees the re-use and keeps the blob.
TEST_F(Gc, AnAddThatReusesTheBlobDuringGcKeepsItMem) {
  auto writer = client();
  make_garbage(*writer);
  std::optional<VersionRecord> during;
  auto gc = collector(std::make_unique<HookedStore>(open_store(store_uri), [&](const std::string& sha) {
    if (sha == sha_of("release 1")) during = add(*writer, "app", "release 1");
  }));
  auto report = gc->gc(false, 3600);
  ASSERT_TRUE(during.has_value()) << "gc never went to delete the garbage blob";
  EXPECT_EQ(report.removed.size(), 0u);
  EXPECT_EQ(report.reused, 1u);
  expect_downloads(*writer, during->version, "release 1");
}

TEST_F(Gc, AnAddThatReusesTheBlobDuringGcKeepsItFile) {
  store_uri = "file://" + (dir / "blobs").string();
  auto writer = client();
  make_garbage(*writer);
  std::optional<VersionRecord> during;
  auto gc = collector(std::make_unique<HookedStore>(
      open_store(store_uri), [&](const std::string&) { during = add(*writer, "app", "release 1"); }));
  auto report = gc->gc(false, 3600);
  ASSERT_TRUE(during.has_value());
  EXPECT_EQ(report.reused, 1u);
  expect_downloads(*writer, during->version, "release 1");
}

TEST_F(Gc, AnAddThatReusesTheBlobDuringGcKeepsItInEveryRemoteOfAChain) {
  const std::vector<std::string> uris = {"file://" + (dir / "cache").string(), "file://" + (dir / "r1").string(),
                                         "file://" + (dir / "r2").string()};
  auto writer = client(nullptr, open_store_chain(uris));
  make_garbage(*writer);
  std::optional<VersionRecord> during;
  auto gc = collector(std::make_unique<HookedStore>(
      open_store_chain(uris), [&](const std::string&) { during = add(*writer, "app", "release 1"); }));
  gc->gc(false, 3600);
  ASSERT_TRUE(during.has_value());
  for (const auto& uri : {uris[1], uris[2]}) EXPECT_EQ(open_store(uri)->contains(sha_of("release 1")), true) << uri;
}

// The ledger is read again before the deletes: a version recorded after gc listed
// the store (an import: it does not touch the store) keeps its blob.
TEST_F(Gc, AVersionRecordedAfterTheListingKeepsItsBlob) {
  auto writer = client();
  make_garbage(*writer);
  auto hooked = std::make_unique<HookedStore>(open_store(store_uri), nullptr);
  hooked->after_list = [&] {
    auto r = sample_record("app", 1);
    r.version = 7;
    r.sha256 = sha_of("release 1");
    r.size = 9;
    open_ledger(ledger_uri)->put_record(r);
  };
  auto report = collector(std::move(hooked))->gc(false, 3600);
  EXPECT_EQ(report.removed.size(), 0u);
  EXPECT_EQ(report.referenced, 1u);
  expect_downloads(*writer, 7, "release 1");
}

// The file store's half of point 2, with two threads: gc holds the blob's
// exclusive lock (it has checked the blob and is about to unlink it) while an add
// re-uses the blob. The add must wait, see that the blob went, and store it again.
// "Waits" is observed in /proc/locks (a blocked flock request on the blob's inode),
// not guessed with a sleep.
bool someone_waits_for_a_lock_on(ino_t inode) {
  std::ifstream locks("/proc/locks");
  std::string line;
  const std::string needle = ":" + std::to_string(inode) + " ";
  while (std::getline(locks, line))
    if (line.find("->") != std::string::npos && line.find(needle) != std::string::npos) return true;
  return false;
}

TEST_F(Gc, FileStoreReuseWaitsForAnUnlinkInProgressAndStoresTheBlobAgain) {
  const fs::path root = dir / "blobs";
  auto store = open_store("file://" + root.string());
  const std::string content = "release 1", sha = sha_of(content);
  write_file(dir / "src", content);
  ASSERT_TRUE(store->put_file(sha, dir / "src", content.size(), nullptr));
  const fs::path blob = root / sha.substr(0, 2) / sha;
  struct stat st {};
  ASSERT_EQ(::stat(blob.c_str(), &st), 0);

  const int gc_fd = ::open(blob.c_str(), O_RDONLY);  // gc, between its check and its unlink
  ASSERT_EQ(::flock(gc_fd, LOCK_EX), 0);
  auto reuse = std::async(std::launch::async, [&] {
    auto other = open_store("file://" + root.string());
    return other->put_file(sha, dir / "src", content.size(), nullptr);
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!someone_waits_for_a_lock_on(st.st_ino)) {
    ASSERT_NE(reuse.wait_for(std::chrono::milliseconds(1)), std::future_status::ready)
        << "put_file re-used the blob without waiting for gc's lock";
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
  }
  ASSERT_EQ(::unlink(blob.c_str()), 0);  // gc goes on
  ::close(gc_fd);
  EXPECT_TRUE(reuse.get()) << "put_file must upload again: the blob it waited for is gone";
  ASSERT_TRUE(fs::exists(blob));
  EXPECT_EQ(read_file(blob), content);
}

TEST_F(Gc, FileStoreConditionalDeleteKeepsABlobRefreshedSinceTheListing) {
  const fs::path root = dir / "blobs";
  auto store = open_store("file://" + root.string());
  write_file(dir / "src", "release 1");
  const std::string sha = sha_of("release 1");
  store->put_file(sha, dir / "src", 9, nullptr);
  backdate(root / sha.substr(0, 2) / sha, std::chrono::hours(2));
  const auto listed = store->list().at(0);
  EXPECT_FALSE(store->put_file(sha, dir / "src", 9, nullptr)) << "re-used";
  EXPECT_GT(store->stat(sha)->modified, listed.modified) << "re-use moves the mtime forward";
  EXPECT_FALSE(remove_if_not_modified_after(*store, sha, listed.modified));
  EXPECT_TRUE(store->contains(sha).value());
  EXPECT_TRUE(remove_if_not_modified_after(*store, sha, store->stat(sha)->modified));
  EXPECT_FALSE(store->contains(sha).value());
}

// Point 18: gc removes the temp files of killed uploads, not those of live ones.
TEST_F(Gc, RemovesStaleUploadTempFiles) {
  store_uri = "file://" + (dir / "blobs").string();
  auto c = client();
  add(*c, "app", "release 1");
  const std::string sha = sha_of("release 1");
  const fs::path shard = dir / "blobs" / sha.substr(0, 2);
  const fs::path stale = shard / ("." + sha + ".sacker-Ab12Cd");
  const fs::path fresh = shard / ("." + sha + ".sacker-Xy34Zw");
  const fs::path held = shard / ("." + sha + ".sacker-Held00");
  for (const auto& p : {stale, fresh, held}) write_file(p, "half a blob");
  backdate(stale, std::chrono::hours(2));
  backdate(held, std::chrono::hours(2));
  const int held_fd = ::open(held.c_str(), O_RDONLY);  // a live upload holds its lock
  ASSERT_EQ(::flock(held_fd, LOCK_EX), 0);
  auto dry = c->gc(true, 3600);
  EXPECT_EQ(dry.temp_files, 0u);
  EXPECT_TRUE(fs::exists(stale)) << "a dry run removes nothing";
  auto report = c->gc(false, 3600);
  EXPECT_EQ(report.temp_files, 1u);
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(fresh));
  EXPECT_TRUE(fs::exists(held));
  ::close(held_fd);
}

}  // namespace
}  // namespace sacker::test
