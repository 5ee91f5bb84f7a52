// The wire layer of the git ledger (git_ledger.cpp): one branch of a bare git
// repository through libgit2. It opens or creates the repository, reads the files of
// the branch at one tip, writes a commit of file edits on top of that tip, and moves
// the branch from that tip to the commit by compare-and-swap, never otherwise:
//   - a local repository: git_reference_create_matching with the tip as the expected
//     old id, or the all-zero id when the branch does not exist yet. libgit2 1.5.1
//     compares it under the ref's lock file (refdb_fs.c, refdb_fs_backend__write_tail
//     -> cmp_old_ref: a zero old id matches only a ref that is not there), so even the
//     very first commit cannot overwrite another writer's;
//   - a remote: the tip is the one the server's receive-pack advertised on the very
//     connection the push then goes through; the push_negotiation callback refuses
//     to send unless the command's old id is that tip (zero: the branch must not
//     exist), and receive-pack applies the command under its ref lock only if the ref
//     still has that old id (git's ref transactions: a zero old id means "must not
//     exist").
// Messages name the ledger (its describe()), never a secret.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sacker/error.h"

struct git_repository;
struct git_commit;
struct git_tree;
struct git_object;

namespace sacker::git {

// Where the ledger lives.
struct Location {
  std::string path;    // a bare repository: the ledger itself, or the local cache of `remote`
  std::string remote;  // empty: `path` is the ledger; else a URL libgit2 pushes to with receive-pack
  std::string branch;  // the branch that holds the ledger ("main")
  std::string ledger;  // the ledger's describe(), for messages
};

// Whether `branch` is a name git accepts for refs/heads/<branch>.
bool is_valid_branch_name(const std::string& branch);

// The branch at one tip, or at none: the branch does not exist yet (an empty ledger).
class Snapshot {
 public:
  bool has_tip() const { return !tip_.empty(); }

 private:
  friend class Repo;
  std::string tip_;  // the commit id in hex
  std::shared_ptr<git_commit> commit_;
  std::shared_ptr<git_tree> root_;
};

struct Entry {
  std::string name;
  bool is_dir = false;
};

// One commit: files to write (content) or delete (nullopt), by path, and its message.
struct Commit {
  std::map<std::string, std::optional<std::string>> files;
  std::string message;
};

// One repository and branch, used from one thread at a time.
class Repo {
 public:
  explicit Repo(Location location);
  ~Repo();
  Repo(const Repo&) = delete;
  Repo& operator=(const Repo&) = delete;

  // Creates the repository (with a remote: the cache) if there is none; with a remote,
  // also checks that the server answers.
  void init();

  // The branch as it is now (with a remote: as the server advertises it, its objects
  // fetched into the cache). A local repository that does not exist reads as an empty
  // branch and is not created.
  Snapshot read();

  // The file at `path`, or nullopt. Error(Invalid) if it is a directory or over 1 MiB.
  std::optional<std::string> read_file(const Snapshot& at, const std::string& path);
  // The entries of the directory at `path`, in git's order (by name); empty if there is
  // none. Error(Invalid) if `path` is a file.
  std::vector<Entry> list_dir(const Snapshot& at, const std::string& path);

  // One write attempt: `build` gets the branch at its current tip and returns the commit
  // to make on top of it, or nullopt (nothing to do). The commit is published only by
  // the compare-and-swap from that same tip described above. Returns true if it was
  // published (or there was nothing to do), false if another writer moved the branch
  // first: then nothing was published and `lost_because` says what happened. Whatever
  // `build` throws propagates, and nothing is published.
  bool try_write(const std::function<std::optional<Commit>(const Snapshot&)>& build, std::string& lost_because);

  // "<ledger> (<path> on branch <branch>)": where a read-back check failed, as the
  // `ledger` argument of the kit's checks (ledger_kit::corrupt and checked_*).
  std::string at(const std::string& path) const;

 private:
  struct Connection;
  git_repository* open();
  git_repository* create();
  Snapshot snapshot_at(const std::string& tip);
  git_object* lookup(const Snapshot& at_tip, const std::string& path, int type);
  std::string fetch_tip();
  bool has_object(const std::string& id);
  std::string make_commit(const Snapshot& base, const Commit& commit);
  bool publish_local(const Snapshot& base, const std::string& commit, std::string& lost_because);
  bool push(Connection& connection, const Snapshot& base, const std::string& commit, std::string& lost_because);
  void note_remote_tip(const std::string& tip);
  [[noreturn]] void fail(int rc, const std::string& what, bool network = false) const;
  void check(int rc, const std::string& what) const;
  void check_network(int rc, const std::string& what) const;
  std::string where() const;

  Location location_;
  std::string ref_name_;  // refs/heads/<branch>
  std::string hint_ref_;  // refs/remotes/sacker/<branch> in the cache: the last tip seen
  std::unique_ptr<git_repository, void (*)(git_repository*)> repo_;
};

}  // namespace sacker::git
