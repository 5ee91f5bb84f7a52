// `sacker doctor`: a live check of the configured ledger and store, step by step,
// through the same Ledger/Store operations the commands use (plus, for AWS
// backends, where the credentials came from and the server's clock).
//
// Steps per backend, in order: reachable, credentials (AWS schemes), can list,
// can read, can write (a probe it removes; skipped with read_only), clock (AWS
// schemes: the server's HTTP Date against ours; SigV4 fails past 15 minutes).
// The probes: a random 64-byte blob put into and removed from the store, and a
// version of the package "sacker-doctor-probe" added to and removed from the
// ledger (the ledger keeps the two events, as it does for every change).
//
// A client whose every read and list is denied but whose store write works (a
// wrong key cannot write, so this is the credentials' policy)
// is a PutObject-only client (examples/ci-aws-iam-policy.json): its denied steps
// are expected, the ledger probe is not written (it could not be removed) and
// the report is ok. Messages never contain secrets (they come from the backends'
// errors, which never do).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sacker/config.h"
#include "sacker/error.h"

namespace sacker {

enum class CheckStatus {
  Ok,
  Failed,
  Skipped,   // not run (read_only, or nothing to check for this backend)
  Expected,  // denied, as a PutObject-only client must be
};

struct DoctorCheck {
  std::string role;  // "ledger" or "store"
  std::string uri;   // redacted
  std::string step;  // "reachable", "credentials", "can list", "can read", "can write", "clock"
  CheckStatus status = CheckStatus::Ok;
  std::string detail;                    // what was found, one line
  std::string fix;                       // for Failed: what to do
  ErrorKind kind = ErrorKind::Internal;  // for Failed: the error's kind (the exit code)
};

struct DoctorReport {
  std::vector<DoctorCheck> checks;
  bool write_only = false;  // the PutObject-only pattern (see above)
  // Everything the role needs works: no Failed check.
  bool ok() const;
  // The kind of the first Failed check (ok(): nullopt).
  std::optional<ErrorKind> failure() const;
};

struct DoctorOptions {
  bool read_only = false;
  std::function<std::int64_t()> clock;  // Unix seconds; default: the system clock
};

DoctorReport run_doctor(const Config& config, const DoctorOptions& options);

// What to do about a failed step, from the error's kind and the server's error
// code (SignatureDoesNotMatch, InvalidAccessKeyId, AccessDenied...).
std::string doctor_fix(const Error& e, const std::string& role);

// Clock skew: server time (an HTTP Date header, "Wed, 21 Oct 2015 07:28:00 GMT")
// minus `now`, in seconds; nullopt if the header is not such a date. Pure.
std::optional<std::int64_t> clock_skew_seconds(const std::string& date_header, std::int64_t now);
inline constexpr std::int64_t kMaxClockSkewSeconds = 15 * 60;  // SigV4's limit

// --- the AWS part (doctor_aws.cpp; empty answers when no AWS backend is built).
// doctor.cpp calls aws_probe and aws_list_probe, which the scheme table defines
// (client/registry.cpp): the *_linked ones of doctor_aws.cpp when every backend is
// linked in, the wire module's copies when backends load on demand.

struct AwsProbe {
  std::optional<DoctorCheck> reachable, credentials, clock;
};
// For an s3:// or dynamo:// URI: can its endpoint be reached (an unsigned GET:
// any HTTP answer counts), which credential source the chain picks, and the
// server's clock. nullopt for other schemes.
std::optional<AwsProbe> aws_probe(const std::string& role, const std::string& uri, std::int64_t now);
// For an s3:// store: ListObjectsV2 of one key under its prefix (a store's
// list() would page through every blob). nullopt for other schemes.
std::optional<DoctorCheck> aws_list_probe(const std::string& uri);

std::optional<AwsProbe> aws_probe_linked(const std::string& role, const std::string& uri, std::int64_t now);
std::optional<DoctorCheck> aws_list_probe_linked(const std::string& uri);

}  // namespace sacker
