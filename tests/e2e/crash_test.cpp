// Fault injection on the real binary: sacker SIGKILLed at every point of an add, a
// download and a tag move. Deterministic, no sleeps: the process stops itself
// (SIGSTOP) at the point under test and is killed there. Two kinds of points:
// - every call that changes a file (write, fsync, rename, unlink, ...), one run per
//   call, counted by tests/e2e/stop_preload.cpp, until a run finishes unstopped;
// - the named steps of the facade ($SACKER_TEST_STOP_AT, core/files.h
//   test_stop_point), where each step promises a particular state.
// Whatever point a kill hits, the invariants of DESIGN.md must hold afterwards.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>
#include <set>

#include <nlohmann/json.hpp>
#include "e2e/sandbox.h"

#include "sacker/backends.h"
#include "sacker/ledger.h"
#include "sacker/sha256.h"

namespace sacker::test {
namespace {

namespace fs = std::filesystem;

// More runs than any command here makes file-changing calls: a loop that reaches
// it never saw the command finish.
constexpr int kMaxPoints = 2000;

struct StoppedRun {
  bool stopped = false;  // the process reached the point and was SIGKILLed there
  ProcessResult result;
};

// Runs `sacker args` in the sandbox with `env`; if the process stops itself, it is
// SIGKILLed while stopped. Waits (without reaping) for "stopped or exited".
StoppedRun run_stopping(const Sandbox& s, const std::vector<std::string>& args, const std::vector<std::string>& env) {
  std::vector<std::string> argv = {SACKER_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> full_env = {"HOME=" + s.home().string(),
                                       "XDG_DATA_HOME=", "SACKER_CONFIG=", "SACKER_LEDGER=", "SACKER_STORE="};
  full_env.insert(full_env.end(), env.begin(), env.end());
  ChildProcess child(argv, full_env, "", s.work());
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(child.pid()), &info, WSTOPPED | WEXITED | WNOWAIT) != 0)
    if (errno != EINTR) ADD_FAILURE() << "waitid: " << std::strerror(errno);
  StoppedRun run;
  run.stopped = info.si_code == CLD_STOPPED;
  if (run.stopped) ::kill(child.pid(), SIGKILL);
  run.result = child.wait();
  if (run.stopped) EXPECT_EQ(run.result.exit_code, 128 + SIGKILL);
  return run;
}

StoppedRun run_stopped_at_call(const Sandbox& s, const std::vector<std::string>& args, int n) {
  return run_stopping(s, args,
                      {std::string("LD_PRELOAD=") + SACKER_STOP_PRELOAD, "SACKER_STOP_AT_CALL=" + std::to_string(n)});
}

StoppedRun run_stopped_at_step(const Sandbox& s, const std::vector<std::string>& args, const std::string& step) {
  return run_stopping(s, args, {"SACKER_TEST_STOP_AT=" + step});
}

fs::path store_root(const Sandbox& s) { return s.data() / "blobs"; }
fs::path blob_path(const Sandbox& s, const std::string& sha) { return store_root(s) / sha.substr(0, 2) / sha; }

// Invariant 4: every blob in the file store hashes to its name. Returns the blobs.
std::set<std::string> expect_store_holds_only_verified_blobs(const Sandbox& s) {
  static const std::regex kSha("[0-9a-f]{64}");
  std::set<std::string> blobs;
  if (!fs::exists(store_root(s))) return blobs;
  for (const auto& e : fs::recursive_directory_iterator(store_root(s))) {
    if (!e.is_regular_file()) continue;
    const std::string name = e.path().filename().string();
    if (!std::regex_match(name, kSha)) continue;  // a killed writer's temp file: never under a sha
    EXPECT_EQ(sha256_file(e.path()).sha256, name) << e.path();
    blobs.insert(name);
  }
  return blobs;
}

std::vector<std::uint64_t> recorded_versions(const Sandbox& s) {
  auto r = s.run({"--json", "versions", "app"});
  if (r.exit_code == 3) return {};  // every add so far was killed before recording
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (r.exit_code != 0) return {};
  return nlohmann::json::parse(r.out)["versions"].get<std::vector<std::uint64_t>>();
}

// Invariants 1 and 2: every version that made it downloads, verified.
void expect_every_version_downloads(const Sandbox& s) {
  for (auto v : recorded_versions(s)) {
    auto dl = s.run({"download", "app", std::to_string(v), "-o", "-"});
    EXPECT_EQ(dl.exit_code, 0) << "version " << v << ": " << dl.err;
  }
}

std::vector<fs::path> temp_files_under(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().rfind(prefix, 0) == 0) out.push_back(e.path());
  return out;
}

void backdate(const fs::path& p, std::chrono::minutes by) {
  fs::last_write_time(p, fs::file_time_type::clock::now() - by);
}

