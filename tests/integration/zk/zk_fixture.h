// The fixture of the ZooKeeper integration tests against the standalone test server
// (fixture server_zookeeper): a fresh chroot per test, records, and raw C-client
// access to plant legacy or hostile znodes.
#pragma once

#define THREADED 1
#include <fmt/core.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "ledger/zk_ledger.h"
#include "sacker/error.h"
#include "support/records.h"
#include "support/test_env.h"

namespace zktest {

class ZkFault : public ::testing::Test {
 protected:
  void SetUp() override {
    sacker::test::load_test_env();
    const char* hosts = std::getenv("ZK_HOSTS");
    ASSERT_TRUE(hosts && *hosts) << "ZK_HOSTS missing: set SACKER_TEST_ENV_FILE (ctest does)";
    hosts_ = hosts;
    port_ = std::stoi(hosts_.substr(hosts_.rfind(':') + 1));
    chroot_ =
        fmt::format("/zkfault-{}-{}", ::getpid(), ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  std::string uri(const std::string& hosts, const std::string& query = "") const {
    return fmt::format("zk://{}{}{}", hosts, chroot_, query);
  }
  std::unique_ptr<sacker::Ledger> open(const std::string& hosts, const std::string& query = "") {
    return sacker::open_zk_ledger(sacker::parse_uri(uri(hosts, query)));
  }
  static sacker::VersionRecord record(const std::string& sha_prefix) {
    sacker::VersionRecord r;
    r.package = "app";
    r.sha256 = sha_prefix + std::string(64 - sha_prefix.size(), '0');
    r.size = 7;
    r.basename = "app.bin";
    r.created = 1700000000;
    return r;
  }
  static sacker::ChangeContext context(const std::string& comment) {
    sacker::ChangeContext ctx;
    ctx.time = 1764600000;
    ctx.actor = "tester";
    ctx.comment = comment;
    return ctx;
  }
  static int count_new_sessions(const std::vector<std::int64_t>& ids) {
    return static_cast<int>(std::count(ids.begin(), ids.end(), 0));
  }
  std::string package_node() const { return chroot_ + "/packages/app"; }

  std::string hosts_, chroot_;
  int port_ = 0;
};

// Raw C-client access, optionally with digest credentials ("user:password").
class RawZk {
 public:
  explicit RawZk(const std::string& hosts, const std::string& auth = "") {
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    zh_ = zookeeper_init(hosts.c_str(), nullptr, 10000, nullptr, nullptr, 0);
    for (int i = 0; i < 400 && zoo_state(zh_) != ZOO_CONNECTED_STATE; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    if (!auth.empty()) zoo_add_auth(zh_, "digest", auth.data(), static_cast<int>(auth.size()), nullptr, nullptr);
  }
  ~RawZk() { zookeeper_close(zh_); }
  int set(const std::string& path, const std::string& data) {
    return zoo_set(zh_, path.c_str(), data.data(), static_cast<int>(data.size()), -1);
  }
  int create(const std::string& path, const std::string& data) {
    return zoo_create(zh_, path.c_str(), data.empty() ? nullptr : data.data(),
                      data.empty() ? -1 : static_cast<int>(data.size()), &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, nullptr,
                      0);
  }
  // The node's data, or "" with *rc set (ZNONODE, ZNOAUTH ...).
  std::string get(const std::string& path, int* rc = nullptr) {
    std::string buffer(1 << 20, '\0');
    int len = static_cast<int>(buffer.size());
    int r = zoo_get(zh_, path.c_str(), 0, buffer.data(), &len, nullptr);
    if (rc) *rc = r;
    buffer.resize(r == ZOK && len > 0 ? static_cast<std::size_t>(len) : 0);
    return buffer;
  }
  std::vector<std::string> children(const std::string& path) {
    String_vector names{};
    std::vector<std::string> out;
    if (zoo_get_children(zh_, path.c_str(), 0, &names) == ZOK)
      for (int i = 0; i < names.count; ++i) out.emplace_back(names.data[i]);
    deallocate_String_vector(&names);
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  zhandle_t* zh_;
};

template <typename F>
inline std::string invalid_message(F&& f) {
  try {
    f();
  } catch (const sacker::Error& e) {
    if (e.kind() == sacker::ErrorKind::Invalid) return e.what();
    return fmt::format("wrong kind {}: {}", sacker::kind_name(e.kind()), e.what());
  }
  return "no error";
}

using sacker::test::kind_of;

}  // namespace zktest
