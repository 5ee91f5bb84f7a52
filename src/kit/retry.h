// One retry policy for every backend: jittered exponential backoff with an
// attempt limit and a deadline, and one give-up rule (STYLE.md: "one backoff,
// one give-up rule, not a loop per backend"). The HTTP layer uses the same delay
// formula for its transport retries.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

namespace sacker {

struct RetryPolicy {
  int max_attempts = 5;  // total attempts including the first; 0 = limited by `deadline` only
  std::chrono::milliseconds base_delay{100};
  std::chrono::milliseconds max_delay{20'000};
  std::chrono::milliseconds deadline{0};  // total time across attempts; 0 = no time limit

  // For lost races against other writers (compare-and-swap, conditional writes):
  // short delays, many attempts, one minute in all.
  static RetryPolicy contention();
};

// The wait after `failures` failed attempts (>= 1), full jitter: uniform in
// [0, min(max_delay, base_delay * 2^(failures-1))) scaled by `unit` in [0, 1).
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int failures, double unit);

// Why an attempt failed. It decides the kind of the error when the retries run out.
enum class FailureCause {
  LostRace,       // another writer won (a condition failed): gives up with Error(Conflict)
  ServerTrouble,  // unreachable, timed out, overloaded, connection lost: gives up with Error(Unavailable)
};

// Test seams; empty members take the defaults (steady_clock, sleep_for, random_unit).
struct RetryHooks {
  std::function<std::chrono::steady_clock::time_point()> now;
  std::function<void(std::chrono::milliseconds)> sleep;
  std::function<double()> random;
};

// The state of one operation's retry loop:
//
//   Retry retry(RetryPolicy::contention(), fmt::format("{}: add {}", where(), pkg));
//   for (;;) {
//     if (try_once()) return;
//     retry.failed(FailureCause::LostRace, "the counter moved");
//   }
class Retry {
 public:
  Retry(RetryPolicy policy, std::string what, RetryHooks hooks = {});

  // After a failed attempt: waits the backoff delay and returns if the policy
  // allows another attempt; otherwise throws Error(Conflict) (LostRace) or
  // Error(Unavailable) (ServerTrouble): "<what>: gave up after N attempts in S s: <detail>".
  void failed(FailureCause cause, std::string_view detail);
  // Whether one more failure would still be retried (no wait, no throw).
  bool can_retry() const;
  // Failed attempts so far.
  int failures() const { return failures_; }

 private:
  RetryPolicy policy_;
  std::string what_;
  RetryHooks hooks_;
  std::chrono::steady_clock::time_point start_;
  int failures_ = 0;
};

}  // namespace sacker
