// The fixture of the git ledger's integration tests (label git): a served repository
// under `git daemon` (the server_git-daemon fixture), URIs for it, and the git CLI.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "sacker/backends.h"
#include "support/process.h"
#include "support/records.h"
#include "support/test_env.h"

namespace sacker::git_test {

namespace fs = std::filesystem;

inline std::vector<std::uint64_t> parse_versions(const std::string& out) {
  std::vector<std::uint64_t> v;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) v.push_back(std::stoull(line));
  return v;
}

inline std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// `name` found on $PATH (the test helpers exec without searching it).
inline std::string on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (!dir.empty() && access((dir + "/" + name).c_str(), X_OK) == 0) return dir + "/" + name;
  return name;
}

// A TCP port on 127.0.0.1 that nothing listens on (bound, then released).
inline int unused_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

class GitLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test::load_test_env();
    root_ = test::expand_template("{GIT_DAEMON_ROOT}", "");
    url_ = test::expand_template("{GIT_DAEMON_URL}", "");
    name_ = test::unique_token() + ".git";
    served_ = root_ + "/" + name_;
    tmp_ = test::make_temp_dir("sacker-git-test");
  }
  void TearDown() override { fs::remove_all(tmp_); }

  // The served repository, operated on directly (as its host would).
  std::string direct_uri() const { return "git://" + served_; }
  // Through git daemon, with a cache of its own.
  std::string remote_uri(const std::string& cache) const {
    return "git://" + (tmp_ / cache).string() + "?remote=" + url_ + name_;
  }
  void create_served() { open_ledger(direct_uri())->init(); }

  // Runs git; the test fails if git does.
  std::string git(const std::vector<std::string>& args, const fs::path& cwd = {}) {
    static const std::string git_path = on_path("git");
    std::vector<std::string> argv = {git_path};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = test::run_process(
        argv, {"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t"}, "",
        cwd);
    EXPECT_EQ(r.exit_code, 0) << "git " << args[0] << ": " << r.err;
    return r.out;
  }

  // Commits `files` (path -> content; "" deletes) on main of the served repository,
  // behind the ledger's back.
  void tamper(const std::map<std::string, std::string>& files) {
    fs::path work = tmp_ / "work";
    fs::remove_all(work);
    git({"clone", "-q", "--branch", "main", served_, work.string()});
    for (const auto& [path, content] : files) {
      if (content.empty()) {
        git({"rm", "-q", "-r", path}, work);
      } else {
        fs::create_directories((work / path).parent_path());
        test::write_file(work / path, content);
        git({"add", path}, work);
      }
    }
    git({"commit", "-q", "-m", "tamper"}, work);
    git({"push", "-q", "origin", "main"}, work);
  }

  std::string root_, url_, name_, served_;
  fs::path tmp_;
};

}  // namespace sacker::git_test
