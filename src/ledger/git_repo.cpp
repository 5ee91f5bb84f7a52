#include "ledger/git_repo.h"

#include <fmt/core.h>
#include <git2.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "core/files.h"
#include "core/random.h"
#include "kit/ledger_kit.h"
#include "sacker/names.h"

namespace sacker::git {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
template <typename T, void (*Free)(T*)>
using Owned = std::unique_ptr<T, Deleter<T, Free>>;
using BlobPtr = Owned<git_blob, git_blob_free>;
using EntryPtr = Owned<git_tree_entry, git_tree_entry_free>;
using RefPtr = Owned<git_reference, git_reference_free>;
using RemotePtr = Owned<git_remote, git_remote_free>;
using SignaturePtr = Owned<git_signature, git_signature_free>;
using TreePtr = Owned<git_tree, git_tree_free>;

constexpr std::size_t kMaxFileBytes = 1u << 20;

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

std::string hex(const git_oid& id) {
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof buf, &id);
  return buf;
}

// The id of `hex`; the all-zero id for "" (no tip).
git_oid oid(const std::string& hex) {
  git_oid id{};
  if (!hex.empty()) git_oid_fromstrn(&id, hex.data(), hex.size());
  return id;
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

std::string hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "unknown-host";
  return printable(buf);
}

SignaturePtr signature(const std::string& name, const std::string& email) {
  git_signature* sig = nullptr;
  // A name or address git cannot use (e.g. only "<>") falls back to ours.
  if (git_signature_now(&sig, name.c_str(), email.c_str()) < 0 &&
      git_signature_now(&sig, "sacker", "sacker@localhost") < 0)
    throw Error(ErrorKind::Internal, "git ledger: cannot make a commit signature");
  return SignaturePtr(sig);
}

// libgit2 1.5 writes git:// sockets with a plain send(): a connection closed mid-push
// raises SIGPIPE, which kills a process that does not ignore it (the CLI does, an
// embedding program need not). Blocked on this thread while a connection is open, one
// raised meanwhile discarded before the old mask returns: the write fails with EPIPE.
struct SigpipeBlock {
  sigset_t pipe, old;
  bool was_pending;
  SigpipeBlock() {
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    sigpending(&old);
    was_pending = sigismember(&old, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe, &old);
  }
  ~SigpipeBlock() {
    const timespec zero{0, 0};
    while (!was_pending && sigtimedwait(&pipe, nullptr, &zero) == SIGPIPE) {
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
};

}  // namespace

bool is_valid_branch_name(const std::string& branch) {
  libgit2_init();
  int valid = 0;
  return !branch.empty() && git_reference_name_is_valid(&valid, ("refs/heads/" + branch).c_str()) == 0 && valid;
}

// An open connection to the remote, with what libgit2's callbacks report back.
struct Repo::Connection {
  SigpipeBlock sigpipe;  // first: outlives the disconnect in ~Connection
  int credential_calls = 0;
  git_oid expected_old{};  // push: the old id the command must carry
  bool moved = false;      // push: the server advertised another old id
  std::string rejected;    // push: the server's reason for refusing our ref update
  git_remote_callbacks callbacks;
  RemotePtr remote;

  Connection(Repo& repo, git_direction direction, const char* what) {
    git_remote_init_callbacks(&callbacks, GIT_REMOTE_CALLBACKS_VERSION);
    callbacks.credentials = credentials_cb;
    callbacks.push_negotiation = push_negotiation_cb;
    callbacks.push_update_reference = push_update_cb;
    callbacks.payload = this;
    git_remote* r = nullptr;
    repo.check(git_remote_create_anonymous(&r, repo.repo_.get(), repo.location_.remote.c_str()), "bad remote URL");
    remote.reset(r);
    repo.check_network(git_remote_connect(remote.get(), direction, &callbacks, nullptr, nullptr), what);
  }
  ~Connection() { git_remote_disconnect(remote.get()); }
  Connection(const Connection&) = delete;  // the callbacks point at it
  Connection& operator=(const Connection&) = delete;

