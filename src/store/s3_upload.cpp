#include "store/s3_upload.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <optional>

#include "core/files.h"
#include "kit/parallel.h"
#include "kit/upload_journal.h"
#include "kit/upload_progress.h"
#include "sacker/error.h"
#include "sacker/log.h"
#include "sacker/sha256.h"

namespace sacker {
namespace {

// Reads a file range with pread, hashing it into both hashers.
void hash_range(int fd, const std::string& path, std::uint64_t offset, std::uint64_t length, Sha256& part,
                Sha256& whole, std::vector<char>& buf) {
  while (length > 0) {
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(length, buf.size()));
    ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot read " + path, errno);
    }
    if (n == 0) throw Error(ErrorKind::LocalIO, fmt::format("cannot read {}: the file became shorter", path));
    part.update(buf.data(), static_cast<std::size_t>(n));
    whole.update(buf.data(), static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
    length -= static_cast<std::uint64_t>(n);
  }
}

struct Fd {
  explicit Fd(const std::string& path) : fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (fd < 0) throw_errno("cannot open " + path, errno);
  }
  ~Fd() { ::close(fd); }
  int fd;
};

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The upload is gone on the server (NoSuchUpload; RadosGW 16 may say NoSuchKey).
bool upload_gone(const Error& e) {
  const std::string_view what = e.what();
  return e.kind() == ErrorKind::NotFound &&
         (what.find("NoSuchUpload") != std::string_view::npos || what.find("NoSuchKey") != std::string_view::npos);
}

// The journal's upload, if it is one to continue: same key and part size, and
// (where ListParts is allowed) still there, keeping only the parts the server
// has with the journal's ETag.
std::optional<UploadJournalState> resumable_state(aws::S3Client& client, const S3UploadJob& job,
                                                  const UploadJournal& journal) {
  auto state = journal.load();
  if (!state || state->key != job.key) return std::nullopt;
  // A journal made with another part size is continued with its own (a changed
  // --part-size must not orphan what was sent), if S3 takes that size.
  constexpr std::uint64_t kMinPart = 5ULL << 20, kMaxPart = 5ULL << 30;
  if (state->part_size < kMinPart || state->part_size > kMaxPart ||
      (job.size + state->part_size - 1) / state->part_size > 10000)
    return std::nullopt;
  try {
    auto listed = client.list_parts(job.bucket, job.key, state->upload_id);
    if (!listed) return std::nullopt;  // NoSuchUpload: aborted or expired
    std::map<int, UploadJournalPart> kept;
    for (const auto& p : *listed) {
      auto it = state->parts.find(p.number);
      if (it != state->parts.end() && it->second.etag == p.etag) kept.insert(*it);
    }
    state->parts = std::move(kept);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::Denied) throw;  // write-only credentials: the journal alone
  }
  return state;
}

