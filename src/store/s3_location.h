// s3://bucket[/prefix][?option=value...] as the S3 store and the S3 ledger take
// it: the bucket, the key prefix and the options, read through UriOptions (one
// message format; unknown options refused). Not wire code: the S3 client only
// ever sees a bucket and keys.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "net/http.h"
#include "sacker/uri.h"

namespace sacker {

struct S3Uri {
  std::string bucket;
  std::string prefix;                          // "" or ends with '/'
  std::map<std::string, std::string> options;  // the allowed options that were given
  std::string display;                         // the URI for messages (redacted)
};

// Throws Error(Invalid) for a missing/invalid bucket name, a bad prefix, or an
// option not in `allowed` ("unknown option 'x' (known: ...)").
S3Uri parse_s3_uri(const Uri& uri, const std::vector<std::string>& allowed);

// The x-amz-acl header the "acl" option asks for on every object a backend
// writes (e.g. "bucket-owner-full-control", so that the bucket owner may read
// what another account's CI job wrote), or none. Error(Invalid) for a value that
// is not a canned ACL.
net::HttpHeaders s3_acl_headers(const S3Uri& uri);

// An option as a byte count or plain number: "1048576", "64M"/"64MiB", "1G"...
// within [min, max]; `fallback` when absent. Error(Invalid) naming the option.
std::uint64_t s3_size_option(const S3Uri& uri, const std::string& name, std::uint64_t fallback, std::uint64_t min,
                             std::uint64_t max);

}  // namespace sacker
