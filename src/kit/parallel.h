// A small pool for parallel transfers (multipart uploads, ranged downloads).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sacker {

class BlobSink;
class Progress;

// Runs tasks on up to `threads` worker threads (started lazily). The first task
// that throws stops the others from starting; its exception is rethrown on the
// owner's thread by wait_until/wait_all. The destructor drops queued tasks and
// joins the workers. submit/wait_* are for the owner thread only.
class ParallelTasks {
 public:
  explicit ParallelTasks(std::size_t threads);
  ~ParallelTasks();
  ParallelTasks(const ParallelTasks&) = delete;
  ParallelTasks& operator=(const ParallelTasks&) = delete;

  void submit(std::function<void()> task);
  // Blocks until pred() holds (evaluated under the internal lock, initially and
  // after each task completes), calling `poll` (without the lock) after each wake.
  void wait_until(const std::function<bool()>& pred, const std::function<void()>& poll = {});
  // Waits for every submitted task.
  void wait_all(const std::function<void()>& poll = {});
  // Tasks submitted and not yet finished (call from inside a wait_until pred or
  // from the owner thread).
  std::size_t unfinished() const { return unfinished_; }

 private:
  void worker();
  std::size_t max_threads_;
  std::vector<std::thread> threads_;
  mutable std::mutex mutex_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<std::function<void()>> queue_;
  std::size_t unfinished_ = 0;
  std::size_t idle_ = 0;
  std::exception_ptr error_;
  bool stop_ = false;
};

// Parts 0..count-1 fetched on up to `concurrency` threads and delivered in order on
// the calling thread: `fetch(i, buffer)` (on a worker) fills `buffer` (cleared,
// capacity kept) with part i; `deliver(i, buffer)` (on the caller) consumes it.
// At most `concurrency` parts are fetched or in flight beyond the one delivered
// next, and their buffers are recycled (fresh multi-MiB buffers would cost a page
// fault per 4 KiB each time), so memory is bounded by concurrency x part size.
// `spare` seeds the buffer pool. The first exception of a fetch is rethrown here
// after the others have stopped; an exception of `deliver` propagates as is.
void fetch_in_order(std::size_t count, std::size_t concurrency,
                    const std::function<void(std::size_t, std::string&)>& fetch,
                    const std::function<void(std::size_t, std::string&)>& deliver, std::string spare = {});

// A store's parallel download of bytes [offset, end) of a blob, the shape the S3,
// Azure and WebHDFS stores share for get (from 0) and get_range: `first` holds
// bytes [offset, offset + first.size()) fetched already (by the request that
// learnt the size; may be empty) and is written first; the rest goes in parts of
// `part` bytes, each fetched by `fetch(at, length, buffer)` on a worker
// (fetch_in_order), handed to sink.arrived() there, and written to `sink` in
// order. Memory: at most `concurrency` + 1 part buffers. `progress` (may be null)
// runs from start(end - offset) to finish().
void download_in_parts(BlobSink& sink, Progress* progress, std::uint64_t offset, std::uint64_t end, std::string first,
                       std::uint64_t part, std::size_t concurrency,
                       const std::function<void(std::uint64_t, std::uint64_t, std::string&)>& fetch);

}  // namespace sacker
