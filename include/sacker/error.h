// The one error type of sacker. Every layer throws sacker::Error with one of a
// closed set of kinds; the CLI maps each kind 1:1 to a documented exit code.
// "Absent" is not an error: lookups return std::optional. A failure to find out
// (denied, unreachable) must never be reported as NotFound.
#pragma once

#include <stdexcept>
#include <string>

namespace sacker {

enum class ErrorKind {
  Internal,     // exit 1: a bug or an unexpected state
  Invalid,      // exit 2: usage errors and invalid input (names, URIs, config, specs)
  NotFound,     // exit 3: unknown package, version, tag, blob or file
  Conflict,     // exit 4: the state changed under us, or the target already exists differently
  Integrity,    // exit 5: bytes do not hash to the sha256 they were recorded under
  Denied,       // exit 6: the backend or the file system refused access
  Unavailable,  // exit 7: a backend could not be reached or answered with a server error
  LocalIO,      // exit 8: a local file could not be read or written
  NotTrusted,   // exit 9: a signature check of the trust policy failed (unsigned, unknown key, rollback, ...)
};

// The exit code the CLI uses for a kind (see README "Exit codes").
int exit_code(ErrorKind kind) noexcept;
// A short stable name ("not found", "conflict", ...) for logs and --json errors.
const char* kind_name(ErrorKind kind) noexcept;

class Error : public std::runtime_error {
 public:
  // `message` is "<what failed>: <why>" and must not contain secrets.
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

// Maps an errno from a local file operation to a kind (EACCES/EPERM -> Denied,
// ENOENT -> NotFound, others -> LocalIO).
ErrorKind kind_from_errno(int err) noexcept;
// Throws Error(kind_from_errno(err), "<what>: <strerror(err)>").
[[noreturn]] void throw_errno(const std::string& what, int err);

}  // namespace sacker
