// etcd ledger tests beyond the conformance suite, against the server_etcd fixture.
// Each test works under its own key prefix. Raw reads and writes go through the
// v3 JSON gateway with OpenSSL's base64 (a second opinion on the ledger's own).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <latch>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "net/http.h"
#include "sacker/backends.h"
#include "sacker/error.h"
#include "sacker/record.h"
#include "sacker/sha256.h"
#include "support/legacy_cli.h"
#include "support/process.h"
#include "support/records.h"
#include "support/test_env.h"

namespace sacker {
namespace {

using nlohmann::json;

std::string b64(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string unb64(const std::string& in) {
  std::string out(in.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  if (n < 0) throw std::runtime_error("bad base64 from etcd");
  std::size_t pad = 0;
  for (auto it = in.rbegin(); it != in.rend() && *it == '='; ++it) ++pad;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

// Talks to etcd directly, behind the ledger's back.
class RawEtcd {
 public:
  explicit RawEtcd(std::string addr) : addr_(std::move(addr)) {}
  json post(const std::string& path, const json& body) {
    net::HttpRequest req;
    req.method = "POST";
    req.url = "http://" + addr_ + "/v3/" + path;
    req.body = body.dump();
    if (!token_.empty()) req.headers.emplace_back("Authorization", token_);
    auto resp = http_.send(req);
    if (resp.status != 200) throw std::runtime_error(path + ": HTTP " + std::to_string(resp.status) + " " + resp.body);
    return json::parse(resp.body);
  }
  void put(const std::string& key, const std::string& value) {
    post("kv/put", {{"key", b64(key)}, {"value", b64(value)}});
  }
  void del(const std::string& key) { post("kv/deleterange", {{"key", b64(key)}}); }
  std::map<std::string, std::string> under(const std::string& prefix) {
    std::string end = prefix;
    end.back() = static_cast<char>(end.back() + 1);
    json res = post("kv/range", {{"key", b64(prefix)}, {"range_end", b64(end)}});
    std::map<std::string, std::string> out;
    for (const auto& kv : res.value("kvs", json::array()))
      out[unb64(kv.at("key").get<std::string>())] = unb64(kv.value("value", ""));
    return out;
  }
  void login(const std::string& user, const std::string& password) {
    token_ = post("auth/authenticate", {{"name", user}, {"password", password}}).at("token").get<std::string>();
  }

 private:
  std::string addr_;
  std::string token_;
  net::HttpClient http_;
};

VersionRecord sample(const std::string& package, int n) {
  VersionRecord r;
  r.package = package;
  std::string content = package + "#" + std::to_string(n);
  r.sha256 = Sha256::hex_of(content.data(), content.size());
  r.size = static_cast<std::uint64_t>(n);
  r.basename = "a-" + std::to_string(n) + ".bin";
  r.created = 1700000000 + n;
  r.metadata = {{"n", std::to_string(n)}};
  return r;
}

using test::kind_of;

// A port on 127.0.0.1 that nothing listens on (bound, then closed).
int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// An HTTP proxy in front of etcd that forwards each request on a fresh upstream
// connection and, for the requests `drop` picks, waits for etcd's whole answer
// (so the request has taken effect) and then closes the client's connection
// without sending it: a response lost on the way back. With `before` it closes
// the client's connection before forwarding instead: a request lost on the way there.
class LosingProxy {
 public:
  LosingProxy(int upstream_port, std::function<bool(const std::string&)> drop, int drops, bool before = false)
      : upstream_port_(upstream_port), drop_(std::move(drop)), drops_left_(drops), before_(before) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 16) != 0)
      throw std::runtime_error("proxy: cannot listen");
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~LosingProxy() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  int port() const { return port_; }
  int dropped() const { return dropped_; }
  int forwarded() const { return forwarded_; }

 private:
  void run() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int client = ::accept(listen_fd_, nullptr, nullptr);
      if (client < 0) continue;
      serve(client);
      ::close(client);
    }
  }

