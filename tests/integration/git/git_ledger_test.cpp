// The git ledger against `git daemon` (the server_git-daemon fixture), for what the
// conformance suite does not cover: writer processes that each have their own cache
// and meet only at the remote, local and remote writers on one repository, reads that
// see other writers at once, the audit trail in `git log`, content written behind the
// ledger's back with the git CLI, a hook that refuses, a server that is down or lacks
// the repository, and URIs that make no sense.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <set>

#include "integration/git/git_fixture.h"
#include "sacker/error.h"

namespace sacker {
namespace {

using namespace git_test;
using test::error_of;
using test::sample_record;

// The acceptance test: 4 processes x 50 adds through git daemon, each process with its
// own cache, so they meet only at the server's receive-pack.
TEST_F(GitLedgerTest, WritersWithTheirOwnCachesGetExactlyOneTo200) {
  create_served();
  const int processes = 4, per_process = 50;
  auto start = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<test::ChildProcess>> children;
  for (int p = 0; p < processes; ++p)
    children.push_back(std::make_unique<test::ChildProcess>(
        std::vector<std::string>{CONFORMANCE_WORKER, "add", remote_uri("cache" + std::to_string(p) + ".git"),
                                 "frontend-server", std::to_string(per_process), "p" + std::to_string(p)}));
  std::map<std::uint64_t, std::pair<int, int>> owner;
  for (int p = 0; p < processes; ++p) {
    auto r = children[static_cast<std::size_t>(p)]->wait();
    ASSERT_EQ(r.exit_code, 0) << "writer " << p << ": " << r.err;
    auto versions = parse_versions(r.out);
    ASSERT_EQ(versions.size(), static_cast<std::size_t>(per_process));
    for (std::size_t i = 0; i < versions.size(); ++i) {
      if (i > 0) EXPECT_LT(versions[i - 1], versions[i]) << "writer " << p;
      EXPECT_TRUE(owner.emplace(versions[i], std::pair{p, static_cast<int>(i)}).second)
          << "version " << versions[i] << " handed out twice";
    }
  }
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("4 x 50 adds through git daemon: %.2f s\n", seconds);
  ASSERT_EQ(owner.size(), 200u);
  EXPECT_EQ(owner.begin()->first, 1u);
  EXPECT_EQ(owner.rbegin()->first, 200u);

  // The server's copy, read directly: every record is the one its writer was told about.
  auto direct = open_ledger(direct_uri());
  auto records = direct->records("frontend-server");
  ASSERT_EQ(records.size(), 200u);
  for (const auto& r : records) {
    auto [p, seq] = owner.at(r.version);
    EXPECT_EQ(r.metadata.at("worker"), "p" + std::to_string(p));
    EXPECT_EQ(r.metadata.at("seq"), std::to_string(seq));
  }
  // One commit per add on a straight line: nothing was overwritten by a forced update.
  auto log = lines(git({"--git-dir", served_, "log", "--format=%s|%p", "main"}));
  ASSERT_EQ(log.size(), 200u);
  for (std::size_t i = 0; i < log.size(); ++i) {
    EXPECT_EQ(log[i].substr(0, log[i].find('|')), "add frontend-server " + std::to_string(200 - i));
    auto parents = log[i].substr(log[i].find('|') + 1);
    EXPECT_EQ(parents.empty(), i + 1 == log.size()) << log[i];
    EXPECT_EQ(parents.find(' '), std::string::npos) << "no merges: " << log[i];
  }
  // The writers shared nothing but the server, so the server holding every object of
  // every commit means each push really sent what it created.
  git({"--git-dir", served_, "fsck", "--no-dangling", "--connectivity-only"});
}

// A writer on the server's host (operating on the repository directly, ref lock files)
// and writers through git daemon (receive-pack) exclude each other on the same ref.
TEST_F(GitLedgerTest, LocalAndRemoteWritersShareOneSequence) {
  create_served();
  std::vector<std::unique_ptr<test::ChildProcess>> children;
  for (int p = 0; p < 4; ++p) {
    std::string uri = p % 2 ? direct_uri() : remote_uri("cache" + std::to_string(p) + ".git");
    children.push_back(std::make_unique<test::ChildProcess>(
        std::vector<std::string>{CONFORMANCE_WORKER, "add", uri, "mixed", "25", "p" + std::to_string(p)}));
  }
  std::set<std::uint64_t> all;
  for (auto& c : children) {
    auto r = c->wait();
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (auto v : parse_versions(r.out)) EXPECT_TRUE(all.insert(v).second) << v << " twice";
  }
  ASSERT_EQ(all.size(), 100u);
  EXPECT_EQ(*all.begin(), 1u);
  EXPECT_EQ(*all.rbegin(), 100u);
  EXPECT_EQ(open_ledger(remote_uri("reader.git"))->versions("mixed").size(), 100u);
}

// No `init`: the first writers create the repository (or the shared cache) at the same
// moment; none may see half of it.
TEST_F(GitLedgerTest, FirstUseWithoutInitFromSeveralProcesses) {
  create_served();
  for (const std::string& uri : {"git://" + (tmp_ / "fresh" / "ledger.git").string(), remote_uri("shared-cache.git")}) {
    std::vector<std::unique_ptr<test::ChildProcess>> children;
    for (int p = 0; p < 4; ++p)
      children.push_back(std::make_unique<test::ChildProcess>(
          std::vector<std::string>{CONFORMANCE_WORKER, "add", uri, "first", "10", "p" + std::to_string(p)}));
    std::set<std::uint64_t> all;
    for (auto& c : children) {
      auto r = c->wait();
      ASSERT_EQ(r.exit_code, 0) << uri << ": " << r.err;
      for (auto v : parse_versions(r.out)) EXPECT_TRUE(all.insert(v).second) << v << " twice";
    }
    EXPECT_EQ(all,
              (std::set<std::uint64_t>{1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
                                       21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40}))
        << uri;
  }
  // Nothing left behind by the processes that lost the creation race.
  for (const auto& entry : fs::directory_iterator(tmp_ / "fresh"))
    EXPECT_EQ(entry.path().filename(), "ledger.git") << entry.path();
}

TEST_F(GitLedgerTest, ReadsThroughTheRemoteSeeOtherWritersAtOnce) {
  create_served();
  auto a = open_ledger(remote_uri("a.git"));
  auto b = open_ledger(remote_uri("b.git"));
  EXPECT_TRUE(b->packages().empty());
  auto v1 = a->add(sample_record("app", 1));
  EXPECT_EQ(b->latest("app"), v1);
  b->set_tag("app", "live", v1);
  EXPECT_EQ(a->tag("app", "live"), v1);
  auto v2 = b->add(sample_record("app", 2));
  EXPECT_EQ(a->versions("app"), (std::vector<std::uint64_t>{v1, v2}));
  EXPECT_EQ(a->get("app", v2), b->get("app", v2));
  EXPECT_TRUE(a->remove_tag("app", "live"));
  EXPECT_TRUE(b->tags("app").empty());
}

TEST_F(GitLedgerTest, ShorthandGitDaemonUriWithCacheParameterOrDefaultCache) {
  create_served();
  std::string host_uri = url_ + name_;  // git://127.0.0.1:PORT/NAME.git
  auto with_cache = open_ledger(host_uri + "?cache=" + (tmp_ / "explicit.git").string());
  auto v = with_cache->add(sample_record("short", 1));
  EXPECT_TRUE(fs::exists(tmp_ / "explicit.git" / "objects"));

  std::string old = std::getenv("XDG_CACHE_HOME") ? std::getenv("XDG_CACHE_HOME") : "";
  setenv("XDG_CACHE_HOME", (tmp_ / "xdg").c_str(), 1);
  auto with_default = open_ledger(host_uri);
  EXPECT_EQ(with_default->latest("short"), v);
  if (old.empty())
    unsetenv("XDG_CACHE_HOME");
  else
    setenv("XDG_CACHE_HOME", old.c_str(), 1);
  ASSERT_TRUE(fs::exists(tmp_ / "xdg" / "sacker" / "git"));
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp_ / "xdg" / "sacker" / "git"), fs::directory_iterator()), 1);
}

