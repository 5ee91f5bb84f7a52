#include "sacker/log.h"

#include <mutex>

namespace sacker {
namespace {
LogSink& sink() {
  static LogSink s;
  return s;
}
std::mutex& sink_mutex() {
  static std::mutex m;
  return m;
}
}  // namespace

void set_verbose_log(LogSink s) { sink() = std::move(s); }

void log_verbose(const std::string& line) {
  if (!sink()) return;
  // Serialised so lines from parallel part transfers never interleave.
  std::lock_guard<std::mutex> lock(sink_mutex());
  sink()(line);
}

}  // namespace sacker