  static bool read_request(int fd, std::string& request) {
    std::size_t header_end = std::string::npos;
    std::size_t need = 0;
    char buf[8192];
    for (;;) {
      if (header_end == std::string::npos) {
        header_end = request.find("\r\n\r\n");
        if (header_end != std::string::npos) {
          std::string lower = request.substr(0, header_end);
          for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          auto cl = lower.find("content-length:");
          need = header_end + 4 + (cl == std::string::npos ? 0 : std::stoul(lower.substr(cl + 15)));
        }
      }
      if (header_end != std::string::npos && request.size() >= need) return true;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 2000) <= 0) return false;
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return false;
      request.append(buf, static_cast<std::size_t>(n));
    }
  }

  void serve(int client) {
    for (;;) {
      std::string request;
      if (!read_request(client, request)) return;
      if (before_ && drops_left_ > 0 && drop_(request)) {
        --drops_left_;
        ++dropped_;
        return;
      }
      // One upstream connection per request; etcd closes it after answering.
      request.insert(request.find("\r\n") + 2, "Connection: close\r\n");
      int up = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<std::uint16_t>(upstream_port_));
      if (::connect(up, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(up);
        return;
      }
      ::send(up, request.data(), request.size(), MSG_NOSIGNAL);
      std::string response;
      char buf[8192];
      for (ssize_t n; (n = ::recv(up, buf, sizeof buf, 0)) > 0;) response.append(buf, static_cast<std::size_t>(n));
      ::close(up);
      if (!before_ && drops_left_ > 0 && drop_(request)) {
        --drops_left_;
        ++dropped_;
        return;  // the client's connection closes with no answer
      }
      ++forwarded_;
      ::send(client, response.data(), response.size(), MSG_NOSIGNAL);
      return;  // the answer says "Connection: close"
    }
  }

  int upstream_port_;
  std::function<bool(const std::string&)> drop_;
  std::atomic<int> drops_left_;
  bool before_;
  std::atomic<int> dropped_{0}, forwarded_{0};
  std::atomic<bool> stop_{false};
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

class EtcdLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test::load_test_env();
    const char* addr = std::getenv("ETCD_ADDR");
    ASSERT_TRUE(addr && *addr) << "ETCD_ADDR is not set: run through ctest (fixture server_etcd)";
    addr_ = addr;
    port_ = std::stoi(addr_.substr(addr_.rfind(':') + 1));
    prefix_ = "it-" + test::unique_token();
    uri_ = "etcd://" + addr_ + "/" + prefix_;
    ledger_ = open_ledger(uri_);
    raw_.emplace(addr_);
  }
  std::string key(const std::string& rest) const { return prefix_ + "/" + rest; }
  static std::string v20(int v) {
    std::string s = std::to_string(v);
    return std::string(20 - s.size(), '0') + s;
  }

  std::string addr_;
  int port_ = 0;
  std::string prefix_, uri_;
  std::unique_ptr<Ledger> ledger_;
  std::optional<RawEtcd> raw_;
};

TEST_F(EtcdLedgerTest, KeyLayoutIsAsDocumented) {
  ledger_->init();
  ASSERT_EQ(ledger_->add(sample("app", 1)), 1u);
  ASSERT_EQ(ledger_->add(sample("app", 2)), 2u);
  ASSERT_EQ(ledger_->add(sample("lib", 1)), 1u);
  ChangeContext ctx;
  ctx.time = 1764600000;
  ctx.actor = "alice";
  ctx.sign_event = [](const Event&) { return std::vector<std::string>{R"({"keyid":"k"})"}; };
  ASSERT_TRUE(ledger_->set_tag("app", "live", 1, TagExpectation::absent(), ctx));
  ASSERT_TRUE(ledger_->remove_version("app", 2));

  auto keys = raw_->under(prefix_ + "/");
  std::vector<std::string> names;
  for (const auto& [k, v] : keys) names.push_back(k);
  std::vector<std::string> expected = {key("counters/app"),
                                       key("counters/lib"),
                                       key("format"),
                                       key("packages/app/events/" + v20(1)),
                                       key("packages/app/events/" + v20(2)),
                                       key("packages/app/events/" + v20(3)),
                                       key("packages/app/events/" + v20(4)),
                                       key("packages/app/seq"),
                                       key("packages/app/t/live"),
                                       key("packages/app/v/" + v20(1)),
                                       key("packages/lib/events/" + v20(1)),
                                       key("packages/lib/seq"),
                                       key("packages/lib/v/" + v20(1))};
  EXPECT_EQ(names, expected);
  EXPECT_EQ(keys[key("format")], "sacker-etcd-ledger 2");
  EXPECT_EQ(keys[key("counters/app")], "3") << "the counter stays above the removed highest version";
  EXPECT_EQ(keys[key("counters/lib")], "2");
  EXPECT_EQ(keys[key("packages/app/seq")], "5");
  EXPECT_EQ(json::parse(keys[key("packages/app/t/live")]),
            json::parse(R"({"version":1,"seq":3,"signatures":[{"keyid":"k"}]})"));
  json record = json::parse(keys[key("packages/app/v/" + v20(1))]);
  EXPECT_EQ(record.at("package"), "app");
  EXPECT_EQ(record.at("version"), 1);
  EXPECT_EQ(record.at("sha256"), sample("app", 1).sha256);
  EXPECT_EQ(record.at("created"), "2023-11-14T22:13:21Z");
  EXPECT_FALSE(record.contains("add_id"));
  json tagged = json::parse(keys[key("packages/app/events/" + v20(3))]);
  EXPECT_EQ(tagged.at("seq"), 3);
  EXPECT_EQ(tagged.at("action"), "tag");
  EXPECT_EQ(tagged.at("actor"), "alice");
  EXPECT_EQ(tagged.at("time"), "2025-12-01T14:40:00Z");
  EXPECT_EQ(tagged.at("signatures"), json::parse(R"([{"keyid":"k"}])"));
  EXPECT_TRUE(tagged.at("op").is_string()) << "the writing attempt's id";
  json removed = json::parse(keys[key("packages/app/events/" + v20(4))]);
  EXPECT_EQ(removed.at("action"), "remove");
  EXPECT_EQ(removed.at("version"), 2);
}

