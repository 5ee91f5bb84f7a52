// Parallel ranged downloads, reassembled in order: what a store with ranged reads
// (OPEN with offset/length, GET with Range) does for a large blob.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace sacker {

// Fetches one part on a worker thread: exactly `length` bytes at `offset` into
// `out` (cleared before the call; its capacity is reused), or throws.
using FetchPart = std::function<void(std::uint64_t offset, std::uint64_t length, std::string& out)>;
// Receives the parts on the calling thread, in order.
using WritePart = std::function<void(const char* data, std::size_t size)>;

// Reads [offset, offset + length) in parts of `part_size` bytes with up to
// `concurrency` fetches in flight and hands them to `write` in order. Memory is
// bounded by (concurrency + 1) part buffers, which are recycled. One part (or
// concurrency 1) is fetched on the calling thread. A part that comes back with
// another size throws Error(Unavailable); the first exception of a fetch or of
// `write` stops the rest and is rethrown here, after `write` got only whole
// parts that preceded it.
void read_parts_in_order(std::uint64_t offset, std::uint64_t length, std::uint64_t part_size,
                         std::size_t concurrency, const FetchPart& fetch, const WritePart& write);

}  // namespace sacker
