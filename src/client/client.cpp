#include "sacker/client.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <istream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <algorithm>

#include "core/files.h"
#include "sacker/error.h"
#include "sacker/names.h"
#include "sacker/sha256.h"

namespace sacker {

namespace fs = std::filesystem;

namespace {

// Hashes what passes through and forwards it to a file descriptor.
class HashingFdSink final : public BlobSink {
 public:
  HashingFdSink(int fd, std::string what) : fd_(fd), what_(std::move(what)) {}
  void write(const char* data, std::size_t size) override {
    hash_.update(data, size);
    size_ += size;
    write_all(fd_, data, size, what_);
  }
  std::string sha256() { return hash_.finish_hex(); }
  std::uint64_t size() const { return size_; }

 private:
  int fd_;
  std::string what_;
  Sha256 hash_;
  std::uint64_t size_ = 0;
};

std::string spec_text(const Spec& spec) {
  switch (spec.kind) {
    case Spec::Kind::Version: return std::to_string(spec.version);
    case Spec::Kind::Tag: return spec.tag;
    case Spec::Kind::Latest: return "latest";
  }
  return "";
}

void check_integrity(const VersionRecord& r, const std::string& actual_sha, std::uint64_t actual_size,
                     const std::string& from) {
  // A size of 0 means "not recorded" (records written by the original Python sacker carry
  // no size); the sha256 alone then decides, and it also covers the genuinely empty blob.
  if (actual_sha != r.sha256 || (r.size != 0 && actual_size != r.size))
    throw Error(ErrorKind::Integrity,
                fmt::format("download {} {}: the blob from {} hashes to {} ({} bytes), the ledger says {} ({} "
                            "bytes); nothing was written",
                            r.package, r.version, from, actual_sha, actual_size, r.sha256, r.size));
}

}  // namespace

Client::Client(std::unique_ptr<Ledger> ledger, std::unique_ptr<Store> store, Clock clock, ClientIdentity identity)
    : ledger_(std::move(ledger)), store_(std::move(store)), clock_(std::move(clock)), identity_(std::move(identity)) {}
Client::~Client() = default;

std::int64_t Client::now() const { return clock_ ? clock_() : static_cast<std::int64_t>(std::time(nullptr)); }

ChangeContext Client::context(const std::string& comment) const {
  ChangeContext ctx;
  ctx.time = now();
  ctx.actor = identity_.actor;
  ctx.client = identity_.client;
  ctx.comment = comment;
  return ctx;
}

std::vector<std::string> Client::list() { return ledger_->packages(); }

std::vector<std::uint64_t> Client::versions(const std::string& package) {
  validate_package_name(package);
  auto all = ledger_->versions(package);
  if (all.empty()) throw Error(ErrorKind::NotFound, fmt::format("package {} has no versions", package));
  return all;
}

std::map<std::string, std::uint64_t> Client::tags(const std::string& package) {
  validate_package_name(package);
  auto latest = ledger_->latest(package);
  if (!latest) throw Error(ErrorKind::NotFound, fmt::format("package {} has no versions", package));
  auto all = ledger_->tags(package);
  all[std::string(kLatestTag)] = *latest;
  return all;
}

VersionRecord Client::resolve(const std::string& package, const Spec& spec) {
  validate_package_name(package);
  std::optional<std::uint64_t> version;
  switch (spec.kind) {
    case Spec::Kind::Version: version = spec.version; break;
    case Spec::Kind::Latest:
      version = ledger_->latest(package);
      if (!version) throw Error(ErrorKind::NotFound, fmt::format("package {} has no versions", package));
      break;
    case Spec::Kind::Tag:
      version = ledger_->tag(package, spec.tag);
      if (!version) throw Error(ErrorKind::NotFound, fmt::format("package {} has no tag '{}'", package, spec.tag));
      break;
  }
  auto record = ledger_->get(package, *version);
  if (!record) {
    if (spec.kind == Spec::Kind::Version)
      throw Error(ErrorKind::NotFound, fmt::format("package {} has no version {}", package, *version));
    throw Error(ErrorKind::NotFound, fmt::format("package {}: '{}' points to version {}, which does not exist", package,
                                                 spec_text(spec), *version));
  }
  return *record;
}

VersionInfo Client::info(const std::string& package, const Spec& spec) {
  VersionInfo out;
  out.record = resolve(package, spec);
  const auto latest = spec.kind == Spec::Kind::Latest ? std::optional(out.record.version) : ledger_->latest(package);
  if (latest == out.record.version) out.tags.emplace_back(kLatestTag);
  for (const auto& [tag, v] : ledger_->tags(package))
    if (v == out.record.version) out.tags.push_back(tag);
  return out;
}

std::vector<TagInfo> Client::tag_infos(const std::string& package) {
  validate_package_name(package);
  auto latest = ledger_->latest(package);
  if (!latest) throw Error(ErrorKind::NotFound, fmt::format("package {} has no versions", package));
  std::vector<TagInfo> out;
  for (const auto& [tag, value] : ledger_->tag_values(package)) {
    TagInfo info{tag, value.version, std::nullopt};
    auto last = ledger_->history(package, HistoryQuery{tag, 1, 0});
    if (!last.empty()) info.last_event = last.front();
    out.push_back(std::move(info));
  }
  TagInfo latest_info{std::string(kLatestTag), *latest, std::nullopt};
  for (const auto& e : ledger_->history(package, HistoryQuery{std::nullopt, 0, 0}))
    if (e.action == EventAction::Add && e.version == *latest) {
      latest_info.last_event = e;
      break;
    }
  out.push_back(std::move(latest_info));
  std::sort(out.begin(), out.end(), [](const TagInfo& a, const TagInfo& b) { return a.tag < b.tag; });
  return out;
}

AddResult Client::add(const AddRequest& request, Progress* progress) {
  validate_package_name(request.package);
  for (const auto& t : request.tags) validate_user_tag(t);
  for (const auto& [k, v] : request.metadata) {
    validate_metadata_key(k);
    validate_metadata_value(v);
  }
  VersionRecord record;
  record.package = request.package;
  record.metadata = request.metadata;
  record.created = now();

  std::optional<TempFile> spool;
  fs::path source;
  if (request.source == "-") {
    // Standard input is spooled (and hashed) first: the key is its sha256.
    spool.emplace(fs::temp_directory_path(), "stdin");
    Sha256 hash;
    std::vector<char> buf(1 << 20);
    while (true) {
      ssize_t n = ::read(STDIN_FILENO, buf.data(), buf.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_errno("cannot read standard input", errno);
      }
      if (n == 0) break;
      hash.update(buf.data(), static_cast<std::size_t>(n));
      spool->write(buf.data(), static_cast<std::size_t>(n));
      record.size += static_cast<std::uint64_t>(n);
    }
    record.sha256 = hash.finish_hex();
    record.mode = 0644;
    record.basename = request.basename.value_or(request.package);
    source = spool->path();
  } else {
    source = request.source;
    struct stat st {};
    if (::stat(source.c_str(), &st) != 0) throw_errno("cannot add " + request.source, errno);
    if (!S_ISREG(st.st_mode))
      throw Error(ErrorKind::Invalid, fmt::format("cannot add {}: not a regular file", request.source));
    record.mode = st.st_mode & 07777;
    record.basename = request.basename.value_or(source.filename().string());
    FileDigest digest = sha256_file(source);
    record.sha256 = digest.sha256;
    record.size = digest.size;
  }
  validate_basename(record.basename);

  AddResult result;
  // Invariant 1: the blob is in the store before the ledger points at it.
  result.uploaded = store_->put_file(record.sha256, source, record.size, progress);
  record.version = ledger_->add(record, context(request.comment));
  for (const auto& t : request.tags)
    ledger_->set_tag(record.package, t, record.version, TagExpectation::any(), context(request.comment));
  result.record = record;
  return result;
}

DownloadResult Client::download(const std::string& package, const Spec& spec, const std::optional<fs::path>& output,
                                Progress* progress) {
  VersionRecord r = resolve(package, spec);
  validate_basename(r.basename);  // hostile ledgers: never write outside the directory
  DownloadResult result;
  result.record = r;
  std::error_code ec;
  if (!output)
    result.destination = fs::path(".") / r.basename;
  else if (fs::is_directory(*output, ec))
    result.destination = *output / r.basename;
  else
    result.destination = *output;
  const fs::path& dest = result.destination;

  struct stat st {};
  if (::stat(dest.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
      (r.size == 0 || static_cast<std::uint64_t>(st.st_size) == r.size)) {
    if (sha256_file(dest).sha256 == r.sha256) {
      if ((st.st_mode & 07777) != r.mode && ::chmod(dest.c_str(), r.mode) != 0)
        throw_errno("cannot set the mode of " + dest.string(), errno);
      return result;  // already there: move no bytes
    }
  }

  fs::path dir = dest.parent_path().empty() ? fs::path(".") : dest.parent_path();
  std::optional<TempFile> tmp;
  try {
    tmp.emplace(dir, dest.filename().string());
  } catch (const Error& e) {
    throw Error(e.kind() == ErrorKind::Denied ? ErrorKind::Denied : ErrorKind::LocalIO,
                fmt::format("cannot download to {}: {}", dest.string(), e.what()));
  }
  HashingFdSink sink(tmp->fd(), tmp->path().string());
  store_->get(r.sha256, sink, progress);
  check_integrity(r, sink.sha256(), sink.size(), store_->describe());
  tmp->commit(dest, r.mode);
  result.transferred = true;
  return result;
}

VersionRecord Client::download_to_fd(const std::string& package, const Spec& spec, int fd, bool /*verify_first*/,
                                     Progress* progress) {
  VersionRecord r = resolve(package, spec);
  HashingFdSink sink(fd, "standard output");
  store_->get(r.sha256, sink, progress);
  check_integrity(r, sink.sha256(), sink.size(), store_->describe());
  return r;
}

std::optional<Event> Client::tag(const TagRequest& request) {
  validate_package_name(request.package);
  validate_user_tag(request.tag);
  return ledger_->set_tag(request.package, request.tag, request.version, request.expect, context(request.comment));
}

Event Client::untag(const std::string& package, const std::string& tag, const std::string& comment,
                    TagExpectation expect) {
  validate_package_name(package);
  validate_user_tag(tag);
  auto e = ledger_->remove_tag(package, tag, expect, context(comment));
  if (!e) throw Error(ErrorKind::NotFound, fmt::format("package {} has no tag '{}'", package, tag));
  return *e;
}

RollbackResult Client::rollback(const std::string& package, const std::string& tag, const std::string& comment) {
  validate_package_name(package);
  validate_user_tag(tag);
  auto last = ledger_->history(package, HistoryQuery{tag, 1, 0});
  if (last.empty() || !last.front().previous)
    throw Error(ErrorKind::NotFound,
                fmt::format("package {}: tag '{}' has no earlier version in its history to roll back to", package, tag));
  const Event& move = last.front();
  auto current = ledger_->tag(package, tag);
  TagExpectation expect = current ? TagExpectation::at(*current) : TagExpectation::absent();
  if (current != (move.action == EventAction::Untag ? std::nullopt : std::optional(move.version)))
    throw Error(ErrorKind::Conflict,
                fmt::format("package {}: tag '{}' moved since its last recorded event; nothing changed", package, tag));
  ChangeContext ctx = context(comment);
  ctx.rollback = true;
  auto e = ledger_->set_tag(package, tag, *move.previous, expect, ctx);
  if (!e) throw Error(ErrorKind::Internal, "rollback: the ledger made no move");
  return RollbackResult{*e};
}

Event Client::remove(const std::string& package, std::uint64_t version, const std::string& comment) {
  validate_package_name(package);
  auto e = ledger_->remove_version(package, version, context(comment));
  if (!e) throw Error(ErrorKind::NotFound, fmt::format("package {} has no version {}", package, version));
  return *e;
}

std::vector<Event> Client::history(const std::string& package, const HistoryQuery& query) {
  validate_package_name(package);
  if (query.tag) validate_user_tag(*query.tag);
  auto events = ledger_->history(package, query);
  if (events.empty() && !ledger_->latest(package))
    throw Error(ErrorKind::NotFound, fmt::format("package {} has no versions and no history", package));
  return events;
}

PruneReport Client::prune(const PruneRequest&) {
  throw Error(ErrorKind::Internal, "prune is not implemented yet");
}

std::string default_actor(const EnvLookup& env) {
  auto user = env("USER").value_or("unknown");
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return user + "@" + host;
}

void Client::init() {
  ledger_->init();
  store_->init();
}

GcReport Client::gc(bool dry_run, std::int64_t grace_seconds) {
  auto referenced_now = [&] {
    std::set<std::string> shas;
    for (const auto& p : ledger_->packages())
      for (const auto& r : ledger_->records(p)) shas.insert(r.sha256);
    return shas;
  };
  GcReport report;
  std::set<std::string> referenced = referenced_now();
  std::vector<BlobInfo> blobs = store_->list();
  std::int64_t cutoff = now() - grace_seconds;
  std::vector<BlobInfo> candidates;
  for (auto& b : blobs) {
    if (referenced.count(b.sha256))
      ++report.referenced;
    else if (b.modified > cutoff)
      ++report.young;
    else
      candidates.push_back(b);
  }
  if (candidates.empty()) return report;
  // Read the ledger again: an add that recorded a version since the first read
  // keeps its blob (the grace period covers adds still uploading).
  referenced = referenced_now();
  for (auto& b : candidates) {
    if (referenced.count(b.sha256)) {
      ++report.referenced;
      continue;
    }
    if (!dry_run && !store_->remove(b.sha256)) continue;
    report.removed.push_back(b);
  }
  return report;
}

void Client::export_jsonl(std::ostream& out) {
  for (const auto& p : ledger_->packages()) {
    for (const auto& r : ledger_->records(p)) {
      auto j = nlohmann::ordered_json::parse(record_to_json(r));
      nlohmann::ordered_json line;
      line["type"] = "version";
      for (auto& [k, v] : j.items()) line[k] = v;
      out << line.dump() << '\n';
    }
    for (const auto& [tag, version] : ledger_->tags(p)) {
      nlohmann::ordered_json line;
      line["type"] = "tag";
      line["package"] = p;
      line["tag"] = tag;
      line["version"] = version;
      out << line.dump() << '\n';
    }
  }
  if (!out) throw Error(ErrorKind::LocalIO, "export: cannot write the output");
}

ImportReport Client::import_jsonl(std::istream& in) {
  std::vector<VersionRecord> versions;
  std::vector<TagRecord> tags;
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      nlohmann::json j = nlohmann::json::parse(line);
      if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
        throw Error(ErrorKind::Invalid, "no \"type\" field");
      std::string type = j["type"].get<std::string>();
      if (type == "version") {
        j.erase("type");
        versions.push_back(record_from_json(j.dump()));
      } else if (type == "tag") {
        TagRecord t;
        if (!j.contains("package") || !j["package"].is_string() || !j.contains("tag") || !j["tag"].is_string() ||
            !j.contains("version") || !j["version"].is_number_unsigned())
          throw Error(ErrorKind::Invalid, "a tag needs \"package\", \"tag\" and \"version\"");
        t.package = j["package"].get<std::string>();
        t.tag = j["tag"].get<std::string>();
        t.version = j["version"].get<std::uint64_t>();
        validate_package_name(t.package);
        validate_user_tag(t.tag);
        tags.push_back(t);
      } else {
        throw Error(ErrorKind::Invalid, fmt::format("unknown type \"{}\"", printable(type)));
      }
    } catch (const nlohmann::json::exception& e) {
      throw Error(ErrorKind::Invalid, fmt::format("import: line {}: not JSON ({})", number, e.what()));
    } catch (const Error& e) {
      throw Error(ErrorKind::Invalid, fmt::format("import: line {}: {}", number, e.what()));
    }
  }
  ImportReport report;
  for (const auto& r : versions) {
    auto existing = ledger_->get(r.package, r.version);
    if (existing && *existing == r) {
      ++report.unchanged;
      continue;
    }
    ledger_->put_record(r);
    ++report.versions;
  }
  for (const auto& t : tags) {
    if (ledger_->tag(t.package, t.tag) == t.version) {
      ++report.unchanged;
      continue;
    }
    ledger_->set_tag(t.package, t.tag, t.version);
    ++report.tags;
  }
  return report;
}

std::string Client::presigned_url(const std::string& package, const Spec& spec, std::int64_t expires_seconds) {
  VersionRecord r = resolve(package, spec);
  auto url = store_->presigned_get_url(r.sha256, expires_seconds);
  if (!url)
    throw Error(ErrorKind::Invalid,
                fmt::format("url: the store {} cannot make download URLs (an s3:// store can)", store_->describe()));
  return *url;
}

}  // namespace sacker