TEST(Crash, AddKilledAtEveryFileChangeLeavesNoVersionWithoutItsBlob) {
  Sandbox s;  // no init: the first add creates the ledger and the store, and is killed too
  int killed = 0, n = 1;
  for (; n < kMaxPoints; ++n) {
    auto file = s.work() / ("build-" + std::to_string(n) + ".bin");
    write_random_file(file, 3u << 20, 100 + static_cast<unsigned>(n));
    auto run = run_stopped_at_call(s, {"add", "app", file.string()}, n);
    if (!run.stopped) {
      ASSERT_EQ(run.result.exit_code, 0) << "after " << killed << " kills the add fails: " << run.result.err;
      break;
    }
    ++killed;
    expect_store_holds_only_verified_blobs(s);
  }
  ASSERT_LT(n, kMaxPoints) << "the add never finished without reaching its stop point";
  EXPECT_GT(killed, 10) << "too few points: the preload did not count the add's writes";
  expect_every_version_downloads(s);
  const auto versions = recorded_versions(s);
  ASSERT_FALSE(versions.empty());
  std::printf("an add killed at each of its %d file changes; %zu versions recorded\n", killed, versions.size());

  // What the kills left (orphan blobs, upload temp files) is gc's, once old enough;
  // every recorded version keeps its blob.
  const auto blobs = expect_store_holds_only_verified_blobs(s);
  for (const auto& sha : blobs) backdate(blob_path(s, sha), std::chrono::minutes(10));
  for (const auto& p : temp_files_under(store_root(s), ".")) backdate(p, std::chrono::minutes(10));
  auto gc = s.run({"gc"});
  ASSERT_EQ(gc.exit_code, 0) << gc.err;
  EXPECT_EQ(temp_files_under(store_root(s), "."), std::vector<fs::path>{}) << gc.out;
  EXPECT_EQ(expect_store_holds_only_verified_blobs(s).size(), versions.size()) << gc.out;
  expect_every_version_downloads(s);
}

