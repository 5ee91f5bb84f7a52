// Fault tests of the ZooKeeper ledger against a real server (fixture
// server_zookeeper): lost replies, lost requests, session expiry, unreachable
// servers, hostile znodes, ACLs, bad URIs. The conformance suite covers the rest.
#include "zk_fixture.h"
#include "zk_proxy.h"

namespace {

using sacker::Error;
using sacker::ErrorKind;
using sacker::EventAction;
using sacker::HistoryQuery;
using sacker::TagExpectation;
using sacker::VersionRecord;
using zktest::invalid_message;
using zktest::RawZk;
using zktest::ZkFault;
using zktest::ZkProxy;

// The server applies the add's multi but the reply is lost: the retry must find
// its own record by add id instead of adding a second version.
TEST_F(ZkFault, AddWhoseReplyIsLostIsRecordedOnce) {
  ZkProxy proxy(port_);
  auto ledger = open(fmt::format("127.0.0.1:{}", proxy.port()));
  ledger->init();
  proxy.arm(ZkProxy::Drop::Reply, std::string(8, 'e'), false);
  EXPECT_EQ(ledger->add(record(std::string(8, 'e'))), 1u);
  EXPECT_TRUE(proxy.wait_fired(std::chrono::milliseconds(0))) << "the proxy never saw the add";
  EXPECT_EQ(ledger->versions("app"), (std::vector<std::uint64_t>{1}));
  auto h = ledger->history("app", {});
  ASSERT_EQ(h.size(), 1u) << "the event was written by the same multi, once";
  EXPECT_EQ(h[0].action, EventAction::Add);
  EXPECT_EQ(h[0].version, 1u);
  EXPECT_EQ(ledger->add(record("ab")), 2u);
  EXPECT_EQ(ledger->history("app", {}).front().seq, 2u) << "no seq was skipped";
  auto ids = proxy.connect_sessions();
  EXPECT_EQ(count_new_sessions(ids), 1) << "the session should have been resumed";
  EXPECT_GE(ids.size(), 2u) << "the client never reconnected";
}

// The request never reaches the server: the retry must add it (exactly once).
TEST_F(ZkFault, AddWhoseRequestIsLostIsRetried) {
  ZkProxy proxy(port_);
  auto ledger = open(fmt::format("127.0.0.1:{}", proxy.port()));
  ledger->init();
  ASSERT_EQ(ledger->add(record("01")), 1u);
  proxy.arm(ZkProxy::Drop::Request, std::string(8, 'd'), false);
  EXPECT_EQ(ledger->add(record(std::string(8, 'd'))), 2u);
  EXPECT_TRUE(proxy.wait_fired(std::chrono::milliseconds(0)));
  EXPECT_EQ(ledger->versions("app"), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(ledger->get("app", 2)->sha256, record(std::string(8, 'd')).sha256);
  auto h = ledger->history("app", {});
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].version, 2u);
  EXPECT_EQ(h[0].seq, 2u);
}

// The reply is lost and the client stays away longer than the session timeout:
// the server expires the session, the ledger opens a new one and still finds
// the add that committed in the old session.
TEST_F(ZkFault, AddAcrossSessionExpiryIsRecordedOnce) {
  ZkProxy proxy(port_);
  auto ledger = open(fmt::format("127.0.0.1:{}", proxy.port()), "?session_timeout=2");
  ledger->init();
  proxy.arm(ZkProxy::Drop::Reply, std::string(8, 'c'), true);
  std::uint64_t got = 0;
  std::string error;
  std::thread adder([&] {
    try {
      got = ledger->add(record(std::string(8, 'c')));
    } catch (const Error& e) {
      error = e.what();
    }
  });
  bool fired = proxy.wait_fired(std::chrono::seconds(60));
  // The outage itself: twice the 2 s session timeout, so the server expires it.
  if (fired) std::this_thread::sleep_for(std::chrono::seconds(5));
  proxy.set_refusing(false);
  adder.join();
  ASSERT_TRUE(fired) << "the proxy never saw the add";
  ASSERT_EQ(error, "");
  EXPECT_EQ(got, 1u);
  EXPECT_EQ(ledger->versions("app"), (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(ledger->history("app", {}).size(), 1u);
  auto ids = proxy.connect_sessions();
  EXPECT_EQ(count_new_sessions(ids), 2) << "expected the first session and one after expiry";
  EXPECT_EQ(ids.back(), 0) << "the last connection should have started a new session";
}

// A remove whose reply is lost still reports that it removed the version.
TEST_F(ZkFault, RemoveWhoseReplyIsLostReportsRemoved) {
  ZkProxy proxy(port_);
  auto ledger = open(fmt::format("127.0.0.1:{}", proxy.port()));
  ASSERT_EQ(ledger->add(record("01")), 1u);
  ASSERT_EQ(ledger->add(record("02")), 2u);
  proxy.arm(ZkProxy::Drop::Reply, "lost-remove", false);
  auto removed = ledger->remove_version("app", 2, context("lost-remove"));
  EXPECT_TRUE(proxy.wait_fired(std::chrono::milliseconds(0)));
  ASSERT_TRUE(removed.has_value()) << "the retry finds the event its lost multi wrote";
  EXPECT_EQ(removed->action, EventAction::Remove);
  EXPECT_EQ(ledger->versions("app"), (std::vector<std::uint64_t>{1}));
  auto h = ledger->history("app", {});
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0], *removed);
  EXPECT_EQ(ledger->add(record("03")), 3u) << "a removed number must not be reused";
}

