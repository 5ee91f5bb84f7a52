// Random values from the kernel (getrandom), so they stay unique across fork()
// and need no seeding. Not for bulk data: each call is one system call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace sacker {

// `bytes` random bytes as 2*bytes lower-case hex digits (ids, nonces, temp names).
std::string random_hex(std::size_t bytes = 16);
std::uint64_t random_u64();
// Uniform in [0, 1).
double random_unit();

}  // namespace sacker