// libgit2's push to a path does not compare-and-swap, so such a "remote" is used
// directly: the cache path is never created.
TEST_F(GitLedgerTest, FileRemoteIsOperatedOnDirectly) {
  std::string uri = "git://" + (tmp_ / "unused-cache.git").string() + "?remote=file://" + served_;
  auto ledger = open_ledger(uri);
  ledger->init();
  EXPECT_TRUE(fs::exists(fs::path(served_) / "HEAD"));
  auto v = ledger->add(sample_record("f", 1));
  EXPECT_EQ(open_ledger(direct_uri())->latest("f"), v);
  EXPECT_FALSE(fs::exists(tmp_ / "unused-cache.git"));
}

// One commit per change, named after it (and its actor), holding the change's files
// and its event file together; imports write no event.
TEST_F(GitLedgerTest, GitLogIsTheAuditTrailAndEachCommitHoldsItsEvent) {
  create_served();
  auto ledger = open_ledger(remote_uri("c.git"));
  ChangeContext alice;
  alice.time = 1764600000;
  alice.actor = "alice";
  alice.comment = "first release";
  auto v1 = ledger->add(sample_record("frontend-server", 1));
  auto v2 = ledger->add(sample_record("frontend-server", 2));
  ledger->set_tag("frontend-server", "live", v2, TagExpectation::absent(), alice);
  ledger->set_tag("frontend-server", "live", v2);  // no change: no commit
  EXPECT_TRUE(ledger->remove_tag("frontend-server", "live"));
  EXPECT_TRUE(ledger->remove_version("frontend-server", v1));
  VersionRecord imported = sample_record("frontend-server", 9);
  imported.version = 40;
  ledger->put_record(imported);
  setenv("GIT_AUTHOR_NAME", "CI Bot", 1);
  setenv("GIT_AUTHOR_EMAIL", "ci@example.com", 1);
  ledger->add(sample_record("frontend-server", 3));
  unsetenv("GIT_AUTHOR_NAME");
  unsetenv("GIT_AUTHOR_EMAIL");
  auto log = lines(git({"--git-dir", served_, "log", "--reverse", "--format=%s|%an <%ae>|%cn", "main"}));
  std::vector<std::string> expected = {
      "add frontend-server 1|sacker <sacker@localhost>|sacker",
      "add frontend-server 2|sacker <sacker@localhost>|sacker",
      "tag frontend-server 2 live by alice|sacker <sacker@localhost>|sacker",
      "untag frontend-server live (was 2)|sacker <sacker@localhost>|sacker",
      "remove frontend-server 1|sacker <sacker@localhost>|sacker",
      "import frontend-server 40|sacker <sacker@localhost>|sacker",
      "add frontend-server 41|CI Bot <ci@example.com>|CI Bot",
  };
  EXPECT_EQ(log, expected);
  EXPECT_NE(git({"--git-dir", served_, "log", "-1", "--skip=4", "--format=%b", "main"}).find("comment: first release"),
            std::string::npos);

  // The files each commit changed: the change and its event, in one commit.
  const std::string p = "packages/frontend-server/";
  auto event = [&](int seq) { return p + "events/" + std::string(19, '0') + std::to_string(seq) + ".json"; };
  auto version = [&](const char* v) { return p + "versions/" + v + ".json"; };
  std::vector<std::vector<std::string>> changed;
  for (const auto& line : lines(git({"--git-dir", served_, "log", "--reverse", "--format=tformat:@", "--name-only", "main"})))
    if (line == "@")
      changed.emplace_back();
    else if (!line.empty())
      changed.back().push_back(line);
  std::vector<std::vector<std::string>> expected_files = {
      {event(1), p + "next", version("00000000000000000001")},
      {event(2), p + "next", version("00000000000000000002")},
      {event(3), p + "tags/live"},
      {event(4), p + "tags/live"},
      {event(5), version("00000000000000000001")},  // `next` (3) is above 1 already
      {p + "next", version("00000000000000000040")},
      {event(6), p + "next", version("00000000000000000041")},
  };
  EXPECT_EQ(changed, expected_files);
  Event tagged = event_from_json(git({"--git-dir", served_, "show", "main:" + event(3)}));
  EXPECT_EQ(tagged.action, EventAction::Tag);
  EXPECT_EQ(tagged.actor, "alice");
  EXPECT_EQ(tagged.version, v2);
  EXPECT_EQ(ledger->history("frontend-server", {}).size(), 6u);
  EXPECT_EQ(git({"--git-dir", served_, "show", "main:" + p + "next"}), "42\n");
}

