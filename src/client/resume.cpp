// Resumable downloads: see resume.h for the files and the contract.
//
// Why a resumed download never serves bad bytes: the journal is a hint, not a
// proof. Every chunk it lists is read back and hashed before it is kept; bytes
// past the last listed chunk are cut off; the rest comes from ranged reads that
// the store answers only for the ETag the journal was written against; and the
// whole file's sha256 (fed in order: kept chunks as they are re-hashed, fetched
// bytes as they come) must equal the record's before the rename. The partial is
// flock-ed for the whole call, so two downloads never write one partial.
//
// Why little is lost to a kill: a parallel download delivers its parts in order,
// but hands each one to BlobSink::arrived as soon as it is complete; the journaling
// sink writes, syncs and journals every whole chunk of it there, on the store's
// worker thread. The journal is thus a set of chunks, not a prefix: a kill loses
// only the parts still on the wire.
#include "client/resume.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/files.h"
#include "sacker/error.h"
#include "sacker/log.h"
#include "sacker/names.h"
#include "sacker/sha256.h"

namespace sacker::client_detail {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kPartialSuffix = ".sacker-partial";
constexpr std::string_view kJournalSuffix = ".sacker-partial.json";
// 1: "chunks" lists the complete chunks from the start; 2: chunk i is its sha256 or
// null (not complete). A format-1 journal reads as a format-2 one without nulls.
constexpr int kJournalFormat = 2;
constexpr std::size_t kMaxFileName = 255;

struct Journal {
  std::string sha256, etag;
  std::uint64_t size = 0, chunk_size = 0;
  std::vector<std::optional<std::string>> chunks;  // chunk i: its sha256 once complete and synced

