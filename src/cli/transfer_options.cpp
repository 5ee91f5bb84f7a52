// --parallel, --part-size and --stall-timeout of add and download (issue 10), with
// the config file's "transfer" object as the fallback: flag > config file > the
// store's default. Applied to the store before the command moves a byte.
#include <fmt/core.h>

#include <CLI/CLI.hpp>

#include "cli/command.h"
#include "core/codec.h"
#include "kit/uri_options.h"
#include "sacker/error.h"
#include "sacker/names.h"
#include "sacker/spec.h"

namespace sacker::cli {

void transfer_opts(CLI::App& c, Args& a) {
  c.add_option_function<std::string>(
      "--parallel", [&a](const std::string& v) { a.parallel = v; },
      "parts in flight at once, 1..64 (1 = serial, for slow links; default 8)");
  c.add_option_function<std::string>(
      "--part-size", [&a](const std::string& v) { a.part_size = v; },
      "bytes per part and per resumable chunk, e.g. 16M (S3 uploads: 5M..5G)");
  c.add_option_function<std::string>(
      "--stall-timeout", [&a](const std::string& v) { a.stall_timeout = v; },
      "retry a part or chunk that moves no byte for this long, e.g. 30s (default 30s)");
}

TransferOptions transfer_options(Session& s, const Args& a) {
  const Config& c = s.config();
  TransferOptions o;
  // Where a bad value came from, in its error: the flag, else the config file's key.
  auto source = [](const std::optional<std::string>& flag, const char* name, const char* key) {
    return flag ? std::string(name) : fmt::format("the config file's transfer.{}", key);
  };
  if (auto v = a.parallel ? a.parallel : c.parallel) {
    auto n = codec::parse_decimal(*v);
    if (!n || *n < 1 || *n > 64)
      throw Error(ErrorKind::Invalid, fmt::format("{}: '{}' is not a number from 1 to 64",
                                                  source(a.parallel, "--parallel", "parallel"), printable(*v)));
    o.parallel = static_cast<std::size_t>(*n);
  }
  if (auto v = a.part_size ? a.part_size : c.part_size) {
    auto n = parse_size(*v, 5ULL << 30);
    if (!n || *n < (64u << 10))
      throw Error(ErrorKind::Invalid, fmt::format("{}: '{}' is not a size from 64K to 5G (e.g. 16M)",
                                                  source(a.part_size, "--part-size", "part_size"), printable(*v)));
    o.part_size = *n;
  }
  if (auto v = a.stall_timeout ? a.stall_timeout : c.stall_timeout) {
    o.stall_timeout = parse_duration_seconds(*v);
    if (o.stall_timeout < 1)
      throw Error(ErrorKind::Invalid, fmt::format("{}: '{}' must be at least 1s",
                                                  source(a.stall_timeout, "--stall-timeout", "stall_timeout"),
                                                  printable(*v)));
  }
  return o;
}

}  // namespace sacker::cli