TEST_F(GitLedgerTest, EditsWithTheGitCliAreReadBack) {
  create_served();
  auto ledger = open_ledger(remote_uri("c.git"));
  auto v = ledger->add(sample_record("svc", 1));
  tamper({{"packages/svc/tags/live", std::to_string(v) + "\n"}});
  EXPECT_EQ(ledger->tag("svc", "live"), v);
  EXPECT_EQ(ledger->add(sample_record("svc", 2)), v + 1) << "a write after someone else's commit builds on it";
}

TEST_F(GitLedgerTest, HostileContentIsInvalidAndNamesThePath) {
  create_served();
  auto ledger = open_ledger(remote_uri("c.git"));
  auto v = ledger->add(sample_record("svc", 1));
  std::string record_path = "packages/svc/versions/00000000000000000001.json";
  std::string event_path = "packages/svc/events/00000000000000000001.json";
  std::string too_many_signatures = R"({"version":1,"seq":1,"signatures":[{})";
  for (int i = 0; i < 16; ++i) too_many_signatures += ",{}";
  too_many_signatures += "]}";
  struct Case {
    std::map<std::string, std::string> files;
    std::function<void()> op;
    std::string path;
  };
  std::vector<Case> cases = {
      {{{record_path, "{not json"}}, [&] { ledger->get("svc", v); }, record_path},
      {{{record_path, R"({"package":"other","version":1,"sha256":")" + std::string(64, 'a') +
                          R"(","size":1,"basename":"x","mode":420,"created":"2024-01-01T00:00:00Z","metadata":{}})"}},
       [&] { ledger->records("svc"); },
       record_path},
      {{{record_path, R"({"package":"svc","version":1,"sha256":"nothex","size":1,"basename":"x","mode":420,)"
                      R"("created":"2024-01-01T00:00:00Z","metadata":{}})"}},
       [&] { ledger->get("svc", v); },
       record_path},
      {{{"packages/svc/versions/7.json", "{}"}}, [&] { ledger->versions("svc"); }, "packages/svc/versions/7.json"},
      {{{"packages/svc/tags/live", "latest\n"}}, [&] { ledger->tags("svc"); }, "packages/svc/tags/live"},
      {{{"packages/svc/tags/bad tag", "1\n"}}, [&] { ledger->tags("svc"); }, "packages/svc/tags/bad tag"},
      {{{"packages/svc/next", "-5\n"}}, [&] { ledger->add(sample_record("svc", 2)); }, "packages/svc/next"},
      {{{"packages/.hidden/next", "1\n"}}, [&] { ledger->packages(); }, "packages/.hidden"},
      {{{"packages/svc/tags/live", R"({"version":-1,"seq":1})"}},
       [&] { ledger->tags("svc"); },
       "packages/svc/tags/live"},
      {{{"packages/svc/tags/live", too_many_signatures}},
       [&] { ledger->tag_value("svc", "live"); },
       "packages/svc/tags/live"},
      {{{"packages/svc/events/7.json", "{}"}}, [&] { ledger->history("svc", {}); }, "packages/svc/events/7.json"},
      {{{event_path, "{not json"}}, [&] { ledger->history("svc", {}); }, event_path},
      {{{event_path, R"({"seq":1,"time":"2025-12-01T00:00:00Z","action":"add","package":"other","version":1})"}},
       [&] { ledger->history("svc", {}); },
       event_path},
      {{{"packages/README", "hello\n"}}, [&] { ledger->packages(); }, "packages/README"},
  };
  for (const auto& c : cases) {
    tamper(c.files);
    Error e = error_of(c.op);
    EXPECT_EQ(e.kind(), ErrorKind::Invalid) << c.path << ": " << e.what();
    EXPECT_NE(std::string(e.what()).find(c.path), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line: " << e.what();
    // Put things back for the next case.
    std::map<std::string, std::string> undo;
    for (const auto& [path, content] : c.files) undo[path] = "";
    tamper(undo);
    if (!ledger->get("svc", v)) {
      VersionRecord r = sample_record("svc", 1);
      r.version = v;
      ledger->put_record(r);
    }
  }
}

