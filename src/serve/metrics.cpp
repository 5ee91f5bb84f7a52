#include "serve/metrics.h"

#include <fmt/core.h>

#include <chrono>
#include <utility>

namespace sacker::serve {
namespace {

// Label values are route patterns, method names and kind names: ours, but escape
// as the format asks anyway.
std::string label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

void Metrics::observe(std::string_view route, std::string_view method, int status, double seconds) {
  std::lock_guard lock(mutex_);
  ++requests_[{std::string(route), std::string(method), status}];
  auto& h = latency_[{std::string(route), std::string(method)}];
  for (std::size_t i = 0; i < kBuckets.size(); ++i)
    if (seconds <= kBuckets[i]) ++h.buckets[i];
  ++h.count;
  h.sum += seconds;
}

void Metrics::response(int status) {
  std::lock_guard lock(mutex_);
  ++responses_[status];
}

void Metrics::error(ErrorKind kind) {
  std::lock_guard lock(mutex_);
  ++errors_[kind];
}

std::string Metrics::render() const {
  std::unique_lock lock(mutex_);
  auto requests = requests_;
  auto latency = latency_;
  auto responses = responses_;
  auto errors = errors_;
  lock.unlock();
  std::string out =
      "# HELP sacker_http_requests_total Requests answered by a route.\n"
      "# TYPE sacker_http_requests_total counter\n";
  for (const auto& [key, n] : requests)
    out += fmt::format("sacker_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{}\"}} {}\n",
                       label(std::get<0>(key)), label(std::get<1>(key)), std::get<2>(key), n);
  out +=
      "# HELP sacker_http_request_duration_seconds Time from routing to the end of the handler (streamed bodies "
      "excluded).\n"
      "# TYPE sacker_http_request_duration_seconds histogram\n";
  for (const auto& [key, h] : latency) {
    const std::string labels = fmt::format("route=\"{}\",method=\"{}\"", label(key.first), label(key.second));
    for (std::size_t i = 0; i < kBuckets.size(); ++i)
      out += fmt::format("sacker_http_request_duration_seconds_bucket{{{},le=\"{}\"}} {}\n", labels, kBuckets[i],
                         h.buckets[i]);
    out += fmt::format("sacker_http_request_duration_seconds_bucket{{{},le=\"+Inf\"}} {}\n", labels, h.count);
    out += fmt::format("sacker_http_request_duration_seconds_sum{{{}}} {}\n", labels, h.sum);
    out += fmt::format("sacker_http_request_duration_seconds_count{{{}}} {}\n", labels, h.count);
  }
  out +=
      "# HELP sacker_http_responses_total Every response, routed or not (400, 404, 421 ... of the HTTP layer).\n"
      "# TYPE sacker_http_responses_total counter\n";
  for (const auto& [status, n] : responses)
    out += fmt::format("sacker_http_responses_total{{status=\"{}\"}} {}\n", status, n);
  out +=
      "# HELP sacker_errors_total Errors answered, by kind.\n"
      "# TYPE sacker_errors_total counter\n";
  for (const auto& [kind, n] : errors)
    out += fmt::format("sacker_errors_total{{kind=\"{}\"}} {}\n", label(kind_name(kind)), n);
  return out;
}

Handler Metrics::instrument(std::string method, std::string pattern, Handler handler) {
  return [this, method = std::move(method), pattern = std::move(pattern), handler = std::move(handler)](
             const Request& request, Response& response) {
    const auto start = std::chrono::steady_clock::now();
    int status = 500;
    try {
      handler(request, response);
      status = response.status;
    } catch (...) {
      observe(pattern, method, status,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      throw;
    }
    observe(pattern, method, status,
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  };
}

Metrics& metrics() {
  static Metrics instance;
  return instance;
}

}  // namespace sacker::serve