// One attempt: `state` (from the journal) to continue, or a new upload.
bool upload(aws::S3Client& client, const S3UploadJob& job, UploadJournal& journal,
            std::optional<UploadJournalState> state, Progress* progress) {
  const std::uint64_t part = job.part_size;
  const std::size_t count = static_cast<std::size_t>((job.size + part - 1) / part);
  if (!state) {
    net::HttpHeaders headers = job.create_headers;
    headers.emplace_back("x-amz-checksum-algorithm", "SHA256");
    state = UploadJournalState{job.key, client.create_multipart(job.bucket, job.key, headers), part, {}, unix_now()};
    journal.save(*state);
  } else {
    log_verbose(fmt::format("resuming the upload of {} to {}: {} of {} parts were sent", job.sha256, job.store,
                            state->parts.size(), count));
  }
  std::mutex mutex;  // guards `state` and `done` between the workers
  std::size_t done = 0;
  Fd fd(job.path);
  std::vector<aws::S3CompletedPart> parts(count);
  std::atomic<std::uint64_t> sent{0};
  UploadProgress bar(progress, job.size);
  auto report = [&] { bar.reach(sent.load()); };
  // The part digests: the job's (hashed with the key) or this read's.
  const bool digested = job.part_sha256.size() == count;
  Sha256 whole;
  std::vector<char> buf(digested ? 0 : 1 << 20);
  try {
    ParallelTasks tasks(job.concurrency);
    for (std::size_t i = 0; i < count; ++i) {
      const int number = static_cast<int>(i + 1);
      const std::uint64_t offset = i * part, length = std::min(part, job.size - offset);
      std::string part_sha;
      if (digested) {
        part_sha = job.part_sha256[i];
      } else {  // hash the part and the whole blob from one read (see the top comment)
        Sha256 part_hash;
        hash_range(fd.fd, job.path, offset, length, part_hash, whole, buf);
        part_sha = part_hash.finish_hex();
      }
      parts[i] = {number, "", aws::sha256_hex_to_base64(part_sha)};
      {
        std::lock_guard lock(mutex);
        auto kept = state->parts.find(number);
        if (kept != state->parts.end() && kept->second.sha256 == part_sha) {  // re-read and checked: keep it
          parts[i].etag = kept->second.etag;
          sent += length;
          continue;
        }
        state->parts.erase(number);
      }
      // At most `concurrency` parts queued or in flight.
      tasks.wait_until([&] { return tasks.unfinished() < job.concurrency; }, report);
      tasks.submit([&, i, number, offset, length, part_sha] {
        std::string etag =
            client.upload_part(job.bucket, job.key, state->upload_id, number, net::FileRange{job.path, offset, length},
                               part_sha, {{"x-amz-checksum-sha256", parts[i].checksum_sha256}});
        std::size_t n = 0;
        {
          std::lock_guard lock(mutex);
          parts[i].etag = etag;
          state->parts[number] = {std::move(etag), part_sha};
          journal.save(*state);
          n = ++done;
        }
        sent += length;
        test_stop_point(fmt::format("upload.part.{}", n));  // the crash tests' seam
      });
    }
    tasks.wait_all(report);
  } catch (const Error& e) {
    // The source cannot be read as the blob (it became shorter, an I/O error), or
    // the server found a part that no longer hashes to the digest taken with the
    // key: this upload can never be completed, so it is not kept for a resume.
    const bool changed = digested && e.kind() == ErrorKind::Integrity;
    if (e.kind() == ErrorKind::LocalIO || changed) {
      client.abort_multipart(job.bucket, job.key, state->upload_id);
      journal.remove();
    }
    if (changed)
      throw Error(ErrorKind::Integrity, fmt::format("cannot store {} as {}: {} (did the file change since it was "
                                                    "hashed?); nothing was stored",
                                                    job.path, job.sha256, e.what()));
    throw;
  }
  report();
  const std::string actual = digested ? job.sha256 : whole.finish_hex();
  if (actual != job.sha256) {
    client.abort_multipart(job.bucket, job.key, state->upload_id);
    journal.remove();
    throw Error(ErrorKind::Integrity,
                fmt::format("cannot store {} as {}: its content hashes to {} (did it change?); nothing was stored",
                            job.path, job.sha256, actual));
  }
  auto result = client.complete_multipart(job.bucket, job.key, state->upload_id, parts, {{"If-None-Match", "*"}});
  if (!result.written) {  // 412: the blob appeared meanwhile (AWS honours If-None-Match here)
    client.abort_multipart(job.bucket, job.key, state->upload_id);
    journal.remove();
    bar.finish();
    return false;
  }
  journal.remove();
  bar.finish();
  return true;
}

}  // namespace

bool s3_resumable_multipart_upload(aws::S3Client& client, const S3UploadJob& job, Progress* progress) {
  UploadJournal journal(job.store, job.sha256, job.path, job.size);
  auto state = resumable_state(client, job, journal);
  if (!state) return upload(client, job, journal, std::nullopt, progress);
  S3UploadJob resumed = job;
  if (state->part_size != job.part_size) resumed.part_sha256.clear();  // digests of other parts: hash again
  resumed.part_size = state->part_size;
  try {
    return upload(client, resumed, journal, std::move(state), progress);
  } catch (const Error& e) {
    if (!upload_gone(e)) throw;
    log_verbose(fmt::format("the upload of {} to {} in the journal is gone: starting it again", job.sha256, job.store));
    journal.remove();
    return upload(client, job, journal, std::nullopt, progress);
  }
}

}  // namespace sacker
