// Running a profile's credential_process (aws_credentials.h): the command line is
// split as the AWS CLI splits it on POSIX (Python's shlex.split) and the program
// started without a shell; its stdout and stderr are captured.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sacker::aws {

// Splits `line` into arguments. Runs of whitespace separate arguments; inside
// '...' every character is literal; inside "..." too, except that a backslash
// before '"' or '\' stands for that character; outside quotes a backslash keeps the
// next character literally. Pieces next to each other form one argument
// (`"a b"c` is `a bc`; `""` is an empty argument). '#' is not special. Throws
// Error(Invalid) for an unclosed quote or a backslash at the end; the message
// does not quote the line (it may hold a secret).
std::vector<std::string> split_command_line(std::string_view line);

struct CapturedProcess {
  int exit_status = -1;  // the exit status, or -1 when a signal ended the process
  int signal = 0;        // that signal
  std::string out;       // stdout, at most max_output bytes
  bool out_truncated = false;
  std::string err;  // stderr, at most max_output bytes
};

// Runs argv[0] (searched in PATH when it has no '/') with `argv`, the environment
// of this process, stdin from /dev/null and no other inherited descriptor, and
// waits for it to end. Throws Error(kind_from_errno) "cannot run 'PROGRAM': why"
// when it cannot be started (e.g. NotFound for a missing program).
CapturedProcess run_captured(const std::vector<std::string>& argv, std::size_t max_output);

}  // namespace sacker::aws
