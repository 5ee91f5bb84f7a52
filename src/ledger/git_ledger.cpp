// The git ledger: one branch (default "main") of a bare git repository holds the
// ledger as files; every change is one commit, so `git log` is the audit trail.
//
// Tree of the branch:
//   packages/<pkg>/versions/<v, 20 digits>.json  the record (record_to_json, indented)
//   packages/<pkg>/tags/<tag>                    "<version>\n"
//   packages/<pkg>/next                          "<next version>\n": the allocation counter.
//                                                It only grows, so a removed number is never
//                                                handed out again.
// Package and tag names are validated ([A-Za-z0-9._-], not starting with '.' or '-'),
// so each is exactly one path component and can neither escape nor meet the fixed names.
// Everything read back is checked: a file name, an object type, a tag or counter value or a
// record that does not fit this layout is Error(Invalid) naming its path.
//
// Why it is race-free: an operation reads the branch tip T, computes the new tree from T's
// tree (add: v = max(next, highest + 1), then next = v + 1), writes a commit whose parent
// is T and moves the branch from T to that commit with a compare-and-swap:
//   - local repository: git_reference_create_matching(expected T) under the ref's lock
//     file (creating the branch: git_reference_create without force);
//   - remote (git://, ssh://, http(s)://): fetch T, then push "<commit>:refs/heads/<branch>";
//     the server's receive-pack moves the ref only if it still points at T (the old id in
//     the push command), under its lock.
// A lost race (GIT_EMODIFIED, GIT_ELOCKED, GIT_EEXISTS, GIT_ENONFASTFORWARD, a ref update
// the server rejected) published nothing; the operation is rebuilt from a fresh tip after a
// jittered backoff. So every version number comes from exactly one successful CAS from a
// tip whose counter allowed it, and every commit's parent is the tip it was computed from.
//
// libgit2's push to a file:// or plain-path remote overwrites the ref without checking
// its old value, so such a remote is not pushed to: the ledger operates on that repository
// directly, exactly like git:///path (see docs/ledgers/git.md).
#include "ledger/git_ledger.h"

#include <fmt/core.h>
#include <git2.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "core/files.h"
#include "sacker/error.h"
#include "sacker/names.h"
#include "sacker/sha256.h"

namespace sacker {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
template <typename T, void (*Free)(T*)>
using Owned = std::unique_ptr<T, Deleter<T, Free>>;
using RepoPtr = Owned<git_repository, git_repository_free>;
using TreePtr = Owned<git_tree, git_tree_free>;
using CommitPtr = Owned<git_commit, git_commit_free>;
using BlobPtr = Owned<git_blob, git_blob_free>;
using EntryPtr = Owned<git_tree_entry, git_tree_entry_free>;
using RefPtr = Owned<git_reference, git_reference_free>;
using RemotePtr = Owned<git_remote, git_remote_free>;
using SignaturePtr = Owned<git_signature, git_signature_free>;

constexpr auto kRetryBound = std::chrono::seconds(120);
constexpr auto kBackoffFirst = std::chrono::microseconds(1000);
constexpr auto kBackoffCap = std::chrono::microseconds(200000);

std::string version_file(std::uint64_t v) { return fmt::format("{:020}.json", v); }
std::string package_dir(const std::string& pkg) { return "packages/" + pkg; }

// "00000000000000000023.json" -> 23; nullopt for anything else.
std::optional<std::uint64_t> parse_version_file(std::string_view name) {
  if (name.size() != 25 || name.substr(20) != ".json") return std::nullopt;
  std::uint64_t v = 0;
  for (char c : name.substr(0, 20)) {
    if (c < '0' || c > '9') return std::nullopt;
    if (v > (UINT64_MAX - static_cast<std::uint64_t>(c - '0')) / 10) return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v == 0) return std::nullopt;
  return v;
}

// "23\n" -> 23; nullopt for anything else.
std::optional<std::uint64_t> parse_number(std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (text.empty() || text.size() > 20 || text[0] == '0') return std::nullopt;
  std::uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    if (v > (UINT64_MAX - static_cast<std::uint64_t>(c - '0')) / 10) return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

bool is_local_url(const std::string& url) {
  return url.find("://") == std::string::npos || url.rfind("file://", 0) == 0;
}

std::string local_path_of(const std::string& url) {
  if (url.rfind("file://", 0) == 0) return url.substr(7);
  return url;
}

// libgit2 is initialised once per process (and never shut down: instances may be
// opened from several threads, one thread per instance).
void libgit2_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    git_libgit2_init();
    // A crash must never leave a ref pointing at objects that are not on disk.
    git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
  });
}

