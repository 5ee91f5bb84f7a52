// Resumable downloads (issue 10): a download of a blob larger than one chunk goes
// to a partial file beside the destination with a journal of its verified chunks,
// so that an interrupted download (SIGKILL, network loss, a full disk) is picked up
// where it stopped by the next `download` of the same blob to the same place.
#pragma once

#include <cstdint>
#include <filesystem>

#include "sacker/record.h"
#include "sacker/store.h"

namespace sacker::client_detail {

// Chunks of this size are synced and journaled one by one (DownloadOptions).
inline constexpr std::uint64_t kDefaultResumeChunk = 8ULL << 20;
// Partials nobody holds and nobody touched for this long are removed by the next
// download into their directory.
inline constexpr std::int64_t kStalePartialSeconds = 7 * 24 * 3600;

struct ResumeOutcome {
  std::uint64_t transferred = 0;   // bytes fetched from the store by this call
  std::uint64_t resumed_from = 0;  // verified bytes kept from an earlier attempt (0: from scratch)
  std::uint64_t dev = 0, ino = 0;  // the file renamed onto the destination
};

// Fetches `record`'s blob from `store` into `dest` through the partial file
//   <dir>/.<name>.sacker-partial        the bytes, locked (flock) while in use
//   <dir>/.<name>.sacker-partial.json   {"format": 2, "sha256", "size", "etag",
//                                        "chunk_size", "chunks": [sha256 or null]}
// The journal holds, for chunk i, its sha256 once it is complete on disk (null
// before): chunks are written as the store's parallel parts arrive (BlobSink::
// arrived), so they complete out of order. A chunk is listed only after its bytes
// were synced (fdatasync), and the journal is replaced atomically. A later call
// re-hashes every listed chunk in order (never trusting the file's length: a
// crashed file can hold zeros) and fetches the others, one ranged read per run of
// missing chunks, conditional on the journal's ETag; only a 206 with the right Content-Range is
// accepted (the store's get_range contract). A changed blob (Conflict), a journal
// for other bytes, or a whole-file sha256 that does not match discards the partial
// and starts clean once; the whole-file sha256 and size are verified before the
// rename onto `dest` (mode applied on the descriptor). Error(Conflict) if another
// process holds the partial.
ResumeOutcome download_resumable(Store& store, const VersionRecord& record, const std::filesystem::path& dest,
                                 unsigned mode, std::uint64_t chunk_size, Progress* progress);

// Removes partials (and their journals) in `dir` that no process holds locked and
// that were not modified for `older_than_seconds`. Best effort; returns how many.
std::size_t remove_stale_partials(const std::filesystem::path& dir, std::int64_t older_than_seconds);

}  // namespace sacker::client_detail
