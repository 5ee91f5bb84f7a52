// `sacker doctor` (client/doctor.h): each step is one real operation of the
// Ledger/Store interface, caught and turned into a line with a fix.
#include "client/doctor.h"

#include <fmt/core.h>

#include <chrono>
#include <memory>
#include <stdexcept>

#include "core/codec.h"
#include "core/files.h"
#include "core/random.h"
#include "sacker/backends.h"
#include "sacker/client.h"
#include "sacker/names.h"
#include "sacker/sha256.h"
#include "sacker/uri.h"

namespace sacker {
namespace {

constexpr const char* kProbePackage = "sacker-doctor-probe";

bool contains(const std::string& text, std::string_view word) { return text.find(word) != std::string::npos; }

}  // namespace

std::string doctor_fix(const Error& e, const std::string& role) {
  const std::string what = e.what();
  switch (e.kind()) {
    case ErrorKind::Unavailable:
      return fmt::format(
          "start the server or correct the {} URI's host and port ('sacker config' shows where it "
          "was set)",
          role);
    case ErrorKind::Denied:
      if (contains(what, "SignatureDoesNotMatch"))
        return "the secret key does not belong to the access key id: check AWS_SECRET_ACCESS_KEY or the profile's "
               "aws_secret_access_key";
      if (contains(what, "InvalidAccessKeyId"))
        return "the server does not know this access key id: check AWS_ACCESS_KEY_ID or the profile";
      if (contains(what, "no AWS credentials"))
        return "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run where a role is attached";
      return fmt::format(
          "grant this identity access to the {} (S3: s3:ListBucket, s3:GetObject, s3:PutObject, "
          "s3:DeleteObject), or check the path's permissions",
          role);
    case ErrorKind::NotFound: return "create it: sacker init";
    case ErrorKind::Invalid:
      return fmt::format("correct the {} URI or the config file ('sacker config' shows which)", role);
    case ErrorKind::LocalIO: return "check the local path, its permissions and free space";
    default: return "see the message";
  }
}

namespace {

class Steps {
 public:
  Steps(std::string role, std::string uri) : role_(std::move(role)), uri_(redact_uri(uri)) {}

  DoctorCheck& add(const std::string& step, CheckStatus status, std::string detail) {
    checks_.push_back({role_, uri_, step, status, std::move(detail), "", ErrorKind::Internal});
    return checks_.back();
  }
  DoctorCheck& failed(const std::string& step, const Error& e) {
    DoctorCheck& c = add(step, CheckStatus::Failed, e.what());
    c.fix = doctor_fix(e, role_);
    c.kind = e.kind();
    return c;
  }
  void push(const DoctorCheck& c) { checks_.push_back(c); }
  DoctorCheck* find(const std::string& step) {
    for (auto& c : checks_)
      if (c.step == step) return &c;
    return nullptr;
  }
  // Denied (a wrong key cannot write, so with a working write this is policy).
  bool denied(const std::string& step) {
    const DoctorCheck* c = find(step);
    return c && c->status == CheckStatus::Failed && c->kind == ErrorKind::Denied;
  }
  std::vector<DoctorCheck>& checks() { return checks_; }