TEST_F(EtcdLedgerTest, WorksWithoutInit) {
  EXPECT_TRUE(ledger_->packages().empty());
  EXPECT_EQ(ledger_->add(sample("first", 1)), 1u);
  EXPECT_EQ(ledger_->packages(), std::vector<std::string>{"first"});
  ledger_->init();  // afterwards, still fine
  EXPECT_EQ(ledger_->versions("first"), std::vector<std::uint64_t>{1});
}

TEST_F(EtcdLedgerTest, InitRefusesAPrefixUsedBySomethingElse) {
  raw_->put(key("format"), "someone else's data");
  std::string msg;
  EXPECT_EQ(kind_of([&] { ledger_->init(); }, &msg), ErrorKind::Invalid);
  EXPECT_NE(msg.find(key("format")), std::string::npos) << msg;
}

// Content written behind the ledger's back is Invalid, names the key, and never
// reads as "absent".
TEST_F(EtcdLedgerTest, HostileContentIsInvalidAndNamesTheKey) {
  struct Case {
    std::string key, value;
    std::function<void(Ledger&)> op;
  };
  const std::string good = json::parse(R"({"package":"p","version":1,"sha256":")" + sample("p", 1).sha256 +
                                       R"(","basename":"x","mode":420,"created":"2023-11-14T22:13:21Z"})")
                               .dump();
  auto with = [&](const char* field, json value) {
    json j = json::parse(good);
    j[field] = std::move(value);
    return j.dump();
  };
  const std::string event = R"({"seq":1,"time":"2025-12-01T14:40:00Z","action":"add","package":"p","version":1})";
  auto event_with = [&](const char* field, json value) {
    json j = json::parse(event);
    j[field] = std::move(value);
    return j.dump();
  };
  std::vector<Case> cases = {
      {"packages/p/v/" + v20(1), "not json", [](Ledger& l) { l.get("p", 1); }},
      {"packages/p/v/" + v20(1), "not json", [](Ledger& l) { l.records("p"); }},
      {"packages/p/v/" + v20(1), with("package", "q"), [](Ledger& l) { l.get("p", 1); }},
      {"packages/p/v/" + v20(1), with("version", 2), [](Ledger& l) { l.records("p"); }},
      {"packages/p/v/" + v20(1), with("sha256", "zz"), [](Ledger& l) { l.get("p", 1); }},
      {"packages/p/v/" + v20(1), with("basename", "../../etc/passwd"), [](Ledger& l) { l.get("p", 1); }},
      {"packages/p/v/" + v20(1), with("mode", 99999), [](Ledger& l) { l.records("p"); }},
      {"packages/p/v/" + v20(1), with("signatures", json::array({"not an object"})), [](Ledger& l) { l.get("p", 1); }},
      {"packages/p/v/12", good, [](Ledger& l) { l.versions("p"); }},
      {"packages/p/v/0000000000000000000x", good, [](Ledger& l) { l.latest("p"); }},
      {"packages/p/v/99999999999999999999", good, [](Ledger& l) { l.latest("p"); }},
      {"counters/p", "many", [](Ledger& l) { l.add(sample("p", 1)); }},
      {"counters/p", "-3", [](Ledger& l) { l.add(sample("p", 1)); }},
      {"counters/p", "99999999999999999999", [](Ledger& l) { l.add(sample("p", 1)); }},
      {"counters/.hidden", "1", [](Ledger& l) { l.packages(); }},
      {"packages/p/t/live", "two", [](Ledger& l) { l.tag("p", "live"); }},
      {"packages/p/t/live", "0", [](Ledger& l) { l.tags("p"); }},
      {"packages/p/t/live", R"({"version":1,"seq":-1,"signatures":[]})", [](Ledger& l) { l.tags("p"); }},
      {"packages/p/t/live", R"({"version":1,"seq":1,"signatures":[5]})", [](Ledger& l) { l.tag_value("p", "live"); }},
      {"packages/p/t/live", R"({"seq":1,"signatures":[]})", [](Ledger& l) { l.tag_values("p"); }},
      {"packages/p/t/live", R"({"version":9223372036854775808,"seq":1})", [](Ledger& l) { l.tags("p"); }},
      {"packages/p/t/123", "1", [](Ledger& l) { l.tags("p"); }},
      {"packages/p/t/latest", "1", [](Ledger& l) { l.tags("p"); }},
      {"packages/p/seq", "x", [](Ledger& l) { l.add(sample("p", 1)); }},
      {"packages/p/seq", "-1",
       [](Ledger& l) {
         l.put_event(Event{0, 1, "a", EventAction::Import, "p"});
       }},
      {"packages/p/events/" + v20(1), "not json", [](Ledger& l) { l.history("p", {}); }},
      {"packages/p/events/" + v20(2), event, [](Ledger& l) { l.history("p", {}); }},
      {"packages/p/events/1", event, [](Ledger& l) { l.history("p", {}); }},
      {"packages/p/events/" + v20(1), event_with("package", "q"), [](Ledger& l) { l.history("p", {}); }},
      {"packages/p/events/" + v20(1), event_with("actor", "evil\x1b[2J"), [](Ledger& l) { l.history("p", {}); }},
  };

  for (std::size_t i = 0; i < cases.size(); ++i) {
    const std::string prefix = prefix_ + "-" + std::to_string(i);
    raw_->put(prefix + "/" + cases[i].key, cases[i].value);
    auto ledger = open_ledger("etcd://" + addr_ + "/" + prefix);
    std::string msg;
    EXPECT_EQ(kind_of([&] { cases[i].op(*ledger); }, &msg), ErrorKind::Invalid) << "case " << i << ": " << msg;
    EXPECT_NE(msg.find(cases[i].key), std::string::npos) << "case " << i << " should name the key: " << msg;
  }
}