TEST_F(GitLedgerTest, ARefusingHookIsDenied) {
  create_served();
  auto ledger = open_ledger(remote_uri("c.git"));
  ledger->add(sample_record("svc", 1));
  fs::path hook = fs::path(served_) / "hooks" / "pre-receive";
  fs::create_directories(hook.parent_path());
  test::write_file(hook, "#!/bin/sh\necho 'ledger is frozen' >&2\nexit 1\n");
  fs::permissions(hook, fs::perms::owner_all);
  Error e = error_of([&] { ledger->add(sample_record("svc", 2)); });
  EXPECT_EQ(e.kind(), ErrorKind::Denied) << e.what();
  EXPECT_NE(std::string(e.what()).find("declined"), std::string::npos) << e.what();
  fs::remove(hook);
  EXPECT_EQ(ledger->versions("svc"), (std::vector<std::uint64_t>{1}));
}

TEST_F(GitLedgerTest, ADownServerIsUnavailableNotEmpty) {
  std::string uri =
      "git://" + (tmp_ / "c.git").string() + "?remote=git://127.0.0.1:" + std::to_string(unused_port()) + "/ledger.git";
  auto ledger = open_ledger(uri);
  for (const auto& op :
       std::vector<std::function<void()>>{[&] { ledger->packages(); }, [&] { ledger->versions("x"); },
                                          [&] { ledger->add(sample_record("x", 1)); }, [&] { ledger->init(); }}) {
    Error e = error_of(op);
    EXPECT_EQ(e.kind(), ErrorKind::Unavailable) << e.what();
    EXPECT_NE(std::string(e.what()).find("127.0.0.1"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
  }
}

TEST_F(GitLedgerTest, AMissingRemoteRepositoryIsUnavailableWithAHint) {
  auto ledger = open_ledger(remote_uri("c.git"));  // served_ was never created
  for (const auto& op :
       std::vector<std::function<void()>>{[&] { ledger->packages(); }, [&] { ledger->add(sample_record("x", 1)); }}) {
    Error e = error_of(op);
    EXPECT_EQ(e.kind(), ErrorKind::Unavailable) << e.what();
    EXPECT_NE(std::string(e.what()).find("git init --bare"), std::string::npos) << e.what();
  }
}

TEST_F(GitLedgerTest, LocalPathsAbsentOrNotARepository) {
  fs::path absent = tmp_ / "absent" / "ledger.git";
  auto empty = open_ledger("git://" + absent.string());
  EXPECT_TRUE(empty->packages().empty());
  EXPECT_TRUE(empty->versions("x").empty());
  EXPECT_FALSE(fs::exists(absent)) << "reads create nothing";
  empty->add(sample_record("x", 1));
  EXPECT_TRUE(fs::exists(absent / "HEAD")) << "the first write creates the repository";

  fs::path plain = tmp_ / "plain";
  fs::create_directories(plain);
  test::write_file(plain / "notes.txt", "hello");
  Error e = error_of([&] { open_ledger("git://" + plain.string())->packages(); });
  EXPECT_EQ(e.kind(), ErrorKind::Invalid) << e.what();
}

TEST_F(GitLedgerTest, BranchParameterSeparatesLedgers) {
  create_served();
  auto a = open_ledger(remote_uri("c.git") + "&branch=team-a");
  auto b = open_ledger(direct_uri() + "?branch=releases/b");
  a->add(sample_record("app", 1));
  b->add(sample_record("app", 1));
  b->add(sample_record("app", 2));
  EXPECT_EQ(a->versions("app").size(), 1u);
  EXPECT_EQ(b->versions("app").size(), 2u);
  EXPECT_TRUE(open_ledger(direct_uri())->packages().empty()) << "main is untouched";
}

TEST_F(GitLedgerTest, BadUrisAreInvalid) {
  for (std::string uri :
       {"git://", "git:///", "git:///tmp/x.git?branch=a..b", "git:///tmp/x.git?branch=", "git:///tmp/x.git?colour=blue",
        "git:///tmp/x.git?remote=relative/path.git",
        "git:///tmp/x.git?remote=", "git://host/x.git?remote=git://other/y.git", "git://host/x.git?cache=relative"}) {
    Error e = error_of([&] { open_ledger(uri); });
    EXPECT_EQ(e.kind(), ErrorKind::Invalid) << uri << ": " << e.what();
  }
}

TEST_F(GitLedgerTest, PasswordsInTheRemoteAreNotShown) {
  auto ledger = open_ledger("git:///tmp/c.git?remote=https://user:s3cret@127.0.0.1:1/x.git");
  EXPECT_EQ(ledger->describe().find("s3cret"), std::string::npos) << ledger->describe();
}

}  // namespace
}  // namespace sacker