  // The branch's tip as the server advertised it on this connection ("": none).
  std::string advertised_tip(const Repo& repo) {
    const git_remote_head** heads = nullptr;
    std::size_t count = 0;
    repo.check_network(git_remote_ls(&heads, &count, remote.get()), "cannot list the remote's refs");
    for (std::size_t i = 0; i < count; ++i)
      if (repo.ref_name_ == heads[i]->name) return hex(heads[i]->oid);
    return {};
  }

  // Downloads the branch's objects on this connection.
  void download(const Repo& repo) {
    std::string spec = repo.ref_name_;
    char* specs[] = {spec.data()};
    git_strarray refspecs = {specs, 1};
    git_fetch_options opts;
    git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
    opts.callbacks = callbacks;
    opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
    opts.prune = GIT_FETCH_NO_PRUNE;
    repo.check_network(git_remote_download(remote.get(), &refspecs, &opts), "cannot fetch");
  }

  static int credentials_cb(git_credential** out, const char*, const char* user, unsigned int allowed, void* self) {
    if (static_cast<Connection*>(self)->credential_calls++ > 0) return GIT_PASSTHROUGH;  // the agent's keys failed
    if (allowed & GIT_CREDENTIAL_SSH_KEY) return git_credential_ssh_key_from_agent(out, user ? user : "git");
    return GIT_PASSTHROUGH;
  }
  // Called with the commands about to be sent: their old ids are what receive-pack
  // compares the refs against. Anything but the tip we built on is a lost race.
  static int push_negotiation_cb(const git_push_update** updates, size_t len, void* self) {
    auto* c = static_cast<Connection*>(self);
    for (size_t i = 0; i < len; ++i)
      if (!git_oid_equal(&updates[i]->src, &c->expected_old)) c->moved = true;
    return c->moved ? GIT_EUSER : 0;
  }
  static int push_update_cb(const char*, const char* status, void* self) {
    if (status) static_cast<Connection*>(self)->rejected = status;
    return 0;
  }
};

Repo::Repo(Location location)
    : location_(std::move(location)),
      ref_name_("refs/heads/" + location_.branch),
      hint_ref_("refs/remotes/sacker/" + location_.branch),
      repo_(nullptr, git_repository_free) {
  libgit2_init();
}

Repo::~Repo() = default;

std::string Repo::where() const { return "git ledger " + location_.ledger; }

std::string Repo::at(const std::string& path) const {
  return fmt::format("{} ({} on branch {})", location_.ledger, path, location_.branch);
}

void Repo::init() {
  create();
  if (!location_.remote.empty()) fetch_tip();  // says now whether the remote answers
}

// --- the repository -----------------------------------------------------------------

// The repository if it exists (nullptr if not: an empty ledger). A path that exists but
// is not a bare repository is an error, never an empty ledger.
git_repository* Repo::open() {
  if (repo_) return repo_.get();
  const std::string& path = location_.path;
  git_repository* r = nullptr;
  int rc = git_repository_open_bare(&r, path.c_str());
  if (rc == GIT_ENOTFOUND) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec) && !ec) return nullptr;
    if (std::filesystem::is_directory(path, ec) && std::filesystem::is_empty(path, ec) && !ec) return nullptr;
    // Another process may have renamed a new repository into place (create) between
    // the open and the look above: open once more before calling it foreign.
    rc = git_repository_open_bare(&r, path.c_str());
    if (rc == GIT_ENOTFOUND)
      throw Error(ErrorKind::Invalid, fmt::format("{}: {} is not a bare git repository", where(), printable(path)));
  }
  check(rc, "cannot open " + path);
  repo_.reset(r);
  return r;
}

