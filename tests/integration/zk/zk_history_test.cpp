// History, compare-and-swap and import on a real ZooKeeper server, where only a real
// server shows it: an event written by the same multi as its change (lost replies
// and requests through a proxy, session expiry, a writer killed with SIGKILL at
// arbitrary points), a ledger in the layout written before history, percent-encoded
// credentials, hostile event and tag nodes, a change too large for one transaction.
#include <signal.h>

#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include "support/process.h"
#include "zk_fixture.h"
#include "zk_proxy.h"

namespace {

using sacker::Error;
using sacker::ErrorKind;
using sacker::Event;
using sacker::EventAction;
using sacker::HistoryQuery;
using sacker::ImportBatch;
using sacker::TagExpectation;
using sacker::TagValue;
using zktest::invalid_message;
using zktest::kind_of;
using zktest::RawZk;
using zktest::ZkFault;
using zktest::ZkProxy;

// The set_tag multi is applied but its reply is lost: the retry finds its own event
// (op_id) and returns it instead of moving the tag again or writing a second event.
TEST_F(ZkFault, TagWhoseReplyIsLostIsRecordedOnce) {
  ZkProxy proxy(port_);
  auto ledger = open(fmt::format("127.0.0.1:{}", proxy.port()));
  ASSERT_EQ(ledger->add(record("01")), 1u);
  ASSERT_EQ(ledger->add(record("02")), 2u);
  proxy.arm(ZkProxy::Drop::Reply, "lost-tag-reply", false);
  auto e = ledger->set_tag("app", "live", 2, TagExpectation::absent(), context("lost-tag-reply"));
  EXPECT_TRUE(proxy.wait_fired(std::chrono::milliseconds(0))) << "the proxy never saw the tag";
  ASSERT_TRUE(e.has_value()) << "an expectation of 'absent' must not fail on the tag its own lost multi set";
  EXPECT_EQ(e->seq, 3u);
  EXPECT_EQ(e->comment, "lost-tag-reply");
  EXPECT_EQ(*ledger->tag_value("app", "live"), (TagValue{2, 3, {}}));
  auto h = ledger->history("app", {});
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0], *e);
  EXPECT_EQ(count_new_sessions(proxy.connect_sessions()), 1) << "the session was resumed";
}

TEST_F(ZkFault, TagWhoseRequestIsLostIsRetriedOnce) {
  ZkProxy proxy(port_);
  auto ledger = open(fmt::format("127.0.0.1:{}", proxy.port()));
  ASSERT_EQ(ledger->add(record("01")), 1u);
  proxy.arm(ZkProxy::Drop::Request, "lost-tag-request", false);
  auto e = ledger->set_tag("app", "live", 1, TagExpectation::absent(), context("lost-tag-request"));
  EXPECT_TRUE(proxy.wait_fired(std::chrono::milliseconds(0)));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->seq, 2u);
  EXPECT_EQ(ledger->history("app", {}).size(), 2u);
  EXPECT_EQ(ledger->tag_value("app", "live")->seq, 2u);
}

// The untag's reply is lost and the client stays away until the server expired the
// session: a new session still finds the untag's event, and reports it once.
TEST_F(ZkFault, UntagAcrossSessionExpiryIsRecordedOnce) {
  ZkProxy proxy(port_);
  auto ledger = open(fmt::format("127.0.0.1:{}", proxy.port()), "?session_timeout=2");
  ASSERT_EQ(ledger->add(record("01")), 1u);
  ledger->set_tag("app", "live", 1);
  proxy.arm(ZkProxy::Drop::Reply, "lost-untag", true);
  std::optional<Event> got;
  std::string error;
  std::thread untagger([&] {
    try {
      got = ledger->remove_tag("app", "live", TagExpectation::at(1), context("lost-untag"));
    } catch (const Error& e) {
      error = e.what();
    }
  });
  bool fired = proxy.wait_fired(std::chrono::seconds(60));
  if (fired) std::this_thread::sleep_for(std::chrono::seconds(5));  // the outage: > 2 x the session timeout
  proxy.set_refusing(false);
  untagger.join();
  ASSERT_TRUE(fired);
  ASSERT_EQ(error, "") << "expect at(1) must not fail on the untag its own lost multi did";
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->action, EventAction::Untag);
  EXPECT_EQ(got->previous, 1u);
  EXPECT_FALSE(ledger->tag("app", "live").has_value());
  auto h = ledger->history("app", {});
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0], *got);
  EXPECT_EQ(count_new_sessions(proxy.connect_sessions()), 2) << "the first session and one after expiry";
}