TEST(Crash, AddKilledAtEachStepLeavesWhatTheStepPromises) {
  Sandbox s;
  s.write("first.bin", "the first release");
  ASSERT_EQ(s.run({"add", "app", "first.bin"}).exit_code, 0);
  const std::string sha = Sha256::hex_of("a release", 9);
  s.write("app.bin", "a release");

  // Uploaded into a temp file and verified, not yet under its sha: no blob, no version.
  ASSERT_TRUE(run_stopped_at_step(s, {"add", "app", "app.bin"}, "store.upload").stopped);
  EXPECT_FALSE(fs::exists(blob_path(s, sha)));
  EXPECT_EQ(temp_files_under(store_root(s), "." + sha + ".sacker-").size(), 1u);
  EXPECT_EQ(recorded_versions(s), std::vector<std::uint64_t>{1});

  // In the store, not in the ledger: an orphan that the next add re-uses.
  ASSERT_TRUE(run_stopped_at_step(s, {"add", "app", "app.bin"}, "add.stored").stopped);
  EXPECT_EQ(sha256_file(blob_path(s, sha)).sha256, sha);
  EXPECT_EQ(recorded_versions(s), std::vector<std::uint64_t>{1});

  // Recorded: the version downloads although the add never finished.
  ASSERT_TRUE(run_stopped_at_step(s, {"add", "app", "app.bin", "--tag", "live"}, "add.recorded").stopped);
  EXPECT_EQ(recorded_versions(s), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(s.run({"download", "app", "2", "-o", "-"}).out, "a release");
  EXPECT_EQ(s.run({"download", "app", "live", "-o", "-"}).exit_code, 3) << "the tag comes after the step";

  // None of it wedged anything: the next add goes above everything, uploading nothing.
  auto add = s.run({"add", "app", "app.bin"});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  EXPECT_EQ(recorded_versions(s), (std::vector<std::uint64_t>{1, 2, 3}));
}

TEST(Crash, DownloadKilledAtEveryFileChangeLeavesTheDestinationAsItWasOrComplete) {
  Sandbox s;
  auto file = s.work() / "big.bin";
  const std::string sha = write_random_file(file, 3u << 20, 7);
  ASSERT_EQ(s.run({"add", "app", file.string()}).exit_code, 0);
  fs::create_directories(s.work() / "out");
  const auto dest = s.work() / "out/big.bin";
  int killed = 0, n = 1;
  for (; n < kMaxPoints; ++n) {
    write_file(dest, "the previous release");
    auto run = run_stopped_at_call(s, {"download", "app", "latest", "-o", dest.string()}, n);
    // Invariant 3: the old bytes, or the new ones verified, never a mix or a stub.
    const std::string got = read_file(dest);
    if (got != "the previous release") EXPECT_EQ(sha256_file(dest).sha256, sha) << "killed at file change " << n;
    if (!run.stopped) {
      ASSERT_EQ(run.result.exit_code, 0) << run.result.err;
      EXPECT_EQ(sha256_file(dest).sha256, sha);
      break;
    }
    ++killed;
  }
  ASSERT_LT(n, kMaxPoints) << "the download never finished without reaching its stop point";
  EXPECT_GT(killed, 3) << "too few points: the preload did not count the download's writes";
  std::printf("a download killed at each of its %d file changes\n", killed);

  // Stopped with its temp file complete and verified, not yet renamed: killed there,
  // the destination is as it was.
  write_file(dest, "the previous release");
  ASSERT_TRUE(run_stopped_at_step(s, {"download", "app", "latest", "-o", dest.string()}, "download.fetched").stopped);
  EXPECT_EQ(read_file(dest), "the previous release");

  // What the killed downloads left behind is removed by the next download into that
  // directory once a minute old; a temp file a live process holds locked stays.
  auto leftovers = [&] { return temp_files_under(dest.parent_path(), ".big.bin.sacker-"); };
  const auto live = dest.parent_path() / ".big.bin.sacker-LIVE01";
  write_file(live, "a download in progress elsewhere");
  int live_fd = ::open(live.c_str(), O_RDONLY);
  ASSERT_GE(live_fd, 0);
  ASSERT_EQ(::flock(live_fd, LOCK_EX), 0);
  ASSERT_GT(leftovers().size(), 1u) << "the killed downloads left no temp file: nothing to clean up";
  for (const auto& p : leftovers()) backdate(p, std::chrono::minutes(2));
  ASSERT_EQ(s.run({"download", "app", "latest", "-o", dest.string()}).exit_code, 0);
  EXPECT_EQ(leftovers(), std::vector<fs::path>{live});
  ::close(live_fd);
}

// Issue 9: a tag move is one SQLite transaction with its event. Killed at any point,
// the tag either moved with exactly one event saying so, or did not move and no
// event was written; the event sequence stays strictly increasing.
TEST(Crash, TagKilledAtEveryFileChangeKeepsTagAndHistoryInAgreement) {
  Sandbox s;
  s.write("a.bin", "release 1");
  s.write("b.bin", "release 2");
  ASSERT_EQ(s.run({"add", "app", "a.bin", "--tag", "live"}).exit_code, 0);
  ASSERT_EQ(s.run({"add", "app", "b.bin"}).exit_code, 0);
  const std::string uri = "sqlite://" + (s.data() / "ledger.db").string();
  HistoryQuery live_only;
  live_only.tag = "live";

  int killed = 0, moved_while_killed = 0, n = 1;
  for (; n < kMaxPoints; ++n) {
    TagValue before;
    std::vector<Event> events_before;
    {
      auto ledger = open_ledger(uri);
      before = ledger->tag_value("app", "live").value();
      events_before = ledger->history("app", live_only);
    }
    const std::uint64_t target = before.version == 1 ? 2 : 1;
    auto run = run_stopped_at_call(s, {"tag", "app", std::to_string(target), "live"}, n);

    auto ledger = open_ledger(uri);
    const TagValue after = ledger->tag_value("app", "live").value();
    const auto events = ledger->history("app", live_only);  // newest first
    if (after == before) {
      EXPECT_EQ(events, events_before) << "an event for a move that did not happen (file change " << n << ")";
    } else {
      ASSERT_EQ(events.size(), events_before.size() + 1) << "file change " << n;
      EXPECT_EQ(after.version, target);
      EXPECT_EQ(events.front().seq, after.seq) << "the tag and its last event disagree";
      EXPECT_EQ(events.front().version, target);
      EXPECT_EQ(events.front().previous, std::optional<std::uint64_t>(before.version));
      if (run.stopped) ++moved_while_killed;
    }
    std::uint64_t newer = UINT64_MAX;
    for (const auto& e : ledger->history("app", HistoryQuery{})) {
      EXPECT_LT(e.seq, newer) << "history out of order or repeated";
      newer = e.seq;
    }
    if (!run.stopped) {
      ASSERT_EQ(run.result.exit_code, 0) << run.result.err;
      EXPECT_EQ(after.version, target);
      break;
    }
    ++killed;
  }
  ASSERT_LT(n, kMaxPoints) << "the tag never finished without reaching its stop point";
  EXPECT_GT(killed, 2) << "too few points: the preload did not count the tag's writes";
  std::printf("a tag move killed at each of its %d file changes (%d of them after the commit)\n", killed,
              moved_while_killed);
}

}  // namespace
}  // namespace sacker::test