  bool has(std::size_t i) const { return i < chunks.size() && chunks[i].has_value(); }
  void set(std::size_t i, std::string sha) {
    if (chunks.size() <= i) chunks.resize(i + 1);
    chunks[i] = std::move(sha);
  }
};

struct Paths {
  fs::path partial, journal;
};

Paths paths_for(const fs::path& dest, const VersionRecord& r) {
  const fs::path dir = dest.parent_path().empty() ? fs::path(".") : dest.parent_path();
  std::string stem = "." + dest.filename().string();
  // A long name would not fit with the suffix: name the partial after the blob.
  if (stem.size() + kJournalSuffix.size() > kMaxFileName) stem = "." + r.sha256.substr(0, 32);
  return {dir / (stem + std::string(kPartialSuffix)), dir / (stem + std::string(kJournalSuffix))};
}

// nullopt for anything that is not a journal we wrote (it is then ignored).
std::optional<Journal> read_journal(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string text;
  char buf[8192];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0 && text.size() < (16u << 20);)
    text.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  try {
    const auto j = nlohmann::json::parse(text);
    const int format = j.at("format").get<int>();
    if (format != 1 && format != kJournalFormat) return std::nullopt;
    Journal out;
    out.sha256 = j.at("sha256").get<std::string>();
    out.etag = j.at("etag").get<std::string>();
    out.size = j.at("size").get<std::uint64_t>();
    out.chunk_size = j.at("chunk_size").get<std::uint64_t>();
    for (const auto& c : j.at("chunks")) {
      if (c.is_null() && format != 1) {
        out.chunks.emplace_back();
        continue;
      }
      auto sha = c.get<std::string>();
      if (!is_valid_sha256_hex(sha)) return std::nullopt;
      out.chunks.emplace_back(std::move(sha));
    }
    if (out.chunk_size == 0 || out.chunks.size() > (out.size + out.chunk_size - 1) / out.chunk_size)
      return std::nullopt;
    return out;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

// Replaced atomically (temp file, fsync, rename, fsync of the directory).
void write_journal(const Paths& p, const Journal& journal) {
  nlohmann::ordered_json j;
  j["format"] = kJournalFormat;
  j["sha256"] = journal.sha256;
  j["size"] = journal.size;
  j["etag"] = journal.etag;
  j["chunk_size"] = journal.chunk_size;
  nlohmann::ordered_json chunks = nlohmann::ordered_json::array();
  for (const auto& c : journal.chunks) chunks.push_back(c ? nlohmann::ordered_json(*c) : nlohmann::ordered_json());
  j["chunks"] = std::move(chunks);
  const std::string text = j.dump();
  TempFile tmp(p.journal.parent_path(), p.journal.filename().string());
  tmp.write(text.data(), text.size());
  tmp.commit(p.journal, 0600);
}

void discard(const Paths& p, int fd) {
  if (::ftruncate(fd, 0) != 0) throw_errno("cannot truncate " + p.partial.string(), errno);
  ::unlink(p.journal.c_str());
}

void pwrite_all(int fd, const char* data, std::size_t size, std::uint64_t offset, const fs::path& what) {
  while (size > 0) {
    const ssize_t n = ::pwrite(fd, data, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot write " + what.string(), errno);
    }
    data += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
}

// Writes the blob's bytes at their offsets, hashes the whole file (in order) and
// each chunk, and journals every chunk once it is complete and synced: from
// arrived() (a parallel store's early, out-of-order copy of a part, on its worker
// threads) or else from write() (in order). A chunk journaled by arrived() is not
// written again by write(), only hashed into the whole.
class JournalingSink final : public BlobSink {
 public:
  JournalingSink(int fd, const Paths& paths, Journal& journal, Sha256& whole, Progress* progress)
      : fd_(fd), paths_(paths), journal_(journal), whole_(whole), progress_(progress) {}

  // Where write() continues (a chunk boundary): the resume loop fetches each run of
  // chunks it could not keep with one ranged read.
  void seek(std::uint64_t offset) {
    offset_ = offset;
    in_chunk_ = 0;
    chunk_.reset();
  }

  void write(const char* data, std::size_t size) override {
    if (size > journal_.size - offset_)
      throw Error(ErrorKind::Integrity, fmt::format("download: the blob {} from the store is longer than the {} bytes "
                                                    "the ledger records",
                                                    journal_.sha256, journal_.size));
    while (size > 0) {
      if (in_chunk_ == 0) early_ = journaled(offset_ / journal_.chunk_size);
      const std::size_t take =
          static_cast<std::size_t>(std::min<std::uint64_t>(size, journal_.chunk_size - in_chunk_));
      if (!early_) {
        pwrite_all(fd_, data, take, offset_, paths_.partial);
        if (!chunk_) chunk_ = std::make_unique<Sha256>();
        chunk_->update(data, take);
      }
      whole_.update(data, take);
      offset_ += take;
      in_chunk_ += take;
      transferred_ += take;
      if (progress_) progress_->advance(take);
      data += take;
      size -= take;
      if (in_chunk_ == journal_.chunk_size || offset_ == journal_.size) close_chunk();
    }
  }

  // Every whole chunk inside [offset, offset + size): written, synced, journaled.
  void arrived(std::uint64_t offset, const char* data, std::size_t size) override {
    const std::uint64_t cs = journal_.chunk_size, end = std::min<std::uint64_t>(offset + size, journal_.size);
    for (std::uint64_t c = (offset + cs - 1) / cs; c * cs < end; ++c) {
      const std::uint64_t from = c * cs, to = std::min(from + cs, journal_.size);
      if (to > end) break;  // the chunk goes on past this part
      if (journaled(c)) continue;
      const char* bytes = data + (from - offset);
      const std::size_t n = static_cast<std::size_t>(to - from);
      pwrite_all(fd_, bytes, n, from, paths_.partial);
      if (::fdatasync(fd_) != 0) throw_errno("cannot sync " + paths_.partial.string(), errno);
      std::string sha = Sha256::hex_of(bytes, n);
      std::lock_guard lock(mutex_);
      journal_.set(static_cast<std::size_t>(c), std::move(sha));
      write_journal(paths_, journal_);
    }
  }

  std::uint64_t transferred() const { return transferred_; }

 private:
  bool journaled(std::uint64_t chunk) {
    std::lock_guard lock(mutex_);
    return journal_.has(static_cast<std::size_t>(chunk));
  }

  void close_chunk() {
    const std::size_t index = static_cast<std::size_t>((offset_ - 1) / journal_.chunk_size);
    in_chunk_ = 0;
    if (early_) return;  // journaled by arrived()
    if (::fdatasync(fd_) != 0) throw_errno("cannot sync " + paths_.partial.string(), errno);
    std::string sha = chunk_->finish_hex();
    chunk_.reset();
    {
      std::lock_guard lock(mutex_);
      journal_.set(index, std::move(sha));
      write_journal(paths_, journal_);
    }
    test_stop_point("download.chunk");
  }

  int fd_;
  const Paths& paths_;
  std::mutex mutex_;  // journal_ and its file: arrived() runs on the store's threads
  Journal& journal_;
  Sha256& whole_;
  std::uint64_t offset_ = 0, in_chunk_ = 0, transferred_ = 0;
  bool early_ = false;  // the chunk write() is in was journaled by arrived()
  std::unique_ptr<Sha256> chunk_;
  Progress* progress_;
};

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Chunk `index` of the partial if it still hashes to what the journal says
// (`buf` holds its bytes then); false otherwise (it is then fetched again).
bool chunk_still_good(int fd, const Journal& journal, std::size_t index, std::vector<char>& buf) {
  const std::uint64_t at = index * journal.chunk_size;
  const std::uint64_t want = std::min<std::uint64_t>(journal.chunk_size, journal.size - at);
  buf.resize(static_cast<std::size_t>(want));
  std::uint64_t got = 0;
  while (got < want) {
    const ssize_t n = ::pread(fd, buf.data() + got, want - got, static_cast<off_t>(at + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::uint64_t>(n);
  }
  return got == want && Sha256::hex_of(buf.data(), want) == *journal.chunks[index];
}

void check_whole(Sha256& whole, std::uint64_t size, const VersionRecord& r, const std::string& from) {
  const std::string sha = whole.finish_hex();
  if (sha != r.sha256 || size != r.size)
    throw Error(ErrorKind::Integrity,
                fmt::format("download {} {}: the blob from {} hashes to {} ({} bytes), the ledger says {} ({} bytes); "
                            "the partial download was discarded",
                            r.package, r.version, from, sha, size, r.sha256, r.size));
}

}  // namespace

std::size_t remove_stale_partials(const fs::path& dir, std::int64_t older_than_seconds) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return 0;
  const std::time_t now = std::time(nullptr);
  std::size_t removed = 0;
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    if (name.size() <= kPartialSuffix.size() || name.front() != '.' ||
        name.compare(name.size() - kPartialSuffix.size(), kPartialSuffix.size(), kPartialSuffix) != 0)
      continue;
    Fd fd{::open(entry.path().c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)};
    struct stat st {};
    if (fd.fd < 0 || ::fstat(fd.fd, &st) != 0 || !S_ISREG(st.st_mode) || now - st.st_mtime <= older_than_seconds ||
        ::flock(fd.fd, LOCK_EX | LOCK_NB) != 0)
      continue;
    if (::unlink(entry.path().c_str()) == 0) {
      ++removed;
      ::unlink((entry.path().string() + ".json").c_str());
    }
  }
  return removed;
}

ResumeOutcome download_resumable(Store& store, const VersionRecord& r, const fs::path& dest, unsigned mode,
                                 std::uint64_t chunk_size, Progress* progress) {
  const Paths p = paths_for(dest, r);
  const fs::path dir = p.partial.parent_path();
  remove_stale_partials(dir, kStalePartialSeconds);
  Fd fd{::open(p.partial.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)};
  if (fd.fd < 0) {
    const int err = errno;
    throw Error(kind_from_errno(err) == ErrorKind::Denied ? ErrorKind::Denied : ErrorKind::LocalIO,
                fmt::format("cannot download to {}: cannot open {}: {}", dest.string(), p.partial.string(),
                            std::strerror(err)));
  }
  if (::flock(fd.fd, LOCK_EX | LOCK_NB) != 0)
    throw Error(ErrorKind::Conflict, fmt::format("cannot download to {}: another sacker is downloading there now (it "
                                                 "holds {} locked)",
                                                 dest.string(), p.partial.string()));
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0 || !S_ISREG(st.st_mode))
    throw Error(ErrorKind::Invalid, fmt::format("cannot download to {}: {} is not a regular file", dest.string(),
                                                p.partial.string()));
  const auto info = store.stat(r.sha256);
  if (!info) throw Error(ErrorKind::NotFound, fmt::format("blob {} is not in {}", r.sha256, store.describe()));

  ResumeOutcome outcome;
  const std::uint64_t cs = chunk_size;
  const std::size_t chunk_count = static_cast<std::size_t>((r.size + cs - 1) / cs);
  for (int attempt = 0;; ++attempt) {
    Journal journal;
    auto whole = std::make_unique<Sha256>();
    auto old = attempt == 0 ? read_journal(p.journal) : std::nullopt;
    const bool resuming = old && old->sha256 == r.sha256 && old->size == r.size && old->chunk_size == cs &&
                          old->etag == info->etag &&
                          std::any_of(old->chunks.begin(), old->chunks.end(), [](const auto& c) { return c.has_value(); });
    if (resuming) journal = std::move(*old);
    journal.sha256 = r.sha256;
    journal.size = r.size;
    journal.etag = info->etag;
    journal.chunk_size = cs;
    // Bytes past the last listed chunk are never trusted (a crash can leave zeros there).
    std::uint64_t listed_end = 0;
    for (std::size_t c = journal.chunks.size(); c-- > 0;)
      if (journal.chunks[c]) {
        listed_end = std::min<std::uint64_t>(r.size, (c + 1) * cs);
        break;
      }
    if (::ftruncate(fd.fd, static_cast<off_t>(listed_end)) != 0)
      throw_errno("cannot truncate " + p.partial.string(), errno);
    write_journal(p, journal);
    if (progress) progress->start(r.size);
    JournalingSink sink(fd.fd, p, journal, *whole, progress);
    std::uint64_t kept = 0;
    try {
      if (!resuming) {
        // From scratch: the store's own (parallel) download, journaled as it goes.
        store.get(r.sha256, sink, nullptr);
      } else {
        // In order: a listed chunk that still hashes feeds the whole-file hash from
        // the partial; a run of other chunks (up to the next listed one) is one
        // ranged read (a parallel store fetches it in parts, journaled as they arrive).
        std::vector<char> buf;
        bool said = false;
        for (std::size_t c = 0; c < chunk_count;) {
          const std::uint64_t at = c * cs;
          if (journal.has(c) && chunk_still_good(fd.fd, journal, c, buf)) {
            whole->update(buf.data(), buf.size());
            kept += buf.size();
            if (progress) progress->advance(buf.size());
            ++c;
            continue;
          }
          if (journal.has(c)) journal.chunks[c].reset();  // no longer what was synced: fetched again
          std::size_t end = c + 1;
          while (end < chunk_count && !journal.has(end)) ++end;
          const std::uint64_t to = std::min<std::uint64_t>(r.size, end * cs);
          if (!said)
            log_verbose(fmt::format("download {} {}: resuming at {} of {} bytes (verified)", r.package, r.version, at,
                                    r.size));
          said = true;
          sink.seek(at);
          store.get_range(r.sha256, at, to - at, info->etag, sink);
          c = end;
        }
      }
      check_whole(*whole, kept + sink.transferred(), r, store.describe());
      outcome.transferred += sink.transferred();
      outcome.resumed_from = kept;
    } catch (const Error& e) {
      outcome.transferred += sink.transferred();
      const bool retry = attempt == 0 && resuming && (e.kind() == ErrorKind::Conflict || e.kind() == ErrorKind::Integrity);
      if (e.kind() == ErrorKind::Integrity || e.kind() == ErrorKind::Conflict) discard(p, fd.fd);
      if (!retry) throw;
      log_verbose(fmt::format("download {} {}: the kept part no longer fits the blob ({}); starting again", r.package,
                              r.version, e.what()));
      continue;
    }
    break;
  }
  if (progress) progress->finish();
  if (::fchmod(fd.fd, mode) != 0) throw_errno("cannot set the mode of " + p.partial.string(), errno);
  if (::fsync(fd.fd) != 0) throw_errno("cannot sync " + p.partial.string(), errno);
  struct stat renamed {};
  if (::fstat(fd.fd, &renamed) == 0) {
    outcome.dev = static_cast<std::uint64_t>(renamed.st_dev);
    outcome.ino = static_cast<std::uint64_t>(renamed.st_ino);
  }
  if (::rename(p.partial.c_str(), dest.c_str()) != 0) throw_errno("cannot write " + dest.string(), errno);
  ::unlink(p.journal.c_str());
  fsync_directory(dir);
  return outcome;
}

}  // namespace sacker::client_detail
