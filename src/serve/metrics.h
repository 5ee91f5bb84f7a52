// /metrics of `sacker serve` in the Prometheus text format (version 0.0.4):
//   sacker_http_requests_total{route,method,status}   counter
//   sacker_http_request_duration_seconds{route,method} histogram
//   sacker_http_responses_total{status}                every response, routed or not
//   sacker_errors_total{kind}                          errors answered, by ErrorKind
// Thread-safe: one mutex, held only to bump a counter or to copy them out.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>

#include "sacker/error.h"
#include "serve/http_server.h"

namespace sacker::serve {

class Metrics {
 public:
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1,    5};

  void observe(std::string_view route, std::string_view method, int status, double seconds);
  void response(int status);  // from the server's access log hook: every response
  void error(ErrorKind kind);
  std::string render() const;

  // `handler` counted and timed under `pattern` (the route, never the raw path,
  // so the label set stays bounded).
  Handler instrument(std::string method, std::string pattern, Handler handler);

 private:
  struct Histogram {
    std::array<std::uint64_t, kBuckets.size()> buckets{};
    std::uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string, std::string, int>, std::uint64_t> requests_;
  std::map<std::pair<std::string, std::string>, Histogram> latency_;
  std::map<int, std::uint64_t> responses_;
  std::map<ErrorKind, std::uint64_t> errors_;
};

// The process's one instance (the server's access log, the API and the pages count
// into it).
Metrics& metrics();

}  // namespace sacker::serve
