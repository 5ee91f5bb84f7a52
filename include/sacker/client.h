// The facade every front end uses (the CLI, the web server, tests, benchmarks).
// It owns one ledger and one store and enforces the invariants of DESIGN.md that
// span both: the blob is in the store before the ledger records it; downloads are
// verified before they appear; names are validated before they reach a backend
// and again when they come back; every change carries who made it and why.
// Thread-safety: one Client is used from one thread at a time.
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

#include "sacker/config.h"
#include "sacker/ledger.h"
#include "sacker/record.h"
#include "sacker/spec.h"
#include "sacker/store.h"

namespace sacker {

// Who and how, for the events a Client writes. The front end fills it once.
struct ClientIdentity {
  std::string actor;   // default_actor() unless the user said otherwise (--actor)
  std::string client;  // "sacker 0.2.0 on host"
};

// The actor of changes made from this environment: $SACKER_ACTOR; else the CI's
// own variables (GitHub Actions, GitLab CI, Jenkins, Buildkite, CircleCI: the user
// and the run or job id, e.g. "github:octocat run 1234"); else "user@host".
// Never a secret: only names and ids are read, never tokens.
std::string default_actor(const EnvLookup& env);

struct AddRequest {
  std::string package;
  std::string source;                   // a file path, or "-" for standard input
  std::optional<std::string> basename;  // default: the source's file name (stdin: the package name)
  Metadata metadata;
  std::vector<std::string> tags;  // set after the version is recorded
  std::string comment;            // recorded in the add's event
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

// A record with the tags (including "latest") that point at it.
struct VersionInfo {
  VersionRecord record;
  std::vector<std::string> tags;
};

// A tag with where it points and its latest event (what moved it last, by whom,
// when); no event for tags set before history existed.
struct TagInfo {
  std::string tag;
  std::uint64_t version = 0;
  std::optional<Event> last_event;
};

struct TagRequest {
  std::string package;
  std::uint64_t version = 0;
  std::string tag;
  std::string comment;
  TagExpectation expect;  // --expect VERSION|none; Any by default
};

struct RollbackResult {
  Event event;  // the Rollback event (event.previous: where the tag was)
};

struct GcReport {
  std::vector<BlobInfo> removed;  // or, with dry_run, what would be removed
  std::size_t referenced = 0;     // blobs kept because a version points to them
  std::size_t young = 0;          // unreferenced blobs kept for the grace period
};

struct ImportReport {
  std::size_t versions = 0, tags = 0, events = 0, unchanged = 0;
};

// Retention: which version records `prune` removes (gc removes their blobs later).
struct PruneRequest {
  std::vector<std::string> packages;   // empty: every package (--all)
  std::size_t keep_last = 0;           // keep the newest N versions
  std::int64_t keep_newer_seconds = 0; // keep versions created in the last D seconds (0: no such rule)
  std::size_t keep_rollback = 5;       // keep versions a tag pointed to in its last K moves
  bool apply = false;                  // false: only plan
  std::string comment;
};
struct PruneDecision {
  std::string package;
  std::uint64_t version = 0;
  bool remove = false;
  std::string reason;  // why it is kept ("latest", "tagged live", "live pointed here 2 moves ago",
                       // "one of the newest 10", "newer than 7d") or removed ("older than the keep rules")
};
struct PruneReport {
  std::vector<PruneDecision> decisions;  // every version of every package considered, ascending
  std::size_t removed = 0;               // with apply: version records actually removed
};

class Client {
 public:
  using Clock = std::function<std::int64_t()>;  // Unix seconds

  Client(std::unique_ptr<Ledger> ledger, std::unique_ptr<Store> store, Clock clock = {},
         ClientIdentity identity = {});
  ~Client();

  Ledger& ledger() { return *ledger_; }
  Store& store() { return *store_; }