// A writer killed (SIGKILL) at arbitrary points while it adds and moves tags: every
// change is in the history exactly once and nothing else is. Seqs are gap-free (a
// counter step without its event would leave a gap), each version has exactly one
// add event, and each tag's value names the newest event of that tag.
TEST_F(ZkFault, WriterKilledMidChangeLeavesChangesAndEventsInStep) {
  auto ledger = open(hosts_);
  ledger->init();
  for (int round = 0; round < 8; ++round) {
    const std::uint64_t before = ledger->latest("app").value_or(0);
    sacker::test::ChildProcess writer({ZK_WORKER, "churn", uri(hosts_), "app"});
    // Kill after a few changes; each round lands somewhere else within a change.
    const std::uint64_t target = before + 2 + static_cast<std::uint64_t>(round % 3);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (ledger->latest("app").value_or(0) < target && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::microseconds(200 * (round + 1)));
    ASSERT_EQ(::kill(writer.pid(), SIGKILL), 0);
    auto result = writer.wait();
    ASSERT_EQ(result.exit_code, 128 + SIGKILL) << result.err;
  }
  auto h = ledger->history("app", {});
  ASSERT_FALSE(h.empty());
  std::printf("[zk kill] 8 writers killed; %zu versions, %zu events\n", ledger->versions("app").size(), h.size());
  for (std::size_t i = 0; i < h.size(); ++i) ASSERT_EQ(h[i].seq, h.size() - i) << "seqs 1..N without a gap";
  std::map<std::uint64_t, int> adds;
  std::map<std::string, Event> newest;  // tag -> its newest event
  for (const auto& e : h) {
    if (e.action == EventAction::Add) ++adds[e.version];
    if (!e.tag.empty() && !newest.count(e.tag)) newest[e.tag] = e;
  }
  const auto versions = ledger->versions("app");
  ASSERT_EQ(adds.size(), versions.size());
  for (auto v : versions) EXPECT_EQ(adds[v], 1) << "version " << v;
  const auto tags = ledger->tag_values("app");
  for (const auto& [tag, e] : newest) {
    if (e.action == EventAction::Untag) {
      EXPECT_FALSE(tags.count(tag)) << tag;
      continue;
    }
    ASSERT_TRUE(tags.count(tag)) << tag;
    EXPECT_EQ(tags.at(tag).version, e.version) << tag;
    EXPECT_EQ(tags.at(tag).seq, e.seq) << tag;
  }
  EXPECT_EQ(static_cast<std::ptrdiff_t>(tags.size()), std::count_if(newest.begin(), newest.end(), [](const auto& t) {
              return t.second.action != EventAction::Untag;
            }));
}

// A package as the code before history wrote it: no nextseq, no events, tags as bare
// decimals, records with an add_id. It reads as before (tags with seq 0, no
// history); the first change creates events and nextseq, and history starts there.
TEST_F(ZkFault, LedgerWrittenBeforeHistoryKeepsWorking) {
  RawZk raw(hosts_);
  const std::string pkg = package_node();
  ASSERT_EQ(raw.create(chroot_, ""), ZOK);
  ASSERT_EQ(raw.create(chroot_ + "/packages", ""), ZOK);
  for (const std::string node : {"", "/versions", "/tags"}) ASSERT_EQ(raw.create(pkg + node, ""), ZOK);
  ASSERT_EQ(raw.create(pkg + "/next", "3"), ZOK);
  for (int v = 1; v <= 2; ++v) {
    auto r = record("0" + std::to_string(v));
    r.version = static_cast<std::uint64_t>(v);
    auto json = sacker::record_to_json(r);
    json.insert(json.size() - 1, R"(,"add_id":"00112233445566778899aabbccddeeff")");
    ASSERT_EQ(raw.create(pkg + fmt::format("/versions/{:020}", v), json), ZOK);
  }
  ASSERT_EQ(raw.create(pkg + "/tags/live", "1"), ZOK);
  ASSERT_EQ(raw.create(pkg + "/tags/devel", "2"), ZOK);

  auto ledger = open(hosts_);
  EXPECT_EQ(ledger->versions("app"), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(ledger->get("app", 1)->sha256, record("01").sha256);
  EXPECT_EQ(*ledger->tag_value("app", "live"), (TagValue{1, 0, {}}));
  EXPECT_TRUE(ledger->history("app", {}).empty());

  auto moved = ledger->set_tag("app", "live", 2, TagExpectation::at(1), context("first move"));
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->seq, 1u) << "history starts at the first change";
  EXPECT_EQ(moved->previous, 1u);
  EXPECT_EQ(ledger->add(record("03")), 3u) << "the old counter is kept";
  auto h = ledger->history("app", {});
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].action, EventAction::Add);
  EXPECT_EQ(h[0].seq, 2u);
  EXPECT_EQ(*ledger->tag_value("app", "live"), (TagValue{2, 1, {}}));
  EXPECT_EQ(*ledger->tag_value("app", "devel"), (TagValue{2, 0, {}})) << "an untouched old tag still reads";
  EXPECT_EQ(raw.get(pkg + "/nextseq"), "3");
  EXPECT_TRUE(ledger->remove_version("app", 1));
}

