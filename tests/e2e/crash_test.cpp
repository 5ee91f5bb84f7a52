// Fault injection on the real binary: sacker killed (SIGKILL) at many points of an
// add or a download. The kill delays are the injected faults, not synchronisation:
// whatever point each kill hits, the invariants of DESIGN.md must hold afterwards.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>
#include "e2e/sandbox.h"

#include "sacker/sha256.h"

namespace sacker::test {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> env_for(const Sandbox& s) {
  return {"HOME=" + s.home().string(), "XDG_DATA_HOME=", "SACKER_CONFIG=", "SACKER_LEDGER=", "SACKER_STORE="};
}

// Starts `sacker args` in the sandbox, kills it after `delay` unless it finished,
// and returns whether the kill hit a running process.
bool run_and_kill(const Sandbox& s, const std::vector<std::string>& args, std::chrono::milliseconds delay) {
  std::vector<std::string> argv = {SACKER_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess child(argv, env_for(s), "", s.work());
  std::this_thread::sleep_for(delay);
  const bool killed = ::kill(child.pid(), SIGKILL) == 0;
  auto r = child.wait();
  return killed && r.exit_code == 128 + SIGKILL;
}

// Invariant 4: every blob in the file store hashes to its name.
void expect_store_holds_only_verified_blobs(const Sandbox& s) {
  static const std::regex kSha("[0-9a-f]{64}");
  for (const auto& e : fs::recursive_directory_iterator(s.data() / "blobs")) {
    if (!e.is_regular_file()) continue;
    const std::string name = e.path().filename().string();
    if (!std::regex_match(name, kSha)) continue;  // a killed writer's temp file: never under a sha
    EXPECT_EQ(sha256_file(e.path()).sha256, name) << e.path();
  }
}

TEST(Crash, AddKilledAnywhereLeavesNoVersionWithoutItsBlob) {
  Sandbox s;
  int killed = 0;
  for (int i = 0; i < 12; ++i) {
    auto file = s.work() / ("build-" + std::to_string(i) + ".bin");
    write_random_file(file, 24u << 20, 100 + static_cast<unsigned>(i));
    if (run_and_kill(s, {"add", "app", file.string()}, std::chrono::milliseconds(8 * i))) ++killed;
  }
  // Invariants 1 and 2: every version that made it is complete and downloads verified.
  auto versions = s.run({"--json", "versions", "app"});
  if (versions.exit_code == 0) {
    for (auto& v : nlohmann::json::parse(versions.out)["versions"]) {
      auto dl = s.run({"download", "app", std::to_string(v.get<std::uint64_t>()), "-o", "-"});
      EXPECT_EQ(dl.exit_code, 0) << "version " << v << ": " << dl.err;
    }
  } else {
    EXPECT_EQ(versions.exit_code, 3) << versions.err;  // every add was killed before recording
  }
  expect_store_holds_only_verified_blobs(s);
  // The ledger is not wedged: the next add works and goes above everything.
  s.write("final.bin", "after the crashes");
  auto add = s.run({"add", "app", "final.bin"});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  auto latest = s.run({"download", "app", "latest", "-o", "-"});
  EXPECT_EQ(latest.out, "after the crashes");
  std::printf("%d of 12 adds killed while running; %zu versions recorded\n", killed,
              versions.exit_code == 0 ? nlohmann::json::parse(versions.out)["versions"].size() : 0);
  EXPECT_GT(killed, 0) << "no kill hit a running add: the test injected no fault";
}

TEST(Crash, DownloadKilledAnywhereLeavesTheDestinationAsItWasOrComplete) {
  Sandbox s;
  auto file = s.work() / "big.bin";
  const std::string sha = write_random_file(file, 48u << 20, 7);
  ASSERT_EQ(s.run({"add", "app", file.string()}).exit_code, 0);
  fs::create_directories(s.work() / "out");
  const auto dest = s.work() / "out/big.bin";
  int killed = 0;
  for (int i = 0; i < 10; ++i) {
    write_file(dest, "the previous release");
    if (run_and_kill(s, {"download", "app", "latest", "-o", dest.string()}, std::chrono::milliseconds(10 * i)))
      ++killed;
    // Invariant 3: the old bytes, or the new ones verified, never a mix or a stub.
    const std::string got = read_file(dest);
    if (got != "the previous release") EXPECT_EQ(sha256_file(dest).sha256, sha) << "after kill " << i;
  }
  std::printf("%d of 10 downloads killed while running\n", killed);

  // What the killed downloads left behind is removed by the next download into that
  // directory once a minute old; a temp file a live process holds locked stays.
  auto leftovers = [&] {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dest.parent_path()))
      if (e.path().filename().string().rfind(".big.bin.sacker-", 0) == 0) out.push_back(e.path());
    return out;
  };
  const auto live = dest.parent_path() / ".big.bin.sacker-LIVE01";
  write_file(live, "a download in progress elsewhere");
  int live_fd = ::open(live.c_str(), O_RDONLY);
  ASSERT_GE(live_fd, 0);
  ASSERT_EQ(::flock(live_fd, LOCK_EX), 0);
  const auto old = fs::file_time_type::clock::now() - std::chrono::minutes(2);
  ASSERT_GT(leftovers().size(), 1u) << "the killed downloads left no temp file: nothing to clean up";
  for (const auto& p : leftovers()) fs::last_write_time(p, old);
  write_file(dest, "the previous release");
  ASSERT_EQ(s.run({"download", "app", "latest", "-o", dest.string()}).exit_code, 0);
  EXPECT_EQ(leftovers(), std::vector<fs::path>{live});
  ::close(live_fd);
  EXPECT_GT(killed, 0) << "no kill hit a running download: the test injected no fault";
}

}  // namespace
}  // namespace sacker::test
