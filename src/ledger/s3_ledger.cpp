// s3://bucket[/prefix] — the S3 ledger, in the layout of the original Python
// sacker, so either tool reads what the other wrote:
//
//   <prefix><pkg>/versions/<version>  JSON {"sha": hex, "basename": name, "mode": int,
//     (or generations/ with ?versions_dir=generations, as the original's code names it)
//                                           "size": int, "created": "RFC 3339",
//                                           "metadata": {k: v}, "nonce": hex}
//                                     + user metadata as x-amz-meta-<k> headers
//   <prefix><pkg>/tags/<tag>          JSON {"version": int}   ("latest" included)
//
// Versions are millisecond timestamps (13 digits, so key order is number order).
// How they are allocated, and why two writers never overwrite each other:
// - `add` needs nothing but PutObject (write-only CI credentials). It picks
//   candidate = max(now_ms, highest version this process handed out + 1) and,
//   when it may list, max(that, the highest version at or after now_ms + 1) (one
//   ListObjectsV2 with start-after: a client whose clock is behind still goes
//   above what exists). It writes the version object with If-None-Match: *, which
//   the server applies atomically (AWS, RGW: exclusive create). A 412 means the
//   number is taken: it retries with max(now_ms, candidate + 1). So a number names
//   exactly one record. A 412 that answers our own request sent twice (the first
//   attempt did land) is recognised by the random "nonce" in the record, where the
//   writer may read; a write-only writer then records the same content twice, under
//   two numbers (never overwriting anything).
// - Then it writes tags/latest. Blind writers can race, so tags/latest is only a
//   hint: `latest()` reads it and lists versions/ starting at it (2 round trips),
//   so "latest" never moves backwards for a reader that may list; a reader that
//   cannot list uses the hint alone.
// - Numbers only grow: the clock moves forward, and If-None-Match forbids
//   overwriting. A removed number could only be handed out again by a writer
//   whose clock is behind by exactly the right amount and that cannot list.
// - `packages()` is one delimiter listing at the prefix (CommonPrefixes), never a
//   scan of the bucket; `remove_version` of a package's last version also deletes
//   its tags, so the package disappears from that listing.
// - Imported versions (`put_record`) keep their numbers (up to 13 digits); later
//   adds are timestamps, above them.
// Everything read back is validated: a malformed object -> Error(Invalid) naming
// its key.
#include "ledger/s3_ledger.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include <strings.h>