 private:
  std::string role_, uri_;
  std::vector<DoctorCheck> checks_;
};

// Runs one step; an exception becomes its Failed line (anything but an Error is a
// bug: Internal).
template <class F>
void step(Steps& steps, const std::string& name, F f) {
  try {
    steps.add(name, CheckStatus::Ok, f());
  } catch (const Error& e) {
    steps.failed(name, e);
  } catch (const std::exception& e) {
    steps.failed(name, Error(ErrorKind::Internal, fmt::format("internal error: {}", e.what())));
  }
}

// "reachable" for backends without an AWS probe: whatever answered the first
// operation (anything but Unavailable) was reached.
void reachable_from(Steps& steps, const std::optional<AwsProbe>& aws, const std::string& first_step) {
  if (aws && aws->reachable) return;
  DoctorCheck* first = steps.find(first_step);
  if (!first) return;
  if (first->status == CheckStatus::Failed && first->kind == ErrorKind::Unavailable) {
    first->step = "reachable";
    return;
  }
  auto& checks = steps.checks();
  DoctorCheck reached = *first;
  reached.step = "reachable";
  reached.status = CheckStatus::Ok;
  reached.detail = "the backend answered";
  reached.fix.clear();
  reached.kind = ErrorKind::Internal;
  checks.insert(checks.begin(), reached);
}

bool reached(Steps& steps) {
  const DoctorCheck* r = steps.find("reachable");
  return r && r->status == CheckStatus::Ok;
}

// Opens with `open`; a failure is the "reachable" line (or the URI's own error).
template <class T, class F>
std::unique_ptr<T> open_step(Steps& steps, F open) {
  try {
    return open();
  } catch (const Error& e) {
    steps.failed(e.kind() == ErrorKind::Unavailable ? "reachable" : "open", e);
    return nullptr;
  }
}

// The AWS probe's lines; false if the endpoint could not be reached.
bool aws_lines(Steps& steps, const std::optional<AwsProbe>& aws) {
  if (!aws) return true;
  if (aws->reachable) steps.push(*aws->reachable);
  if (aws->reachable && aws->reachable->status == CheckStatus::Failed) return false;
  if (aws->credentials) steps.push(*aws->credentials);
  return true;
}

struct ProbeBlob {
  std::unique_ptr<TempFile> file;
  std::string sha256;
  std::uint64_t size = 64;
};

ProbeBlob make_probe_blob() {
  ProbeBlob blob;
  blob.file = std::make_unique<TempFile>(temp_directory(), "doctor-probe");
  const std::string bytes = "sacker doctor probe " + random_hex(22);  // 64 bytes
  blob.file->write(bytes.data(), bytes.size());
  blob.size = bytes.size();
  blob.sha256 = Sha256::hex_of(bytes.data(), bytes.size());
  return blob;
}

std::vector<DoctorCheck> check_store(const Config& config, const DoctorOptions& options, std::int64_t now,
                                     const ProbeBlob& probe) {
  std::string uris;
  for (const auto& u : config.stores) uris += (uris.empty() ? "" : " ") + u;
  Steps steps("store", uris);
  std::optional<AwsProbe> aws;
  for (const auto& u : config.stores)
    if (!aws) aws = aws_probe("store", u, now);
  if (!aws_lines(steps, aws)) return steps.checks();
  auto store = open_step<Store>(steps, [&] { return open_store_chain(config.stores); });
  if (!store) return steps.checks();

  std::optional<DoctorCheck> cheap_list = config.stores.size() == 1 ? aws_list_probe(config.stores[0]) : std::nullopt;
  if (cheap_list)
    steps.push(*cheap_list);
  else
    step(steps, "can list", [&] { return fmt::format("{} blobs", store->list().size()); });
  reachable_from(steps, aws, "can list");
  if (!reached(steps)) return steps.checks();
  step(steps, "can read", [&] {
    auto info = store->stat(probe.sha256);
    return info ? std::string("the probe blob exists already") : std::string("a missing blob reads as absent");
  });
  if (options.read_only) {
    steps.add("can write", CheckStatus::Skipped, "skipped (--read-only)");
  } else {
    step(steps, "can write", [&] {
      store->put_file(probe.sha256, probe.file->path(), probe.size, nullptr);
      try {
        store->remove(probe.sha256);
        return std::string("put and removed a 64-byte probe blob");
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::Denied) throw;
        return fmt::format("put a 64-byte probe blob ({}); removing it was denied, gc removes it", probe.sha256);
      }
    });
  }
  if (aws && aws->clock) steps.push(*aws->clock);
  return steps.checks();
}

std::vector<DoctorCheck> check_ledger(const Config& config, const DoctorOptions& options, std::int64_t now,
                                      const ProbeBlob& probe, bool store_writes) {
  Steps steps("ledger", config.ledger);
  std::optional<AwsProbe> aws = aws_probe("ledger", config.ledger, now);
  if (!aws_lines(steps, aws)) return steps.checks();
  auto ledger = open_step<Ledger>(steps, [&] { return open_ledger(config.ledger); });
  if (!ledger) return steps.checks();

  std::vector<std::string> packages;
  step(steps, "can list", [&] {
    packages = ledger->packages();
    return fmt::format("{} packages", packages.size());
  });
  reachable_from(steps, aws, "can list");
  if (!reached(steps)) return steps.checks();
  step(steps, "can read", [&] {
    const std::string package = packages.empty() ? kProbePackage : packages.front();
    auto versions = ledger->versions(package);
    if (versions.empty()) return fmt::format("read {} (no versions)", printable(package));
    auto record = ledger->get(package, versions.back());
    return fmt::format("read {} version {}{}", printable(package), versions.back(), record ? "" : " (gone meanwhile)");
  });
  const bool write_only = store_writes && steps.denied("can list") && steps.denied("can read");
  if (options.read_only) {
    steps.add("can write", CheckStatus::Skipped, "skipped (--read-only)");
  } else if (write_only) {
    steps.add("can write", CheckStatus::Skipped,
              "not probed: a PutObject-only client could not remove a probe version (add needs only PutObject, "
              "which the store probe used)");
  } else {
    step(steps, "can write", [&] {
      VersionRecord record;
      record.package = kProbePackage;
      record.sha256 = probe.sha256;
      record.size = probe.size;
      record.basename = "probe";
      record.created = now;
      ChangeContext ctx;
      ctx.time = now;
      ctx.actor = default_actor(process_env());
      ctx.client = "sacker doctor";
      ctx.comment = "sacker doctor probe";
      const std::uint64_t version = ledger->add(record, ctx);
      ledger->remove_version(kProbePackage, version, ctx);
      return fmt::format("added and removed version {} of {}", version, kProbePackage);
    });
  }
  if (write_only)
    for (auto& c : steps.checks())
      if (c.status == CheckStatus::Failed && c.kind == ErrorKind::Denied) c.status = CheckStatus::Expected;
  if (aws && aws->clock) steps.push(*aws->clock);
  return steps.checks();
}

}  // namespace

