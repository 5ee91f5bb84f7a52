// core/files: temp names that fit, abandoned temp files, and the signal handler
// that removes this process's temp files (issue 7 points 11, 18).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "core/files.h"
#include "sacker/error.h"
#include "support/test_env.h"

namespace sacker {
namespace {

namespace fs = std::filesystem;

TEST(TempFileName, FitsIn255BytesAndKeepsUtf8Whole) {
  EXPECT_EQ(temp_file_prefix("app.jar"), ".app.jar.sacker-");
  const std::string long_stem(255, 'n');
  EXPECT_EQ(temp_file_prefix(long_stem).size() + 6, 255u);
  std::string accented = std::string(239, 'a') + "\xc3\xa9";  // the 2-byte character straddles byte 240
  EXPECT_EQ(temp_file_prefix(accented), "." + std::string(239, 'a') + ".sacker-");
  EXPECT_TRUE(is_temp_file_name(".app.jar.sacker-Ab12Cd"));
  EXPECT_FALSE(is_temp_file_name("app.jar"));
  EXPECT_FALSE(is_temp_file_name(".app.jar.sacker-Ab12C"));
  EXPECT_FALSE(is_temp_file_name(".app.jar.sacker-Ab/2Cd"));
}

TEST(TempFileName, ALongStemMakesAWorkingTempFile) {
  auto dir = test::make_temp_dir("sacker-files");
  {
    TempFile tmp(dir, std::string(255, 'x'));
    EXPECT_TRUE(fs::exists(tmp.path()));
    EXPECT_EQ(tmp.path().filename().string().size(), 255u);
  }
  fs::remove_all(dir);
}

TEST(TempFile, AMissingDirectoryIsALocalIOError) {
  try {
    TempFile tmp("/nonexistent/dir", "stdin");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::LocalIO);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir"), std::string::npos);
  }
}

// A child makes two temp files, installs the handler, and gets each signal: the
// files are gone and it died of that signal.
TEST(CleanupOnSignals, RemovesThisProcessesTempFilesAndDiesOfTheSignal) {
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    auto dir = test::make_temp_dir("sacker-signal");
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::signal(sig, SIG_DFL);
      install_cleanup_on_signals();
      TempFile a(dir, "dest.bin"), b(dir, "stdin");
      a.write("partial", 7);
      char c = 'r';
      (void)!::write(ready[1], &c, 1);
      for (;;) ::pause();
    }
    char c;
    ASSERT_EQ(::read(ready[0], &c, 1), 1);  // both files exist now
    EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 2);
    ::kill(pid, sig);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig) << sig;
    EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 0) << "signal " << sig;
    ::close(ready[0]);
    ::close(ready[1]);
    fs::remove_all(dir);
  }
}

TEST(CleanupOnSignals, AnIgnoredSignalStaysIgnored) {
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::signal(SIGHUP, SIG_IGN);  // nohup
    install_cleanup_on_signals();
    ::raise(SIGHUP);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(AbandonedTempFiles, OnlyUnlockedAndIdleOnesGo) {
  auto dir = test::make_temp_dir("sacker-abandoned");
  test::write_file(dir / ".x.sacker-Old001", "old");
  test::write_file(dir / ".x.sacker-New001", "new");
  test::write_file(dir / "x", "not a temp file");
  fs::last_write_time(dir / ".x.sacker-Old001", fs::file_time_type::clock::now() - std::chrono::hours(1));
  fs::last_write_time(dir / "x", fs::file_time_type::clock::now() - std::chrono::hours(1));
  EXPECT_EQ(remove_abandoned_temp_files(dir, std::nullopt, 60), 1u);
  EXPECT_FALSE(fs::exists(dir / ".x.sacker-Old001"));
  EXPECT_TRUE(fs::exists(dir / ".x.sacker-New001"));
  EXPECT_TRUE(fs::exists(dir / "x"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace sacker
