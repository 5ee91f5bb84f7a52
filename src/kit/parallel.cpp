#include "kit/parallel.h"

#include <algorithm>

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

}  // namespace sacker
