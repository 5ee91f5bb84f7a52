// add and download: the blob is in the store before the ledger records it, and a
// download is verified before it appears (DESIGN.md invariants 1 and 3).
//
// Downloaded files get the recorded permission bits without setuid, setgid and
// sticky, masked by the umask, set on the temp file's own descriptor. The
// destination path is never followed: a symlink there is replaced by the file
// (rename), a regular file already holding the bytes is kept (its mode fixed
// through its own descriptor), anything else (a device, a FIFO) is refused.
#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "client/known_sha.h"
#include "client/read_back.h"
#include "client/resume.h"
#include "core/files.h"
#include "sacker/client.h"
#include "sacker/error.h"
#include "sacker/log.h"
#include "sacker/names.h"
#include "sacker/sha256.h"

namespace sacker {

namespace fs = std::filesystem;
using namespace client_detail;

namespace {

// Hashes what passes through and writes it to a file descriptor; refuses to
// write more than the record's size (a hostile store cannot fill the disk).
class HashingFdSink final : public BlobSink {
 public:
  HashingFdSink(int fd, std::string what, const VersionRecord& record, std::string from, std::string consequence)
      : fd_(fd),
        what_(std::move(what)),
        record_(record),
        from_(std::move(from)),
        consequence_(std::move(consequence)) {}

  void write(const char* data, std::size_t size) override {
    if (record_.size != 0 && size > record_.size - size_)
      throw Error(ErrorKind::Integrity,
                  fmt::format("download {} {}: the blob from {} is longer than the {} bytes the ledger records, so "
                              "it hashes to something other than {}; {}",
                              record_.package, record_.version, from_, record_.size, record_.sha256, consequence()));
    hash_.update(data, size);
    write_all(fd_, data, size, what_);
    size_ += size;
  }

  // Throws Error(Integrity) unless what passed through is the record's blob.
  void check() {
    const std::string sha = hash_.finish_hex();
    // A size of 0 means "not recorded" (records written by the original Python sacker
    // carry none); the sha256 alone then decides, and it covers the empty blob too.
    if (sha != record_.sha256 || (record_.size != 0 && size_ != record_.size))
      throw Error(ErrorKind::Integrity,
                  fmt::format("download {} {}: the blob from {} hashes to {} ({} bytes), the ledger says {} ({} "
                              "bytes); {}",
                              record_.package, record_.version, from_, sha, size_, record_.sha256, record_.size,
                              consequence()));
  }
  std::uint64_t size() const { return size_; }

 private:
  std::string consequence() const {
    if (!consequence_.empty()) return consequence_;
    if (size_ == 0) return "nothing was written to " + what_;
    return fmt::format("the {} bytes already written to {} are corrupt: discard them", size_, what_);
  }

