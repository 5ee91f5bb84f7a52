// webhdfs://nn1:port[,nn2:port]/path[?options] and swebhdfs:// — blobs as plain HDFS
// files, readable by `hdfs dfs -cat` and any WebHDFS tool.
//
// LAYOUT
//   <path>/<sha256>               a blob (only 64-hex names count)
//   <path>/tmp/<sha256>.<random>  an upload in flight (or left by a killed writer)
//   <path>/tmp/gc/<sha256>.<rnd>  a blob gc moved aside to decide on it (see gc below)
//
// WHY IT IS RACE-FREE
// - Names are content addresses: two writers of one name hold the same bytes.
// - A blob appears only by RENAME from its temp file, which is atomic on the
//   namenode, so a reader never sees a partial blob (HDFS shows a file being
//   written, with length 0 or a short length, under the name it is written to:
//   only the final name is trusted). RENAME never replaces: when the destination
//   exists it answers {"boolean": false}; so does a missing source. GETFILESTATUS of
//   the destination tells the two apart: a file of the right length there means
//   another writer won (fine: same sha, same bytes), anything else is a failure.
// - Invariant 4: HDFS checks no sha256, so the bytes are hashed as they are handed
//   to libcurl (HttpRequest::on_body) and the temp file is renamed only when that
//   hash is the blob's name and GETFILESTATUS gives the temp file the right length.
//   A failed attempt is written again under a new temp name (HDFS may keep a lease
//   on the old one), and the old one is deleted.
// - gc (invariant 5): WebHDFS has no conditional DELETE, so gc first RENAMEs the blob
//   aside (atomic; a re-use then finds it absent and uploads it again), reads the
//   moved file's modification time, and deletes it only if that is still what gc
//   listed; otherwise it RENAMEs it back (false there: a fresh upload took the name
//   meanwhile, and the aside copy is deleted). A re-use (put_file of a blob that is
//   there) moves the modification time forward with SETTIMES before it returns;
//   a FileNotFoundException to that means gc took it, and it is uploaded again.
//   While gc holds a kept blob aside (two round trips), a download of it finds it
//   missing; gc asides left by a killed gc are moved back by the next gc.
#include "store/webhdfs_store.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <optional>
#include <unordered_map>

#include "core/random.h"
#include "hdfs/webhdfs_client.h"
#include "kit/parallel.h"
#include "kit/upload_progress.h"
#include "kit/uri_options.h"
#include "sacker/config.h"
#include "sacker/error.h"
#include "sacker/log.h"
#include "sacker/names.h"
#include "sacker/sha256.h"
#include "store/gc_support.h"

namespace sacker {
namespace {

using hdfs::FileStatus;
using hdfs::WebHdfsClient;

constexpr std::uint64_t kMiB = 1ULL << 20;

struct Tuning {
  std::uint64_t download_part = 16 * kMiB;
  std::size_t concurrency = 4;
};

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Hashes the body of the upload attempt in flight: an attempt that starts over
// (offset 0 again) starts a new hash.
class SentHash {
 public:
  void see(std::uint64_t offset, const char* data, std::size_t size) {
    if (offset == 0 || !hash_) hash_.emplace(), hashed_ = 0;
    if (offset != hashed_)
      throw Error(ErrorKind::Internal, fmt::format("upload body out of order (offset {} after {})", offset, hashed_));
    hash_->update(data, size);
    hashed_ += size;
  }
  // The sha256 of what was sent, if it was `size` bytes; "" otherwise.
  std::string finish(std::uint64_t size) {
    if (size == 0 && !hash_) hash_.emplace(), hashed_ = 0;
    if (!hash_ || hashed_ != size) return "";
    return hash_->finish_hex();
  }

 private:
  std::optional<Sha256> hash_;
  std::uint64_t hashed_ = 0;
};

class WebHdfsStore final : public Store, public GcSupport {
 public:
  WebHdfsStore(std::unique_ptr<WebHdfsClient> client, std::string root, Tuning tuning)
      : client_(std::move(client)), root_(std::move(root)), tuning_(tuning) {}

  void init() override { client_->mkdirs(tmp_dir()); }

