// What gc needs from a store beyond the Store contract (include/sacker/store.h):
// a delete that cannot lose a race against an add re-using the blob, and the
// removal of temp files that killed writers left behind. Stores that can offer
// both implement this next to Store (file, mem, the chain); Client::gc falls back
// to stat + remove for the others and says what window that leaves.
// (A proposal for store.h, where these would become Store methods with defaults.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "sacker/store.h"

namespace sacker {

class GcSupport {
 public:
  virtual ~GcSupport() = default;

  // Removes the blob only if its modification time is still at most `not_after`
  // (what gc listed), atomically with respect to put_file: a put_file that re-uses
  // the blob either moves its modification time past `not_after` before this call
  // looks (the blob is kept) or finds the blob gone and stores it again. Returns
  // true if it removed the blob; false if it was absent or is kept.
  virtual bool remove_if_not_modified_after(const std::string& sha256, std::int64_t not_after) = 0;

  // Removes the temp files of writers that died (no live process holds them) and
  // that were not modified for `min_idle_seconds`. Returns how many.
  virtual std::size_t remove_abandoned_uploads(std::int64_t min_idle_seconds) = 0;
};

// The conditional delete for any store: the store's own when it implements
// GcSupport; otherwise stat + remove, which leaves a window (a re-use between the
// two is lost) that `atomic` reports.
inline bool remove_if_not_modified_after(Store& store, const std::string& sha256, std::int64_t not_after,
                                         bool* atomic = nullptr) {
  auto* support = dynamic_cast<GcSupport*>(&store);
  if (atomic) *atomic = support != nullptr;
  if (support) return support->remove_if_not_modified_after(sha256, not_after);
  auto now = store.stat(sha256);
  if (!now || now->modified > not_after) return false;
  return store.remove(sha256);
}

// remove_abandoned_uploads where the store has it; 0 elsewhere.
inline std::size_t remove_abandoned_uploads(Store& store, std::int64_t min_idle_seconds) {
  auto* support = dynamic_cast<GcSupport*>(&store);
  return support ? support->remove_abandoned_uploads(min_idle_seconds) : 0;
}

}  // namespace sacker