// What a fetch or a push reports back through libgit2's callbacks.
struct RemoteState {
  std::string rejected;  // the server's reason for refusing our ref update
  int credential_calls = 0;
};

int credentials_cb(git_credential** out, const char*, const char* user_from_url, unsigned int allowed, void* payload) {
  auto* state = static_cast<RemoteState*>(payload);
  if (state->credential_calls++ > 0) return GIT_PASSTHROUGH;  // the agent's keys were refused
  if (allowed & GIT_CREDENTIAL_SSH_KEY)
    return git_credential_ssh_key_from_agent(out, user_from_url ? user_from_url : "git");
  return GIT_PASSTHROUGH;
}

int push_update_cb(const char*, const char* status, void* payload) {
  if (status) static_cast<RemoteState*>(payload)->rejected = status;
  return 0;
}

// The state of the ledger at one tip (no tip: an empty ledger).
struct Snapshot {
  std::optional<git_oid> tip;
  TreePtr root;
};

// One change: files to write (content) or delete (nullopt), and the commit message.
struct Change {
  std::vector<std::pair<std::string, std::optional<std::string>>> files;
  std::string message;
};

class GitLedger final : public Ledger {
 public:
  // `repo_path` is the repository operated on: the ledger itself, or with a `remote`
  // the local cache that fetches and pushes go through.
  GitLedger(std::string repo_path, std::string remote, std::string branch, std::string description)
      : repo_path_(std::move(repo_path)),
        remote_(std::move(remote)),
        branch_(std::move(branch)),
        ref_name_("refs/heads/" + branch_),
        hint_ref_("refs/remotes/sacker/" + branch_),
        description_(std::move(description)),
        rng_(std::random_device{}() ^ static_cast<std::uint64_t>(getpid()) ^
             static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())) {
    libgit2_init();
  }

  void init() override {
    create_repo();
    if (!remote_.empty()) read_tip();  // says now whether the remote answers
  }

  std::vector<std::string> packages() override {
    Snapshot s = snapshot();
    std::vector<std::string> out;
    for (const auto& name : list_dir(s, "packages", GIT_OBJECT_TREE)) {
      check_name(name, "packages/" + name, validate_package_name);
      if (!list_dir(s, package_dir(name) + "/versions", GIT_OBJECT_BLOB).empty()) out.push_back(name);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::vector<std::uint64_t> versions(const std::string& package) override {
    return versions_in(snapshot(), checked_package(package));
  }

  std::optional<VersionRecord> get(const std::string& package, std::uint64_t version) override {
    return record_in(snapshot(), checked_package(package), version);
  }

  std::optional<std::uint64_t> latest(const std::string& package) override {
    auto all = versions(package);
    if (all.empty()) return std::nullopt;
    return all.back();
  }

  std::vector<VersionRecord> records(const std::string& package) override {
    const std::string& pkg = checked_package(package);
    Snapshot s = snapshot();
    std::vector<VersionRecord> out;
    for (auto v : versions_in(s, pkg)) {
      auto r = record_in(s, pkg, v);
      if (!r) throw corrupt(package_dir(pkg) + "/versions/" + version_file(v), "vanished while reading");
      out.push_back(std::move(*r));
    }
    return out;
  }

  std::uint64_t add(const VersionRecord& record) override {
    const std::string& pkg = checked_package(record.package);
    std::uint64_t assigned = 0;
    mutate([&](const Snapshot& s) -> std::optional<Change> {
      auto all = versions_in(s, pkg);
      std::uint64_t next = std::max<std::uint64_t>(counter_in(s, pkg), all.empty() ? 1 : all.back() + 1);
      if (next == UINT64_MAX) throw Error(ErrorKind::Conflict, where() + ": " + pkg + " has no version numbers left");
      VersionRecord r = record;
      r.version = next;
      validate_record(r);
      assigned = next;
      Change c;
      c.files.push_back({package_dir(pkg) + "/versions/" + version_file(next), record_file(r)});
      c.files.push_back({package_dir(pkg) + "/next", fmt::format("{}\n", next + 1)});
      c.message =
          fmt::format("add {} {}\n\nsha256 {}\nsize {}\nbasename {}\n", pkg, next, r.sha256, r.size, r.basename);
      return c;
    });
    return assigned;
  }

  void put_record(const VersionRecord& record) override {
    const std::string& pkg = checked_package(record.package);
    validate_record(record);
    if (record.version == UINT64_MAX)
      throw Error(ErrorKind::Invalid, fmt::format("{}: version {} is too large", where(), record.version));
    mutate([&](const Snapshot& s) -> std::optional<Change> {
      if (auto existing = record_in(s, pkg, record.version)) {
        if (*existing == record) return std::nullopt;
        throw Error(ErrorKind::Conflict,
                    fmt::format("{}: {} version {} already exists with other content", where(), pkg, record.version));
      }
      Change c;
      c.files.push_back({package_dir(pkg) + "/versions/" + version_file(record.version), record_file(record)});
      std::uint64_t next = std::max(counter_in(s, pkg), record.version + 1);
      c.files.push_back({package_dir(pkg) + "/next", fmt::format("{}\n", next)});
      c.message = fmt::format("import {} {}\n\nsha256 {}\nsize {}\nbasename {}\n", pkg, record.version, record.sha256,
                              record.size, record.basename);
      return c;
    });
  }

  bool remove_version(const std::string& package, std::uint64_t version) override {
    const std::string& pkg = checked_package(package);
    bool removed = false;
    mutate([&](const Snapshot& s) -> std::optional<Change> {
      removed = false;
      std::string path = package_dir(pkg) + "/versions/" + version_file(version);
      if (!read_file(s, path)) return std::nullopt;
      for (const auto& [tag, v] : tags_in(s, pkg))
        if (v == version)
          throw Error(ErrorKind::Conflict,
                      fmt::format("{}: {} version {} is tagged '{}': untag it first", where(), pkg, version, tag));
      Change c;
      c.files.push_back({path, std::nullopt});
      // Keep the counter above the removed number even in ledgers written without one.
      std::uint64_t next = std::max(counter_in(s, pkg), version + 1);
      c.files.push_back({package_dir(pkg) + "/next", fmt::format("{}\n", next)});
      c.message = fmt::format("remove {} {}", pkg, version);
      removed = true;
      return c;
    });
    return removed;
  }

  std::map<std::string, std::uint64_t> tags(const std::string& package) override {
    return tags_in(snapshot(), checked_package(package));
  }

  std::optional<std::uint64_t> tag(const std::string& package, const std::string& tag) override {
    const std::string& pkg = checked_package(package);
    check_tag(tag);
    Snapshot s = snapshot();
    return tag_in(s, pkg, tag);
  }

  void set_tag(const std::string& package, const std::string& tag, std::uint64_t version) override {
    const std::string& pkg = checked_package(package);
    check_tag(tag);
    mutate([&](const Snapshot& s) -> std::optional<Change> {
      if (!read_file(s, package_dir(pkg) + "/versions/" + version_file(version)))
        throw Error(ErrorKind::NotFound, fmt::format("{} has no version {}", pkg, version));
      if (tag_in(s, pkg, tag) == version) return std::nullopt;
      Change c;
      c.files.push_back({package_dir(pkg) + "/tags/" + tag, fmt::format("{}\n", version)});
      c.message = fmt::format("tag {} {} {}", pkg, version, tag);
      return c;
    });
  }

  bool remove_tag(const std::string& package, const std::string& tag) override {
    const std::string& pkg = checked_package(package);
    check_tag(tag);
    bool removed = false;
    mutate([&](const Snapshot& s) -> std::optional<Change> {
      removed = false;
      auto was = tag_in(s, pkg, tag);
      if (!was) return std::nullopt;
      Change c;
      c.files.push_back({package_dir(pkg) + "/tags/" + tag, std::nullopt});
      c.message = fmt::format("untag {} {} (was {})", pkg, tag, *was);
      removed = true;
      return c;
    });
    return removed;
  }

  std::string describe() const override { return description_; }

 private:
  std::string where() const { return "git ledger " + description_; }

  Error corrupt(const std::string& path, const std::string& why) const {
    return Error(ErrorKind::Invalid, fmt::format("{}: {} on branch {}: {}", where(), path, branch_, why));
  }

  // Maps the last libgit2 error to an Error of the matching kind.
  // `network`: the call talked to the remote, so a failing socket (an OS error to
  // libgit2) means the server is unreachable, not a local I/O problem.
  [[noreturn]] void fail(int rc, const std::string& what, bool network = false) const {
    const git_error* e = git_error_last();
    std::string why = e && e->message ? e->message : fmt::format("libgit2 error {}", rc);
    int klass = e ? e->klass : GIT_ERROR_NONE;
    int err = errno;
    bool os = klass == GIT_ERROR_OS || klass == GIT_ERROR_FILESYSTEM;
    bool denied = os && (err == EACCES || err == EPERM || why.find("ermission denied") != std::string::npos);
    bool net = klass == GIT_ERROR_NET || klass == GIT_ERROR_SSL || klass == GIT_ERROR_SSH || klass == GIT_ERROR_HTTP;
    ErrorKind kind = ErrorKind::Internal;
    std::string hint;
    bool auth = why.find("authentication") != std::string::npos || why.find("status code: 401") != std::string::npos ||
                why.find("status code: 403") != std::string::npos;
    if (rc == GIT_EAUTH || denied || (net && auth)) {
      kind = ErrorKind::Denied;
    } else if (rc == GIT_EOWNER) {
      kind = ErrorKind::Denied;
      hint = " (the repository belongs to another user)";
    } else if (rc == GIT_ECERTIFICATE || net || (network && os)) {
      kind = ErrorKind::Unavailable;
      if (why.find("not exported") != std::string::npos || why.find("no such repository") != std::string::npos ||
          why.find("not found") != std::string::npos)
        hint = " (does the repository exist? create it on the server with `git init --bare`)";
    } else if (os) {
      kind = ErrorKind::LocalIO;
    } else if (klass == GIT_ERROR_ODB || klass == GIT_ERROR_OBJECT || klass == GIT_ERROR_ZLIB ||
               klass == GIT_ERROR_TREE || klass == GIT_ERROR_INDEXER || klass == GIT_ERROR_SHA ||
               klass == GIT_ERROR_REPOSITORY) {
      kind = ErrorKind::Invalid;
      hint = " (damaged repository?)";
    }
    throw Error(kind, fmt::format("{}: {}: {}{}", where(), what, printable(why), hint));
  }

  void check(int rc, const std::string& what) const {
    if (rc < 0) fail(rc, what);
  }
  void check_network(int rc, const std::string& what) const {
    if (rc < 0) fail(rc, what, true);
  }

  // Names reach us validated; checking again keeps every path one component per name.
  const std::string& checked_package(const std::string& name) const {
    validate_package_name(name);
    return name;
  }
  void check_tag(const std::string& name) const { validate_user_tag(name); }
  template <typename Validate>
  void check_name(const std::string& name, const std::string& path, Validate validate) const {
    try {
      validate(name);
    } catch (const Error& e) {
      throw corrupt(path, e.what());
    }
  }

  // --- the repository ---------------------------------------------------------------

  // The repository if it exists (nullptr if not: an empty ledger). A path that exists but
  // is not a bare repository is an error, never an empty ledger.
  git_repository* repo() {
    if (repo_) return repo_.get();
    git_repository* r = nullptr;
    int rc = git_repository_open_bare(&r, repo_path_.c_str());
    if (rc == GIT_ENOTFOUND) {
      std::error_code ec;
      if (!std::filesystem::exists(repo_path_, ec) && !ec) return nullptr;
      if (std::filesystem::is_directory(repo_path_, ec) && std::filesystem::is_empty(repo_path_, ec) && !ec)
        return nullptr;
      // Another process may have renamed a new repository into place (create_repo)
      // between the open and the look above: open once more before calling it foreign.
      rc = git_repository_open_bare(&r, repo_path_.c_str());
      if (rc == GIT_ENOTFOUND)
        throw Error(ErrorKind::Invalid,
                    fmt::format("{}: {} is not a bare git repository", where(), printable(repo_path_)));
    }
    check(rc, "cannot open " + repo_path_);
    repo_.reset(r);
    return r;
  }

  // Opens the repository, creating it first if there is none. It is made complete under a
  // temporary name and renamed into place, so no process ever sees half a repository and
  // of several processes creating it at once, one wins and the others open its.
  git_repository* create_repo() {
    if (repo()) return repo_.get();
    namespace fs = std::filesystem;
    fs::path path(repo_path_);
    make_directories(path.parent_path());
    fs::path temp = path.parent_path() / fmt::format(".{}.sacker-init-{}-{:08x}", path.filename().string(), getpid(),
                                                     static_cast<std::uint32_t>(rng_()));
    git_repository_init_options opts;
    git_repository_init_options_init(&opts, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
    opts.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKDIR | GIT_REPOSITORY_INIT_NO_REINIT;
    opts.initial_head = branch_.c_str();
    git_repository* r = nullptr;
    check(git_repository_init_ext(&r, temp.c_str(), &opts), "cannot create " + temp.string());
    git_repository_free(r);
    // rename() replaces nothing but an empty directory: a repository made meanwhile stays.
    if (std::rename(temp.c_str(), path.c_str()) == 0) {
      fsync_directory(path.parent_path());
    } else {
      int err = errno;
      std::error_code ec;
      fs::remove_all(temp, ec);
      if (err != EEXIST && err != ENOTEMPTY) throw_errno(where() + ": cannot create " + repo_path_, err);
    }
    if (!repo())
      throw Error(ErrorKind::LocalIO, fmt::format("{}: {} vanished while being created", where(), repo_path_));
    return repo_.get();
  }

  // --- reading a snapshot -----------------------------------------------------------

  Snapshot snapshot() { return snapshot_at(read_tip()); }

  Snapshot snapshot_at(const std::optional<git_oid>& tip) {
    Snapshot s;
    s.tip = tip;
    if (!tip) return s;
    git_commit* c = nullptr;
    check(git_commit_lookup(&c, repo_.get(), &*tip), "cannot read the tip of " + branch_);
    CommitPtr commit(c);
    git_tree* t = nullptr;
    check(git_commit_tree(&t, commit.get()), "cannot read the tree of " + branch_);
    s.root.reset(t);
    return s;
  }

  // The entry at `path`, or nullptr.
  EntryPtr entry(const Snapshot& s, const std::string& path) {
    if (!s.root) return nullptr;
    git_tree_entry* e = nullptr;
    int rc = git_tree_entry_bypath(&e, s.root.get(), path.c_str());
    if (rc == GIT_ENOTFOUND) return nullptr;
    check(rc, "cannot read " + path);
    return EntryPtr(e);
  }

  std::optional<std::string> read_file(const Snapshot& s, const std::string& path) {
    EntryPtr e = entry(s, path);
    if (!e) return std::nullopt;
    if (git_tree_entry_type(e.get()) != GIT_OBJECT_BLOB) throw corrupt(path, "is not a file");
    git_blob* b = nullptr;
    check(git_blob_lookup(&b, repo_.get(), git_tree_entry_id(e.get())), "cannot read " + path);
    BlobPtr blob(b);
    auto size = static_cast<std::size_t>(git_blob_rawsize(blob.get()));
    if (size > (1u << 20)) throw corrupt(path, "is larger than 1 MiB");
    return std::string(static_cast<const char*>(git_blob_rawcontent(blob.get())), size);
  }

  // Names in the directory at `path` (empty if there is none); each must be of `type`.
  std::vector<std::string> list_dir(const Snapshot& s, const std::string& path, git_object_t type) {
    EntryPtr e = entry(s, path);
    if (!e) return {};
    if (git_tree_entry_type(e.get()) != GIT_OBJECT_TREE) throw corrupt(path, "is not a directory");
    git_tree* t = nullptr;
    check(git_tree_lookup(&t, repo_.get(), git_tree_entry_id(e.get())), "cannot read " + path);
    TreePtr tree(t);
    std::vector<std::string> out;
    for (std::size_t i = 0, n = git_tree_entrycount(tree.get()); i < n; ++i) {
      const git_tree_entry* child = git_tree_entry_byindex(tree.get(), i);
      std::string name = git_tree_entry_name(child);
      if (git_tree_entry_type(child) != type)
        throw corrupt(path + "/" + name, type == GIT_OBJECT_TREE ? "is not a directory" : "is not a file");
      out.push_back(std::move(name));
    }
    return out;
  }

  std::vector<std::uint64_t> versions_in(const Snapshot& s, const std::string& pkg) {
    std::string dir = package_dir(pkg) + "/versions";
    std::vector<std::uint64_t> out;
    for (const auto& name : list_dir(s, dir, GIT_OBJECT_BLOB)) {
      auto v = parse_version_file(name);
      if (!v) throw corrupt(dir + "/" + name, "is not <20-digit version>.json");
      out.push_back(*v);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::optional<VersionRecord> record_in(const Snapshot& s, const std::string& pkg, std::uint64_t version) {
    std::string path = package_dir(pkg) + "/versions/" + version_file(version);
    auto text = read_file(s, path);
    if (!text) return std::nullopt;
    VersionRecord r;
    try {
      r = record_from_json(*text);
    } catch (const Error& e) {
      throw corrupt(path, e.what());
    }
    if (r.package != pkg || r.version != version)
      throw corrupt(path, fmt::format("holds {} version {}", printable(r.package), r.version));
    return r;
  }

  std::uint64_t counter_in(const Snapshot& s, const std::string& pkg) {
    std::string path = package_dir(pkg) + "/next";
    auto text = read_file(s, path);
    if (!text) return 1;
    auto v = parse_number(*text);
    if (!v) throw corrupt(path, "is not a version number");
    return *v;
  }

  std::optional<std::uint64_t> tag_in(const Snapshot& s, const std::string& pkg, const std::string& tag) {
    std::string path = package_dir(pkg) + "/tags/" + tag;
    auto text = read_file(s, path);
    if (!text) return std::nullopt;
    auto v = parse_number(*text);
    if (!v) throw corrupt(path, "is not a version number");
    return v;
  }

  std::map<std::string, std::uint64_t> tags_in(const Snapshot& s, const std::string& pkg) {
    std::string dir = package_dir(pkg) + "/tags";
    std::map<std::string, std::uint64_t> out;
    for (const auto& name : list_dir(s, dir, GIT_OBJECT_BLOB)) {
      check_name(name, dir + "/" + name, validate_user_tag);
      out[name] = *tag_in(s, pkg, name);
    }
    return out;
  }

  static std::string record_file(const VersionRecord& r) {
    return nlohmann::ordered_json::parse(record_to_json(r)).dump(2) + "\n";
  }

  // --- tips: local ref or fetched from the remote -------------------------------------

  // The current tip of the branch, with its objects in repo_ (nullopt: no branch yet).
  std::optional<git_oid> read_tip() {
    if (!remote_.empty()) return fetch_tip();
    if (!repo()) return std::nullopt;
    git_oid id;
    int rc = git_reference_name_to_id(&id, repo_.get(), ref_name_.c_str());
    if (rc == GIT_ENOTFOUND) return std::nullopt;
    check(rc, "cannot read " + ref_name_);
    return id;
  }

  RemotePtr open_remote() {
    git_remote* r = nullptr;
    check(git_remote_create_anonymous(&r, repo_.get(), remote_.c_str()), "bad remote URL");
    return RemotePtr(r);
  }

  std::optional<git_oid> fetch_tip() {
    create_repo();
    RemotePtr remote = open_remote();
    RemoteState state;
    git_remote_callbacks callbacks;
    git_remote_init_callbacks(&callbacks, GIT_REMOTE_CALLBACKS_VERSION);
    callbacks.credentials = credentials_cb;
    callbacks.payload = &state;
    check_network(git_remote_connect(remote.get(), GIT_DIRECTION_FETCH, &callbacks, nullptr, nullptr), "cannot fetch");
    const git_remote_head** heads = nullptr;
    std::size_t count = 0;
    check_network(git_remote_ls(&heads, &count, remote.get()), "cannot list the remote's refs");
    std::optional<git_oid> tip;
    for (std::size_t i = 0; i < count; ++i)
      if (ref_name_ == heads[i]->name) tip = heads[i]->oid;
    if (tip) {
      git_odb* odb = nullptr;
      check(git_repository_odb(&odb, repo_.get()), "cannot open the object database");
      bool have = git_odb_exists(odb, &*tip);
      git_odb_free(odb);
      if (!have) {
        std::string spec = ref_name_;
        char* specs[] = {spec.data()};
        git_strarray refspecs = {specs, 1};
        git_fetch_options opts;
        git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
        opts.callbacks = callbacks;
        opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
        opts.prune = GIT_FETCH_NO_PRUNE;
        check_network(git_remote_download(remote.get(), &refspecs, &opts), "cannot fetch");
      }
      note_remote_tip(*tip);
    }
    git_remote_disconnect(remote.get());
    return tip;
  }

  // Keeps a ref at the last tip seen so the next fetch negotiates from it. Only a hint:
  // another process sharing the cache may hold its lock; that is fine.
  void note_remote_tip(const git_oid& tip) {
    git_reference* r = nullptr;
    if (git_reference_create(&r, repo_.get(), hint_ref_.c_str(), &tip, 1, nullptr) == 0) git_reference_free(r);
    git_error_clear();
  }

  // Moves the branch from `old_tip` to `commit`. false: another writer won the race.
  bool publish(const std::optional<git_oid>& old_tip, const git_oid& commit, std::string& lost_because) {
    if (!remote_.empty()) return push(commit, lost_because);
    git_reference* r = nullptr;
    int rc = old_tip ? git_reference_create_matching(&r, repo_.get(), ref_name_.c_str(), &commit, 1, &*old_tip, nullptr)
                     : git_reference_create(&r, repo_.get(), ref_name_.c_str(), &commit, 0, nullptr);
    if (rc == 0) {
      git_reference_free(r);
      return true;
    }
    if (rc == GIT_EMODIFIED || rc == GIT_EEXISTS) {
      lost_because = "the branch moved";
      return false;
    }
    if (rc == GIT_ELOCKED) {
      lost_because = fmt::format("{}/{}.lock is held (if no sacker is running, remove it)", repo_path_, ref_name_);
      return false;
    }
    fail(rc, "cannot update " + ref_name_);
  }

  bool push(const git_oid& commit, std::string& lost_because) {
    RemotePtr remote = open_remote();
    RemoteState state;
    git_push_options opts;
    git_push_options_init(&opts, GIT_PUSH_OPTIONS_VERSION);
    opts.callbacks.credentials = credentials_cb;
    opts.callbacks.push_update_reference = push_update_cb;
    opts.callbacks.payload = &state;
    // libgit2 1.5 pushes refs only, not bare ids: a ref of our own, removed afterwards.
    std::string source = fmt::format("refs/sacker/push/{}-{:016x}", getpid(), rng_());
    git_reference* r = nullptr;
    check(git_reference_create(&r, repo_.get(), source.c_str(), &commit, 1, nullptr), "cannot create " + source);
    RefPtr source_ref(r);
    struct Cleanup {
      git_reference* ref;
      ~Cleanup() { git_reference_delete(ref); }
    } cleanup{source_ref.get()};
    std::string spec = fmt::format("{}:{}", source, ref_name_);
    char* specs[] = {spec.data()};
    git_strarray refspecs = {specs, 1};
    int rc = git_remote_push(remote.get(), &refspecs, &opts);
    if (rc == GIT_ENONFASTFORWARD) {
      lost_because = "the remote branch moved";
      return false;
    }
    check_network(rc, "cannot push");
    if (!state.rejected.empty()) {
      const std::string& why = state.rejected;
      for (const char* word : {"declined", "denied", "deny", "forbidden", "ermission"})
        if (why.find(word) != std::string::npos)
          throw Error(ErrorKind::Denied,
                      fmt::format("{}: the remote refused the update of {}: {}", where(), ref_name_, printable(why)));
      lost_because = "the remote rejected the update: " + printable(why);
      return false;
    }
    note_remote_tip(commit);
    return true;
  }

  // --- writing ----------------------------------------------------------------------

  git_oid make_commit(const Snapshot& s, const Change& change) {
    git_oid tree_id;
    std::vector<git_tree_update> updates(change.files.size());
    for (std::size_t i = 0; i < change.files.size(); ++i) {
      const auto& [path, content] = change.files[i];
      updates[i].path = path.c_str();
      if (content) {
        updates[i].action = GIT_TREE_UPDATE_UPSERT;
        updates[i].filemode = GIT_FILEMODE_BLOB;
        check(git_blob_create_from_buffer(&updates[i].id, repo_.get(), content->data(), content->size()),
              "cannot write " + path);
      } else {
        updates[i].action = GIT_TREE_UPDATE_REMOVE;
      }
    }
    check(git_tree_create_updated(&tree_id, repo_.get(), s.root.get(), updates.size(), updates.data()),
          "cannot write the new tree");
    git_tree* t = nullptr;
    check(git_tree_lookup(&t, repo_.get(), &tree_id), "cannot read the new tree");
    TreePtr tree(t);

    std::string name = env_or("GIT_AUTHOR_NAME", "sacker");
    std::string email = env_or("GIT_AUTHOR_EMAIL", "sacker@localhost");
    SignaturePtr author = signature(name, email);
    SignaturePtr committer =
        signature(env_or("GIT_COMMITTER_NAME", name.c_str()), env_or("GIT_COMMITTER_EMAIL", email.c_str()));
    CommitPtr parent;
    if (s.tip) {
      git_commit* c = nullptr;
      check(git_commit_lookup(&c, repo_.get(), &*s.tip), "cannot read the tip");
      parent.reset(c);
    }
    // Every attempt's commit is unique, even for equal changes from one tip in the same
    // second: a push of a commit the remote already has would "succeed" without a CAS.
    std::string message = change.message;
    while (!message.empty() && message.back() == '\n') message.pop_back();
    message += message.find('\n') == std::string::npos ? "\n\n" : "\n";
    message += fmt::format("Sacker-Writer: {} pid {} op {:016x}\n", hostname(), getpid(), rng_());
    const git_commit* parents[] = {parent.get()};
    git_oid id;
    check(git_commit_create(&id, repo_.get(), nullptr, author.get(), committer.get(), "UTF-8", message.c_str(),
                            tree.get(), parent ? 1 : 0, parents),
          "cannot write a commit");
    return id;
  }

  static std::string hostname() {
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "unknown-host";
    return printable(buf);
  }

  SignaturePtr signature(const std::string& name, const std::string& email) {
    git_signature* sig = nullptr;
    // A name or address git cannot use (e.g. only "<>") falls back to ours.
    if (git_signature_now(&sig, name.c_str(), email.c_str()) < 0)
      check(git_signature_now(&sig, "sacker", "sacker@localhost"), "cannot make a commit signature");
    return SignaturePtr(sig);
  }

  // Runs `build` on a fresh tip until its change is published by compare-and-swap, or
  // `build` decides there is nothing to do (nullopt) or throws.
  void mutate(const std::function<std::optional<Change>(const Snapshot&)>& build) {
    auto deadline = std::chrono::steady_clock::now() + kRetryBound;
    auto cap = kBackoffFirst;
    int attempts = 0;
    std::string lost_because;
    for (;;) {
      ++attempts;
      if (remote_.empty()) create_repo();
      Snapshot s = snapshot_at(read_tip());
      auto change = build(s);
      if (!change) return;
      git_oid commit = make_commit(s, *change);
      if (publish(s.tip, commit, lost_because)) return;
      if (std::chrono::steady_clock::now() >= deadline)
        throw Error(ErrorKind::Unavailable,
                    fmt::format("{}: gave up after {} attempts in {} s: {}", where(), attempts,
                                std::chrono::duration_cast<std::chrono::seconds>(kRetryBound).count(), lost_because));
      std::uniform_int_distribution<std::int64_t> jitter(cap.count() / 2, cap.count());
      std::this_thread::sleep_for(std::chrono::microseconds(jitter(rng_)));
      cap = std::min(cap * 2, kBackoffCap);
    }
  }

  std::string repo_path_;
  std::string remote_;  // empty: the repository at repo_path_ is the ledger
  std::string branch_;
  std::string ref_name_;
  std::string hint_ref_;
  std::string description_;
  std::mt19937_64 rng_;
  RepoPtr repo_;
};

std::string default_cache_dir(const std::string& remote) {
  std::string base;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    base = xdg;
  else if (const char* home = std::getenv("HOME"); home && *home)
    base = std::string(home) + "/.cache";
  else
    throw Error(ErrorKind::Invalid,
                "git ledger: no cache directory for the remote: set XDG_CACHE_HOME or HOME, "
                "or give ?cache=PATH");
  return fmt::format("{}/sacker/git/{}.git", base, Sha256::hex_of(remote.data(), remote.size()).substr(0, 24));
}

}  // namespace

std::unique_ptr<Ledger> open_git_ledger(const Uri& uri) {
  libgit2_init();
  auto invalid = [&](const std::string& why) {
    return Error(ErrorKind::Invalid, fmt::format("invalid URI '{}': {}", printable(redact_uri(uri.text)), why));
  };
  for (const auto& [key, value] : uri.query)
    if (key != "branch" && key != "remote" && key != "cache")
      throw invalid(fmt::format("unknown parameter '{}' (known: branch, remote, cache)", printable(key)));
  std::string branch = uri.query.count("branch") ? uri.query.at("branch") : "main";
  int valid = 0;
  if (branch.empty() || git_reference_name_is_valid(&valid, ("refs/heads/" + branch).c_str()) < 0 || !valid)
    throw invalid(fmt::format("'{}' is not a valid branch name", printable(branch)));

  std::string repo_path, remote;
  if (uri.authority.empty()) {
    // git:///path/ledger.git, or git:///path/cache.git?remote=URL
    repo_path = uri.path;
    if (repo_path.size() < 2) throw invalid("expected git:///path/to/ledger.git or git://host[:port]/repo.git");
    if (uri.query.count("cache")) throw invalid("'cache' goes with git://host/repo.git; here the path is the cache");
    if (uri.query.count("remote")) {
      remote = uri.query.at("remote");
      if (remote.empty()) throw invalid("'remote' is empty");
      if (is_local_url(remote)) {
        repo_path = local_path_of(remote);  // operated on directly: see the top of this file
        remote.clear();
        if (repo_path.empty() || repo_path[0] != '/') throw invalid("a local remote must be an absolute path");
      }
    }
  } else {
    // git://host[:port]/path/repo.git: a git daemon; the local cache is ?cache= or per user.
    if (uri.query.count("remote")) throw invalid("'remote' goes with git:///path/cache.git");
    if (uri.path.size() < 2) throw invalid("expected git://host[:port]/repo.git");
    remote = "git://" + uri.authority + uri.path;
    repo_path = uri.query.count("cache") ? uri.query.at("cache") : default_cache_dir(remote);
    if (repo_path.empty() || repo_path[0] != '/') throw invalid("'cache' must be an absolute path");
  }
  while (repo_path.size() > 1 && repo_path.back() == '/') repo_path.pop_back();
  // redact_uri does not look inside ?remote=URL: a password there is redacted here.
  std::string description = redact_uri(uri.text.substr(0, uri.text.find('?')));
  char sep = '?';
  for (const auto& [key, value] : uri.query) {
    description += fmt::format("{}{}={}", sep, key, key == "remote" ? redact_uri(value) : value);
    sep = '&';
  }
  return std::make_unique<GitLedger>(repo_path, remote, branch, description);
}

}  // namespace sacker
