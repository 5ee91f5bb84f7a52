#include "kit/parallel.h"

#include <algorithm>
#include <atomic>

#include "sacker/store.h"

namespace sacker {

ParallelTasks::ParallelTasks(std::size_t threads) : max_threads_(std::max<std::size_t>(1, threads)) {}

ParallelTasks::~ParallelTasks() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
    queue_.clear();
  }
  work_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ParallelTasks::submit(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    if (error_) return;  // a task failed: wait_* rethrows it
    queue_.push_back(std::move(task));
    ++unfinished_;
    if (idle_ == 0 && threads_.size() < max_threads_) threads_.emplace_back([this] { worker(); });
  }
  work_cv_.notify_one();
}

void ParallelTasks::worker() {
  std::unique_lock lock(mutex_);
  while (true) {
    ++idle_;
    work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    --idle_;
    if (stop_) return;
    auto task = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    std::exception_ptr failed;
    try {
      task();
    } catch (...) {
      failed = std::current_exception();
    }
    lock.lock();
    --unfinished_;
    if (failed && !error_) {
      error_ = failed;
      unfinished_ -= queue_.size();
      queue_.clear();
    }
    done_cv_.notify_all();
  }
}

void ParallelTasks::wait_until(const std::function<bool()>& pred, const std::function<void()>& poll) {
  std::unique_lock lock(mutex_);
  while (true) {
    if (error_) {
      // Let the tasks still running finish before the caller cleans up after them.
      done_cv_.wait(lock, [&] { return unfinished_ == 0; });
      std::rethrow_exception(error_);
    }
    if (pred()) return;
    done_cv_.wait(lock);
    if (poll) {
      lock.unlock();
      poll();
      lock.lock();
    }
  }
}

void ParallelTasks::wait_all(const std::function<void()>& poll) {
  wait_until([this] { return unfinished_ == 0; }, poll);
}

void fetch_in_order(std::size_t count, std::size_t concurrency,
                    const std::function<void(std::size_t, std::string&)>& fetch,
                    const std::function<void(std::size_t, std::string&)>& deliver, std::string spare) {
  concurrency = std::max<std::size_t>(1, concurrency);
  if (concurrency == 1 || count == 1) {  // nothing to overlap: no thread
    for (std::size_t i = 0; i < count; ++i) {
      spare.clear();
      fetch(i, spare);
      deliver(i, spare);
    }
    return;
  }
  struct Slot {
    std::string data;
    std::atomic<bool> done{false};
  };
  std::vector<Slot> slots(count);
  std::vector<std::string> free_buffers;
  free_buffers.push_back(std::move(spare));
  ParallelTasks tasks(concurrency);
  std::size_t next_submit = 0;
  for (std::size_t next_deliver = 0; next_deliver < count; ++next_deliver) {
    while (next_submit < count && next_submit < next_deliver + concurrency) {
      const std::size_t i = next_submit++;
      if (!free_buffers.empty()) {
        slots[i].data = std::move(free_buffers.back());
        free_buffers.pop_back();
      }
      slots[i].data.clear();
      tasks.submit([&slots, &fetch, i] {
        fetch(i, slots[i].data);
        slots[i].done = true;
      });
    }
    tasks.wait_until([&] { return slots[next_deliver].done.load(); });
    deliver(next_deliver, slots[next_deliver].data);
    free_buffers.push_back(std::move(slots[next_deliver].data));
  }
}

void download_in_parts(BlobSink& sink, Progress* progress, std::uint64_t offset, std::uint64_t end, std::string first,
                       std::uint64_t part, std::size_t concurrency,
                       const std::function<void(std::uint64_t, std::uint64_t, std::string&)>& fetch) {
  if (progress) progress->start(end - offset);
  const std::uint64_t from = offset + first.size();
  if (!first.empty()) {
    sink.write(first.data(), first.size());
    if (progress) progress->advance(first.size());
  }
  if (from < end) {
    const auto count = static_cast<std::size_t>((end - from + part - 1) / part);
    fetch_in_order(
        count, concurrency,
        [&](std::size_t i, std::string& buf) {
          const std::uint64_t at = from + i * part, length = std::min(part, end - at);
          buf.reserve(static_cast<std::size_t>(length));
          fetch(at, length, buf);
          sink.arrived(at, buf.data(), buf.size());  // a resumable download keeps it now
        },
        [&](std::size_t, std::string& buf) {
          sink.write(buf.data(), buf.size());
          if (progress) progress->advance(buf.size());
        },
        std::move(first));
  }
  if (progress) progress->finish();
}

}  // namespace sacker
