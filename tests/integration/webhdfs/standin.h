// The WebHDFS stand-in as the tests see it: its control API (faults, HA states) and its
// request log, through which every protocol assertion is made (never through timing).
// The stand-in is not HDFS: no HDFS server can run on these machines, see
// tests/fixtures/WEBHDFS-STANDIN.md for what it covers.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "net/http.h"
#include "support/process.h"
#include "support/test_env.h"

namespace sacker::test {

using nlohmann::json;

inline std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

class Standin {
 public:
  // Reads WEBHDFS_CONTROL (and WEBHDFS_CA) at first use, after load_test_env().
  Standin() = default;

  // POST /__control: faults, HA states, reset.
  json set(const json& settings) {
    net::HttpRequest r;
    r.method = "POST";
    r.url = control();
    r.body = settings.dump();
    r.headers = {{"Content-Type", "application/json"}};
    auto resp = http().send(r);
    EXPECT_EQ(resp.status, 200) << resp.body;
    return json::parse(resp.body);
  }
  // The WebHDFS requests since the last mark() (or start), in order.
  std::vector<json> log() {
    net::HttpRequest r;
    r.url = control() + "/log?since=" + std::to_string(mark_);
    auto resp = http().send(r);
    EXPECT_EQ(resp.status, 200) << resp.body;
    std::vector<json> out;
    const json doc = json::parse(resp.body);
    for (const auto& e : doc["requests"]) out.push_back(e);
    return out;
  }
  void mark() {
    net::HttpRequest r;
    r.url = control();
    mark_ = json::parse(http().send(r).body)["last_seq"].get<long>();
  }
  std::vector<json> where(const std::function<bool(const json&)>& pred) {
    std::vector<json> out;
    for (auto& e : log())
      if (pred(e)) out.push_back(e);
    return out;
  }

 private:
  static net::HttpOptions options() {
    net::HttpOptions o;
    o.ca_bundle = env_or_empty("WEBHDFS_CA");
    o.retry.max_attempts = 1;
    return o;
  }
  static std::string control() { return env_or_empty("WEBHDFS_CONTROL"); }
  net::HttpClient& http() {
    if (!http_) http_.emplace(options());
    return *http_;
  }
  std::optional<net::HttpClient> http_;
  long mark_ = 0;
};

inline std::string param(const json& entry, const char* name) {
  auto it = entry["params"].find(name);
  return it == entry["params"].end() || !it->is_string() ? "" : it->get<std::string>();
}
inline bool is(const json& e, const char* role, const char* op) { return e["role"] == role && e["op"] == op; }

// A temp home, a SQLite ledger and the sacker binary run against one store URI.
class SackerRun {
 public:
  explicit SackerRun(const std::string& prefix) : home_(make_temp_dir(prefix)) {
    ledger_ = "sqlite://" + (home_ / "ledger.db").string();
  }
  ~SackerRun() {
    std::error_code ec;
    std::filesystem::remove_all(home_, ec);
  }
  ProcessResult operator()(const std::string& store, std::vector<std::string> args,
                           const std::vector<std::string>& env = {}) const {
    std::vector<std::string> argv = {SACKER_BINARY, "--ledger", ledger_, "--store", store};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> full = {"HOME=" + home_.string(),
                                     "XDG_DATA_HOME=",
                                     "SACKER_CONFIG=",
                                     "SACKER_LEDGER=",
                                     "SACKER_STORE=",
                                     "HADOOP_USER_NAME=",
                                     "WEBHDFS_DELEGATION_TOKEN=",
                                     "WEBHDFS_CA_BUNDLE="};
    full.insert(full.end(), env.begin(), env.end());
    return run_process(argv, full, "", home_);
  }
  std::filesystem::path file(const std::string& name, std::size_t size, unsigned seed, std::string* sha = nullptr) {
    std::string s = write_random_file(home_ / name, size, seed);
    if (sha) *sha = s;
    return home_ / name;
  }
  const std::filesystem::path& home() const { return home_; }

 private:
  std::filesystem::path home_;
  std::string ledger_;
};

inline std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace sacker::test