  std::optional<bool> contains(const std::string& sha256) override {
    try {
      auto s = client_->status(path(sha256));
      return s && !s->directory;
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::Denied) return std::nullopt;
      throw;
    }
  }

  bool put_file(const std::string& sha256, const std::filesystem::path& source, std::uint64_t size,
                Progress* progress) override {
    const std::string final_path = path(sha256);
    std::optional<FileStatus> there;
    try {
      there = client_->status(final_path);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::Denied) throw;  // cannot tell: upload; RENAME never replaces
    }
    if (there && there->directory)
      throw Error(ErrorKind::Conflict,
                  fmt::format("{}: {} is a directory, not a blob; remove it", display(), printable(final_path)));
    if (there && there->length != size) {
      // Not the bytes of this sha (no sacker writer leaves this): replace it.
      log_verbose(fmt::format("webhdfs: {} holds {} bytes instead of {}: replacing it", printable(final_path),
                              there->length, size));
      client_->remove(final_path);
      there.reset();
    }
    if (there && refresh(final_path, *there)) return false;
    return upload(sha256, source, size, progress);
  }

  std::optional<BlobInfo> stat(const std::string& sha256) override {
    auto s = client_->status(path(sha256));
    if (!s || s->directory) return std::nullopt;
    return info(sha256, *s);
  }

  void get(const std::string& sha256, BlobSink& sink, Progress* progress) override {
    const std::string p = path(sha256);
    auto s = client_->status(p);
    if (!s || s->directory) throw not_found(sha256);
    download_in_parts(sink, progress, 0, s->length, {}, tuning_.download_part, tuning_.concurrency,
                      [&](std::uint64_t offset, std::uint64_t length, std::string& buf) {
                        client_->read(p, offset, length, buf);
                      });
  }

  void get_range(const std::string& sha256, std::uint64_t offset, std::uint64_t length, const std::string& if_match,
                 BlobSink& sink) override {
    const std::string p = path(sha256);
    auto s = client_->status(p);
    if (!s || s->directory) throw not_found(sha256);
    if (!if_match.empty() && etag(*s) != if_match)
      throw Error(ErrorKind::Conflict, fmt::format("blob {} in {} changed (it is another file than {})", sha256,
                                                   display(), printable(if_match)));
    if (offset > s->length || length > s->length - offset)
      throw Error(ErrorKind::Invalid, fmt::format("blob {} in {}: range {}+{} is past its end ({} bytes)", sha256,
                                                  display(), offset, length, s->length));
    download_in_parts(sink, nullptr, offset, offset + length, {}, tuning_.download_part, tuning_.concurrency,
                      [&](std::uint64_t at, std::uint64_t n, std::string& buf) { client_->read(p, at, n, buf); });
  }

  bool remove(const std::string& sha256) override { return client_->remove(path(sha256)); }

  std::vector<BlobInfo> list() override {
    std::vector<BlobInfo> out;
    listed_.clear();
    client_->list(root_, [&](const FileStatus& s) {
      if (s.directory || !is_valid_sha256_hex(s.name)) return;
      listed_[s.name] = s.modified_ms;
      out.push_back(info(s.name, s));
    });
    return out;
  }

  // See "gc" at the top. Returns true only if the file gc deleted is the one it listed
  // (same modification time to the millisecond), or, for a blob it did not list, one
  // not modified after `not_after`.
  bool remove_if_not_modified_after(const std::string& sha256, std::int64_t not_after) override {
    const std::string final_path = path(sha256);
    const std::string aside = gc_dir() + "/" + sha256 + "." + random_hex(8);
    ensure_gc_dir();
    if (!client_->rename(final_path, aside)) return false;  // absent (the gc directory is there)
    auto moved = client_->status(aside);
    if (!moved) return false;
    const auto listed = listed_.find(sha256);
    const bool unchanged =
        listed != listed_.end() ? moved->modified_ms == listed->second : moved->modified_ms / 1000 <= not_after;
    if (unchanged && moved->modified_ms / 1000 <= not_after) {
      client_->remove(aside);
      return true;
    }
    put_back(aside, final_path);
    return false;
  }