TEST_F(EtcdLedgerTest, DownServerIsUnavailableAndSaysWhereWithoutSecrets) {
  const int port = closed_port();
  auto down = open_ledger("etcd://ci:hunter2@127.0.0.1:" + std::to_string(port) + "/x");
  const auto start = std::chrono::steady_clock::now();
  std::string msg;
  EXPECT_EQ(kind_of([&] { down->versions("p"); }, &msg), ErrorKind::Unavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(15));
  EXPECT_NE(msg.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << msg;
  EXPECT_EQ(msg.find("hunter2"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
  EXPECT_EQ(down->describe().find("hunter2"), std::string::npos);
  EXPECT_EQ(kind_of([&] { down->add(sample("p", 1)); }), ErrorKind::Unavailable);
}

// etcd's peer port answers HTTP but has no v3 gateway: that is not an empty ledger.
TEST_F(EtcdLedgerTest, AServerThatIsNotTheGatewayIsNotAnEmptyLedger) {
  auto peer = open_ledger("etcd://127.0.0.1:" + std::to_string(port_ + 1) + "/x");
  EXPECT_EQ(kind_of([&] { peer->versions("p"); }), ErrorKind::Unavailable);
  EXPECT_EQ(kind_of([&] { peer->get("p", 1); }), ErrorKind::Unavailable);
}

TEST_F(EtcdLedgerTest, TheNextEndpointTakesOverWhenOneIsDown) {
  auto two = open_ledger("etcd://127.0.0.1:" + std::to_string(closed_port()) + "," + addr_ + "/" + prefix_);
  EXPECT_EQ(two->add(sample("p", 1)), 1u);
  EXPECT_EQ(two->add(sample("p", 2)), 2u);
  EXPECT_EQ(ledger_->versions("p"), (std::vector<std::uint64_t>{1, 2}));
}

TEST_F(EtcdLedgerTest, BadUrisAreInvalid) {
  for (std::string bad :
       {"etcd:///prefix", "etcd://host:port/x", "etcd://host:99999999/x", "etcd://127.0.0.1:2379/x?bogus=1",
        "etcd://127.0.0.1:2379,/x", "etcd://127.0.0.1:2379/x?ca=", "etcd://127.0.0.1:2379/x?tls=0&ca=/ca.pem",
        "etcd://127.0.0.1:2379/x?tls=maybe", "etcd://u:p%zz@127.0.0.1:2379/x"}) {
    EXPECT_EQ(kind_of([&] { open_ledger(bad); }), ErrorKind::Invalid) << bad;
  }
}

// Picks each txn that writes, once: the HTTP layer's repetition of it goes through.
std::function<bool(const std::string&)> first_try_of_each_write() {
  return [seen = std::set<std::string>()](const std::string& request) mutable {
    return request.find("/v3/kv/txn") != std::string::npos && request.find("request_put") != std::string::npos &&
           seen.insert(request).second;
  };
}

// The HTTP layer repeats a txn whose answer was lost; the ledger must see that its
// own write went through instead of adding the record a second time.
TEST_F(EtcdLedgerTest, ALostAddResponseDoesNotAddTwice) {
  LosingProxy proxy(port_, first_try_of_each_write(), 2);
  auto ledger = open_ledger("etcd://127.0.0.1:" + std::to_string(proxy.port()) + "/" + prefix_);
  EXPECT_EQ(ledger->add(sample("p", 1)), 1u);
  EXPECT_EQ(ledger->add(sample("p", 2)), 2u);
  EXPECT_EQ(proxy.dropped(), 2);
  EXPECT_EQ(ledger_->versions("p"), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(ledger_->get("p", 2)->metadata.at("n"), "2");
  EXPECT_EQ(ledger->add(sample("p", 3)), 3u);
  EXPECT_EQ(ledger_->history("p", {}).size(), 3u) << "one event per add";
}

TEST_F(EtcdLedgerTest, ALostRemoveResponseStillReportsTheRemoval) {
  ledger_->add(sample("p", 1));
  ledger_->add(sample("p", 2));
  LosingProxy proxy(
      port_, [](const std::string& r) { return r.find("request_delete_range") != std::string::npos; }, 1);
  auto ledger = open_ledger("etcd://127.0.0.1:" + std::to_string(proxy.port()) + "/" + prefix_);
  EXPECT_TRUE(ledger->remove_version("p", 1));
  EXPECT_EQ(proxy.dropped(), 1);
  EXPECT_EQ(ledger_->versions("p"), std::vector<std::uint64_t>{2});
  EXPECT_FALSE(ledger->remove_version("p", 1));
}

TEST_F(EtcdLedgerTest, ALostImportResponseIsNotAConflict) {
  LosingProxy proxy(port_, first_try_of_each_write(), 1);
  auto ledger = open_ledger("etcd://127.0.0.1:" + std::to_string(proxy.port()) + "/" + prefix_);
  VersionRecord r = sample("p", 1);
  r.version = 17;
  ledger->put_record(r);
  EXPECT_EQ(proxy.dropped(), 1);
  EXPECT_EQ(ledger_->get("p", 17), r);
  EXPECT_EQ(ledger_->add(sample("p", 2)), 18u);
  // An event the ledger numbers (seq 0) is written once although its answer is lost.
  LosingProxy again(port_, first_try_of_each_write(), 1);
  auto through = open_ledger("etcd://127.0.0.1:" + std::to_string(again.port()) + "/" + prefix_);
  Event note{0, 1764600000, "importer", EventAction::Import, "p", 17};
  through->put_event(note);
  EXPECT_EQ(again.dropped(), 1);
  auto h = ledger_->history("p", {});
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].action, EventAction::Import);
  EXPECT_EQ(h[0].seq, 2u);
}

// Format 1 could report "no such tag" for an untag whose answer was lost; now
// the failure branch shows the attempt's own event, so both say what happened.
TEST_F(EtcdLedgerTest, LostTagAndUntagResponsesReportTheChangeAndWriteOneEventEach) {
  ledger_->add(sample("p", 1));
  LosingProxy proxy(port_, first_try_of_each_write(), 2);
  auto ledger = open_ledger("etcd://127.0.0.1:" + std::to_string(proxy.port()) + "/" + prefix_);
  auto tagged = ledger->set_tag("p", "live", 1, TagExpectation::absent(), ChangeContext{});
  auto untagged = ledger->remove_tag("p", "live", TagExpectation::at(1), ChangeContext{});
  EXPECT_EQ(proxy.dropped(), 2);
  ASSERT_TRUE(tagged.has_value());
  ASSERT_TRUE(untagged.has_value());
  auto h = ledger_->history("p", {});
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0], *untagged);
  EXPECT_EQ(h[1], *tagged);
  EXPECT_FALSE(ledger_->tag("p", "live").has_value());
}