#include "aws/s3_client.h"
#include "kit/parallel.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker {
namespace {

using aws::S3Client;
using nlohmann::json;

constexpr std::uint64_t kMaxVersion = 9'999'999'999'999ULL;       // 13 digits
constexpr std::uint64_t kMinStampVersion = 1'000'000'000'001ULL;  // v-1 still has 13 digits
constexpr int kMaxAddConflicts = 1000;
constexpr std::size_t kMetaHeaderBudget = 2048;  // AWS: user metadata headers <= 2 KB
constexpr std::size_t kReadParallelism = 8;
constexpr std::size_t kMaxObjectRead = 1 << 20;  // a record or a tag is a few hundred bytes

const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(const std::string& in) {
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16 | static_cast<unsigned char>(in[i + 1]) << 8 |
                 static_cast<unsigned char>(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kB64[(v >> s) & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += i + 1 < in.size() ? kB64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(const std::string& in) {
  std::string out;
  unsigned v = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const char* p = std::strchr(kB64, c);
    if (!p || !c) return std::nullopt;
    v = v << 6 | static_cast<unsigned>(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((v >> bits) & 0xff);
    }
  }
  return out;
}

// A header value S3 keeps as is: printable ASCII without edge spaces; anything
// else travels RFC 2047-encoded, as S3 itself returns non-ASCII metadata.
std::string encode_meta_value(const std::string& v) {
  bool plain = v.empty() || (v.front() != ' ' && v.back() != ' ');
  for (unsigned char c : v)
    if (c < 0x20 || c > 0x7e) plain = false;
  if (plain && v.rfind("=?", 0) != 0) return v;
  return "=?UTF-8?B?" + base64_encode(v) + "?=";
}

std::string decode_meta_value(const std::string& v) {
  if (v.size() > 12 && (v.rfind("=?UTF-8?B?", 0) == 0 || v.rfind("=?utf-8?b?", 0) == 0) &&
      v.compare(v.size() - 2, 2, "?=") == 0)
    if (auto d = base64_decode(v.substr(10, v.size() - 12))) return *d;
  return v;
}

std::string random_nonce() {
  static thread_local std::mt19937_64 rng{
      std::random_device{}() ^ static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())};
  return fmt::format("{:016x}{:016x}", rng(), rng());
}

std::int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A version number as it appears in a key or a tag: 1..13 decimal digits, no
// leading zero. nullopt otherwise.
std::optional<std::uint64_t> parse_version_text(const std::string& s) {
  if (s.empty() || s.size() > 13 || s[0] == '0') return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

class S3Ledger final : public Ledger {
 public:
  S3Ledger(std::shared_ptr<S3Client> client, aws::S3Uri uri, int page_size, std::string versions_dir,
           std::function<std::int64_t()> now_ms)
      : client_(std::move(client)),
        uri_(std::move(uri)),
        page_size_(page_size),
        versions_dir_(std::move(versions_dir)),
        now_ms_(std::move(now_ms)),
        acl_(aws::s3_acl_headers(uri_)) {}

  void init() override { client_->create_bucket(uri_.bucket); }

  std::vector<std::string> packages() override {
    std::vector<std::string> out;
    aws::S3ListRequest q = request(uri_.prefix);
    q.delimiter = "/";
    client_->list_all(uri_.bucket, q, [&](aws::S3ListPage& page) {
      for (const auto& p : page.common_prefixes) {
        if (p.size() <= uri_.prefix.size() + 1 || p.compare(0, uri_.prefix.size(), uri_.prefix) != 0) continue;
        std::string name = p.substr(uri_.prefix.size(), p.size() - uri_.prefix.size() - 1);
        try {
          validate_package_name(name);
        } catch (const Error&) {
          continue;  // not ours (a bucket shared with other data)
        }
        out.push_back(std::move(name));
      }
      return true;
    });
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  std::vector<std::uint64_t> versions(const std::string& package) override { return list_versions(package, ""); }

  std::optional<VersionRecord> get(const std::string& package, std::uint64_t version) override {
    if (version == 0 || version > kMaxVersion) return std::nullopt;
    const std::string k = version_key(package, version);
    auto obj = client_->get(uri_.bucket, k, kMaxObjectRead);
    if (!obj) return std::nullopt;
    return parse_record(package, version, *obj, k);
  }

  std::uint64_t add(const VersionRecord& record) override {
    const std::string& package = record.package;
    validate_package_name(package);
    std::uint64_t& floor = floor_[package];
    std::uint64_t candidate = std::max<std::uint64_t>(static_cast<std::uint64_t>(now_ms_()), floor + 1);
    if (may_list_) {
      try {
        if (auto newer = highest_from(package, candidate)) candidate = std::max(candidate, *newer + 1);
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::Denied) throw;
        may_list_ = false;  // write-only credentials: If-None-Match alone keeps us safe
      }
    }
    std::mt19937_64 rng{std::random_device{}()};
    for (int conflicts = 0;; ++conflicts) {
      if (candidate > kMaxVersion)
        throw Error(ErrorKind::Conflict, fmt::format("{}: cannot add to {}: no version number left after {}",
                                                     uri_.display, package, kMaxVersion));
      const std::string nonce = random_nonce();
      aws::S3PutOptions o;
      o.headers = {{"Content-Type", "application/json"}, {"If-None-Match", "*"}};
      o.headers.insert(o.headers.end(), acl_.begin(), acl_.end());
      add_metadata_headers(record.metadata, o.headers);
      auto result = client_->put(uri_.bucket, version_key(package, candidate), version_body(record, candidate, nonce),
                                 std::move(o));
      // A 412 may answer our own request sent twice (the HTTP layer's retry, or
      // libcurl re-sending on a reused connection): the nonce tells.
      if (result.written || holds_nonce(package, candidate, nonce)) break;
      if (conflicts + 1 >= kMaxAddConflicts)
        throw Error(ErrorKind::Conflict,
                    fmt::format("{}: cannot add to {}: {} version numbers in a row were taken by other writers",
                                uri_.display, package, kMaxAddConflicts));
      candidate = std::max<std::uint64_t>(static_cast<std::uint64_t>(now_ms_()), candidate + 1);
      if (conflicts >= 2) {  // heavy contention: spread the writers out a little
        auto cap = std::min<std::uint64_t>(50, 1ULL << std::min(conflicts - 2, 6));
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % (cap * 1000)));
      }
    }
    floor = candidate;
    try {
      write_tag(package, std::string(kLatestTag), candidate);
    } catch (const Error& e) {
      throw Error(e.kind(), fmt::format("{} version {} was recorded, but its tags/latest hint could not be "
                                        "written: {}",
                                        package, candidate, e.what()));
    }
    return candidate;
  }

  void put_record(const VersionRecord& record) override {
    validate_record(record);
    if (record.version > kMaxVersion)
      throw Error(ErrorKind::Invalid, fmt::format("{}: cannot import {} version {}: the S3 ledger keeps version "
                                                  "numbers of up to 13 digits",
                                                  uri_.display, record.package, record.version));
    const std::string k = version_key(record.package, record.version);
    aws::S3PutOptions o;
    o.headers = {{"Content-Type", "application/json"}, {"If-None-Match", "*"}};
    o.headers.insert(o.headers.end(), acl_.begin(), acl_.end());
    add_metadata_headers(record.metadata, o.headers);
    auto result = client_->put(uri_.bucket, k, version_body(record, record.version, ""), std::move(o));
    if (!result.written) {
      auto existing = get(record.package, record.version);
      if (!existing || !(*existing == record))
        throw Error(ErrorKind::Conflict, fmt::format("{}: {} version {} already exists with other content",
                                                     uri_.display, record.package, record.version));
    }
    std::uint64_t& floor = floor_[record.package];
    floor = std::max(floor, record.version);
    auto hint = read_tag(record.package, std::string(kLatestTag));
    if (!hint || *hint < record.version) write_tag(record.package, std::string(kLatestTag), record.version);
  }

  bool remove_version(const std::string& package, std::uint64_t version) override {
    if (version == 0 || version > kMaxVersion) return false;
    const std::string k = version_key(package, version);
    for (const auto& [t, v] : tags(package))
      if (v == version)
        throw Error(ErrorKind::Conflict,
                    fmt::format("{} version {} is tagged '{}': untag it first", package, version, t));
    // Kept to put back if a tag raced us (below).
    auto removed = client_->get(uri_.bucket, k, kMaxObjectRead);
    if (!removed) return false;
    client_->remove(uri_.bucket, k);
    // S3 has no multi-key transactions: a `tag` that checked this version before the
    // delete may have written its tag after our check. Look again; if a tag points
    // here, put the record back and refuse, as if the tag had come first. (set_tag
    // looks again after its write too, so either side sees the other.)
    for (const auto& [t, v] : tags(package))
      if (v == version) {
        restore_version(k, *removed);
        throw Error(
            ErrorKind::Conflict,
            fmt::format("{} version {} was tagged '{}' while being removed: untag it first", package, version, t));
      }
    std::uint64_t& floor = floor_[package];
    floor = std::max(floor, version);
    // Keep the hint pointing at a version that exists, and let a package without
    // versions disappear from the delimiter listing.
    auto remaining = list_versions(package, "");
    const std::string latest(kLatestTag);
    if (remaining.empty()) {
      for (const auto& name : list_tag_names(package)) client_->remove(uri_.bucket, tag_key(package, name));
    } else if (auto hint = read_tag(package, latest); !hint || *hint == version || *hint > remaining.back()) {
      write_tag(package, latest, remaining.back());
    }
    return true;
  }

  std::map<std::string, std::uint64_t> tags(const std::string& package) override {
    std::vector<std::string> names;
    for (auto& n : list_tag_names(package))
      if (n != kLatestTag) names.push_back(std::move(n));
    std::vector<std::optional<std::uint64_t>> values(names.size());
    parallel_for(names.size(), [&](std::size_t i) { values[i] = read_tag(package, names[i]); });
    std::map<std::string, std::uint64_t> out;
    for (std::size_t i = 0; i < names.size(); ++i)
      if (values[i]) out[names[i]] = *values[i];  // removed since the listing: skip
    return out;
  }

  void set_tag(const std::string& package, const std::string& tag, std::uint64_t version) override {
    validate_user_tag(tag);
    if (version == 0 || version > kMaxVersion || !client_->head(uri_.bucket, version_key(package, version)))
      throw Error(ErrorKind::NotFound, fmt::format("package {} has no version {}", package, version));
    write_tag(package, tag, version);
    // A `remove` of this version may have run between the check and the write (no
    // multi-key transactions on S3): look again, and take back a dangling tag.
    if (!client_->head(uri_.bucket, version_key(package, version))) {
      if (read_tag(package, tag) == version) client_->remove(uri_.bucket, tag_key(package, tag));
      throw Error(ErrorKind::NotFound,
                  fmt::format("package {} has no version {} (removed while being tagged)", package, version));
    }
  }

  bool remove_tag(const std::string& package, const std::string& tag) override {
    const std::string k = tag_key(package, tag);
    if (!client_->head(uri_.bucket, k)) return false;
    client_->remove(uri_.bucket, k);
    return true;
  }

  std::optional<std::uint64_t> latest(const std::string& package) override {
    std::optional<std::uint64_t> hint;
    bool hint_denied = false;
    try {
      hint = read_tag(package, std::string(kLatestTag));
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::Denied) throw;
      hint_denied = true;
    }
    try {
      if (hint && *hint >= kMinStampVersion) {
        // Lists the hint itself (if it still exists) and anything newer.
        if (auto newest = highest_from(package, *hint)) return newest;
      }
      auto all = list_versions(package, "");
      if (all.empty()) return std::nullopt;
      return all.back();
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::Denied && hint && !hint_denied) return hint;  // may read but not list
      throw;
    }
  }

  std::optional<std::uint64_t> tag(const std::string& package, const std::string& tag) override {
    return read_tag(package, tag);
  }

  std::vector<VersionRecord> records(const std::string& package) override {
    auto all = list_versions(package, "");
    std::vector<std::optional<VersionRecord>> got(all.size());
    parallel_for(all.size(), [&](std::size_t i) { got[i] = get(package, all[i]); });
    std::vector<VersionRecord> out;
    for (auto& r : got)
      if (r) out.push_back(std::move(*r));  // removed since the listing: skip
    return out;
  }

  std::string describe() const override { return uri_.display; }

 private:
  std::string package_prefix(const std::string& package) const {
    validate_package_name(package);  // the caller did; never let a name escape the prefix
    return uri_.prefix + package + "/";
  }
  std::string versions_prefix(const std::string& package) const {
    return package_prefix(package) + versions_dir_ + "/";
  }
  std::string version_key(const std::string& package, std::uint64_t version) const {
    return versions_prefix(package) + std::to_string(version);
  }
  std::string tags_prefix(const std::string& package) const { return package_prefix(package) + "tags/"; }
  std::string tag_key(const std::string& package, const std::string& tag) const {
    validate_tag_name(tag);
    return tags_prefix(package) + tag;
  }

  aws::S3ListRequest request(std::string prefix) const {
    aws::S3ListRequest q;
    q.prefix = std::move(prefix);
    q.max_keys = page_size_;
    return q;
  }

  [[noreturn]] void invalid(const std::string& key, const std::string& why) const {
    throw Error(ErrorKind::Invalid, fmt::format("{}: {}: {}", uri_.display, printable(key), why));
  }

  // Versions whose keys sort after `start_after` (a full key or ""), ascending.
  std::vector<std::uint64_t> list_versions(const std::string& package, const std::string& start_after) {
    const std::string vp = versions_prefix(package);
    aws::S3ListRequest q = request(vp);
    q.delimiter = "/";
    q.start_after = start_after;
    std::vector<std::uint64_t> out;
    client_->list_all(uri_.bucket, q, [&](aws::S3ListPage& page) {
      for (const auto& o : page.objects) {
        if (o.key.compare(0, vp.size(), vp) != 0) continue;
        auto v = parse_version_text(o.key.substr(vp.size()));
        if (!v) invalid(o.key, "not a version number (1 to 13 digits)");
        out.push_back(*v);
      }
      return true;
    });
    std::sort(out.begin(), out.end());
    return out;
  }

  // The highest version >= `from` (a 13-digit number), or nullopt. One listing
  // that starts right before `from` (13-digit keys sort like their numbers).
  std::optional<std::uint64_t> highest_from(const std::string& package, std::uint64_t from) {
    if (from < kMinStampVersion) {
      auto all = list_versions(package, "");
      if (all.empty() || all.back() < from) return std::nullopt;
      return all.back();
    }
    auto after = list_versions(package, version_key(package, from - 1));
    std::optional<std::uint64_t> best;
    for (auto v : after)
      if (v >= from) best = v;  // shorter imported numbers may sort after; they are lower
    return best;
  }

  std::vector<std::string> list_tag_names(const std::string& package) {
    const std::string tp = tags_prefix(package);
    aws::S3ListRequest q = request(tp);
    q.delimiter = "/";
    std::vector<std::string> out;
    client_->list_all(uri_.bucket, q, [&](aws::S3ListPage& page) {
      for (const auto& o : page.objects) {
        if (o.key.compare(0, tp.size(), tp) != 0) continue;
        std::string name = o.key.substr(tp.size());
        try {
          validate_tag_name(name);
        } catch (const Error& e) {
          invalid(o.key, e.what());
        }
        out.push_back(std::move(name));
      }
      return true;
    });
    return out;
  }

  std::optional<std::uint64_t> read_tag(const std::string& package, const std::string& tag) {
    const std::string k = tag_key(package, tag);
    auto obj = client_->get(uri_.bucket, k, kMaxObjectRead);
    if (!obj) return std::nullopt;
    json j = json::parse(obj->body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) invalid(k, "not a JSON object");
    auto it = j.find("version");
    if (it == j.end()) invalid(k, "no 'version' field");
    std::optional<std::uint64_t> v;
    if (it->is_number_unsigned()) {
      auto n = it->get<std::uint64_t>();
      if (n > 0 && n <= kMaxVersion) v = n;
    } else if (it->is_string()) {
      v = parse_version_text(it->get<std::string>());
    }
    if (!v) invalid(k, "'version' is not a version number");
    return v;
  }

  void write_tag(const std::string& package, const std::string& tag, std::uint64_t version) {
    json j = {{"version", version}};
    aws::S3PutOptions o;
    o.headers = {{"Content-Type", "application/json"}};
    o.headers.insert(o.headers.end(), acl_.begin(), acl_.end());
    client_->put(uri_.bucket, tag_key(package, tag), j.dump(), std::move(o));
  }

  // Puts a removed version object back as it was (body and x-amz-meta-* headers).
  void restore_version(const std::string& key, const aws::S3Object& removed) {
    aws::S3PutOptions o;
    o.headers = {{"Content-Type", "application/json"}, {"If-None-Match", "*"}};
    o.headers.insert(o.headers.end(), acl_.begin(), acl_.end());
    for (const auto& [name, value] : removed.info.headers)
      if (name.size() > 11 && strncasecmp(name.c_str(), "x-amz-meta-", 11) == 0) o.headers.emplace_back(name, value);
    client_->put(uri_.bucket, key, removed.body, std::move(o));
  }

  std::string version_body(const VersionRecord& r, std::uint64_t version, const std::string& nonce) const {
    nlohmann::ordered_json j;
    j["sha"] = r.sha256;
    j["basename"] = r.basename;
    j["mode"] = r.mode;
    j["size"] = r.size;
    j["created"] = format_utc(r.created);
    j["metadata"] = nlohmann::ordered_json::object();
    for (const auto& [k, v] : r.metadata) j["metadata"][k] = v;
    if (!nonce.empty()) j["nonce"] = nonce;
    (void)version;
    return j.dump();
  }

  // User metadata also as x-amz-meta-* headers (what the original tool reads),
  // when they fit AWS's 2 KB limit; the JSON body always has them.
  static void add_metadata_headers(const Metadata& metadata, net::HttpHeaders& headers) {
    net::HttpHeaders meta;
    std::size_t total = 0;
    for (const auto& [k, v] : metadata) {
      std::string value = encode_meta_value(v);
      total += k.size() + value.size();
      meta.emplace_back("x-amz-meta-" + k, std::move(value));
    }
    if (total <= kMetaHeaderBudget) headers.insert(headers.end(), meta.begin(), meta.end());
  }

  bool holds_nonce(const std::string& package, std::uint64_t version, const std::string& nonce) {
    if (!may_read_) return false;
    try {
      auto obj = client_->get(uri_.bucket, version_key(package, version), kMaxObjectRead);
      if (!obj) return false;
      json j = json::parse(obj->body, nullptr, false);
      return j.is_object() && j.contains("nonce") && j["nonce"] == nonce;
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::Denied && e.kind() != ErrorKind::Invalid) throw;
      if (e.kind() == ErrorKind::Denied) may_read_ = false;  // write-only: cannot tell, take a new number
      return false;
    }
  }

  VersionRecord parse_record(const std::string& package, std::uint64_t version, const aws::S3Object& obj,
                             const std::string& key) const {
    json j = json::parse(obj.body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) invalid(key, "not a JSON object");
    VersionRecord r;
    r.package = package;
    r.version = version;
    try {
      auto field = [&](const char* name) -> const json* {
        auto it = j.find(name);
        return it == j.end() || it->is_null() ? nullptr : &*it;
      };
      const json* sha = field("sha");
      if (!sha) sha = field("sha256");
      if (!sha || !sha->is_string()) invalid(key, "'sha' is missing or not a string");
      r.sha256 = sha->get<std::string>();
      validate_sha256_hex(r.sha256, "'sha'");
      const json* basename = field("basename");
      if (!basename || !basename->is_string()) invalid(key, "'basename' is missing or not a string");
      r.basename = basename->get<std::string>();
      validate_basename(r.basename);
      if (const json* mode = field("mode")) {
        if (!mode->is_number_unsigned()) invalid(key, "'mode' is not a file mode");
        std::uint64_t m = mode->get<std::uint64_t>();
        if (m > 07777 && (m & ~std::uint64_t{07777}) == 0100000) m &= 07777;  // a full st_mode of a regular file
        if (m > 07777) invalid(key, "'mode' is not a file mode");
        r.mode = static_cast<std::uint32_t>(m);
      }
      if (const json* size = field("size")) {
        if (!size->is_number_unsigned()) invalid(key, "'size' is not a byte count");
        r.size = size->get<std::uint64_t>();
      }
      if (const json* created = field("created")) {
        if (created->is_string())
          r.created = parse_utc(created->get<std::string>());
        else if (created->is_number_integer())
          r.created = created->get<std::int64_t>();
        else
          invalid(key, "'created' is not a time");
      } else if (version >= kMinStampVersion) {
        r.created = static_cast<std::int64_t>(version / 1000);  // written by the original: the version is the time
      }
      if (const json* metadata = field("metadata")) {
        if (!metadata->is_object()) invalid(key, "'metadata' is not an object");
        for (const auto& [k, v] : metadata->items()) {
          if (!v.is_string()) invalid(key, "'metadata' has a value that is not a string");
          r.metadata[k] = v.get<std::string>();
        }
      } else {
        // The original tool keeps user metadata only in x-amz-meta-* headers.
        for (const auto& [name, value] : obj.info.headers) {
          if (name.size() <= 11) continue;
          std::string lower;
          for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          if (lower.rfind("x-amz-meta-", 0) != 0) continue;
          r.metadata[lower.substr(11)] = decode_meta_value(value);
        }
      }
      validate_record(r);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::Invalid) throw;
      std::string what = e.what();
      if (what.rfind(uri_.display, 0) == 0) throw;  // already names the key
      invalid(key, what);
    }
    return r;
  }

  // Runs fn(0..n-1) on up to kReadParallelism threads (reads of many small objects).
  void parallel_for(std::size_t n, const std::function<void(std::size_t)>& fn) {
    if (n <= 1) {
      for (std::size_t i = 0; i < n; ++i) fn(i);
      return;
    }
    ParallelTasks tasks(std::min(n, kReadParallelism));
    for (std::size_t i = 0; i < n; ++i) tasks.submit([&fn, i] { fn(i); });
    tasks.wait_all();
  }

  std::shared_ptr<S3Client> client_;
  aws::S3Uri uri_;
  int page_size_;
  std::string versions_dir_;  // "versions" (DESIGN.md) or "generations" (the original tool's code)
  std::function<std::int64_t()> now_ms_;
  net::HttpHeaders acl_;  // x-amz-acl on what we write, if asked for
  bool may_list_ = true;
  bool may_read_ = true;
  std::map<std::string, std::uint64_t> floor_;  // per package: the highest number this process saw go
};