TEST_F(ZkFault, UnreachableServerIsUnavailableWithinTheTimeout) {
  ZkProxy proxy(port_);
  proxy.set_refusing(true);
  auto ledger = open(fmt::format("127.0.0.1:{}", proxy.port()), "?connect_timeout=2");
  auto t0 = std::chrono::steady_clock::now();
  try {
    ledger->versions("app");
    FAIL() << "expected Error(Unavailable)";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Unavailable) << e.what();
    EXPECT_NE(std::string(e.what()).find(fmt::format("zookeeper 127.0.0.1:{}: not reachable", proxy.port())),
              std::string::npos)
        << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
}

TEST_F(ZkFault, HostileZnodesAreInvalidAndNamed) {
  auto ledger = open(hosts_);
  ASSERT_EQ(ledger->add(record("01")), 1u);
  ASSERT_EQ(ledger->add(record("02")), 2u);
  ledger->set_tag("app", "live", 1);
  RawZk raw(hosts_);
  const std::string pkg = chroot_ + "/packages/app";
  // a record that claims to be another version
  auto r2 = record("02");
  r2.version = 7;
  ASSERT_EQ(raw.set(pkg + "/versions/00000000000000000002", sacker::record_to_json(r2)), ZOK);
  EXPECT_NE(invalid_message([&] { ledger->records("app"); }).find("version 7"), std::string::npos);
  ASSERT_EQ(raw.set(pkg + "/versions/00000000000000000001", R"({"package":"app","version":1,"sha256":"zz"})"), ZOK);
  EXPECT_NE(invalid_message([&] { ledger->get("app", 1); }).find("/versions/00000000000000000001"), std::string::npos);
  ASSERT_EQ(raw.set(pkg + "/tags/live", "../../x"), ZOK);
  EXPECT_NE(invalid_message([&] { ledger->tag("app", "live"); }).find("/tags/live"), std::string::npos);
  ASSERT_EQ(raw.create(pkg + "/versions/..x", ""), ZOK);
  EXPECT_NE(invalid_message([&] { ledger->versions("app"); }).find("..x"), std::string::npos);
  ASSERT_EQ(raw.create(chroot_ + "/packages/.hidden", ""), ZOK);
  EXPECT_NE(invalid_message([&] { ledger->packages(); }).find(".hidden"), std::string::npos);
  ASSERT_EQ(raw.set(pkg + "/next", "-5"), ZOK);
  EXPECT_NE(invalid_message([&] { ledger->add(record("03")); }).find("/next"), std::string::npos);
}

TEST_F(ZkFault, OtherCredentialsAreDenied) {
  auto owner = open("alice:secret1@" + hosts_);
  ASSERT_EQ(owner->add(record("01")), 1u);
  for (const std::string& who : {std::string("mallory:guess@"), std::string()}) {
    auto other = open(who + hosts_);
    try {
      other->versions("app");
      FAIL() << "expected Error(Denied) for '" << who << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Denied) << e.what();
      EXPECT_EQ(std::string(e.what()).find("guess"), std::string::npos) << "password leaked: " << e.what();
    }
  }
  EXPECT_EQ(owner->versions("app"), (std::vector<std::uint64_t>{1}));
}

TEST(ZkUri, BadUrisAreInvalid) {
  for (const char* text :
       {"zk://127.0.0.1:2181", "zk://127.0.0.1:2181/", "zk://127.0.0.1/x", "zk:///x", "zk://127.0.0.1:2181,/x",
        "zk://127.0.0.1:99999/x", "zk://127.0.0.1:2181/a//b", "zk://127.0.0.1:2181/a/../b",
        "zk://127.0.0.1:2181/zookeeper/x", "zk://127.0.0.1:2181/x?timeout=3", "zk://127.0.0.1:2181/x?session_timeout=0",
        "zk://user@127.0.0.1:2181/x"}) {
    try {
      sacker::open_zk_ledger(sacker::parse_uri(text));
      ADD_FAILURE() << text << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Invalid) << text << ": " << e.what();
    }
  }
  auto ledger = sacker::open_zk_ledger(sacker::parse_uri("zk://bob:hunter2@127.0.0.1:2181,127.0.0.1:2182/a/b/"));
  EXPECT_EQ(ledger->describe().find("hunter2"), std::string::npos) << ledger->describe();
}

}  // namespace