// Every write txn of `package` (they all put its seq key).
std::function<bool(const std::string&)> writes_of(const std::string& seq_key) {
  return [b = b64(seq_key)](const std::string& r) {
    return r.find("/v3/kv/txn") != std::string::npos && r.find("request_put") != std::string::npos &&
           r.find(b) != std::string::npos;
  };
}

// A connection killed in the middle of each change, before etcd saw the txn or
// after it applied it (and every repetition): the change and its event are there
// together or not at all.
TEST_F(EtcdLedgerTest, AConnectionKilledMidChangeLeavesTheChangeAndItsEventOrNeither) {
  ledger_->add(sample("p", 1));
  const std::string seq = key("packages/p/seq");
  auto state = [&] { return raw_->under(key("packages/p/")); };
  for (bool applied : {false, true}) {
    SCOPED_TRACE(applied ? "the answers are lost" : "the requests are lost");
    const auto before = state();
    LosingProxy proxy(port_, writes_of(seq), 1000, !applied);
    auto ledger = open_ledger("etcd://127.0.0.1:" + std::to_string(proxy.port()) + "/" + prefix_);
    const std::uint64_t next = before.count(seq) ? std::stoull(before.at(seq)) : 1;
    std::string msg;
    EXPECT_EQ(kind_of([&] { ledger->set_tag("p", applied ? "b" : "a", 1); }, &msg), ErrorKind::Unavailable) << msg;
    EXPECT_GE(proxy.dropped(), 1);
    auto after = state();
    if (!applied) {
      EXPECT_EQ(after, before) << "neither the tag nor an event";
      continue;
    }
    EXPECT_EQ(after.size(), before.size() + 2) << "the tag and exactly one event";
    EXPECT_EQ(after.at(seq), std::to_string(next + 1));
    EXPECT_EQ(json::parse(after.at(key("packages/p/t/b"))).at("seq"), next);
    EXPECT_EQ(json::parse(after.at(key("packages/p/events/" + v20(static_cast<int>(next))))).at("tag"), "b");
  }
}

