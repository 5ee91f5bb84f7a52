// The ZooKeeper ledger on a 3-node ensemble whose leader is killed (kill -9) while
// 4 writer processes add to one package: every add must succeed (or fail loudly,
// counted), the versions must be exactly 1..N, each writer's versions strictly
// increasing, every record must be the one its writer was told it got, and the
// history must hold exactly one add event per version, seqs 1..N.
//
// The ensemble is started and stopped by this test through
// scripts/servers/zookeeper-ensemble.sh (start / leader / kill-node / stop).
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "ledger/zk_ledger.h"
#include "sacker/error.h"
#include "support/process.h"

namespace {

constexpr int kWorkers = 4;
constexpr int kAddsPerWorker = 150;

const std::string kScript = std::string(SACKER_SOURCE_DIR) + "/scripts/servers/zookeeper-ensemble.sh";

// Runs zookeeper-ensemble.sh with arguments; returns (exit code, stdout + stderr).
std::pair<int, std::string> script(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/bin/bash", kScript};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = sacker::test::run_process(argv);
  return {r.exit_code, r.out + r.err};
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Starts the ensemble; stops it (by the PIDs the script recorded) when destroyed.
class Ensemble {
 public:
  explicit Ensemble(std::string dir) : dir_(std::move(dir)) {
    auto [rc, out] = script({"start", dir_});
    started_ = rc == 0;
    start_output_ = out;
    std::ifstream env(dir_ + "/env");
    for (std::string line; std::getline(env, line);)
      if (line.rfind("ZK_HOSTS=", 0) == 0) hosts_ = line.substr(9);
  }
  ~Ensemble() { script({"stop", dir_}); }
  bool started() const { return started_ && !hosts_.empty(); }
  const std::string& start_output() const { return start_output_; }
  const std::string& hosts() const { return hosts_; }
  std::string leader() { return trim(sacker::test::run_process({"/bin/bash", kScript, "leader", dir_}).out); }
  std::pair<int, std::string> kill_node(const std::string& n) { return script({"kill-node", dir_, n}); }

 private:
  std::string dir_, hosts_, start_output_;
  bool started_ = false;
};

struct Outcome {
  int seq;
  std::uint64_t version;
  long long micros;
};

TEST(ZkFailover, LeaderKilledWhileFourWritersAdd) {
  Ensemble ensemble(std::string(SACKER_BINARY_DIR) + "/test-servers/zk-ensemble-failover");
  ASSERT_TRUE(ensemble.started()) << ensemble.start_output();
  const std::string uri = fmt::format("zk://{}/failover", ensemble.hosts());
  auto ledger = sacker::open_zk_ledger(sacker::parse_uri(uri));
  ledger->init();

  std::vector<std::unique_ptr<sacker::test::ChildProcess>> workers;
  for (int w = 1; w <= kWorkers; ++w)
    workers.push_back(std::make_unique<sacker::test::ChildProcess>(
        std::vector<std::string>{ZK_WORKER, uri, "app", std::to_string(w), std::to_string(kAddsPerWorker)}));

  // Kill the leader once a quarter of the adds are in (a condition, polled).
  const std::uint64_t total = kWorkers * kAddsPerWorker;
  std::uint64_t at_kill = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    at_kill = ledger->latest("app").value_or(0);
    if (at_kill >= total / 4) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::string leader = ensemble.leader();
  ASSERT_TRUE(leader == "1" || leader == "2" || leader == "3") << "leader: '" << leader << "'";
  auto [kill_rc, kill_out] = ensemble.kill_node(leader);
  ASSERT_EQ(kill_rc, 0) << kill_out;
  std::uint64_t after_kill = ledger->latest("app").value_or(0);

  // Collect every worker's report.
  std::map<std::uint64_t, std::pair<int, int>> owner;  // version -> (worker, seq)
  int ok = 0, failed = 0;
  long long slowest = 0;
  std::string failures;
  for (int w = 1; w <= kWorkers; ++w) {
    auto result = workers[static_cast<std::size_t>(w - 1)]->wait();
    EXPECT_EQ(result.exit_code, 0) << "worker " << w << ": " << result.err;
    const std::string& out = result.out;
    std::istringstream lines(out);
    std::uint64_t previous = 0;
    int lines_seen = 0;
    for (std::string line; std::getline(lines, line);) {
      ++lines_seen;
      std::istringstream in(line);
      std::string word;
      Outcome o{};
      in >> word >> o.seq;
      if (word == "fail") {
        ++failed;
        failures += fmt::format("worker {}: {}\n", w, line);
        continue;
      }
      ASSERT_EQ(word, "ok") << line;
      in >> o.version >> o.micros;
      ++ok;
      slowest = std::max(slowest, o.micros);
      EXPECT_GT(o.version, previous) << "worker " << w << " not strictly increasing at seq " << o.seq;
      previous = o.version;
      auto [it, fresh] = owner.emplace(o.version, std::make_pair(w, o.seq));
      EXPECT_TRUE(fresh) << "version " << o.version << " handed to worker " << it->second.first << " and " << w;
    }
    EXPECT_EQ(lines_seen, kAddsPerWorker) << "worker " << w << " did not report every add";
  }
  std::printf(
      "[zk failover] leader node %s killed at version %llu (%llu just after); %d adds ok, %d failed; "
      "slowest add %.1f ms\n",
      leader.c_str(), static_cast<unsigned long long>(at_kill), static_cast<unsigned long long>(after_kill), ok, failed,
      slowest / 1000.0);
  EXPECT_EQ(failed, 0) << failures;
  EXPECT_LT(after_kill, total) << "the writers finished before the leader was killed: not a mid-run failover";

  // The ledger: exactly 1..ok, and each record is the one its writer was told about.
  auto versions = ledger->versions("app");
  ASSERT_EQ(versions.size(), static_cast<std::size_t>(ok));
  for (std::size_t i = 0; i < versions.size(); ++i) ASSERT_EQ(versions[i], i + 1) << "gap or duplicate";
  auto records = ledger->records("app");
  ASSERT_EQ(records.size(), versions.size());
  for (const auto& r : records) {
    auto it = owner.find(r.version);
    ASSERT_NE(it, owner.end()) << "version " << r.version << " was recorded but no writer got it";
    EXPECT_EQ(r.metadata.at("worker"), std::to_string(it->second.first)) << "version " << r.version;
    EXPECT_EQ(r.metadata.at("seq"), std::to_string(it->second.second)) << "version " << r.version;
  }
  // History: one add event per version, written by the same multi, seqs 1..ok without a gap.
  auto history = ledger->history("app", {});
  ASSERT_EQ(history.size(), static_cast<std::size_t>(ok));
  std::set<std::uint64_t> added;
  for (std::size_t i = 0; i < history.size(); ++i) {
    EXPECT_EQ(history[i].seq, history.size() - i);
    EXPECT_EQ(history[i].action, sacker::EventAction::Add);
    EXPECT_TRUE(added.insert(history[i].version).second) << "two add events for version " << history[i].version;
  }
}

}  // namespace