// Opens the repository, creating it first if there is none. It is made complete under a
// temporary name and renamed into place, so no process ever sees half a repository and
// of several processes creating it at once, one wins and the others open its.
git_repository* Repo::create() {
  if (open()) return repo_.get();
  namespace fs = std::filesystem;
  fs::path path(location_.path);
  make_directories(path.parent_path());
  fs::path temp = path.parent_path() / fmt::format(".{}.sacker-init-{}", path.filename().string(), random_hex(8));
  git_repository_init_options opts;
  git_repository_init_options_init(&opts, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
  opts.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKDIR | GIT_REPOSITORY_INIT_NO_REINIT;
  opts.initial_head = location_.branch.c_str();
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
    if (err != EEXIST && err != ENOTEMPTY) throw_errno(where() + ": cannot create " + location_.path, err);
  }
  if (!open())
    throw Error(ErrorKind::LocalIO, fmt::format("{}: {} vanished while being created", where(), location_.path));
  return repo_.get();
}

// --- reading ------------------------------------------------------------------------

Snapshot Repo::read() {
  if (!location_.remote.empty()) {
    create();
    return snapshot_at(fetch_tip());
  }
  if (!open()) return {};
  git_oid id;
  int rc = git_reference_name_to_id(&id, repo_.get(), ref_name_.c_str());
  if (rc == GIT_ENOTFOUND) return {};
  check(rc, "cannot read " + ref_name_);
  return snapshot_at(hex(id));
}

Snapshot Repo::snapshot_at(const std::string& tip) {
  Snapshot s;
  if (tip.empty()) return s;
  git_oid id = oid(tip);
  git_commit* c = nullptr;
  check(git_commit_lookup(&c, repo_.get(), &id), "cannot read the tip of " + location_.branch);
  s.commit_.reset(c, git_commit_free);
  git_tree* t = nullptr;
  check(git_commit_tree(&t, c), "cannot read the tree of " + location_.branch);
  s.tip_ = tip;
  s.root_.reset(t, git_tree_free);
  return s;
}

// The object at `path` (nullptr: none), which must be of `type`.
git_object* Repo::lookup(const Snapshot& at_tip, const std::string& path, int type) {
  if (!at_tip.root_) return nullptr;
  git_tree_entry* e = nullptr;
  int rc = git_tree_entry_bypath(&e, at_tip.root_.get(), path.c_str());
  if (rc == GIT_ENOTFOUND) return nullptr;
  check(rc, "cannot read " + path);
  EntryPtr entry(e);
  if (git_tree_entry_type(e) != type)
    throw ledger_kit::corrupt(at(path), type == GIT_OBJECT_BLOB ? "is not a file" : "is not a directory");
  git_object* o = nullptr;
  check(git_tree_entry_to_object(&o, repo_.get(), e), "cannot read " + path);
  return o;
}

std::optional<std::string> Repo::read_file(const Snapshot& at_tip, const std::string& path) {
  BlobPtr blob(reinterpret_cast<git_blob*>(lookup(at_tip, path, GIT_OBJECT_BLOB)));
  if (!blob) return std::nullopt;
  auto size = static_cast<std::size_t>(git_blob_rawsize(blob.get()));
  if (size > kMaxFileBytes) throw ledger_kit::corrupt(at(path), "is larger than 1 MiB");
  return std::string(static_cast<const char*>(git_blob_rawcontent(blob.get())), size);
}

std::vector<Entry> Repo::list_dir(const Snapshot& at_tip, const std::string& path) {
  TreePtr tree(reinterpret_cast<git_tree*>(lookup(at_tip, path, GIT_OBJECT_TREE)));
  std::vector<Entry> out;
  for (std::size_t i = 0, n = tree ? git_tree_entrycount(tree.get()) : 0; i < n; ++i) {
    const git_tree_entry* child = git_tree_entry_byindex(tree.get(), i);
    out.push_back({git_tree_entry_name(child), git_tree_entry_type(child) == GIT_OBJECT_TREE});
  }
  return out;
}

// The branch's tip on the remote ("": none), with its objects in the cache.
std::string Repo::fetch_tip() {
  Connection c(*this, GIT_DIRECTION_FETCH, "cannot fetch");
  std::string tip = c.advertised_tip(*this);
  if (!tip.empty()) {
    if (!has_object(tip)) c.download(*this);
    note_remote_tip(tip);
  }
  return tip;
}

