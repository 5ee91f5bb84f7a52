// Rollback protection (TUF's lesson): the client remembers, per (ledger id,
// package, tag), the highest promotion generation it accepted, so a ledger
// pointed back at an older, validly signed promotion is noticed.
//
// One JSON file, `dir`/trust-state.json (the facade passes $XDG_STATE_HOME/sacker,
// else ~/.local/state/sacker):
//   {"format": 1, "ledgers": {"<ledger id>": {"<package>": {"<tag>": {"generation": 7, "version": 23}}}}}
// Updates hold an flock on `dir`/trust-state.lock (concurrent downloads from cron
// and a shell), re-read the file under it, and replace it atomically (temp file +
// fsync + rename + fsync of the directory), so no update is ever lost and a reader
// sees the old or the new file, never a half-written one. A missing file is an
// empty state; a damaged one is Error(Invalid): refusing is safer than forgetting.
// Thread-safety: an instance holds no open files; use one per thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace sacker::sign {

struct AcceptedPromotion {
  std::uint64_t generation = 0;
  std::uint64_t version = 0;
  bool operator==(const AcceptedPromotion&) const = default;
};

class TrustState {
 public:
  explicit TrustState(std::filesystem::path dir);

  // What was accepted for this tag, or nullopt if nothing was.
  std::optional<AcceptedPromotion> accepted(const std::string& ledger, const std::string& package,
                                            const std::string& tag) const;

  enum class Outcome { Recorded, Unchanged, Rollback };
  // Under the lock: a generation below the remembered one is Rollback (nothing
  // written) unless `allow_rollback`, in which case it becomes the new baseline;
  // an equal one is Unchanged; a higher one (or the first) is Recorded. Creates
  // `dir` (mode 0700) when needed.
  Outcome accept(const std::string& ledger, const std::string& package, const std::string& tag,
                 const AcceptedPromotion& promotion, bool allow_rollback = false);

  const std::filesystem::path& file() const { return file_; }

 private:
  std::filesystem::path dir_, file_, lock_;
};

}  // namespace sacker::sign