  // Upload temp files not modified for `min_idle_seconds` (HDFS has no way to ask
  // whether their writer lives: an upload slower than that fails at its RENAME and
  // loses nothing), and gc asides of a killed gc, which are moved back.
  std::size_t remove_abandoned_uploads(std::int64_t min_idle_seconds) override {
    const std::int64_t cutoff = now_ms() - min_idle_seconds * 1000;
    std::size_t removed = 0;
    std::vector<FileStatus> temps;
    if (!client_->list(tmp_dir(), [&](const FileStatus& s) { temps.push_back(s); })) return 0;
    for (const auto& s : temps)
      if (!s.directory && s.modified_ms < cutoff && client_->remove(tmp_dir() + "/" + s.name)) ++removed;
    std::vector<FileStatus> asides;
    client_->list(gc_dir(), [&](const FileStatus& s) { asides.push_back(s); });
    for (const auto& s : asides) {
      const std::string sha = s.name.substr(0, s.name.find('.'));
      if (s.directory || !is_valid_sha256_hex(sha) || s.modified_ms >= cutoff) continue;
      put_back(gc_dir() + "/" + s.name, path(sha));
    }
    return removed;
  }

  std::string describe() const override { return client_->display(); }

 private:
  const std::string& display() const { return client_->display(); }
  std::string path(const std::string& sha256) const {
    validate_sha256_hex(sha256, "blob");
    return root_ + "/" + sha256;
  }
  std::string tmp_dir() const { return root_ + "/tmp"; }
  std::string gc_dir() const { return root_ + "/tmp/gc"; }
  // HDFS's inode id: it changes when the file is replaced, not when a re-use moves
  // its modification time (a resumed download of the same file goes on).
  static std::string etag(const FileStatus& s) { return s.file_id ? std::to_string(s.file_id) : ""; }
  static BlobInfo info(const std::string& sha256, const FileStatus& s) {
    return BlobInfo{sha256, s.length, s.modified_ms / 1000, etag(s)};
  }
  Error not_found(const std::string& sha256) const {
    return Error(ErrorKind::NotFound, fmt::format("blob {} is not in {}", sha256, display()));
  }

  void ensure_gc_dir() {
    if (!gc_dir_ready_) client_->mkdirs(gc_dir());
    gc_dir_ready_ = true;
  }
  void put_back(const std::string& aside, const std::string& final_path) {
    if (!client_->rename(aside, final_path)) client_->remove(aside);  // a fresh upload holds the name
  }

  // Moves a re-used blob's modification time forward (see the top comment), past
  // the one gc may have listed even within the same millisecond. false if it is gone.
  bool refresh(const std::string& final_path, const FileStatus& there) {
    try {
      client_->set_modified(final_path, std::max(now_ms(), there.modified_ms + 1));
      return true;
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::NotFound) return false;
      if (e.kind() == ErrorKind::Denied) return true;  // may not write times: best effort
      throw;
    }
  }

  bool upload(const std::string& sha256, const std::filesystem::path& source, std::uint64_t size, Progress* progress) {
    const std::string final_path = path(sha256);
    SentHash hash;
    UploadProgress bar(progress, size);
    const std::string temp = client_->create_new(
        [&] { return tmp_dir() + "/" + sha256 + "." + random_hex(8); }, net::FileRange{source.string(), 0, size},
        [&](std::uint64_t offset, const char* d, std::size_t n) { hash.see(offset, d, n); }, bar.on_upload());
    const std::string actual = hash.finish(size);
    if (actual != sha256) {
      client_->remove(temp);
      throw Error(ErrorKind::Integrity,
                  fmt::format("cannot store {} as {}: its content hashes to {} (did it change?); nothing was stored",
                              source.string(), sha256, actual.empty() ? "something else" : actual));
    }
    auto written = client_->status(temp);
    if (!written || written->length != size) {
      client_->remove(temp);
      throw Error(ErrorKind::Unavailable, fmt::format("{}: the uploaded {} has {} bytes instead of {}", display(),
                                                      printable(temp), written ? written->length : 0, size));
    }
    bar.finish();
    if (client_->rename(temp, final_path)) return true;
    // false: the destination exists, or the source or the parent is missing.
    auto there = client_->status(final_path);
    client_->remove(temp);
    if (there && !there->directory && there->length == size) return false;  // another writer won
    throw Error(ErrorKind::Unavailable,
                fmt::format("{}: RENAME {} -> {} answered false and {}", display(), printable(temp),
                            printable(final_path), !there ? "the blob is not there" : "what is there is not the blob"));
  }

  std::unique_ptr<WebHdfsClient> client_;
  std::string root_;  // "/path" without a trailing '/' ("" for the root)
  Tuning tuning_;
  bool gc_dir_ready_ = false;
  // What the last list() saw: gc's conditional delete matches the modification time.
  std::unordered_map<std::string, std::int64_t> listed_;
};

