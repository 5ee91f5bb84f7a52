// The facade every front end uses (the CLI, tests, benchmarks). It owns one
// ledger and one store and enforces the invariants of DESIGN.md that span both:
// the blob is in the store before the ledger records it; downloads are verified
// before they appear; names are validated before they reach a backend.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sacker/ledger.h"
#include "sacker/record.h"
#include "sacker/spec.h"
#include "sacker/store.h"

namespace sacker {

struct AddRequest {
  std::string package;
  std::string source;                   // a file path, or "-" for standard input
  std::optional<std::string> basename;  // default: the source's file name (stdin: the package name)
  Metadata metadata;
  std::vector<std::string> tags;  // set after the version is recorded
};

struct AddResult {
  VersionRecord record;
  bool uploaded = false;  // false: the store had the blob already
};

struct DownloadResult {
  VersionRecord record;
  std::filesystem::path destination;
  bool transferred = false;  // false: the destination already held that sha256
};

struct GcReport {
  std::vector<BlobInfo> removed;  // or, with dry_run, what would be removed
  std::size_t referenced = 0;     // blobs kept because a version points to them
  std::size_t young = 0;          // unreferenced blobs kept for the grace period
};

struct ImportReport {
  std::size_t versions = 0, tags = 0, unchanged = 0;
};

class Client {
 public:
  using Clock = std::function<std::int64_t()>;  // Unix seconds

  Client(std::unique_ptr<Ledger> ledger, std::unique_ptr<Store> store, Clock clock = {});
  ~Client();

  Ledger& ledger() { return *ledger_; }
  Store& store() { return *store_; }

  std::vector<std::string> list();
  // Ascending. Error(NotFound) if the package has no versions.
  std::vector<std::uint64_t> versions(const std::string& package);
  // Tags including "latest". Error(NotFound) if the package has no versions.
  std::map<std::string, std::uint64_t> tags(const std::string& package);
  // The record at spec. Error(NotFound) naming what is missing.
  VersionRecord resolve(const std::string& package, const Spec& spec);
  // The tags (including "latest") that point at one version. Reuses "latest" as
  // resolve() just found it for this package (one command, one look).
  std::vector<std::string> tags_of(const std::string& package, std::uint64_t version);

  AddResult add(const AddRequest& request, Progress* progress = nullptr);

  // Fetches into a temp file beside the destination, verifies sha256 and size,
  // fsyncs, applies the recorded mode and renames. `output`: nullopt -> ./basename;
  // an existing directory -> dir/basename; otherwise the path itself.
  DownloadResult download(const std::string& package, const Spec& spec,
                          const std::optional<std::filesystem::path>& output, Progress* progress = nullptr);
  // Streams to an fd (stdout). Bytes are written as they arrive: the caller must
  // treat Error(Integrity), thrown at the end, as "discard what you got".
  VersionRecord download_to_fd(const std::string& package, const Spec& spec, int fd, Progress* progress = nullptr);

  void tag(const std::string& package, std::uint64_t version, const std::string& tag);
  // Error(NotFound) if the tag does not exist.
  void untag(const std::string& package, const std::string& tag);
  // Error(NotFound) if the version does not exist; Conflict if tagged.
  void remove(const std::string& package, std::uint64_t version);

  void init();
  // Deletes blobs no version references and older than grace_seconds.
  GcReport gc(bool dry_run, std::int64_t grace_seconds);

  // The whole ledger as JSON Lines: {"type":"version",...record} and
  // {"type":"tag","package","tag","version"}.
  void export_jsonl(std::ostream& out);
  // Validates every line before writing anything. Error(Invalid) names the line.
  ImportReport import_jsonl(std::istream& in);

  std::string presigned_url(const std::string& package, const Spec& spec, std::int64_t expires_seconds);

 private:
  std::int64_t now() const;
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<Store> store_;
  Clock clock_;
  // The package and version resolve() last found for "latest" (saves tags_of the
  // round trips of finding it again; a Client lives for one command).
  std::optional<std::pair<std::string, std::uint64_t>> resolved_latest_;
};

}  // namespace sacker