// A ledger as format 1 left it (its documented layout: bare decimal tags, add_id in
// records, removed/ tombstones, no events): it keeps working, old tags report seq
// 0, its history starts with the first new change, and init upgrades the marker.
TEST_F(EtcdLedgerTest, AFormatOneLedgerKeepsWorkingAndItsHistoryStartsAtTheFirstNewChange) {
  json old = json::parse(record_to_json([] {
    VersionRecord r = sample("app", 1);
    r.version = 1;
    return r;
  }()));
  old["add_id"] = "0123456789abcdef0123456789abcdef-42";
  raw_->put(key("format"), "sacker-etcd-ledger 1");
  raw_->put(key("counters/app"), "3");
  raw_->put(key("packages/app/v/" + v20(1)), old.dump());
  raw_->put(key("packages/app/t/live"), "1");
  raw_->put(key("packages/app/removed/" + v20(2)), R"({"op":"0123-42"})");

  EXPECT_EQ(ledger_->packages(), std::vector<std::string>{"app"});
  test::expect_legacy_ledger_upgrades(*ledger_, sample("app", 3));
  ledger_->init();
  EXPECT_EQ(raw_->under(key("format")).at(key("format")), "sacker-etcd-ledger 2");
}

// The same with a ledger the previous release's CLI wrote (support/legacy_cli.h).
TEST_F(EtcdLedgerTest, ALedgerThePreviousCliWroteKeepsWorking) {
  if (!test::legacy_sacker()) GTEST_SKIP() << "SACKER_LEGACY_SACKER is not set";
  test::write_with_legacy_cli(uri_);
  test::expect_legacy_ledger_upgrades(*ledger_, sample("app", 3));
}