bool DoctorReport::ok() const { return !failure(); }

std::optional<ErrorKind> DoctorReport::failure() const {
  for (const auto& c : checks)
    if (c.status == CheckStatus::Failed) return c.kind;
  return std::nullopt;
}

std::optional<std::int64_t> clock_skew_seconds(const std::string& date_header, std::int64_t now) {
  const auto date = codec::parse_http_date(date_header);
  if (!date) return std::nullopt;
  return *date - now;
}

DoctorReport run_doctor(const Config& config, const DoctorOptions& options) {
  auto clock = options.clock ? options.clock : [] {
    return static_cast<std::int64_t>(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  };
  const std::int64_t now = clock();
  ProbeBlob probe = make_probe_blob();
  auto store = check_store(config, options, now, probe);
  bool store_writes = false;
  for (const auto& c : store) store_writes |= c.step == "can write" && c.status == CheckStatus::Ok;
  bool store_write_only = false;
  if (store_writes) {
    int denied_reads = 0;
    for (const auto& c : store)
      denied_reads += (c.step == "can list" || c.step == "can read") && c.status == CheckStatus::Failed &&
                      c.kind == ErrorKind::Denied;
    store_write_only = denied_reads == 2;
  }
  if (store_write_only)
    for (auto& c : store)
      if (c.status == CheckStatus::Failed && c.kind == ErrorKind::Denied) c.status = CheckStatus::Expected;

  DoctorReport report;
  report.checks = check_ledger(config, options, now, probe, store_writes);
  report.write_only = store_write_only;
  report.checks.insert(report.checks.end(), store.begin(), store.end());
  return report;
}

}  // namespace sacker
