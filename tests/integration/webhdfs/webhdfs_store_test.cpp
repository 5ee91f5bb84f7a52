// The webhdfs:// store through the sacker binary (and, for listings, the library)
// against the WebHDFS stand-in (server_webhdfs-faults; a stand-in written from the
// WebHDFS specification because no HDFS server can run here): the canary workflow
// with the two-step CREATE and parallel ranged OPENs, and every fault mode the
// stand-in offers (dead datanode, standby namenode, truncated and slow datanode
// bodies, RENAME false, a cut upload, an older namenode without LISTSTATUS_BATCH).
// Each test asserts on the stand-in's request log, not on timing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ctime>
#include <set>

#include "integration/webhdfs/standin.h"
#include "sacker/backends.h"
#include "sacker/store.h"
#include "store/gc_support.h"

namespace sacker::test {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class WebHdfsStandin : public ::testing::Test {
 protected:
  void SetUp() override {
    load_test_env();
    ASSERT_FALSE(env_or_empty("WEBHDFS_CONTROL").empty()) << "run with the webhdfs-faults fixture's env file";
    standin_.set({{"reset", true}});
    dir_ = env_or_empty("WEBHDFS_HOME") + "/" + unique_token();
    nn1_ = env_or_empty("WEBHDFS_NN1");
    nn2_ = env_or_empty("WEBHDFS_NN2");
    standin_.mark();
  }
  std::string store(const std::string& options = "", const std::string& hosts = "") const {
    return "webhdfs://" + (hosts.empty() ? nn1_ : hosts) + dir_ + "?user=sacker" + options;
  }
  void add_ok(const std::filesystem::path& f, const std::string& expect_version, const std::string& uri) {
    auto r = run_(uri, {"add", "app", f.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(trimmed(r.out), expect_version);
  }
  void download_equals(const std::filesystem::path& f, const std::string& spec, const std::string& uri) {
    const auto out = run_.home() / ("out-" + spec);
    auto r = run_(uri, {"download", "app", spec, "-o", out.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(read_file(out), read_file(f));
  }

  Standin standin_;
  SackerRun run_{"sacker-webhdfs"};
  std::string dir_, nn1_, nn2_;
};

TEST_F(WebHdfsStandin, CanaryWorkflowWithTwoStepCreateAndParallelRangedOpens) {
  std::string sha;
  const auto f = run_.file("app.jar", 3 << 20, 1, &sha);
  const std::string uri = store("&download_part_size=1M&concurrency=3");
  add_ok(f, "1", uri);
  download_equals(f, "latest", uri);
  ASSERT_EQ(run_(uri, {"tag", "app", "1", "live"}).exit_code, 0);
  download_equals(f, "live", uri);

  const auto log = standin_.log();
  ASSERT_FALSE(log.empty());
  std::set<std::string> offsets;
  int nn_creates = 0, dn_creates = 0, renames = 0;
  for (const auto& e : log) {
    // Nothing but the datanode ever gets a body; the datanode never sees SPNEGO.
    if (e["role"] == "nn") EXPECT_EQ(e["body_bytes"], 0) << e.dump();
    if (e["role"] == "dn") EXPECT_TRUE(e["authorization"].is_null()) << e.dump();
    if (is(e, "nn", "CREATE")) {
      ++nn_creates;
      EXPECT_EQ(e["status"], 307);
      EXPECT_EQ(param(e, "overwrite"), "false");
      EXPECT_THAT(e["path"].get<std::string>(), StartsWith(dir_ + "/tmp/" + sha + "."));
    }
    if (is(e, "dn", "CREATE")) {
      ++dn_creates;
      EXPECT_EQ(e["status"], 201);
      EXPECT_EQ(e["body_bytes"], 3 << 20);
    }
    if (is(e, "nn", "RENAME")) {
      ++renames;
      EXPECT_EQ(param(e, "destination"), dir_ + "/" + sha);
    }
    if (is(e, "dn", "OPEN")) {
      EXPECT_EQ(param(e, "length"), std::to_string(1 << 20));
      offsets.insert(param(e, "offset"));
    }
  }
  EXPECT_EQ(nn_creates, 1);
  EXPECT_EQ(dn_creates, 1);
  EXPECT_EQ(renames, 1);
  // Two downloads, each in three ranged OPENs of 1 MiB.
  EXPECT_EQ(offsets, (std::set<std::string>{"0", "1048576", "2097152"}));
}

TEST_F(WebHdfsStandin, ADeadDatanodeIsExcludedOnTheNextAttempt) {
  const auto f = run_.file("a.bin", 200000, 2);
  standin_.set({{"dead_datanode", 1}});
  add_ok(f, "1", store());
  standin_.set({{"dead_datanode", 1}});
  download_equals(f, "1", store());
  const std::string dead = env_or_empty("WEBHDFS_DEAD_DN");
  for (const char* op : {"CREATE", "OPEN"}) {
    auto asks = standin_.where([&](const json& e) { return is(e, "nn", op); });
    ASSERT_EQ(asks.size(), 2u) << op;
    EXPECT_EQ(param(asks[0], "excludedatanodes"), "");
    EXPECT_THAT(param(asks[1], "excludedatanodes"), HasSubstr(dead.substr(dead.find(':')))) << op;
    // Only the second attempt reached a datanode.
    EXPECT_EQ(standin_.where([&](const json& e) { return is(e, "dn", op); }).size(), 1u) << op;
  }
}

TEST_F(WebHdfsStandin, AStandbyNamenodeMovesToTheNextOne) {
  standin_.set({{"nn1", "standby"}, {"nn2", "active"}});
  const auto f = run_.file("a.bin", 5000, 3);
  const std::string uri = store("", nn1_ + "," + nn2_);
  add_ok(f, "1", uri);
  download_equals(f, "1", uri);
  auto on_nn1 = standin_.where([](const json& e) { return e["listener"] == "nn1"; });
  auto on_nn2 = standin_.where([](const json& e) { return e["listener"] == "nn2"; });
  ASSERT_FALSE(on_nn1.empty());
  for (const auto& e : on_nn1) EXPECT_EQ(e["status"], 403) << e.dump();  // StandbyException, then nn2
  EXPECT_GE(on_nn2.size(), 4u);  // GETFILESTATUS, CREATE, GETFILESTATUS, RENAME, ...
}

TEST_F(WebHdfsStandin, AnUnreachableNamenodeOrA5xxMovesOnOrBacksOff) {
  const auto f = run_.file("a.bin", 5000, 12);
  // The first namenode of the list refuses connections (the stand-in's dead port).
  const std::string uri = store("", env_or_empty("WEBHDFS_DEAD_DN") + "," + nn1_);
  add_ok(f, "1", uri);
  download_equals(f, "1", uri);
  // A 503 from the active namenode: the standby is asked, then nn1 again after a backoff.
  standin_.set({{"fail_next", 1}, {"fail_status", 503}, {"fail_listener", "nn1"}});
  standin_.mark();
  download_equals(f, "latest", store("", nn1_ + "," + nn2_));  // another -o: the first one is up to date
  auto log = standin_.log();
  ASSERT_GE(log.size(), 3u);
  EXPECT_EQ(log[0]["listener"], "nn1");
  EXPECT_EQ(log[0]["status"], 503);
  EXPECT_EQ(log[1]["listener"], "nn2");
  EXPECT_EQ(log[1]["status"], 403);  // standby
  EXPECT_EQ(log[2]["listener"], "nn1");
  EXPECT_EQ(log[2]["status"], 200);
}

TEST_F(WebHdfsStandin, OnlyAStandbyFailsOverNotADenial) {
  // /user/other is not writable for sacker: 403 AccessControlException, exit 6, nn2 never asked.
  standin_.set({{"nn2", "active"}});
  const auto f = run_.file("a.bin", 5000, 4);
  const std::string uri = "webhdfs://" + nn1_ + "," + nn2_ + "/user/other/" + unique_token() + "?user=sacker";
  auto r = run_(uri, {"add", "app", f.string()});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_THAT(r.err, HasSubstr("AccessControlException"));
  EXPECT_TRUE(standin_.where([](const json& e) { return e["listener"] == "nn2"; }).empty());
}

TEST_F(WebHdfsStandin, DoasActsForAnotherUserOnlyForAProxyUser) {
  // The fixture lets sacker (and only sacker) act for others.
  const auto f = run_.file("a.bin", 5000, 11);
  const std::string dir = "/user/other/" + unique_token();
  add_ok(f, "1", "webhdfs://" + nn1_ + dir + "?user=sacker&doas=other");
  for (const auto& e : standin_.log()) {
    EXPECT_EQ(param(e, "doas"), "other") << e.dump();
    EXPECT_EQ(param(e, "user.name"), "sacker") << e.dump();
  }
  auto r = run_("webhdfs://" + nn1_ + dir + "?user=other&doas=sacker", {"add", "app", f.string()});
  EXPECT_EQ(r.exit_code, 6) << r.err;
}

TEST_F(WebHdfsStandin, ATruncatedDatanodeBodyIsReadAgainElsewhere) {
  const auto f = run_.file("a.bin", 300000, 5);
  add_ok(f, "1", store());
  standin_.set({{"dn_truncate_after", 1000}, {"dn_truncate_times", 1}});
  standin_.mark();
  download_equals(f, "1", store());
  auto asks = standin_.where([](const json& e) { return is(e, "nn", "OPEN"); });
  auto reads = standin_.where([](const json& e) { return is(e, "dn", "OPEN"); });
  ASSERT_EQ(reads.size(), 2u);
  ASSERT_EQ(asks.size(), 2u);
  EXPECT_NE(param(asks[1], "excludedatanodes"), "");  // the datanode that cut the body
  EXPECT_NE(reads[0]["listener"], reads[1]["listener"]);
}

TEST_F(WebHdfsStandin, ASlowDatanodeBodyArrivesWhole) {
  const auto f = run_.file("a.bin", 256 << 10, 6);
  add_ok(f, "1", store());
  standin_.set({{"dn_chunk_bytes", 4096}, {"dn_chunk_delay_ms", 1}});
  standin_.mark();
  download_equals(f, "1", store());
  EXPECT_EQ(standin_.where([](const json& e) { return is(e, "dn", "OPEN"); }).size(), 1u);  // no retry needed
}

TEST_F(WebHdfsStandin, RenameFalseIsToldFromAlreadyThereByGetFileStatus) {
  std::string sha;
  const auto f = run_.file("a.bin", 10000, 7, &sha);
  standin_.set({{"rename_false", 1}});
  auto r = run_(store(), {"add", "app", f.string()});
  EXPECT_EQ(r.exit_code, 7) << r.err;
  EXPECT_THAT(r.err, HasSubstr("answered false and the blob is not there"));
  const auto log = standin_.log();
  std::size_t rename = log.size();
  for (std::size_t i = 0; i < log.size(); ++i)
    if (is(log[i], "nn", "RENAME")) rename = i;
  ASSERT_LT(rename, log.size());
  const std::string temp = log[rename]["path"];
  bool statted = false, deleted = false;
  for (std::size_t i = rename + 1; i < log.size(); ++i) {
    statted = statted || (is(log[i], "nn", "GETFILESTATUS") && log[i]["path"] == dir_ + "/" + sha);
    deleted = deleted || (is(log[i], "nn", "DELETE") && log[i]["path"] == temp);
  }
  EXPECT_TRUE(statted);
  EXPECT_TRUE(deleted);
  EXPECT_EQ(trimmed(run_(store(), {"versions", "app"}).out), "") << "nothing recorded";
  // The next add goes through.
  add_ok(f, "1", store());
  // A RENAME false with the blob there is "already there" (another writer won): the
  // first GETFILESTATUS is refused (401: cannot tell), so the store uploads and renames.
  standin_.set({{"rename_false", 1}, {"fail_next", 1}, {"fail_status", 401}, {"fail_op", "GETFILESTATUS"}});
  standin_.mark();
  EXPECT_FALSE(open_store(store())->put_file(sha, f, 10000, nullptr)) << "there already";
  auto after = standin_.where([](const json& e) { return e["op"] == "RENAME" || e["op"] == "GETFILESTATUS"; });
  ASSERT_GE(after.size(), 3u);
  EXPECT_EQ(after.back()["op"], "GETFILESTATUS");
  EXPECT_EQ(after.back()["status"], 200);
  EXPECT_EQ(after[after.size() - 2]["op"], "RENAME");
}

TEST_F(WebHdfsStandin, ACutUploadIsWrittenAgainUnderANewName) {
  std::string sha;
  const auto f = run_.file("a.bin", 1 << 20, 8, &sha);
  standin_.set({{"dn_upload_cut_after", 65536}, {"dn_upload_cut_times", 1}});
  add_ok(f, "1", store());
  download_equals(f, "1", store());
  auto writes = standin_.where([](const json& e) { return is(e, "dn", "CREATE"); });
  ASSERT_EQ(writes.size(), 2u);
  EXPECT_TRUE(writes[0]["status"].is_null());  // cut before an answer
  EXPECT_EQ(writes[1]["status"], 201);
  EXPECT_NE(writes[0]["path"], writes[1]["path"]);
  auto deletes = standin_.where([&](const json& e) { return is(e, "nn", "DELETE") && e["path"] == writes[0]["path"]; });
  EXPECT_EQ(deletes.size(), 1u) << "the short file of the cut attempt is deleted";
}

TEST_F(WebHdfsStandin, ListingsPageWithStartAfterAndFallBackToListStatus) {
  auto s = open_store(store());
  s->init();
  std::set<std::string> shas;
  for (unsigned i = 0; i < 5; ++i) {
    std::string sha;
    const auto f = run_.file("b" + std::to_string(i), 100 + i, 20 + i, &sha);
    s->put_file(sha, f, 100 + i, nullptr);
    shas.insert(sha);
  }
  standin_.mark();
  std::set<std::string> listed;
  for (const auto& b : s->list()) listed.insert(b.sha256);
  EXPECT_EQ(listed, shas);
  auto pages = standin_.where([](const json& e) { return is(e, "nn", "LISTSTATUS_BATCH"); });
  ASSERT_EQ(pages.size(), 3u);  // 5 blobs + tmp/, 2 per page
  EXPECT_EQ(param(pages[0], "startafter"), "");
  EXPECT_NE(param(pages[1], "startafter"), "");

  standin_.set({{"unsupported_ops", json::array({"LISTSTATUS_BATCH"})}});
  standin_.mark();
  listed.clear();
  for (const auto& b : s->list()) listed.insert(b.sha256);
  EXPECT_EQ(listed, shas);
  EXPECT_EQ(standin_.where([](const json& e) { return is(e, "nn", "LISTSTATUS"); }).size(), 1u);
}

TEST_F(WebHdfsStandin, GcMovesTheBlobAsideBeforeItDeletesAndPutsBackAReusedOne) {
  auto s = open_store(store());
  s->init();
  auto* gc = dynamic_cast<GcSupport*>(s.get());
  ASSERT_NE(gc, nullptr);
  std::string dead, reused;
  const auto f1 = run_.file("dead", 1000, 9, &dead);
  const auto f2 = run_.file("reused", 1001, 10, &reused);
  s->put_file(dead, f1, 1000, nullptr);
  s->put_file(reused, f2, 1001, nullptr);
  ASSERT_EQ(s->list().size(), 2u);
  EXPECT_FALSE(s->put_file(reused, f2, 1001, nullptr));  // a re-use after gc listed: SETTIMES
  const auto later = static_cast<std::int64_t>(std::time(nullptr)) + 3600;
  standin_.mark();
  EXPECT_TRUE(gc->remove_if_not_modified_after(dead, later));
  EXPECT_FALSE(gc->remove_if_not_modified_after(reused, later));
  EXPECT_EQ(s->contains(dead), false);
  EXPECT_EQ(s->contains(reused), true);
  auto renames = standin_.where([](const json& e) { return is(e, "nn", "RENAME"); });
  ASSERT_EQ(renames.size(), 3u);  // dead aside; reused aside and back
  EXPECT_EQ(renames[0]["path"], dir_ + "/" + dead);
  const std::string aside = param(renames[0], "destination");
  EXPECT_THAT(aside, StartsWith(dir_ + "/tmp/gc/" + dead + "."));
  EXPECT_EQ(standin_.where([&](const json& e) { return is(e, "nn", "DELETE") && e["path"] == aside; }).size(), 1u);
  EXPECT_EQ(renames[2]["path"], param(renames[1], "destination"));
  EXPECT_EQ(param(renames[2], "destination"), dir_ + "/" + reused);
}

}  // namespace
}  // namespace sacker::test