  int fd_;
  std::string what_;
  const VersionRecord& record_;
  std::string from_, consequence_;
  Sha256 hash_;
  std::uint64_t size_ = 0;
};

// The permission bits a downloaded file gets (invariant 7).
unsigned applied_mode(std::uint32_t recorded) { return (recorded & 0777) & ~static_cast<unsigned>(current_umask()); }

fs::path destination_of(const VersionRecord& r, const std::optional<fs::path>& output) {
  if (!output) return fs::path(".") / r.basename;
  if (output->empty()) throw Error(ErrorKind::Invalid, "download: the output path is empty");
  std::error_code ec;
  if (fs::is_directory(*output, ec)) return *output / r.basename;
  return *output;
}

// true if `dest` is a regular file (not a symlink) that already holds the blob;
// its mode is then set to `mode` through its own descriptor. Throws
// Error(Invalid) if `dest` is something a download must not replace. The file is
// hashed only if no remembered sha256 matches its key (client/known_sha.h); the
// bytes hashed are added to `hashed`, and a match is remembered for the next run.
bool already_there(const fs::path& dest, const VersionRecord& r, unsigned mode, std::uint64_t& hashed) {
  struct stat st {};
  if (::lstat(dest.c_str(), &st) != 0) return false;
  if (S_ISLNK(st.st_mode)) return false;  // replaced by the file, never followed
  if (!S_ISREG(st.st_mode))
    throw Error(ErrorKind::Invalid, fmt::format("cannot download to {}: it exists and is not a regular file (a device, "
                                                "FIFO or socket); use -o - to stream",
                                                dest.string()));
  if (r.size != 0 && static_cast<std::uint64_t>(st.st_size) != r.size) return false;
  if ((st.st_mode & 07777) == mode && remembered_sha256(dest, st) == r.sha256) return true;
  const int fd = ::open(dest.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;  // unreadable or replaced meanwhile: download it anew
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return false;
  const ContentKey before = content_key(st);
  hashed += before.size;
  if (sha256_of_fd(fd, dest.string()).sha256 != r.sha256) return false;
  if ((st.st_mode & 07777) != mode) {
    // The next run hashes once more: a chmod now would hide a change made since the hash.
    if (::fchmod(fd, mode) != 0) throw_errno("cannot set the mode of " + dest.string(), errno);
  } else {
    remember_sha256(dest, fd, before, r.sha256);
  }
  return true;
}

// After a verified download: remembers the sha256 of the file now at `dest` if it
// is the one written (`dev`, `ino`).
//
// The file was written a moment ago, so its ctime is usually the file system's
// current clock tick: too recent to be remembered by (known_sha.h), and the next run
// (a fleet's first poll after a deploy) would hash it all again. For a file that
// costs more to hash than a few ticks, this waits, in steps of 1 ms and for 20 ms at
// most, until the clock has moved past that ctime (ext4's tick is 1-4 ms; a file
// system with a coarser clock gets the re-hash).
void remember_downloaded(const fs::path& dest, std::uint64_t dev, std::uint64_t ino, const std::string& sha256) {
  constexpr std::uint64_t kWorthWaitingFrom = 8u << 20;  // ~6 ms of SHA-256
  constexpr int kSteps = 20;
  const int fd = ::open(dest.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && static_cast<std::uint64_t>(st.st_dev) == dev &&
      static_cast<std::uint64_t>(st.st_ino) == ino) {
    const ContentKey key = content_key(st);
    for (int step = 0;; ++step) {
      if (remember_sha256(dest, fd, key, sha256) != Remembered::TooRecent) break;
      if (key.size < kWorthWaitingFrom || step == kSteps) break;
      const struct timespec millisecond {0, 1'000'000};
      ::nanosleep(&millisecond, nullptr);
    }
  }
  ::close(fd);
}

}  // namespace

AddResult Client::add(const AddRequest& request, Progress* progress) {
  // Everything is checked before a byte moves.
  validate_package_name(request.package);
  for (const auto& t : request.tags) validate_user_tag(t);
  for (const auto& [k, v] : request.metadata) {
    validate_metadata_key(k);
    validate_metadata_value(v);
  }
  if (request.basename) validate_basename(*request.basename);
  if (request.source.empty()) throw Error(ErrorKind::Invalid, "add: no file given (a path, or - for standard input)");
  const ChangeContext ctx = context(request.comment);

  VersionRecord record;
  record.package = request.package;
  record.metadata = request.metadata;
  record.created = now();

  std::optional<TempFile> spool;
  fs::path source;
  FileDigest digest;  // the key hash, with the part digests the store asks for
  if (request.source == "-") {
    // Standard input is spooled (and hashed) first: the key is its sha256.
    spool.emplace(temp_directory(), "stdin");
    Sha256 hash;
    std::vector<char> buf(1 << 20);
    while (true) {
      ssize_t n = ::read(STDIN_FILENO, buf.data(), buf.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        throw Error(ErrorKind::LocalIO, fmt::format("cannot read standard input: {}", std::strerror(errno)));
      }
      if (n == 0) break;
      hash.update(buf.data(), static_cast<std::size_t>(n));
      spool->write(buf.data(), static_cast<std::size_t>(n));
      record.size += static_cast<std::uint64_t>(n);
    }
    record.sha256 = hash.finish_hex();
    digest = {record.sha256, record.size, 0, {}};
    record.mode = 0644;
    record.basename = request.basename.value_or(request.package);
    source = spool->path();
  } else {
    source = request.source;
    struct stat st {};
    if (::stat(source.c_str(), &st) != 0) throw_errno("cannot add " + request.source, errno);
    if (!S_ISREG(st.st_mode))
      throw Error(ErrorKind::Invalid, fmt::format("cannot add {}: not a regular file", printable(request.source)));
    record.mode = st.st_mode & 0777;  // setuid, setgid and sticky are never recorded (nor applied)
    record.basename = request.basename.value_or(source.filename().string());
    // One read hashes the key and the parts a server checks (an S3 multipart
    // upload), so the upload does not hash the file again.
    digest = sha256_file(source, store_->part_digest_size(static_cast<std::uint64_t>(st.st_size)));
    record.sha256 = digest.sha256;
    record.size = digest.size;
  }
  validate_basename(record.basename);

  AddResult result;
  // Invariant 1: the blob is in the store before the ledger points at it.
  result.uploaded = store_->put_digested_file(source, digest, progress);
  test_stop_point("add.stored");
  try {
    record.version = ledger_->add(record, ctx);
  } catch (const Error& e) {
    if (!result.uploaded) throw;
    throw Error(e.kind(), fmt::format("{}; the blob {} stays in the store {}, referenced by no version, until gc "
                                      "removes it",
                                      e.what(), record.sha256, store_->describe()));
  }
  test_stop_point("add.recorded");
  for (const auto& t : request.tags) ledger_->set_tag(record.package, t, record.version, TagExpectation::any(), ctx);
  result.record = record;
  return result;
}

DownloadResult Client::download(const std::string& package, const Spec& spec, const std::optional<fs::path>& output,
                                Progress* progress, const DownloadOptions& options) {
  VersionRecord r = resolve(package, spec);  // checked: the basename is a plain file name
  DownloadResult result;
  result.destination = destination_of(r, output);
  const fs::path& dest = result.destination;
  const unsigned mode = applied_mode(r.mode);
  if (already_there(dest, r, mode, result.bytes_hashed)) {
    log_verbose(fmt::format("download {} {}: {} already holds it ({})", r.package, r.version, dest.string(),
                            result.bytes_hashed ? fmt::format("hashed {} bytes", result.bytes_hashed)
                                                : std::string("sha256 remembered for its inode, size, mtime and ctime")));
    result.record = r;
    return result;  // move no bytes
  }

  const std::uint64_t chunk = options.chunk_size ? options.chunk_size : kDefaultResumeChunk;
  if (options.resume && r.size > chunk) {
    const ResumeOutcome outcome = download_resumable(*store_, r, dest, mode, chunk, progress);
    result.record = r;
    result.transferred = true;
    result.bytes_transferred = outcome.transferred;
    result.resumed_from = outcome.resumed_from;
    remember_downloaded(dest, outcome.dev, outcome.ino, r.sha256);
    return result;
  }
  const fs::path dir = dest.parent_path().empty() ? fs::path(".") : dest.parent_path();
  std::optional<TempFile> tmp;
  try {
    tmp.emplace(dir, dest.filename().string());
  } catch (const Error& e) {
    throw Error(e.kind() == ErrorKind::Denied ? ErrorKind::Denied : ErrorKind::LocalIO,
                fmt::format("cannot download to {}: {}", dest.string(), e.what()));
  }
  test_stop_point("download.temp");
  HashingFdSink sink(tmp->fd(), tmp->path().string(), r, store_->describe(), "nothing was written to " + dest.string());
  store_->get(r.sha256, sink, progress);
  sink.check();
  test_stop_point("download.fetched");
  struct stat written {};
  if (::fstat(tmp->fd(), &written) != 0) written = {};
  tmp->commit(dest, mode);
  remember_downloaded(dest, static_cast<std::uint64_t>(written.st_dev), static_cast<std::uint64_t>(written.st_ino),
                      r.sha256);
  result.record = r;
  result.transferred = true;
  result.bytes_transferred = sink.size();
  return result;
}

VersionRecord Client::download_to_fd(const std::string& package, const Spec& spec, int fd, bool verify_first,
                                     Progress* progress) {
  VersionRecord r = resolve(package, spec);
  const std::string where = fd == STDOUT_FILENO ? "standard output" : fmt::format("file descriptor {}", fd);
  if (!verify_first) {
    HashingFdSink sink(fd, where, r, store_->describe(), "");
    store_->get(r.sha256, sink, progress);
    sink.check();
    return r;
  }
  // Spooled and verified first, so that a consumer (tar x) never sees a bad byte.
  TempFile spool(temp_directory(), "download");
  HashingFdSink sink(spool.fd(), spool.path().string(), r, store_->describe(), "nothing was written to " + where);
  store_->get(r.sha256, sink, progress);
  sink.check();
  std::vector<char> buf(1 << 20);
  for (std::uint64_t offset = 0;;) {
    ssize_t n = ::pread(spool.fd(), buf.data(), buf.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot read " + spool.path().string(), errno);
    }
    if (n == 0) break;
    write_all(fd, buf.data(), static_cast<std::size_t>(n), where);
    offset += static_cast<std::uint64_t>(n);
  }
  return r;
}

}  // namespace sacker
