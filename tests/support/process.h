// Running child processes from tests (the sacker binary, conformance workers).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace sacker::test {

struct ProcessResult {
  int exit_code = -1;  // 128 + signal if killed by a signal
  std::string out, err;
};

// The current environment, then `env` ("K=V") in order: a later entry for a name wins.
std::vector<std::string> merged_environment(const std::vector<std::string>& env);

// A child whose stdout/stderr go to temp files; `wait` collects them.
class ChildProcess {
 public:
  // `env` entries "K=V" are added to (and override) the current environment.
  ChildProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
               const std::string& stdin_data = "", const std::filesystem::path& cwd = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  pid_t pid() const { return pid_; }
  ProcessResult wait();

 private:
  pid_t pid_ = -1;
  std::filesystem::path dir_;
  bool waited_ = false;
};

// A server started by spawn_listening: its pid and the first line it printed.
struct Listening {
  pid_t pid = -1;
  std::string first_line;
};
// Starts `argv` (environment: merged_environment(env)) with stdout on a pipe, stderr
// appended to `stderr_path` (inherited if empty), in `cwd` (ours if empty), and reads
// its first line ("listening on http://..."); the rest of its stdout is dropped.
// pid -1 if it could not be started. The caller stops it (by pid) and waits for it.
Listening spawn_listening(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
                          const std::filesystem::path& stderr_path = {}, const std::filesystem::path& cwd = {});

// The peak resident set (VmHWM) of process `pid` in KiB (0: this process); 0 if unknown.
std::uint64_t peak_rss_kib(pid_t pid = 0);

// Runs to completion.
ProcessResult run_process(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
                          const std::string& stdin_data = "", const std::filesystem::path& cwd = {});

}  // namespace sacker::test
