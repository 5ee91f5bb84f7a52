#include "sign/text_file.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <cerrno>

#include "sacker/error.h"

namespace sacker::sign {

std::optional<std::string> read_text_file(const std::filesystem::path& path, std::string_view what,
                                          std::size_t max_bytes, bool must_exist) {
  const std::string where = fmt::format("{} {}", what, path.string());
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT && !must_exist) return std::nullopt;
    throw_errno("cannot read " + where, errno);
  }
  std::string text;
  char buf[16384];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw_errno("cannot read " + where, err);
    }
    if (n == 0) break;
    if (text.size() + static_cast<std::size_t>(n) > max_bytes) {
      ::close(fd);
      throw Error(ErrorKind::Invalid, fmt::format("{}: larger than {} bytes", where, max_bytes));
    }
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return text;
}

}  // namespace sacker::sign