std::string read_token_file(const Uri& uri, const std::string& file) {
  std::ifstream in(file);
  std::string token;
  if (!in || !std::getline(in, token))
    throw_invalid_uri(uri, fmt::format("cannot read the delegation token from {}", printable(file)));
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) throw_invalid_uri(uri, fmt::format("{} holds no delegation token", printable(file)));
  return token;
}

}  // namespace

std::unique_ptr<Store> open_webhdfs_store(const Uri& uri) {
  const bool tls = uri.scheme == "swebhdfs";
  const std::uint16_t default_port = tls ? 9871 : 9870;
  HostList hosts = parse_host_list(uri, default_port);
  if (!hosts.user.empty() || !hosts.password.empty())
    throw_invalid_uri(uri, "put the user in ?user=, not before the host (a WebHDFS URI carries no password)");
  std::string root = uri.path;
  while (!root.empty() && root.back() == '/') root.pop_back();
  if (!root.empty() && root.front() != '/') root.insert(root.begin(), '/');
  for (unsigned char c : root)
    if (c < 0x20 || c == 0x7f) throw_invalid_uri(uri, "the path contains a control character");
  for (std::string_view seg : {"//", "/./", "/../"})
    if ((root + "/").find(seg) != std::string::npos)
      throw_invalid_uri(uri, "the path has an empty, '.' or '..' segment");

  const EnvLookup env = process_env();
  UriOptions options(uri);
  hdfs::WebHdfsConfig config;
  config.tls = tls;
  for (auto& h : hosts.hosts) config.namenodes.push_back(std::move(h));
  const std::string auth = options.take_or("auth", "simple");
  if (auth == "kerberos")
    config.auth = hdfs::Auth::Kerberos;
  else if (auth != "simple")
    throw_invalid_uri(uri, fmt::format("auth={}: want simple or kerberos", printable(auth)));
  // Simple auth names the user as Hadoop's own clients do: $HADOOP_USER_NAME, else the login name.
  config.user = options.take("user").value_or(env("HADOOP_USER_NAME").value_or(env("USER").value_or("")));
  config.doas = options.take_or("doas", "");
  if (auto file = options.take("token_file"))
    config.token = read_token_file(uri, *file);
  else
    config.token = env("WEBHDFS_DELEGATION_TOKEN").value_or("");
  config.ca_bundle = options.take("ca_bundle").value_or(env("WEBHDFS_CA_BUNDLE").value_or(""));
  Tuning t;
  t.download_part = options.take_size("download_part_size", t.download_part, 64 << 10, 256 * kMiB);
  t.concurrency = static_cast<std::size_t>(options.take_uint("concurrency", t.concurrency, 1, 64));
  options.finish();
  config.display = redact_uri(uri.text);
  log_verbose(fmt::format("webhdfs: {} namenode(s), auth {}{}{}", config.namenodes.size(),
                          config.token.empty() ? auth : "delegation token",
                          config.user.empty() || config.auth == hdfs::Auth::Kerberos ? "" : ", user " + config.user,
                          config.doas.empty() ? "" : ", doas " + config.doas));
  return std::make_unique<WebHdfsStore>(std::make_unique<WebHdfsClient>(std::move(config)), std::move(root), t);
}

}  // namespace sacker
