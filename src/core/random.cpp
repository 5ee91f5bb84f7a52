#include "core/random.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>

#include "core/codec.h"
#include "sacker/error.h"

namespace sacker {
namespace {

void fill_random(void* out, std::size_t size) {
  auto* p = static_cast<unsigned char*>(out);
  while (size > 0) {
    ssize_t n = ::getrandom(p, size, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(ErrorKind::Internal, std::string("getrandom: ") + std::strerror(errno));
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

}  // namespace

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  fill_random(raw.data(), raw.size());
  return codec::hex_encode(raw);
}

std::uint64_t random_u64() {
  std::uint64_t v = 0;
  fill_random(&v, sizeof v);
  return v;
}

double random_unit() { return static_cast<double>(random_u64() >> 11) * (1.0 / 9007199254740992.0); }

}  // namespace sacker