// The same, with a ledger written by the previous sacker binary itself (when one is
// at hand: SACKER_LEGACY_SACKER=/path/to/old/sacker).
TEST_F(ZkFault, LedgerWrittenByThePreviousSackerKeepsWorking) {
  const char* legacy = std::getenv("SACKER_LEGACY_SACKER");
  if (!legacy || !*legacy) GTEST_SKIP() << "set SACKER_LEGACY_SACKER to a sacker binary from before history";
  auto dir = sacker::test::make_temp_dir("zk-legacy");
  sacker::test::write_file(dir / "a.bin", "first build");
  sacker::test::write_file(dir / "b.bin", "second build");
  auto old_cli = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {legacy, "--ledger", uri(hosts_), "--store", "file://" + (dir / "blobs").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return sacker::test::run_process(argv, {"HOME=" + dir.string()});
  };
  ASSERT_EQ(old_cli({"add", "app", (dir / "a.bin").string()}).exit_code, 0);
  ASSERT_EQ(old_cli({"add", "app", (dir / "b.bin").string()}).exit_code, 0);
  auto tagged = old_cli({"tag", "app", "1", "live"});
  ASSERT_EQ(tagged.exit_code, 0) << tagged.err;

  auto ledger = open(hosts_);
  EXPECT_EQ(ledger->versions("app"), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(*ledger->tag_value("app", "live"), (TagValue{1, 0, {}}));
  EXPECT_TRUE(ledger->history("app", {}).empty());
  auto moved = ledger->set_tag("app", "live", 2, TagExpectation::at(1), context("after the upgrade"));
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->seq, 1u);
  EXPECT_EQ(ledger->add(record("03")), 3u);
  EXPECT_EQ(ledger->history("app", {}).size(), 2u);
  std::filesystem::remove_all(dir);
}

// zk://alice:p%40ss@... authenticates as alice with the password "p@ss".
TEST_F(ZkFault, PercentEncodedPasswordIsDecoded) {
  auto ledger = open("alice:p%40ss@" + hosts_);
  ASSERT_EQ(ledger->add(record("01")), 1u);
  const std::string node = package_node() + "/versions/00000000000000000001";
  int rc = 0;
  RawZk("127.0.0.1:" + std::to_string(port_), "alice:p@ss").get(node, &rc);
  EXPECT_EQ(rc, ZOK) << "the decoded password is the one the node's ACL names";
  RawZk("127.0.0.1:" + std::to_string(port_), "alice:p%40ss").get(node, &rc);
  EXPECT_EQ(rc, ZNOAUTH) << "the encoded form is another password";
}

TEST_F(ZkFault, HostileEventAndTagNodesAreInvalidAndNamed) {
  auto ledger = open(hosts_);
  ASSERT_EQ(ledger->add(record("01")), 1u);
  ledger->set_tag("app", "live", 1);
  RawZk raw(hosts_);
  const std::string pkg = package_node();
  const std::string event2 = pkg + "/events/00000000000000000002";
  std::string original = raw.get(event2);
  ASSERT_EQ(raw.set(event2, R"({"seq":7,"time":"2026-01-01T00:00:00Z","action":"add","package":"app","version":1})"),
            ZOK);
  EXPECT_NE(invalid_message([&] { ledger->history("app", {}); }).find("/events/00000000000000000002"),
            std::string::npos);
  ASSERT_EQ(raw.set(event2, R"({"seq":2,"action":"explode"})"), ZOK);
  EXPECT_NE(invalid_message([&] { ledger->history("app", {}); }).find("/events/00000000000000000002"),
            std::string::npos);
  ASSERT_EQ(raw.set(event2, original), ZOK);
  EXPECT_EQ(ledger->history("app", {}).size(), 2u);
  ASSERT_EQ(raw.create(pkg + "/events/x", ""), ZOK);
  EXPECT_NE(invalid_message([&] { ledger->history("app", {}); }).find("'x'"), std::string::npos);

  for (const std::string bad :
       {R"({"version":-1,"seq":2})", R"({"version":1,"seq":-2})", R"({"version":1,"seq":2,"signatures":"x"})",
        R"({"version":1,"seq":2,"signatures":[1]})", R"({"version":1e3})", "{", "99999999999999999999999"}) {
    ASSERT_EQ(raw.set(pkg + "/tags/live", bad), ZOK);
    EXPECT_NE(invalid_message([&] { ledger->tag_values("app"); }).find("/tags/live"), std::string::npos) << bad;
  }
  ASSERT_EQ(raw.set(pkg + "/nextseq", "18446744073709551615"), ZOK);
  EXPECT_NE(invalid_message([&] { ledger->add(record("02")); }).find("/nextseq"), std::string::npos);
}

