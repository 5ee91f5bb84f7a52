#include "aws/credential_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "sacker/error.h"
#include "sacker/names.h"

extern char** environ;

namespace sacker::aws {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Closes the descriptor it owns.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// posix_spawn_file_actions_t / posix_spawnattr_t released on every path.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnSetup() {
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

}  // namespace

std::vector<std::string> split_command_line(std::string_view line) {
  std::vector<std::string> args;
  std::string current;
  bool in_arg = false;  // something (maybe an empty quoted piece) belongs to `current`
  std::size_t i = 0;
  while (i < line.size()) {
    const char c = line[i];
    if (is_space(c)) {
      if (in_arg) args.push_back(std::move(current));
      current.clear();
      in_arg = false;
      ++i;
    } else if (c == '\'') {
      const std::size_t end = line.find('\'', i + 1);
      if (end == std::string_view::npos)
        throw Error(ErrorKind::Invalid, "the command line has a single quote without its closing quote");
      current.append(line.substr(i + 1, end - i - 1));
      in_arg = true;
      i = end + 1;
    } else if (c == '"') {
      ++i;
      for (;;) {
        if (i >= line.size())
          throw Error(ErrorKind::Invalid, "the command line has a double quote without its closing quote");
        const char d = line[i];
        if (d == '"') break;
        if (d == '\\' && i + 1 < line.size() && (line[i + 1] == '"' || line[i + 1] == '\\')) {
          current.push_back(line[i + 1]);
          i += 2;
        } else {
          current.push_back(d);
          ++i;
        }
      }
      in_arg = true;
      ++i;
    } else if (c == '\\') {
      if (i + 1 >= line.size()) throw Error(ErrorKind::Invalid, "the command line ends with a backslash");
      current.push_back(line[i + 1]);
      in_arg = true;
      i += 2;
    } else {
      current.push_back(c);
      in_arg = true;
      ++i;
    }
  }
  if (in_arg) args.push_back(std::move(current));
  return args;
}

CapturedProcess run_captured(const std::vector<std::string>& argv, std::size_t max_output) {
  if (argv.empty()) throw Error(ErrorKind::Invalid, "empty command line");
  const std::string program = printable(argv.front());
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw_errno("pipe", errno);
  Fd out_read(out_pipe[0]), out_write(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) throw_errno("pipe", errno);
  Fd err_read(err_pipe[0]), err_write(err_pipe[1]);

  pid_t pid = -1;
  {
    SpawnSetup setup;
    // stdin from /dev/null: sacker's own stdin may carry an artifact (`add pkg -`).
    // Descriptors 3 and up (sockets, lock files) stay ours.
    ::posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
    ::posix_spawn_file_actions_adddup2(&setup.actions, out_write.get(), 1);
    ::posix_spawn_file_actions_adddup2(&setup.actions, err_write.get(), 2);
    ::posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3);
    // Default dispositions for SIGPIPE (we may ignore it) and an empty signal mask.
    sigset_t defaults, empty;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigemptyset(&empty);
    ::posix_spawnattr_setsigdefault(&setup.attr, &defaults);
    ::posix_spawnattr_setsigmask(&setup.attr, &empty);
    ::posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    std::vector<char*> cargv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    const int rc = ::posix_spawnp(&pid, argv.front().c_str(), &setup.actions, &setup.attr, cargv.data(), environ);
    if (rc != 0) throw Error(kind_from_errno(rc), fmt::format("cannot run '{}': {}", program, std::strerror(rc)));
  }
  out_write.reset();
  err_write.reset();

  CapturedProcess result;
  auto reap = [&](bool kill_first) {
    if (kill_first) ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
      if (errno != EINTR) return status;
    }
    return status;
  };

  pollfd fds[2] = {{out_read.get(), POLLIN, 0}, {err_read.get(), POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_count = 2;
  char buf[8192];
  while (open_count > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      reap(true);
      throw_errno(fmt::format("reading the output of '{}'", program), err);
    }
    for (int k = 0; k < 2; ++k) {
      if (fds[k].fd < 0 || fds[k].revents == 0) continue;
      const ssize_t n = ::read(fds[k].fd, buf, sizeof buf);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {  // end of file (or a broken pipe): this stream is done
        fds[k].fd = -1;
        --open_count;
        continue;
      }
      std::string& sink = *sinks[k];
      const std::size_t room = max_output > sink.size() ? max_output - sink.size() : 0;
      const std::size_t take = std::min(room, static_cast<std::size_t>(n));
      sink.append(buf, take);
      if (take < static_cast<std::size_t>(n) && k == 0) result.out_truncated = true;
    }
  }
  const int status = reap(false);
  if (WIFEXITED(status)) {
    result.exit_status = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

}  // namespace sacker::aws
