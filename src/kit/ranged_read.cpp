#include "kit/ranged_read.h"

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <vector>

#include "kit/parallel.h"
#include "sacker/error.h"

namespace sacker {
namespace {

void fetch_exactly(const FetchPart& fetch, std::uint64_t offset, std::uint64_t length, std::string& out) {
  out.clear();
  fetch(offset, length, out);
  if (out.size() != length)
    throw Error(ErrorKind::Unavailable,
                fmt::format("a ranged read of {} bytes at {} returned {} bytes", length, offset, out.size()));
}

}  // namespace

void read_parts_in_order(std::uint64_t offset, std::uint64_t length, std::uint64_t part_size,
                         std::size_t concurrency, const FetchPart& fetch, const WritePart& write) {
  if (length == 0) return;
  part_size = std::max<std::uint64_t>(part_size, 1);
  concurrency = std::max<std::size_t>(concurrency, 1);
  const std::uint64_t count = (length + part_size - 1) / part_size;
  auto part_offset = [&](std::uint64_t i) { return offset + i * part_size; };
  auto part_length = [&](std::uint64_t i) { return std::min(part_size, length - i * part_size); };
  if (count == 1 || concurrency == 1) {
    std::string buf;
    for (std::uint64_t i = 0; i < count; ++i) {
      fetch_exactly(fetch, part_offset(i), part_length(i), buf);
      write(buf.data(), buf.size());
    }
    return;
  }
  struct Slot {
    std::string data;
    std::atomic<bool> done{false};  // set by the worker after `data`
  };
  // A ring of concurrency + 1 slots: the one being written and `concurrency` in flight.
  const std::size_t ring = concurrency + 1;
  std::vector<Slot> slots(ring);
  ParallelTasks tasks(concurrency);
  std::uint64_t next_submit = 0;
  for (std::uint64_t next_write = 0; next_write < count; ++next_write) {
    while (next_submit < count && next_submit < next_write + ring) {
      const std::uint64_t i = next_submit++;
      Slot& s = slots[i % ring];
      s.done = false;
      tasks.submit([&fetch, &s, off = part_offset(i), len = part_length(i)] {
        fetch_exactly(fetch, off, len, s.data);
        s.done = true;
      });
    }
    Slot& s = slots[next_write % ring];
    tasks.wait_until([&] { return s.done.load(); });
    write(s.data.data(), s.data.size());
  }
  tasks.wait_all();
}

}  // namespace sacker
