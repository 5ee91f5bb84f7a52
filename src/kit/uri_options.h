// What every backend does with its URI, written once: query options read with
// one message format and unknown options refused for every scheme; host lists
// with percent-decoded credentials; local paths without an authority.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sacker/uri.h"

namespace sacker {

// Throws Error(Invalid) "invalid URI '<the URI, redacted>': <why>".

// A byte count: "1048576", "64K", "16M"/"16MiB", "1G"/"1GiB" (binary units), at
// most `max`; nullopt otherwise. What take_size and the S3 size options read.
std::optional<std::uint64_t> parse_size(std::string_view text, std::uint64_t max);
[[noreturn]] void throw_invalid_uri(const Uri& uri, std::string_view why);

// Reads the query options of a backend URI. Every option a backend knows is
// taken once through take*(); finish() then refuses anything left over, naming
// the options the backend knows. Values are already percent-decoded (parse_uri).
//
//   UriOptions options(uri);
//   auto page = options.take_uint("page_size", 1000, 1, 1000);
//   auto acl = options.take("acl");
//   options.finish();
class UriOptions {
 public:
  explicit UriOptions(const Uri& uri);

  std::optional<std::string> take(std::string_view name);
  std::string take_or(std::string_view name, std::string fallback);
  // A decimal within [min, max]; Error(Invalid) naming the option otherwise.
  std::uint64_t take_uint(std::string_view name, std::uint64_t fallback, std::uint64_t min, std::uint64_t max);
  // A byte count within [min, max]: "1048576", "64K", "16M"/"16MiB", "1G"/"1GiB"
  // (binary units); Error(Invalid) naming the option otherwise.
  std::uint64_t take_size(std::string_view name, std::uint64_t fallback, std::uint64_t min, std::uint64_t max);
  // true/false, 1/0, yes/no, on/off; a bare "?name" means true.
  bool take_bool(std::string_view name, bool fallback);
  // A duration as parse_duration_seconds reads it ("30s", "5m"), in seconds.
  std::int64_t take_seconds(std::string_view name, std::int64_t fallback);
  // Refuses options that no take*() asked for: "unknown option 'x' (known: a, b)".
  void finish() const;

  const Uri& uri() const { return uri_; }

 private:
  const Uri& uri_;
  std::set<std::string> known_;
};

// A local path for schemes like sqlite:///path and file:///path: the authority
// must be empty and the path absolute (so "sqlite://var/x.db" is not silently
// relative to the current directory, and "sqlite://user:pw@/x" creates nothing).
std::filesystem::path local_path(const Uri& uri, std::string_view example);

struct HostPort {
  std::string host;  // as written, without brackets for IPv6, percent-decoded
  std::uint16_t port = 0;
};
// "[user[:password]@]host[:port][,host[:port]...]" as ZooKeeper, etcd and
// PostgreSQL URIs carry it. User and password are percent-decoded ("%40" is '@').
struct HostList {
  std::string user, password;
  std::vector<HostPort> hosts;
};
// Throws Error(Invalid) (via throw_invalid_uri) for an empty host, a bad port or
// a bad escape. `default_port` fills hosts written without one.
HostList parse_host_list(const Uri& uri, std::uint16_t default_port);

}  // namespace sacker
