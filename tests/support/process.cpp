#include "support/process.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <stdexcept>

#include "support/test_env.h"

extern char** environ;

namespace sacker::test {

std::vector<std::string> merged_environment(const std::vector<std::string>& env) {
  std::vector<std::string> envs;
  auto set = [&envs](const std::string& entry) {
    auto name = entry.substr(0, entry.find('=') + 1);
    for (auto& e : envs)
      if (e.compare(0, name.size(), name) == 0) return void(e = entry);
    envs.push_back(entry);
  };
  for (char** e = environ; *e; ++e) set(*e);
  for (const auto& e : env) set(e);
  return envs;
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                           const std::string& stdin_data, const std::filesystem::path& cwd) {
  dir_ = make_temp_dir("sacker-child");
  write_file(dir_ / "stdin", stdin_data);
  const std::vector<std::string> envs = merged_environment(env);
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : envs) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);

  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int in = ::open((dir_ / "stdin").c_str(), O_RDONLY);
    int out = ::open((dir_ / "stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = ::open((dir_ / "stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    // execvpe: a bare program name is searched in our own PATH.
    ::execvpe(cargv[0], cargv.data(), cenv.data());
    ::_exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (!waited_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

ProcessResult ChildProcess::wait() {
  ProcessResult r;
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error("waitpid failed");
  }
  waited_ = true;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_file(dir_ / "stdout");
  r.err = read_file(dir_ / "stderr");
  return r;
}

Listening spawn_listening(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                          const std::filesystem::path& stderr_path, const std::filesystem::path& cwd) {
  std::vector<std::string> envs = merged_environment(env), args = argv;
  std::vector<char*> cargv, cenv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : envs) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  Listening out;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return out;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  if (!stderr_path.empty())
    posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  if (::posix_spawn(&out.pid, cargv[0], &actions, nullptr, cargv.data(), cenv.data()) != 0) out.pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  char c;
  while (out.pid > 0 && ::read(fds[0], &c, 1) == 1 && c != '\n') out.first_line += c;
  ::close(fds[0]);
  return out;
}

std::uint64_t peak_rss_kib(pid_t pid) {
  std::ifstream in(pid == 0 ? std::string("/proc/self/status") : "/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6));
  return 0;
}

ProcessResult run_process(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                          const std::string& stdin_data, const std::filesystem::path& cwd) {
  ChildProcess child(argv, env, stdin_data, cwd);
  return child.wait();
}

}  // namespace sacker::test
