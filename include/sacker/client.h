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
#include <string_view>
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
// Never a secret: only names and ids are read, never tokens. Always printable
// UTF-8 of at most 256 bytes (anything else in the variables becomes '?').
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
  bool transferred = false;             // false: the destination already held that sha256
  std::uint64_t bytes_transferred = 0;  // fetched from the store by this call
  std::uint64_t resumed_from = 0;       // verified bytes kept from an interrupted download
  std::uint64_t bytes_hashed = 0;       // of the existing destination, to see if it held the blob (0: remembered)
};

// A blob larger than one chunk is downloaded resumably (client/resume.h): an
// interrupted download leaves a partial beside the destination that the next one
// of the same blob continues after re-hashing it.
struct DownloadOptions {
  bool resume = true;            // false (--no-resume): a temp file, removed on failure
  std::uint64_t chunk_size = 0;  // 0: 8 MiB
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
  std::size_t reused = 0;         // unreferenced old blobs kept because an add re-used them during gc
  std::size_t temp_files = 0;     // temp files of killed uploads removed (none with dry_run)
};

struct ImportReport {
  std::size_t versions = 0, tags = 0, events = 0;  // written
  std::size_t unchanged = 0;                       // lines the ledger already held
};

// Retention: which version records `prune` removes (gc removes their blobs later).
// Never removed: the latest version, a tagged version, a version a tag pointed to
// in its last `keep_rollback` moves. Kept as well: what keep_last / keep_newer
// keep (keep rules win); everything else is removed. At least one of keep_last
// and keep_newer_seconds must be set (Error(Invalid) otherwise).
struct PruneRequest {
  std::vector<std::string> packages;    // empty: every package (--all)
  std::size_t keep_last = 0;            // keep the newest N versions
  std::int64_t keep_newer_seconds = 0;  // keep versions created in the last D seconds (0: no such rule)
  std::size_t keep_rollback = 5;        // keep versions a tag pointed to in its last K moves
  bool apply = false;                   // false: only plan
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

// A record resolved from a spec, with the tag it was resolved through ("" for a
// version number or "latest") and that tag as the ledger returned it.
struct ResolvedRecord {
  VersionRecord record;
  std::string tag;
  std::optional<TagValue> tag_value;
};

// Signed deploys (issue 11; src/client/trust.h makes these from a key and a trust
// file). The check runs on every record that resolve, info, download,
// download_to_fd and presigned_url hand out, before any byte moves; it refuses
// by throwing (Error(NotTrusted)). The signers go into every change's
// ChangeContext (add: sign_record; tag, rollback and add --tag: sign_event).
using RecordCheck = std::function<void(const ResolvedRecord&)>;
struct Signers {
  std::function<std::vector<std::string>(const VersionRecord&)> sign_record;
  std::function<std::vector<std::string>(const Event&)> sign_event;
};

class Client {
 public:
  using Clock = std::function<std::int64_t()>;  // Unix seconds

  // Error(Invalid) if identity.actor or .client is not printable UTF-8 of at most 256 bytes.
  Client(std::unique_ptr<Ledger> ledger, std::unique_ptr<Store> store, Clock clock = {}, ClientIdentity identity = {});
  ~Client();

  // Who the changes of this client are recorded as. set_identity validates as the
  // constructor does (a web server sets the token's name as the actor per request).
  const ClientIdentity& identity() const { return identity_; }
  void set_identity(ClientIdentity identity);

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
  // Every name, number and record read from the ledger is validated before it is
  // returned (hostile ledger content is Error(Invalid) naming the ledger, package
  // and version): no control bytes, no second "latest", no all-digit tag, no
  // negative number read as unsigned.

  // The record at spec. Error(NotFound) naming what is missing.
  VersionRecord resolve(const std::string& package, const Spec& spec);
  // The same with the tag it went through, without the record check (sacker verify).
  ResolvedRecord resolve_unchecked(const std::string& package, const Spec& spec);
  void set_record_check(RecordCheck check) { record_check_ = std::move(check); }
  void set_signers(Signers signers) { signers_ = std::move(signers); }
  // The record at spec with the tags that point at it (one lookup of "latest").
  VersionInfo info(const std::string& package, const Spec& spec);

  // Uploads the file (or standard input, spooled to $TMPDIR) unless the store has
  // that blob, then records the version, then sets request.tags. Everything is
  // validated before a byte moves. If the ledger write fails after an upload, the
  // error says that the blob stays in the store, unreferenced, until gc removes it.
  AddResult add(const AddRequest& request, Progress* progress = nullptr);

