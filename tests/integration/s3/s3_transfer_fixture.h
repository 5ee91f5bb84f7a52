// The transfer tests' fixture (issue 10): tests/fixtures/fault_proxy.py between
// the sacker binary and RadosGW, its control port, and runs of sacker through it
// that end normally, are SIGKILLed at a test seam ($SACKER_TEST_STOP_AT), or are
// SIGKILLed once the proxy has moved a given number of bytes (a stall_total fault
// holds every connection there; the proxy's /wait is the barrier, nothing sleeps).
#pragma once

#include <fmt/core.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "net/http.h"
#include "s3_test_support.h"
#include "sacker/sha256.h"

namespace sacker::s3test {

namespace fs = std::filesystem;

constexpr std::uint64_t kMiB = 1ULL << 20;
constexpr std::uint64_t kPart = 5 * kMiB;
// Request and response headers of one part's PUT, generously.
constexpr std::uint64_t kOverheadPerRequest = 4096;

// tests/fixtures/fault_proxy.py in front of RadosGW, with its control port.
class FaultProxy {
 public:
  explicit FaultProxy(const fs::path& dir) {
    const auto port_file = dir / "proxy.ports";
    const std::string target = net::parse_url(s3test::env("AWS_ENDPOINT_URL")).host_header();
    child_ = std::make_unique<test::ChildProcess>(
        std::vector<std::string>{"python3", std::string(SACKER_SOURCE_DIR) + "/tests/fixtures/fault_proxy.py",
                                 "--target", target, "--port-file", port_file.string()});
    // Readiness: the proxy renames the file into place once both ports listen.
    for (int i = 0; i < 1000 && !fs::exists(port_file); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::ifstream in(port_file);
    if (!(in >> port_ >> control_)) throw std::runtime_error("fault_proxy.py did not start");
  }
  ~FaultProxy() {
    ::kill(child_->pid(), SIGTERM);
    child_->wait();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // The environment that sends a child's S3 requests through the proxy.
  std::vector<std::string> env() const { return {"AWS_ENDPOINT_URL=" + url(), "AWS_ENDPOINT_URL_S3=" + url()}; }

  nlohmann::json stats() { return nlohmann::json::parse(call("GET", "/stats", "")); }
  // Blocks until `n` faults have fired (the proxy answers 408 after `timeout_s`).
  nlohmann::json wait_fired(int n = 1, int timeout_s = 120) {
    return nlohmann::json::parse(call("GET", fmt::format("/wait?fired={}&timeout={}", n, timeout_s), ""));
  }
  void reset() { call("POST", "/reset", ""); }
  // Lets requests held by a stall_request fault with until_released go on.
  void release() { call("POST", "/release", ""); }
  void fault(const nlohmann::json& f) { call("POST", "/fault", f.dump()); }

 private:
  std::string call(const std::string& method, const std::string& path, std::string body) {
    net::HttpRequest r;
    r.method = method;
    r.url = "http://127.0.0.1:" + std::to_string(control_) + path;
    r.body = std::move(body);
    auto resp = http_.send(r);
    if (resp.status != 200) throw std::runtime_error("fault proxy: " + resp.body);
    return resp.body;
  }
  static net::HttpOptions no_stall_limit() {
    net::HttpOptions o;
    o.low_speed_time = std::chrono::seconds(0);  // /wait answers nothing until it is time
    return o;
  }
  std::unique_ptr<test::ChildProcess> child_;
  int port_ = 0, control_ = 0;
  net::HttpClient http_{no_stall_limit()};
};

struct SackerRun {
  bool stopped = false;
  test::ProcessResult result;
};

class TransferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test::load_test_env();
    dir_ = test::make_temp_dir("sacker-s3-transfer");
    proxy_ = std::make_unique<FaultProxy>(dir_);
    unique_ = test::unique_token();
  }
  void TearDown() override {
    proxy_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  fs::path uploads_dir() const { return dir_ / "state/sacker/uploads"; }
  std::size_t journals() const {
    std::error_code ec;
    if (!fs::exists(uploads_dir(), ec)) return 0;
    std::size_t n = 0;  // journals, not the temp files of one being replaced when the kill came
    for (const auto& e : fs::directory_iterator(uploads_dir())) n += e.path().filename().string()[0] != '.';
    return n;
  }

  // `sacker args` through the proxy with its own state directory; stopped at the
  // seam `stop_at` (if given) and SIGKILLed there.
  SackerRun run(std::vector<std::string> args, const std::vector<std::string>& extra_env = {},
                const std::string& stop_at = "") {
    args.insert(args.begin(), SACKER_BINARY);
    std::vector<std::string> env = child_env(extra_env);
    if (!stop_at.empty()) env.push_back("SACKER_TEST_STOP_AT=" + stop_at);
    test::ChildProcess child(args, env);
    siginfo_t info{};
    while (::waitid(P_PID, static_cast<id_t>(child.pid()), &info, WSTOPPED | WEXITED | WNOWAIT) != 0)
      if (errno != EINTR) ADD_FAILURE() << "waitid: " << std::strerror(errno);
    SackerRun r;
    r.stopped = info.si_code == CLD_STOPPED;
    if (r.stopped) ::kill(child.pid(), SIGKILL);
    r.result = child.wait();
    return r;
  }

  // `sacker args` through the proxy, SIGKILLed once the proxy has moved `after`
  // bytes `direction` ("down" or "up") in this run: a stall_total fault holds every
  // connection there, and the kill comes once it fired. The counters are reset first.
  SackerRun run_killed_at_bytes(std::vector<std::string> args, const std::string& direction, std::uint64_t after,
                                const std::vector<std::string>& extra_env = {}) {
    proxy_->reset();
    proxy_->fault({{"kind", "stall_total"}, {"direction", direction}, {"after", after}});
    args.insert(args.begin(), SACKER_BINARY);
    test::ChildProcess child(args, child_env(extra_env));
    SackerRun r;
    try {
      proxy_->wait_fired();
      r.stopped = true;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "the run ended or hung before " << after << " bytes went " << direction << ": " << e.what();
    }
    ::kill(child.pid(), SIGKILL);
    r.result = child.wait();
    return r;
  }

  std::vector<std::string> child_env(const std::vector<std::string>& extra_env) const {
    std::vector<std::string> env = proxy_->env();
    env.push_back("XDG_STATE_HOME=" + (dir_ / "state").string());
    env.push_back("SACKER_CONFIG=");
    env.insert(env.end(), extra_env.begin(), extra_env.end());
    return env;
  }

  std::string ledger() const { return "sqlite://" + (dir_ / "ledger.db").string(); }

  // The stored object's sha256, read back with the admin's credentials.
  std::string stored_sha(const std::string& key, const std::string& bucket = s3test::bucket()) {
    auto obj = admin().get(bucket, key);
    if (!obj) return "absent";
    return Sha256::hex_of(obj->body.data(), obj->body.size());
  }

  fs::path dir_;
  std::string unique_;
  std::unique_ptr<FaultProxy> proxy_;
};

}  // namespace sacker::s3test