bool Repo::has_object(const std::string& id) {
  git_odb* odb = nullptr;
  check(git_repository_odb(&odb, repo_.get()), "cannot open the object database");
  git_oid o = oid(id);
  bool have = git_odb_exists(odb, &o);
  git_odb_free(odb);
  return have;
}

// Keeps a ref at the last tip seen so the next fetch negotiates from it. Only a hint:
// another process sharing the cache may hold its lock; that is fine.
void Repo::note_remote_tip(const std::string& tip) {
  git_oid id = oid(tip);
  git_reference* r = nullptr;
  if (git_reference_create(&r, repo_.get(), hint_ref_.c_str(), &id, 1, nullptr) == 0) git_reference_free(r);
  git_error_clear();
}

// --- writing ------------------------------------------------------------------------

bool Repo::try_write(const std::function<std::optional<Commit>(const Snapshot&)>& build, std::string& lost_because) {
  create();
  if (location_.remote.empty()) {
    Snapshot base = read();
    auto commit = build(base);
    return !commit || publish_local(base, make_commit(base, *commit), lost_because);
  }
  // One receive-pack connection per attempt: we build on its advertised tip and push
  // through it. A tip the cache lacks is fetched first, then the connection reopened: no
  // fetch between advertisement and push (a writer that just lost would lose again).
  std::optional<Connection> c;
  c.emplace(*this, GIT_DIRECTION_PUSH, "cannot push");
  std::string tip = c->advertised_tip(*this);
  if (!tip.empty() && !has_object(tip)) {
    c.reset();
    fetch_tip();
    c.emplace(*this, GIT_DIRECTION_PUSH, "cannot push");
    tip = c->advertised_tip(*this);
    if (!tip.empty() && !has_object(tip)) {
      lost_because = "the remote branch moved";
      return false;
    }
  }
  Snapshot base = snapshot_at(tip);
  auto commit = build(base);
  return !commit || push(*c, base, make_commit(base, *commit), lost_because);
}

std::string Repo::make_commit(const Snapshot& base, const Commit& commit) {
  git_repository* repo = repo_.get();
  std::vector<git_tree_update> updates(commit.files.size());
  std::size_t i = 0;
  for (const auto& [path, content] : commit.files) {
    auto& u = updates[i++];
    u.path = path.c_str();
    if (content) {
      u.action = GIT_TREE_UPDATE_UPSERT;
      u.filemode = GIT_FILEMODE_BLOB;
      check(git_blob_create_from_buffer(&u.id, repo, content->data(), content->size()), "cannot write " + path);
    } else {
      u.action = GIT_TREE_UPDATE_REMOVE;
    }
  }
  git_oid tree_id;
  check(git_tree_create_updated(&tree_id, repo, base.root_.get(), updates.size(), updates.data()),
        "cannot write the new tree");
  git_tree* t = nullptr;
  check(git_tree_lookup(&t, repo, &tree_id), "cannot read the new tree");
  TreePtr tree(t);

  std::string name = env_or("GIT_AUTHOR_NAME", "sacker");
  std::string email = env_or("GIT_AUTHOR_EMAIL", "sacker@localhost");
  SignaturePtr author = signature(name, email);
  SignaturePtr committer = signature(env_or("GIT_COMMITTER_NAME", name), env_or("GIT_COMMITTER_EMAIL", email));
  // Every attempt's commit is unique, even for equal changes from one tip in the same
  // second: a push of a commit the remote already has would "succeed" without a CAS.
  std::string message = commit.message;
  while (!message.empty() && message.back() == '\n') message.pop_back();
  message += message.find('\n') == std::string::npos ? "\n\n" : "\n";
  message += fmt::format("Sacker-Writer: {} pid {} op {}\n", hostname(), getpid(), random_hex(8));
  const git_commit* parents[] = {base.commit_.get()};
  git_oid id;
  check(git_commit_create(&id, repo, nullptr, author.get(), committer.get(), "UTF-8", message.c_str(), tree.get(),
                          base.commit_ ? 1 : 0, parents),
        "cannot write a commit");
  return hex(id);
}