// remove_version and set_tag on the same version, started together, from two
// clients: exactly one of them wins, and a tag never points at a missing version.
TEST_F(EtcdLedgerTest, RemoveRacingTagNeverLeavesADanglingTag) {
  auto other = open_ledger(uri_);
  int tag_won = 0, remove_won = 0;
  for (int round = 1; round <= 60; ++round) {
    const auto v = ledger_->add(sample("race", round));
    std::latch go(2);
    ErrorKind tag_error = ErrorKind::Internal, remove_error = ErrorKind::Internal;
    bool tagged = false, removed = false;
    std::thread tagger([&] {
      go.arrive_and_wait();
      try {
        other->set_tag("race", "live", v);
        tagged = true;
      } catch (const Error& e) {
        tag_error = e.kind();
      }
    });
    std::thread remover([&] {
      go.arrive_and_wait();
      try {
        removed = ledger_->remove_version("race", v);
      } catch (const Error& e) {
        remove_error = e.kind();
      }
    });
    tagger.join();
    remover.join();
    ASSERT_NE(tagged, removed) << "round " << round << ": both or neither succeeded";
    if (tagged) {
      ++tag_won;
      EXPECT_EQ(remove_error, ErrorKind::Conflict) << round;
      EXPECT_TRUE(ledger_->get("race", v).has_value()) << round;
      EXPECT_EQ(ledger_->tag("race", "live"), v) << round;
    } else {
      ++remove_won;
      EXPECT_EQ(tag_error, ErrorKind::NotFound) << round;
      EXPECT_FALSE(ledger_->get("race", v).has_value()) << round;
      EXPECT_NE(ledger_->tag("race", "live"), v) << round;
    }
    if (auto live = ledger_->tag("race", "live")) EXPECT_TRUE(ledger_->get("race", *live).has_value());
  }
  std::printf("tag won %d rounds, remove won %d\n", tag_won, remove_won);
}

TEST_F(EtcdLedgerTest, MoreThanAPageOfVersionsAndTags) {
  const int n = 1005;  // the ledger reads 1000 keys per page
  for (int i = 1; i <= n; ++i) ASSERT_EQ(ledger_->add(sample("big", i)), static_cast<std::uint64_t>(i));
  for (int i = 1; i <= n; ++i) ledger_->set_tag("big", "t" + std::to_string(i), static_cast<std::uint64_t>(i));
  auto versions = ledger_->versions("big");
  ASSERT_EQ(versions.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) EXPECT_EQ(versions[static_cast<std::size_t>(i)], static_cast<std::uint64_t>(i + 1));
  auto records = ledger_->records("big");
  ASSERT_EQ(records.size(), static_cast<std::size_t>(n));
  EXPECT_EQ(records.back().metadata.at("n"), std::to_string(n));
  auto tags = ledger_->tags("big");
  ASSERT_EQ(tags.size(), static_cast<std::size_t>(n));
  EXPECT_EQ(tags.at("t1005"), 1005u);
  EXPECT_EQ(ledger_->latest("big"), static_cast<std::uint64_t>(n));
  // History pages downwards: 2n events, newest first; a tag filter and `before` across pages.
  auto history = ledger_->history("big", {});
  ASSERT_EQ(history.size(), static_cast<std::size_t>(2 * n));
  for (std::size_t i = 0; i < history.size(); ++i) EXPECT_EQ(history[i].seq, 2 * n - i) << i;
  auto first_tag = ledger_->history("big", HistoryQuery{std::string("t1"), 0, 0});
  ASSERT_EQ(first_tag.size(), 1u);
  EXPECT_EQ(first_tag[0].seq, static_cast<std::uint64_t>(n + 1));
  auto older = ledger_->history("big", HistoryQuery{std::nullopt, 1200, 1500});
  ASSERT_EQ(older.size(), 1200u);
  EXPECT_EQ(older.front().seq, 1499u);
  EXPECT_EQ(older.back().seq, 300u);
}

