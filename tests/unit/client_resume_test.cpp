// Resumable downloads through the facade (issue 10, point 1), on mem:// with
// decorators that cut a transfer after N bytes, count what is fetched, change the
// blob's ETag or hand out wrong bytes. Chunks of 4 KiB keep the blobs small.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "fixtures/client_fixture.h"
#include "support/records.h"

namespace sacker::test {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kChunk = 4096;

std::string pattern(std::size_t size, unsigned seed) {
  std::string s(size, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

// Passes bytes on until `limit` have gone through, then fails as a dropped
// connection would.
class CuttingSink final : public BlobSink {
 public:
  CuttingSink(BlobSink& inner, std::uint64_t limit) : inner_(inner), left_(limit) {}
  void write(const char* data, std::size_t size) override {
    const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(size, left_));
    if (take) inner_.write(data, take);
    left_ -= take;
    if (take < size) throw Error(ErrorKind::Unavailable, "test: the connection dropped");
  }

 private:
  BlobSink& inner_;
  std::uint64_t left_;
};

class StringSink final : public BlobSink {
 public:
  explicit StringSink(std::string& out) : out_(out) {}
  void write(const char* data, std::size_t size) override { out_.append(data, size); }

 private:
  std::string& out_;
};

// What the facade fetched: bytes, and the ranges asked for (offset, length, ETag).
struct Fetched {
  std::uint64_t bytes = 0;
  int whole_gets = 0;
  std::vector<std::tuple<std::uint64_t, std::uint64_t, std::string>> ranges;
};

class CountingSink final : public BlobSink {
 public:
  CountingSink(BlobSink& inner, Fetched& f) : inner_(inner), f_(f) {}
  void write(const char* data, std::size_t size) override {
    f_.bytes += size;
    inner_.write(data, size);
  }

 private:
  BlobSink& inner_;
  Fetched& f_;
};

// The store seen by one download: cuts after `cut_after` bytes (if set), counts,
// may report another ETag, may answer ranges with Conflict or with wrong bytes.
class TestStore final : public ForwardingStore {
 public:
  TestStore(std::unique_ptr<Store> inner, Fetched& f) : ForwardingStore(std::move(inner)), f_(f) {}
  std::optional<std::uint64_t> cut_after;
  std::vector<std::uint64_t> early;  // chunks handed to arrived() before the whole get starts
  std::optional<std::string> etag;
  bool ranges_conflict = false, ranges_lie = false, gets_lie = false;

  std::optional<BlobInfo> stat(const std::string& s) override {
    auto info = inner_->stat(s);
    if (info && etag) info->etag = *etag;
    return info;
  }
  void get(const std::string& s, BlobSink& sink, Progress* p) override {
    ++f_.whole_gets;
    if (!early.empty()) {
      std::string all;
      StringSink bytes(all);
      inner_->get(s, bytes, nullptr);
      for (auto c : early) sink.arrived(c * kChunk, all.data() + c * kChunk, kChunk);
    }
    CountingSink counting(sink, f_);
    if (gets_lie) return lie(s, 0, inner_->stat(s)->size, counting);
    if (!cut_after) return inner_->get(s, counting, p);
    CuttingSink cutting(counting, *cut_after);
    inner_->get(s, cutting, p);
  }
  void get_range(const std::string& s, std::uint64_t o, std::uint64_t n, const std::string& m,
                 BlobSink& sink) override {
    f_.ranges.emplace_back(o, n, m);
    if (ranges_conflict) throw Error(ErrorKind::Conflict, "test: the blob changed (412)");
    CountingSink counting(sink, f_);
    if (ranges_lie) return lie(s, o, n, counting);
    inner_->get_range(s, o, n, "", counting);
  }

 private:
  void lie(const std::string&, std::uint64_t, std::uint64_t n, BlobSink& sink) {
    const std::string bytes(static_cast<std::size_t>(n), 'x');
    sink.write(bytes.data(), bytes.size());
  }
  Fetched& f_;
};

class Resume : public ClientTest {
 protected:
  void SetUp() override {
    ClientTest::SetUp();
    content = pattern(10 * kChunk + 123, 7);
    auto c = client();
    record = add(*c, "app", content);
    fs::create_directories(dir / "out");
    dest = dir / "out" / "app.bin";
  }

  // One download through a TestStore that `setup` configures.
  DownloadResult download(Fetched& f, const std::function<void(TestStore&)>& setup = {}, bool resume = true) {
    auto store = std::make_unique<TestStore>(open_store(store_uri), f);
    if (setup) setup(*store);
    auto c = client(nullptr, std::move(store));
    DownloadOptions options;
    options.resume = resume;
    options.chunk_size = kChunk;
    return c->download("app", Spec{Spec::Kind::Version, record.version, ""}, dest, nullptr, options);
  }

  // A download cut after 3.5 chunks: 3 chunks are journaled.
  void interrupt(bool resume = true) {
    Fetched f;
    Error e = error_of([&] { download(f, [](TestStore& s) { s.cut_after = 3 * kChunk + kChunk / 2; }, resume); });
    ASSERT_EQ(e.kind(), ErrorKind::Unavailable) << e.what();
    ASSERT_FALSE(fs::exists(dest)) << "an interrupted download must not appear";
  }

  fs::path partial() const { return dir / "out" / ".app.bin.sacker-partial"; }
  fs::path journal() const { return dir / "out" / ".app.bin.sacker-partial.json"; }

  std::string content;
  VersionRecord record;
  fs::path dest;
};

TEST_F(Resume, AnInterruptedDownloadContinuesAfterTheVerifiedChunks) {
  interrupt();
  ASSERT_TRUE(fs::exists(partial()));
  ASSERT_TRUE(fs::exists(journal()));
  Fetched f;
  auto r = download(f);
  EXPECT_EQ(r.resumed_from, 3 * kChunk);
  EXPECT_EQ(r.bytes_transferred, content.size() - 3 * kChunk);
  EXPECT_EQ(f.bytes, content.size() - 3 * kChunk) << "only the missing bytes are fetched";
  EXPECT_EQ(f.whole_gets, 0);
  ASSERT_FALSE(f.ranges.empty());
  EXPECT_EQ(std::get<0>(f.ranges.front()), 3 * kChunk);
  EXPECT_EQ(std::get<2>(f.ranges.front()), record.sha256) << "ranges are conditional on the journal's ETag";
  EXPECT_EQ(read_file(dest), content);
  EXPECT_FALSE(fs::exists(partial()));
  EXPECT_FALSE(fs::exists(journal()));
}

TEST_F(Resume, AKeptChunkThatNoLongerHashesIsFetchedAgain) {
  interrupt();
  {
    const int fd = ::open(partial().c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, "!", 1, kChunk + 5), 1);  // chunk 1 of 0..2
    ::close(fd);
  }
  Fetched f;
  auto r = download(f);
  EXPECT_EQ(r.resumed_from, 2 * kChunk) << "chunks 0 and 2 are kept; the bad chunk 1 is fetched again";
  ASSERT_FALSE(f.ranges.empty());
  EXPECT_EQ(std::get<0>(f.ranges.front()), kChunk);
  EXPECT_EQ(std::get<1>(f.ranges.front()), kChunk);
  EXPECT_EQ(f.bytes, content.size() - 2 * kChunk);
  EXPECT_EQ(read_file(dest), content);
}

// A parallel store hands parts to BlobSink::arrived as they complete, out of order;
// a kill then loses only the parts that had not arrived. Here: chunks 0..2 come in
// order, chunks 6 and 7 arrived early, then the connection drops.
TEST_F(Resume, PartsThatArrivedOutOfOrderAreKept) {
  Fetched f;
  Error e = error_of([&] {
    download(f, [&](TestStore& s) {
      s.early = {6, 7};
      s.cut_after = 3 * kChunk;
    });
  });
  ASSERT_EQ(e.kind(), ErrorKind::Unavailable) << e.what();
  Fetched g;
  auto r = download(g);
  EXPECT_EQ(r.resumed_from, 5 * kChunk) << "chunks 0, 1, 2, 6 and 7 are kept";
  EXPECT_EQ(g.bytes, content.size() - 5 * kChunk) << "only chunks 3, 4, 5, 8, 9 and the tail are fetched";
  // One ranged read per run of missing chunks (a parallel store splits it into parts).
  std::vector<std::pair<std::uint64_t, std::uint64_t>> runs;
  for (const auto& range : g.ranges) runs.emplace_back(std::get<0>(range), std::get<1>(range));
  EXPECT_EQ(runs, (std::vector<std::pair<std::uint64_t, std::uint64_t>>{{3 * kChunk, 3 * kChunk},
                                                                          {8 * kChunk, content.size() - 8 * kChunk}}));
  EXPECT_EQ(read_file(dest), content);
  EXPECT_FALSE(fs::exists(journal()));
}

TEST_F(Resume, BytesPastTheJournalAreNeverTrusted) {
  interrupt();
  // A crash can leave a file longer than what was synced, full of zeros.
  ASSERT_EQ(::truncate(partial().c_str(), static_cast<off_t>(content.size())), 0);
  Fetched f;
  auto r = download(f);
  EXPECT_EQ(r.resumed_from, 3 * kChunk);
  EXPECT_EQ(read_file(dest), content);
}

TEST_F(Resume, AJournalOfAnotherBlobOrAChangedETagStartsClean) {
  interrupt();
  Fetched f;
  auto r = download(f, [](TestStore& s) { s.etag = "\"another-etag\""; });
  EXPECT_EQ(r.resumed_from, 0u);
  EXPECT_EQ(f.bytes, content.size());
  EXPECT_EQ(f.whole_gets, 1);
  EXPECT_EQ(read_file(dest), content);

  // Garbage where the journal should be: ignored, never trusted.
  fs::remove(dest);
  interrupt();
  write_file(journal(), "{\"format\":1,\"chunks\":[\"not json");
  Fetched g;
  EXPECT_EQ(download(g).resumed_from, 0u);
  EXPECT_EQ(read_file(dest), content);
}

TEST_F(Resume, ABlobThatChangedUnderTheRangesStartsCleanOnce) {
  interrupt();
  Fetched f;
  auto r = download(f, [](TestStore& s) { s.ranges_conflict = true; });
  EXPECT_EQ(r.resumed_from, 0u) << "a 412 discards the partial";
  EXPECT_EQ(f.whole_gets, 1);
  EXPECT_EQ(read_file(dest), content);
}

TEST_F(Resume, WrongBytesAreNeverServedAndThePartialIsDiscarded) {
  interrupt();
  Fetched f;
  // The ranges lie: the whole-file check fails, the download starts clean from a
  // store whose whole GET is right.
  auto r = download(f, [](TestStore& s) { s.ranges_lie = true; });
  EXPECT_EQ(r.resumed_from, 0u);
  EXPECT_EQ(read_file(dest), content);

  fs::remove(dest);
  interrupt();
  Fetched g;
  Error e = error_of([&] {
    download(g, [](TestStore& s) {
      s.ranges_lie = true;
      s.gets_lie = true;
    });
  });
  EXPECT_EQ(e.kind(), ErrorKind::Integrity) << e.what();
  EXPECT_FALSE(fs::exists(dest));
  EXPECT_FALSE(fs::exists(journal())) << "a partial that failed its check is not kept for the next try";
  EXPECT_EQ(fs::file_size(partial()), 0u);
}

TEST_F(Resume, NoResumeKeepsNoPartial) {
  interrupt(/*resume=*/false);
  EXPECT_FALSE(fs::exists(partial()));
  EXPECT_FALSE(fs::exists(journal()));
  for (const auto& e : fs::directory_iterator(dir / "out")) ADD_FAILURE() << "left behind: " << e.path();
}

TEST_F(Resume, APartialInUseIsAConflict) {
  interrupt();
  const int fd = ::open(partial().c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);  // another download holds it
  Fetched f;
  EXPECT_EQ(error_of([&] { download(f); }).kind(), ErrorKind::Conflict);
  ::close(fd);
  EXPECT_EQ(download(f).resumed_from, 3 * kChunk);
}

TEST_F(Resume, PartialsOlderThanAWeekAreRemovedByTheNextDownloadThere) {
  const fs::path old_partial = dir / "out" / ".old.bin.sacker-partial";
  const fs::path fresh_partial = dir / "out" / ".fresh.bin.sacker-partial";
  write_file(old_partial, "stale");
  write_file(fs::path(old_partial.string() + ".json"), "{}");
  write_file(fresh_partial, "in progress elsewhere");
  const struct timeval eight_days_ago[2] = {{time(nullptr) - 8 * 86400, 0}, {time(nullptr) - 8 * 86400, 0}};
  ASSERT_EQ(::utimes(old_partial.c_str(), eight_days_ago), 0);
  Fetched f;
  download(f);
  EXPECT_FALSE(fs::exists(old_partial));
  EXPECT_FALSE(fs::exists(old_partial.string() + ".json"));
  EXPECT_TRUE(fs::exists(fresh_partial));
  EXPECT_EQ(read_file(dest), content);
}

}  // namespace
}  // namespace sacker::test