  std::vector<std::string> list();
  // Ascending. Error(NotFound) if the package has no versions.
  std::vector<std::uint64_t> versions(const std::string& package);
  // Tags including "latest". Error(NotFound) if the package has no versions.
  std::map<std::string, std::uint64_t> tags(const std::string& package);
  // Tags including "latest" (whose last_event is the newest add), each with its
  // latest event. Error(NotFound) if the package has no versions.
  std::vector<TagInfo> tag_infos(const std::string& package);
  // The record at spec. Error(NotFound) naming what is missing.
  VersionRecord resolve(const std::string& package, const Spec& spec);
  // The record at spec with the tags that point at it (one lookup of "latest").
  VersionInfo info(const std::string& package, const Spec& spec);

  AddResult add(const AddRequest& request, Progress* progress = nullptr);

  // Fetches into a temp file beside the destination, verifies sha256 and size,
  // fsyncs, applies the recorded mode (never setuid/setgid/sticky bits, masked by
  // the umask) and renames. `output`: nullopt -> ./basename; an existing directory
  // -> dir/basename; otherwise the path itself. A destination that is a symlink is
  // replaced by the file, never written or chmod-ed through.
  DownloadResult download(const std::string& package, const Spec& spec,
                          const std::optional<std::filesystem::path>& output, Progress* progress = nullptr);
  // Streams to an fd (stdout). With verify_first the blob is spooled to a temp
  // file and verified before the first byte is written; otherwise bytes are written
  // as they arrive and a mismatch is Error(Integrity) saying that what was written
  // is corrupt.
  VersionRecord download_to_fd(const std::string& package, const Spec& spec, int fd, bool verify_first = false,
                               Progress* progress = nullptr);

  // Points a tag at a version (a compare-and-swap with request.expect). Returns the
  // event, or nullopt if the tag already pointed there. Error(Conflict) when the tag
  // is not as expected (the message says where it points now).
  std::optional<Event> tag(const TagRequest& request);
  // Error(NotFound) if the tag does not exist; Conflict if it is not as expected.
  Event untag(const std::string& package, const std::string& tag, const std::string& comment = {},
              TagExpectation expect = {});
  // Moves the tag back to where it pointed before its latest move (itself a new
  // event, so a rollback can be rolled back). Error(NotFound) if there is nothing
  // to roll back to; Conflict if the tag moved meanwhile.
  RollbackResult rollback(const std::string& package, const std::string& tag, const std::string& comment = {});
  // Error(NotFound) if the version does not exist; Conflict if tagged.
  Event remove(const std::string& package, std::uint64_t version, const std::string& comment = {});

  // The package's events, newest first. Error(NotFound) if the package has neither
  // versions nor history.
  std::vector<Event> history(const std::string& package, const HistoryQuery& query = {});

  PruneReport prune(const PruneRequest& request);

  void init();
  // Deletes blobs no version references and older than grace_seconds (at least
  // kMinGcGraceSeconds: Error(Invalid) below it).
  static constexpr std::int64_t kMinGcGraceSeconds = 60;
  GcReport gc(bool dry_run, std::int64_t grace_seconds);

  // The whole ledger as JSON Lines: {"type":"version",...record},
  // {"type":"tag","package","tag","version","seq","signatures"} and
  // {"type":"event",...event}. Throws Error(LocalIO) if `out` fails.
  void export_jsonl(std::ostream& out);
  // Validates every line (and checks it against the ledger) before writing
  // anything, then writes all of it in one ledger import_batch. Error(Invalid)
  // names the line ("line N: ..."); Error(Conflict) a line that clashes.
  ImportReport import_jsonl(std::istream& in);

  std::string presigned_url(const std::string& package, const Spec& spec, std::int64_t expires_seconds);

 private:
  std::int64_t now() const;
  ChangeContext context(const std::string& comment) const;
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<Store> store_;
  Clock clock_;
  ClientIdentity identity_;
};

}  // namespace sacker
