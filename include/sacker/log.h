#pragma once
// The -v diagnostic log: one process-wide sink for lines a user asked to see
// (HTTP attempts, retries, which backend was opened). Off unless a front end
// installs a sink. Callers must never pass secrets: the HTTP layer redacts
// signatures and credentials before it logs, and never logs header values.
#include <functional>
#include <string>

namespace sacker {

using LogSink = std::function<void(const std::string& line)>;

// Installs (or, with an empty function, removes) the sink. Not thread-safe
// against concurrent log_verbose calls: set it once at start-up.
void set_verbose_log(LogSink sink);

// Sends one line to the sink, if any. Thread-safe once the sink is set.
void log_verbose(const std::string& line);

}  // namespace sacker
