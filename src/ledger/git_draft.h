// A change of the git ledger being built (git_ledger.cpp draws the tree): the files at
// one tip of the branch (git_repo.h) plus the edits made so far, so that a change (or a
// whole import) reads its own writes; and the ledger's files read and written through
// it. Every read goes through the kit's read-back checks (ledger_kit.h): a file that
// does not fit the layout is Error(Invalid) naming its path. The writes keep the counter
// above every version and give an event without a seq the next one. Nothing here
// publishes: the draft becomes a Commit (take) that Repo::try_write swaps in.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ledger/git_repo.h"
#include "sacker/ledger.h"
#include "sacker/record.h"

namespace sacker::git {

// The files at one tip plus the edits of a commit being built on it: reads see the
// edits, so a change (or a whole import) can build on itself.
class Draft {
 public:
  Draft(Repo& repo, Snapshot base) : repo_(repo), base_(std::move(base)) {}

  std::optional<std::string> read(const std::string& path);
  // The names in directory `dir`, sorted; every entry must be a directory (`dirs`) or a
  // file, else Error(Invalid) naming it.
  std::vector<std::string> list(const std::string& dir, bool dirs);
  void write(const std::string& path, std::string content) { commit_.files[path] = std::move(content); }
  void remove(const std::string& path) { commit_.files[path] = std::nullopt; }
  // "<ledger> (<path> on branch <branch>)": where a read-back check failed.
  std::string at(const std::string& path) const { return repo_.at(path); }
  // The edits as a commit with `message`; the draft is spent.
  Commit take(std::string message) {
    commit_.message = std::move(message);
    return std::move(commit_);
  }

 private:
  Repo& repo_;
  Snapshot base_;
  Commit commit_;
};

// --- the ledger's layout through a draft --------------------------------------------

// The versions / event seqs that have a file, ascending.
std::vector<std::uint64_t> versions_in(Draft& v, const std::string& pkg);
std::vector<std::uint64_t> event_seqs(Draft& v, const std::string& pkg);
std::uint64_t highest_in(Draft& v, const std::string& pkg);  // 0: none
std::uint64_t next_seq(Draft& v, const std::string& pkg);    // the highest seq + 1
std::uint64_t counter_in(Draft& v, const std::string& pkg);  // the next version (1 when unset)
std::optional<VersionRecord> record_in(Draft& v, const std::string& pkg, std::uint64_t version);
std::optional<TagValue> tag_in(Draft& v, const std::string& pkg, const std::string& tag);
std::map<std::string, TagValue> tag_values_in(Draft& v, const std::string& pkg);
std::optional<Event> event_in(Draft& v, const std::string& pkg, std::uint64_t seq);

// The record and a counter above it.
void write_record(Draft& v, const VersionRecord& r);
// Stores `e` under its seq (0: the next one) and returns it as stored.
Event append_event(Draft& v, Event e);
// The verbatim writes of an import; each returns whether it changed anything (the
// event: as stored, or nullopt when it was there already). A different record or
// event under the same number, or a tag to a missing version, is the kit's
// invariant error.
bool put_record_in(Draft& v, const VersionRecord& record);
bool put_tag_in(Draft& v, const std::string& pkg, const std::string& tag, const TagValue& value);
std::optional<Event> put_event_in(Draft& v, const Event& event);

}  // namespace sacker::git
