// Issue 10 against RadosGW: resumable downloads under the faults of
// tests/fixtures/fault_proxy.py (a 200 to a Range request, a wrong Content-Range,
// a response cut mid-body, an object changed between or during two runs, a kept
// chunk zeroed on disk) and SIGKILLs of `download` and `add` of a 256 MiB blob
// at a random point (seeded, printed) chosen by the bytes the proxy has moved. Each ends verified after
// resume, or fails with its documented exit code (README "Exit codes": 5
// integrity, 7 unavailable) with the destination absent; a partial that does
// not fit the blob is discarded, never served. The proxy's counters say what
// moved; its stall_total fault and /wait are the kill point and the barrier.
#include <fcntl.h>
#include <fmt/core.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "s3_transfer_fixture.h"

namespace sacker {
namespace {

namespace fs = std::filesystem;
using s3test::admin;
using s3test::kMiB;
using s3test::kOverheadPerRequest;
using s3test::SackerRun;

constexpr std::uint64_t kChunk = 5 * kMiB;  // --part-size 5M: the download's chunk and part

// A kill point between 3/8 and 7/8 of `size` bytes (early enough to leave work, late
// enough that every stream finished a chunk or part before it), drawn from a seed that
// is printed (and taken from $SACKER_TEST_KILL_SEED when set), so that a failure at
// one point can be run again at exactly that point.
std::uint64_t random_kill_point(std::uint64_t size) {
  std::uint64_t seed = 0;
  if (const char* s = std::getenv("SACKER_TEST_KILL_SEED"); s && *s)
    seed = std::strtoull(s, nullptr, 10);
  else
    seed = (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  std::mt19937_64 rng(seed);
  const std::uint64_t at = size * 3 / 8 + rng() % (size / 2);
  std::printf("kill point %llu of %llu bytes (SACKER_TEST_KILL_SEED=%llu repeats it)\n",
              static_cast<unsigned long long>(at), static_cast<unsigned long long>(size),
              static_cast<unsigned long long>(seed));
  ::testing::Test::RecordProperty("kill_seed", std::to_string(seed));
  return at;
}

class S3DownloadFault : public s3test::TransferTest {
 protected:
  // A random blob of `size` bytes added as "app" to a store under this test's
  // prefix (`query`: the store URI's options).
  void add_blob(std::uint64_t size, unsigned seed, const std::string& query = "") {
    size_ = size;
    file_ = dir_ / "blob.bin";
    sha_ = test::write_random_file(file_, size, seed);
    store_ = "s3://" + s3test::bucket() + "/" + unique_ + "/" + query;
    auto r = run({"--ledger", ledger(), "--store", store_, "add", "app", file_.string()});
    ASSERT_EQ(r.result.exit_code, 0) << r.result.err;
  }

  std::vector<std::string> download(std::vector<std::string> extra = {}, bool small_chunks = true) const {
    std::vector<std::string> a = {"--ledger", ledger(), "--store", store_, "download", "app", "latest",
                                  "-o",       dest().string()};
    if (small_chunks) a.insert(a.end(), {"--part-size", "5M"});
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  fs::path dest() const { return dir_ / "out.bin"; }
  fs::path partial() const { return dir_ / ".out.bin.sacker-partial"; }
  fs::path journal() const { return dir_ / ".out.bin.sacker-partial.json"; }
  std::string key() const { return unique_ + "/" + sha_; }

  // How many chunks the partial's journal keeps, and their bytes (0 without one;
  // a chunk not complete is null).
  std::size_t journaled_chunks() const { return journaled().first; }
  std::uint64_t journaled_bytes() const { return journaled().second; }
  std::pair<std::size_t, std::uint64_t> journaled() const {
    std::ifstream in(journal());
    if (!in) return {0, 0};
    const auto chunks = nlohmann::json::parse(in).at("chunks");
    std::pair<std::size_t, std::uint64_t> kept{0, 0};
    for (std::size_t i = 0; i < chunks.size(); ++i)
      if (!chunks[i].is_null()) ++kept.first, kept.second += std::min<std::uint64_t>(kChunk, size_ - i * kChunk);
    return kept;
  }

  // A serial download SIGKILLed once `after` bytes went down: the chunks it kept.
  std::size_t interrupt(std::uint64_t after) {
    auto k = run_killed_at_bytes(download({"--parallel", "1"}), "down", after);
    EXPECT_TRUE(k.stopped) << k.result.err;
    EXPECT_FALSE(fs::exists(dest())) << "a killed download appeared";
    return journaled_chunks();
  }

  static nlohmann::json json_of(const SackerRun& r) {
    try {
      return nlohmann::json::parse(r.result.out);
    } catch (const nlohmann::json::exception&) {
      ADD_FAILURE() << "not JSON: " << r.result.out << r.result.err;
      return nlohmann::json::object({{"resumed_from", -1}, {"bytes_transferred", -1}});
    }
  }

  std::uint64_t moved(const char* direction) { return proxy_->stats()[direction].get<std::uint64_t>(); }

  void expect_verified_download() {
    ASSERT_TRUE(fs::exists(dest()));
    EXPECT_EQ(sha256_file(dest()).sha256, sha_);
    EXPECT_FALSE(fs::exists(partial())) << "a finished download left its partial";
    EXPECT_FALSE(fs::exists(journal()));
  }

  // Requests of `bytes` in `chunk`-sized ranges, with their headers, generously.
  static std::uint64_t overhead(std::uint64_t bytes, std::uint64_t chunk) {
    return (bytes / chunk + 4) * kOverheadPerRequest;
  }

  std::uint64_t size_ = 0;
  fs::path file_;
  std::string sha_, store_;
};

// A server that ignores Range answers the resumed ranged GET with the whole
// object (200): that is not the range asked for, so the partial is discarded and
// the download starts clean, where a 200 to the first GET is the whole blob.
TEST_F(S3DownloadFault, ARangeAnsweredWithTheWholeObjectDiscardsThePartialAndStartsClean) {
  add_blob(32 * kMiB - 1000, 11);
  const std::size_t kept = interrupt(22 * kMiB);
  ASSERT_GE(kept, 2u) << "the killed download kept too little to resume from";
  proxy_->reset();
  proxy_->fault({{"kind", "ignore_range"},
                 {"match", "GET /" + s3test::bucket() + "/" + key()},
                 {"times", 1000},
                 {"body_file", file_.string()}});
  auto r = run(download({"-v", "--json"}));
  ASSERT_EQ(r.result.exit_code, 0) << r.result.err;
  EXPECT_NE(r.result.err.find("ignored Range"), std::string::npos) << r.result.err;
  EXPECT_NE(r.result.err.find("starting again"), std::string::npos) << r.result.err;
  EXPECT_EQ(json_of(r)["resumed_from"], 0);
  EXPECT_EQ(json_of(r)["bytes_transferred"], size_);
  // The resumed run's parts in flight, then the clean start's first GET.
  const std::uint64_t resumed_parts = (size_ - kept * kChunk + kChunk - 1) / kChunk;
  EXPECT_GE(proxy_->stats()["fired"], 2) << "the resumed range and the clean start's first GET were answered 200";
  EXPECT_LE(proxy_->stats()["fired"], resumed_parts + 1);
  expect_verified_download();
}

// A 206 whose Content-Range is not the range asked for, or whose total contradicts
// its own last byte, is refused (exit 7, the bytes never reach the partial); the
// verified chunks stay, with the parts of the resumed run that did arrive, and the
// next run resumes from them.
TEST_F(S3DownloadFault, AWrongContentRangeIsRefusedAndTheVerifiedChunksAreKept) {
  add_blob(32 * kMiB - 1000, 12);
  const std::size_t kept = interrupt(22 * kMiB);
  ASSERT_GE(kept, 2u);
  proxy_->reset();
  proxy_->fault({{"kind", "wrong_content_range"}, {"match", "GET /" + s3test::bucket() + "/" + key()}});
  auto bad = run(download());
  EXPECT_EQ(bad.result.exit_code, 7) << bad.result.err;
  EXPECT_NE(bad.result.err.find("Content-Range"), std::string::npos) << bad.result.err;
  EXPECT_EQ(proxy_->stats()["fired"], 1);
  EXPECT_FALSE(fs::exists(dest()));
  EXPECT_GE(journaled_chunks(), kept) << "a refused range lost kept chunks";
  // The refused part is never journaled. Which part it is depends on which of the
  // resumed read's parallel GETs reached the proxy first (it may be the short last
  // one), so the check is that something is still missing, not a whole chunk.
  EXPECT_LT(journaled_bytes(), size_) << "the refused range was journaled";

  // A Content-Range whose total contradicts its own last byte (a lying size) is
  // the same server trouble (exit 7), not a range past the end (exit 2).
  proxy_->reset();
  proxy_->fault({{"kind", "wrong_content_range"}, {"shift", 0}, {"total", 1000},
                 {"match", "GET /" + s3test::bucket() + "/" + key()}});
  auto lying = run(download());
  EXPECT_EQ(lying.result.exit_code, 7) << lying.result.err;
  EXPECT_NE(lying.result.err.find("Content-Range"), std::string::npos) << lying.result.err;
  EXPECT_FALSE(fs::exists(dest()));
  EXPECT_GE(journaled_chunks(), kept) << "a lying Content-Range lost kept chunks";
  const std::uint64_t kept_bytes = journaled_bytes();
  EXPECT_LT(kept_bytes, size_) << "the refused range was journaled";

  proxy_->reset();
  auto r = run(download({"--json"}));
  ASSERT_EQ(r.result.exit_code, 0) << r.result.err;
  const std::uint64_t rest = size_ - kept_bytes;
  EXPECT_EQ(json_of(r)["resumed_from"], kept_bytes);
  EXPECT_EQ(json_of(r)["bytes_transferred"], rest);
  EXPECT_LE(moved("down"), rest + overhead(rest, kChunk));
  expect_verified_download();

  // From scratch the same: refused, nothing written to the destination.
  fs::remove(dest());
  proxy_->fault({{"kind", "wrong_content_range"}, {"match", "GET /" + s3test::bucket() + "/" + key()}});
  auto scratch = run(download());
  EXPECT_EQ(scratch.result.exit_code, 7) << scratch.result.err;
  EXPECT_FALSE(fs::exists(dest()));
}

// A response cut mid-body (the proxy closes after N bytes of a GET's answer) is
// fetched again within the run; cut on every GET, the run fails (exit 7) and the
// kept chunks are still there for the next one (with the short last part, which
// no cut reaches).
TEST_F(S3DownloadFault, AResponseCutMidBodyIsFetchedAgainAndTheKeptChunksSurviveRepeatedCuts) {
  add_blob(32 * kMiB - 1000, 13);
  const std::size_t kept = interrupt(22 * kMiB);
  ASSERT_GE(kept, 2u);
  const std::string match = "GET /" + s3test::bucket() + "/" + key();
  proxy_->reset();
  proxy_->fault({{"kind", "cut_response"}, {"after", 3 * kMiB}, {"match", match}, {"times", 1000}});
  auto cut = run(download());
  EXPECT_EQ(cut.result.exit_code, 7) << cut.result.err;
  EXPECT_GE(proxy_->stats()["fired"], 2) << "the cut GET was not retried";
  EXPECT_FALSE(fs::exists(dest()));
  EXPECT_GE(journaled_chunks(), kept) << "cut answers lost kept chunks";
  const std::uint64_t kept_bytes = journaled_bytes();
  EXPECT_LE(kept_bytes, size_ - kChunk) << "a cut answer was journaled";

  proxy_->reset();
  proxy_->fault({{"kind", "cut_response"}, {"after", 1 * kMiB}, {"match", match}});
  auto r = run(download({"--json"}));
  ASSERT_EQ(r.result.exit_code, 0) << r.result.err;
  EXPECT_EQ(proxy_->stats()["fired"], 1);
  const std::uint64_t rest = size_ - kept_bytes;
  EXPECT_EQ(json_of(r)["resumed_from"], kept_bytes);
  EXPECT_LE(moved("down"), rest + kMiB + overhead(rest, kChunk));  // the cut megabyte, once
  expect_verified_download();
}

// The object changes while a resumed download runs: its HEAD still saw the old
// ETag, the ranged GET carries If-Match and gets 412, the partial is discarded and
// the download starts clean. Here the new object has the same bytes (uploaded in
// one PUT, so another ETag than the multipart original), so that ends verified.
TEST_F(S3DownloadFault, AnObjectChangedDuringAResumeGets412AndStartsClean) {
  add_blob(32 * kMiB - 1000, 14, "?multipart_threshold=5M&part_size=5M");
  const std::size_t kept = interrupt(22 * kMiB);
  ASSERT_GE(kept, 2u);
  proxy_->reset();
  // Hold one resumed ranged GET before the server sees it, change the object, then
  // let the GET go on: the server sees it only after the change (the proxy's
  // release is the barrier; the other parts in flight may still get the old bytes).
  proxy_->fault({{"kind", "stall_request"},
                 {"after", 0},
                 {"match", "GET /" + s3test::bucket() + "/" + key()},
                 {"until_released", true}});
  std::vector<std::string> args = download({"-v", "--json", "--stall-timeout", "120s"});
  args.insert(args.begin(), SACKER_BINARY);
  test::ChildProcess child(args, child_env({}));
  proxy_->wait_fired();
  const auto old_etag = admin().head(s3test::bucket(), key())->etag;
  admin().put(s3test::bucket(), key(), test::read_file(file_));
  ASSERT_NE(admin().head(s3test::bucket(), key())->etag, old_etag) << "the overwrite kept the ETag: no 412 to test";
  proxy_->release();
  auto r = child.wait();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("changed since it was first read"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("starting again"), std::string::npos) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["resumed_from"], 0);
  expect_verified_download();
}

// Changed between two runs to other bytes: the partial (journaled against the old
// ETag) is dropped, the clean download hashes wrong (exit 5), nothing appears and
// nothing is kept to be served later; with the right bytes back it ends verified.
TEST_F(S3DownloadFault, AnObjectChangedBetweenRunsIsNeverResumedFromNorServed) {
  add_blob(32 * kMiB - 1000, 15);
  ASSERT_GE(interrupt(22 * kMiB), 2u);
  const std::string right = test::read_file(file_);
  std::string wrong = right;
  wrong[wrong.size() / 2] ^= 0x55;
  admin().put(s3test::bucket(), key(), wrong);
  proxy_->reset();
  auto bad = run(download());
  EXPECT_EQ(bad.result.exit_code, 5) << bad.result.err;
  EXPECT_FALSE(fs::exists(dest()));
  EXPECT_FALSE(fs::exists(journal())) << "a partial that failed its check is kept";
  EXPECT_EQ(fs::exists(partial()) ? fs::file_size(partial()) : 0u, 0u);

  admin().put(s3test::bucket(), key(), right);
  auto r = run(download({"--json"}));
  ASSERT_EQ(r.result.exit_code, 0) << r.result.err;
  EXPECT_EQ(json_of(r)["resumed_from"], 0);
  expect_verified_download();
}

// A crash can leave a kept chunk as zeros on disk (the journal was written, the
// data blocks were not): the rerun re-hashes the kept chunks, keeps those before
// the zeroed one and fetches from there.
TEST_F(S3DownloadFault, AKeptChunkOverwrittenWithZerosIsDetectedAndFetchedAgain) {
  add_blob(32 * kMiB - 1000, 16);
  const std::size_t kept = interrupt(22 * kMiB);
  ASSERT_GE(kept, 2u);
  {
    const std::string zeros(kChunk, '\0');
    const int fd = ::open(partial().c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, zeros.data(), zeros.size(), static_cast<off_t>((kept - 1) * kChunk)),
              static_cast<ssize_t>(kChunk));
    ::close(fd);
  }
  proxy_->reset();
  auto r = run(download({"-v", "--json"}));
  ASSERT_EQ(r.result.exit_code, 0) << r.result.err;
  const std::uint64_t good = (kept - 1) * kChunk, rest = size_ - good;
  EXPECT_NE(r.result.err.find(fmt::format("resuming at {} of {} bytes (verified)", good, size_)), std::string::npos)
      << r.result.err;
  EXPECT_EQ(json_of(r)["resumed_from"], good);
  EXPECT_EQ(json_of(r)["bytes_transferred"], rest);
  const std::uint64_t down = moved("down");
  EXPECT_GE(down, rest) << "the zeroed chunk was not fetched again";
  EXPECT_LE(down, rest + overhead(rest, kChunk));
  expect_verified_download();
}

// SIGKILL of a 256 MiB download (default chunks of 8 MiB, 8 streams) at a random
// point between 3/8 and 7/8 of it, counted at the proxy. The rerun is
// byte-identical and moves at most what the first run never got plus one chunk
// per stream (what was in flight, or received out of order, when the kill came).
// 256 MiB rather than the 1 GiB keeps CI time and the OSD's memory low.
TEST_F(S3DownloadFault, ADownloadOf256MiBKilledAtARandomPointResumesMovingOnlyTheRest) {
  constexpr std::uint64_t kSize = 256 * kMiB, kDefaultChunk = 8 * kMiB, kStreams = 8;
  add_blob(kSize, 17);
  const std::uint64_t at = random_kill_point(kSize);
  auto killed = run_killed_at_bytes(download({}, false), "down", at);
  ASSERT_TRUE(killed.stopped) << killed.result.err;
  EXPECT_FALSE(fs::exists(dest()));
  const std::uint64_t first = moved("down");
  EXPECT_EQ(first, at) << "the proxy let more through than the kill point";

  proxy_->reset();
  auto r = run(download({"--json"}, false));
  ASSERT_EQ(r.result.exit_code, 0) << r.result.err;
  const std::uint64_t second = moved("down"), missing = kSize - at;
  EXPECT_GE(second, missing);
  EXPECT_LE(second, missing + kStreams * kDefaultChunk + overhead(kSize, kDefaultChunk));
  EXPECT_GT(json_of(r)["resumed_from"].get<std::int64_t>(), 0) << "nothing was resumed";
  expect_verified_download();
  std::printf("download of %llu MiB killed at %llu bytes: the rerun moved %llu bytes (%.1f%%), resumed from %s\n",
              static_cast<unsigned long long>(kSize >> 20), static_cast<unsigned long long>(first),
              static_cast<unsigned long long>(second), 100.0 * static_cast<double>(second) / kSize,
              json_of(r)["resumed_from"].dump().c_str());
}

// The same for `add` (multipart, 8 MiB parts, 4 streams), killed at a random point
// of its upload: the rerun sends at most the rest plus one part per stream, and
// the stored object is the file's bytes.
TEST_F(S3DownloadFault, AnAddOf256MiBKilledAtARandomPointResumesSendingOnlyTheRest) {
  constexpr std::uint64_t kSize = 256 * kMiB, kPartSize = 8 * kMiB, kStreams = 4;
  const auto file = dir_ / "big.bin";
  const std::string sha = test::write_random_file(file, kSize, 18);
  const std::string store = "s3://" + s3test::bucket() + "/" + unique_ + "/";
  const std::vector<std::string> add = {"--ledger", ledger(), "--store",  store, "add",      "app",
                                        file.string(), "--parallel", "4", "--part-size", "8M"};
  const std::uint64_t at = random_kill_point(kSize);
  auto killed = run_killed_at_bytes(add, "up", at);
  ASSERT_TRUE(killed.stopped) << killed.result.err;
  EXPECT_EQ(moved("up"), at);

  proxy_->reset();
  std::vector<std::string> again = add;
  again.insert(again.begin(), "-v");
  auto r = run(again);
  ASSERT_EQ(r.result.exit_code, 0) << r.result.err;
  EXPECT_NE(r.result.err.find("resuming the upload"), std::string::npos) << r.result.err;
  const std::uint64_t second = moved("up"), missing = kSize - at;
  EXPECT_GE(second, missing);
  EXPECT_LE(second, missing + kStreams * kPartSize + overhead(kSize, kPartSize));
  EXPECT_EQ(stored_sha(unique_ + "/" + sha), sha);
  EXPECT_EQ(journals(), 0u);
  std::printf("add of %llu MiB killed at %llu bytes: the rerun sent %llu bytes (%.1f%%)\n",
              static_cast<unsigned long long>(kSize >> 20), static_cast<unsigned long long>(at),
              static_cast<unsigned long long>(second), 100.0 * static_cast<double>(second) / kSize);
}

}  // namespace
}  // namespace sacker