// A change larger than one ZooKeeper transaction (here: a promotion carrying 16
// signatures of 64 KiB) is refused as Invalid before it is sent; sent, the server
// would drop the connection and every retry would do the same.
TEST_F(ZkFault, ChangeTooLargeForOneTransactionIsInvalid) {
  auto ledger = open(hosts_);
  ASSERT_EQ(ledger->add(record("01")), 1u);
  auto ctx = context("big");
  ctx.sign_event = [](const Event&) {
    return std::vector<std::string>(16, R"({"sig":")" + std::string(60000, 'a') + "\"}");
  };
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(kind_of([&] { ledger->set_tag("app", "live", 1, TagExpectation::any(), ctx); }), ErrorKind::Invalid);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_FALSE(ledger->tag("app", "live").has_value());
  EXPECT_EQ(ledger->history("app", {}).size(), 1u);
}

// import_batch is one multi: a batch whose last record conflicts leaves nothing.
TEST_F(ZkFault, ImportBatchIsAllOrNothing) {
  auto ledger = open(hosts_);
  ASSERT_EQ(ledger->add(record("01")), 1u);
  ImportBatch batch;
  for (int v = 5; v <= 7; ++v) {
    auto r = record("5" + std::to_string(v));
    r.version = static_cast<std::uint64_t>(v);
    batch.records.push_back(r);
  }
  batch.tags.push_back({"app", "live", TagValue{6, 0, {}}});
  Event note;
  note.time = 1764600000;
  note.action = EventAction::Import;
  note.package = "app";
  note.version = 6;
  batch.events.push_back(note);
  auto clash = record("ff");
  clash.version = 1;
  batch.records.push_back(clash);
  EXPECT_EQ(kind_of([&] { ledger->import_batch(batch); }), ErrorKind::Conflict);
  EXPECT_EQ(ledger->versions("app"), (std::vector<std::uint64_t>{1}));
  EXPECT_TRUE(ledger->tag_values("app").empty());
  EXPECT_EQ(ledger->history("app", {}).size(), 1u);

  batch.records.pop_back();
  ledger->import_batch(batch);
  EXPECT_EQ(ledger->versions("app"), (std::vector<std::uint64_t>{1, 5, 6, 7}));
  EXPECT_EQ(ledger->tag("app", "live"), 6u);
  auto h = ledger->history("app", {});
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].action, EventAction::Import);
  EXPECT_EQ(h[0].seq, 2u);
  EXPECT_EQ(ledger->add(record("08")), 8u);
}

// An import whose reply is lost: its seq-0 event is not written twice.
TEST_F(ZkFault, ImportWhoseReplyIsLostIsAppliedOnce) {
  ZkProxy proxy(port_);
  auto ledger = open(fmt::format("127.0.0.1:{}", proxy.port()));
  ASSERT_EQ(ledger->add(record("01")), 1u);
  ImportBatch batch;
  Event note;
  note.time = 1764600000;
  note.action = EventAction::Import;
  note.package = "app";
  note.version = 1;
  note.comment = "lost-import";
  batch.events = {note, note};
  proxy.arm(ZkProxy::Drop::Reply, "lost-import", false);
  ledger->import_batch(batch);
  EXPECT_TRUE(proxy.wait_fired(std::chrono::milliseconds(0)));
  auto h = ledger->history("app", {});
  ASSERT_EQ(h.size(), 3u) << "one add and the two imported events, once";
  EXPECT_EQ(h[0].seq, 3u);
  EXPECT_EQ(h[0].comment, "lost-import");
}

}  // namespace