// A counter behind the versions (restored from an old backup, edited by hand)
// must not make add overwrite a record.
TEST_F(EtcdLedgerTest, ACounterBehindTheVersionsNeverOverwrites) {
  for (int i = 1; i <= 3; ++i) ledger_->add(sample("p", i));
  raw_->put(key("counters/p"), "2");
  auto fresh = open_ledger(uri_);
  EXPECT_EQ(fresh->add(sample("p", 4)), 4u);
  raw_->del(key("counters/p"));
  auto fresh2 = open_ledger(uri_);
  EXPECT_EQ(fresh2->add(sample("p", 5)), 5u);
  for (int i = 1; i <= 5; ++i)
    EXPECT_EQ(ledger_->get("p", static_cast<std::uint64_t>(i))->metadata.at("n"), std::to_string(i));
}

// A private etcd with auth enabled, started with the project's server script.
class EtcdAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::make_temp_dir("sacker-etcd-auth");
    script_ = std::string(SACKER_SOURCE_DIR) + "/scripts/servers/etcd.sh";
    auto started = test::run_process({"/bin/bash", script_, "start", (dir_ / "srv").string()});
    ASSERT_EQ(started.exit_code, 0) << started.err;
    std::string env = test::read_file(dir_ / "srv" / "env");
    auto at = env.find("ETCD_ADDR=");
    ASSERT_NE(at, std::string::npos);
    addr_ = env.substr(at + 10, env.find('\n', at) - at - 10);
    RawEtcd raw(addr_);
    raw.post("auth/user/add", {{"name", "root"}, {"password", "rootpw"}});
    raw.post("auth/role/add", {{"name", "root"}});
    raw.post("auth/user/grant", {{"user", "root"}, {"role", "root"}});
    raw.post("auth/user/add", {{"name", "deploy"}, {"password", "deploypw"}});
    raw.post("auth/role/add", {{"name", "reader"}});
    raw.post("auth/role/grant",
             {{"name", "reader"}, {"perm", {{"key", b64("l/")}, {"range_end", b64("l0")}, {"permType", "READ"}}}});
    raw.post("auth/user/grant", {{"user", "deploy"}, {"role", "reader"}});
    raw.post("auth/enable", json::object());
  }
  void TearDown() override {
    if (!script_.empty()) test::run_process({"/bin/bash", script_, "stop", (dir_ / "srv").string()});
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
  std::string script_, addr_;
};

TEST_F(EtcdAuthTest, CredentialsAndPermissionsAreEnforcedAsDenied) {
  auto root = open_ledger("etcd://root:rootpw@" + addr_ + "/l");
  root->init();
  EXPECT_EQ(root->add(sample("p", 1)), 1u);

  std::string msg;
  auto anonymous = open_ledger("etcd://" + addr_ + "/l");
  EXPECT_EQ(kind_of([&] { anonymous->versions("p"); }, &msg), ErrorKind::Denied) << msg;
  auto wrong = open_ledger("etcd://root:nope-secret@" + addr_ + "/l");
  EXPECT_EQ(kind_of([&] { wrong->versions("p"); }, &msg), ErrorKind::Denied) << msg;
  EXPECT_EQ(msg.find("nope-secret"), std::string::npos) << msg;

  auto deploy = open_ledger("etcd://deploy:deploypw@" + addr_ + "/l");
  EXPECT_EQ(deploy->versions("p"), std::vector<std::uint64_t>{1});
  EXPECT_EQ(deploy->packages(), std::vector<std::string>{"p"});
  EXPECT_EQ(kind_of([&] { deploy->add(sample("p", 2)); }), ErrorKind::Denied);
  EXPECT_EQ(kind_of([&] { deploy->set_tag("p", "live", 1); }), ErrorKind::Denied);
  auto elsewhere = open_ledger("etcd://deploy:deploypw@" + addr_ + "/other");
  EXPECT_EQ(kind_of([&] { elsewhere->versions("p"); }), ErrorKind::Denied) << "never 'absent'";

  ::setenv("ETCDCTL_USER", "root:rootpw", 1);
  auto from_env = open_ledger("etcd://" + addr_ + "/l");
  ::unsetenv("ETCDCTL_USER");
  EXPECT_EQ(from_env->add(sample("p", 2)), 2u);
}

}  // namespace
}  // namespace sacker
