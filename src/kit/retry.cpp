#include "kit/retry.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <thread>

#include "core/random.h"
#include "sacker/error.h"

namespace sacker {

RetryPolicy RetryPolicy::contention() {
  RetryPolicy p;
  p.max_attempts = 0;
  p.base_delay = std::chrono::milliseconds(2);
  p.max_delay = std::chrono::milliseconds(200);
  p.deadline = std::chrono::seconds(60);
  return p;
}

std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int failures, double unit) {
  const double base = static_cast<double>(policy.base_delay.count());
  const double ceiling = std::min(static_cast<double>(policy.max_delay.count()),
                                  base * std::pow(2.0, std::clamp(failures, 1, 62) - 1));
  return std::chrono::milliseconds(static_cast<long long>(std::clamp(unit, 0.0, 1.0) * ceiling));
}

Retry::Retry(RetryPolicy policy, std::string what, RetryHooks hooks)
    : policy_(policy), what_(std::move(what)), hooks_(std::move(hooks)) {
  if (!hooks_.now) hooks_.now = [] { return std::chrono::steady_clock::now(); };
  if (!hooks_.sleep) hooks_.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  if (!hooks_.random) hooks_.random = [] { return random_unit(); };
  start_ = hooks_.now();
}

bool Retry::can_retry() const {
  if (policy_.max_attempts > 0 && failures_ + 1 >= policy_.max_attempts) return false;
  if (policy_.deadline.count() > 0 && hooks_.now() - start_ >= policy_.deadline) return false;
  return true;
}

void Retry::failed(FailureCause cause, std::string_view detail) {
  const bool again = can_retry();
  ++failures_;
  if (!again) {
    const double seconds = std::chrono::duration<double>(hooks_.now() - start_).count();
    throw Error(cause == FailureCause::LostRace ? ErrorKind::Conflict : ErrorKind::Unavailable,
                fmt::format("{}: gave up after {} attempts in {:.1f} s: {}", what_, failures_, seconds, detail));
  }
  auto delay = backoff_delay(policy_, failures_, hooks_.random());
  if (policy_.deadline.count() > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(policy_.deadline - (hooks_.now() - start_));
    delay = std::clamp(delay, std::chrono::milliseconds(0), left);
  }
  hooks_.sleep(delay);
}

}  // namespace sacker