bool Repo::publish_local(const Snapshot& base, const std::string& commit, std::string& lost_because) {
  const git_oid id = oid(commit), expected = oid(base.tip_);  // all zero: the branch must not exist
  git_reference* r = nullptr;
  // force = 1 leaves exactly one check, the compare with `expected` under the ref's
  // lock. Without force, libgit2 first checks that the ref does not exist, outside the
  // lock, and then writes it unconditionally: two first writers could both pass that
  // check and the second would overwrite the first (issue 7).
  int rc = git_reference_create_matching(&r, repo_.get(), ref_name_.c_str(), &id, 1, &expected, nullptr);
  if (rc == 0) {
    git_reference_free(r);
    return true;
  }
  if (rc == GIT_EMODIFIED) {
    lost_because = "the branch moved";
    return false;
  }
  if (rc == GIT_ELOCKED) {
    lost_because = fmt::format("{}/{}.lock is held (if no sacker is running, remove it)", location_.path, ref_name_);
    return false;
  }
  fail(rc, "cannot update " + ref_name_);
}

bool Repo::push(Connection& c, const Snapshot& base, const std::string& commit, std::string& lost_because) {
  // libgit2 1.5 pushes refs only, not bare ids: a ref of our own, removed afterwards.
  const std::string source = "refs/sacker/push/" + random_hex(8);
  git_oid id = oid(commit);
  git_reference* r = nullptr;
  check(git_reference_create(&r, repo_.get(), source.c_str(), &id, 1, nullptr), "cannot create " + source);
  RefPtr source_ref(r);
  struct Cleanup {
    git_reference* ref;
    ~Cleanup() { git_reference_delete(ref); }
  } cleanup{source_ref.get()};

  c.expected_old = oid(base.tip_);
  std::string spec = fmt::format("{}:{}", source, ref_name_);
  char* specs[] = {spec.data()};
  git_strarray refspecs = {specs, 1};
  git_push_options opts;
  git_push_options_init(&opts, GIT_PUSH_OPTIONS_VERSION);
  opts.callbacks = c.callbacks;
  int rc = git_remote_upload(c.remote.get(), &refspecs, &opts);
  if (c.moved || rc == GIT_ENONFASTFORWARD) {
    lost_because = "the remote branch moved";
    return false;
  }
  check_network(rc, "cannot push");
  if (!c.rejected.empty()) {
    const std::string why = printable(c.rejected);
    for (const char* word : {"declined", "denied", "deny", "forbidden", "ermission"})
      if (why.find(word) != std::string::npos)
        throw Error(ErrorKind::Denied,
                    fmt::format("{}: the remote refused the update of {}: {}", where(), ref_name_, why));
    lost_because = "the remote rejected the update: " + why;
    return false;
  }
  note_remote_tip(commit);
  return true;
}

// --- errors -------------------------------------------------------------------------

// Maps the last libgit2 error to an Error of the matching kind. `network`: the call
// talked to the remote, so a failing socket (an OS error to libgit2) means the server
// is unreachable, not a local I/O problem.
void Repo::fail(int rc, const std::string& what, bool network) const {
  const git_error* e = git_error_last();
  std::string why = e && e->message ? e->message : fmt::format("libgit2 error {}", rc);
  int klass = e ? e->klass : GIT_ERROR_NONE;
  int err = errno;
  bool os = klass == GIT_ERROR_OS || klass == GIT_ERROR_FILESYSTEM;
  bool denied = os && (err == EACCES || err == EPERM || why.find("ermission denied") != std::string::npos);
  bool net = klass == GIT_ERROR_NET || klass == GIT_ERROR_SSL || klass == GIT_ERROR_SSH || klass == GIT_ERROR_HTTP;
  bool auth = why.find("authentication") != std::string::npos || why.find("status code: 401") != std::string::npos ||
              why.find("status code: 403") != std::string::npos;
  ErrorKind kind = ErrorKind::Internal;
  std::string hint;
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

void Repo::check(int rc, const std::string& what) const {
  if (rc < 0) fail(rc, what);
}

void Repo::check_network(int rc, const std::string& what) const {
  if (rc < 0) fail(rc, what, true);
}

}  // namespace sacker::git