  // Fetches into a temp file beside the destination, verifies sha256 and size,
  // fsyncs, applies the recorded mode (never setuid/setgid/sticky bits, masked by
  // the umask) and renames. `output`: nullopt -> ./basename; an existing directory
  // -> dir/basename; "" is Error(Invalid); otherwise the path itself.
  // The one symlink rule: the destination path is never followed. A destination
  // that is a symlink is replaced by the downloaded file (even if its target holds
  // the same bytes); the target is never written or chmod-ed. A regular file that
  // already holds the sha256 is kept (no bytes move; its mode is set through its
  // own descriptor). Anything else there (a device, a FIFO) is Error(Invalid).
  // Interrupted (SIGINT/SIGTERM with install_cleanup_on_signals, or an error), the
  // destination stays as it was and the temp file is removed.
  DownloadResult download(const std::string& package, const Spec& spec,
                          const std::optional<std::filesystem::path>& output, Progress* progress = nullptr,
                          const DownloadOptions& options = {});
  // Streams to an fd (stdout). With verify_first the blob is spooled to a temp
  // file in $TMPDIR and verified before the first byte is written; otherwise bytes
  // are written as they arrive (never more than the recorded size) and a mismatch
  // is Error(Integrity) saying how many bytes already written are corrupt.
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
  // to roll back to; Conflict if the tag moved meanwhile, or if `expect_seq` is given
  // and the latest move is another event than that one (a form that showed it).
  RollbackResult rollback(const std::string& package, const std::string& tag, const std::string& comment = {},
                          std::optional<std::uint64_t> expect_seq = std::nullopt);
  // Error(NotFound) if the version does not exist; Conflict if tagged.
  Event remove(const std::string& package, std::uint64_t version, const std::string& comment = {});
  // (Comments are at most 4096 bytes of UTF-8 without control characters:
  // Error(Invalid) otherwise, before anything changes.)

  // The package's events, newest first. Error(NotFound) if the package has neither
  // versions nor history.
  std::vector<Event> history(const std::string& package, const HistoryQuery& query = {});

  PruneReport prune(const PruneRequest& request);

  // Every version whose sha256 starts with `hex_prefix` (12 to 64 hex digits, any
  // case), by package name then version: "which package versions reference this
  // blob". Error(Invalid) for a shorter, longer or non-hex prefix. Reads every
  // package's records (one ledger read per package).
  static constexpr std::size_t kMinShaPrefix = 12;
  std::vector<VersionRecord> find_by_sha256(std::string_view hex_prefix);

  void init();
  // Deletes blobs no version references and older than grace_seconds (at least
  // kMinGcGraceSeconds: Error(Invalid) below it), and the temp files of killed
  // uploads idle for as long. Each blob is deleted only if the store says it was
  // not modified since gc listed it (an add that re-uses it meanwhile keeps it),
  // after one more read of the ledger right before its batch of deletes.
  static constexpr std::int64_t kMinGcGraceSeconds = 60;
  GcReport gc(bool dry_run, std::int64_t grace_seconds);

  // The whole ledger as JSON Lines, per package (byte order): its versions
  // {"type":"version",<record fields>} ascending, its tags
  // {"type":"tag","package","tag","version","seq"[,"signatures"]}, its events
  // {"type":"event",<event fields>} oldest first. Throws Error(LocalIO) if `out` fails.
  void export_jsonl(std::ostream& out);
  // Validates every line, the stream against itself and against the ledger
  // before writing anything, then writes all of it in ONE Ledger::import_batch
  // (all or nothing where the ledger has transactions). Errors name the line
  // ("import: line N: ..."): Invalid for a malformed line, Conflict for a version,
  // event or tag that exists (in the stream or the ledger) with other content,
  // NotFound for a tag to a version that is in neither. Lines the ledger already
  // holds are counted as unchanged. A package without event lines (an export from
  // before history) gets one "import" event per version and tag written.
  ImportReport import_jsonl(std::istream& in);

  std::string presigned_url(const std::string& package, const Spec& spec, std::int64_t expires_seconds);

 private:
  std::int64_t now() const;
  ChangeContext context(const std::string& comment) const;
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<Store> store_;
  Clock clock_;
  ClientIdentity identity_;
  RecordCheck record_check_;
  Signers signers_;
};

}  // namespace sacker
