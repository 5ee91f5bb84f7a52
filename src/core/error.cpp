#include "sacker/error.h"

#include <cerrno>
#include <cstring>

namespace sacker {

int exit_code(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::Internal: return 1;
    case ErrorKind::Invalid: return 2;
    case ErrorKind::NotFound: return 3;
    case ErrorKind::Conflict: return 4;
    case ErrorKind::Integrity: return 5;
    case ErrorKind::Denied: return 6;
    case ErrorKind::Unavailable: return 7;
    case ErrorKind::LocalIO: return 8;
    case ErrorKind::NotTrusted: return 9;
  }
  return 1;
}

const char* kind_name(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::Internal: return "internal";
    case ErrorKind::Invalid: return "invalid";
    case ErrorKind::NotFound: return "not found";
    case ErrorKind::Conflict: return "conflict";
    case ErrorKind::Integrity: return "integrity";
    case ErrorKind::Denied: return "denied";
    case ErrorKind::Unavailable: return "unavailable";
    case ErrorKind::LocalIO: return "local io";
    case ErrorKind::NotTrusted: return "not trusted";
  }
  return "internal";
}

ErrorKind kind_from_errno(int err) noexcept {
  switch (err) {
    case EACCES:
    case EPERM:
    case EROFS: return ErrorKind::Denied;
    case ENOENT:
    case ENOTDIR: return ErrorKind::NotFound;
    default: return ErrorKind::LocalIO;
  }
}

void throw_errno(const std::string& what, int err) {
  throw Error(kind_from_errno(err), what + ": " + std::strerror(err));
}

}  // namespace sacker