std::unique_ptr<Ledger> make(const Uri& uri, std::function<std::int64_t()> now_ms) {
  aws::S3Uri s3 = aws::parse_s3_uri(uri, {"page_size", "acl", "versions_dir"});
  int page_size = static_cast<int>(aws::s3_size_option(s3, "page_size", 0, 1, 1000));
  // The original Python sacker's code keeps version objects under <pkg>/generations/;
  // DESIGN.md's layout (the default) under <pkg>/versions/. Everything else is shared.
  std::string versions_dir = "versions";
  if (auto it = s3.options.find("versions_dir"); it != s3.options.end()) versions_dir = it->second;
  if (versions_dir != "versions" && versions_dir != "generations")
    throw Error(ErrorKind::Invalid,
                fmt::format("invalid URI '{}': versions_dir must be 'versions' or 'generations'", s3.display));
  return std::make_unique<S3Ledger>(aws::shared_s3_client(), std::move(s3), page_size, std::move(versions_dir),
                                    std::move(now_ms));
}

}  // namespace

std::unique_ptr<Ledger> open_s3_ledger(const Uri& uri) { return make(uri, system_now_ms); }

std::unique_ptr<Ledger> open_s3_ledger_with_clock(const Uri& uri, std::function<std::int64_t()> now_ms) {
  return make(uri, std::move(now_ms));
}

}  // namespace sacker
