#include "ledger/s3_objects.h"

#include <fmt/core.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/codec.h"
#include "kit/ledger_kit.h"
#include "kit/parallel.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker::s3_objects {
namespace {

using ledger_kit::corrupt;
using nlohmann::json;

constexpr std::size_t kMetaHeaderBudget = 2048;  // AWS: user metadata headers <= 2 KB
constexpr int kSeqDigits = 19;
constexpr std::size_t kReadParallelism = 8;
constexpr std::size_t kMaxObjectRead = 1 << 20;  // a record, a tag or an event is a few KiB

[[noreturn]] void bad(const std::string& ledger, const std::string& key, const std::string& why) {
  throw corrupt(ledger, fmt::format("{}: {}", printable(key), why));
}

json parse_json_object(const std::string& ledger, const std::string& key, const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) bad(ledger, key, "not a JSON object");
  return j;
}

// Runs `fn`; an Error(Invalid) from it becomes corrupt(ledger, "<key>: <why>").
template <typename F>
auto guarded(const std::string& ledger, const std::string& key, F&& fn) {
  try {
    return fn();
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::Invalid) throw;
    if (std::string_view(e.what()).rfind(ledger, 0) == 0) throw;  // names the key already
    bad(ledger, key, e.what());
  }
}

const json* field(const json& j, const char* name) {
  auto it = j.find(name);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

std::vector<std::string> signatures_of(const std::string& ledger, const std::string& key, const json& j) {
  std::vector<std::string> out;
  const json* a = field(j, "signatures");
  if (!a) return out;
  if (!a->is_array()) bad(ledger, key, "'signatures' is not an array");
  for (const auto& s : *a) {
    if (!s.is_object()) bad(ledger, key, "a signature is not a JSON object");
    out.push_back(s.dump());
  }
  return out;
}

json signatures_json(const std::vector<std::string>& signatures) {
  json a = json::array();
  for (const auto& s : signatures) a.push_back(json::parse(s));
  return a;
}

std::optional<Event> embedded_event(const std::string& ledger, const std::string& key, const json& j) {
  const json* e = field(j, "event");
  if (!e) return std::nullopt;
  if (!e->is_object()) bad(ledger, key, "'event' is not an object");
  return guarded(ledger, key, [&] { return event_from_json(e->dump()); });
}

// A header value S3 keeps as is: printable ASCII without edge spaces; anything
// else travels RFC 2047-encoded, as S3 itself returns non-ASCII metadata.
std::string encode_meta_value(const std::string& v) {
  bool plain = v.empty() || (v.front() != ' ' && v.back() != ' ');
  for (unsigned char c : v)
    if (c < 0x20 || c > 0x7e) plain = false;
  if (plain && v.rfind("=?", 0) != 0) return v;
  return "=?UTF-8?B?" + codec::base64_encode(v) + "?=";
}

std::string decode_meta_value(const std::string& v) {
  if (v.size() > 12 && codec::iequals(std::string_view(v).substr(0, 10), "=?UTF-8?B?") &&
      v.compare(v.size() - 2, 2, "?=") == 0)
    if (auto d = codec::base64_decode(std::string_view(v).substr(10, v.size() - 12))) return *d;
  return v;
}

}  // namespace

std::optional<std::uint64_t> parse_version_text(std::string_view text) {
  if (text.size() > 13) return std::nullopt;
  auto v = codec::parse_decimal(text, kMaxVersion, true);
  if (!v || *v == 0) return std::nullopt;
  return v;
}

std::string seq_text(std::uint64_t seq) { return codec::zero_pad(seq, kSeqDigits); }

std::optional<std::uint64_t> parse_seq_text(std::string_view text) {
  if (text.size() != kSeqDigits) return std::nullopt;
  auto v = codec::parse_decimal(text, kMaxSeq);
  if (!v || *v == 0) return std::nullopt;
  return v;
}

std::string version_body(const VersionRecord& r, const std::string& nonce, const Event* event) {
  nlohmann::ordered_json j;
  j["sha"] = r.sha256;
  j["basename"] = r.basename;
  j["mode"] = r.mode;
  j["size"] = r.size;
  j["created"] = format_utc(r.created);
  j["metadata"] = nlohmann::ordered_json::object();
  for (const auto& [k, v] : r.metadata) j["metadata"][k] = v;
  if (!nonce.empty()) j["nonce"] = nonce;
  if (!r.signatures.empty()) j["signatures"] = signatures_json(r.signatures);
  if (event) j["event"] = json::parse(event_to_json(*event));
  return j.dump();
}

VersionObject parse_version_object(const std::string& ledger, const std::string& key, const std::string& package,
                                   std::uint64_t version, const aws::S3Object& obj) {
  const json j = parse_json_object(ledger, key, obj.body);
  VersionObject out;
  VersionRecord& r = out.record;
  r.package = package;
  r.version = version;
  const json* sha = field(j, "sha");
  if (!sha) sha = field(j, "sha256");
  if (!sha || !sha->is_string()) bad(ledger, key, "'sha' is missing or not a string");
  r.sha256 = sha->get<std::string>();
  const json* basename = field(j, "basename");
  if (!basename || !basename->is_string()) bad(ledger, key, "'basename' is missing or not a string");
  r.basename = basename->get<std::string>();
  if (const json* mode = field(j, "mode")) {
    if (!mode->is_number_unsigned()) bad(ledger, key, "'mode' is not a file mode");
    std::uint64_t m = mode->get<std::uint64_t>();
    if (m > 07777 && (m & ~std::uint64_t{07777}) == 0100000) m &= 07777;  // a full st_mode of a regular file
    if (m > 07777) bad(ledger, key, "'mode' is not a file mode");
    r.mode = static_cast<std::uint32_t>(m);
  }
  if (const json* size = field(j, "size")) {
    if (!size->is_number_unsigned()) bad(ledger, key, "'size' is not a byte count");
    r.size = size->get<std::uint64_t>();
  }
  if (const json* created = field(j, "created")) {
    if (created->is_string())
      r.created = guarded(ledger, key, [&] { return parse_utc(created->get<std::string>()); });
    else if (created->is_number_integer())
      r.created = created->get<std::int64_t>();
    else
      bad(ledger, key, "'created' is not a time");
  } else if (version >= kMinStampVersion) {
    r.created = static_cast<std::int64_t>(version / 1000);  // written by the original: the version is the time
  }
  if (const json* metadata = field(j, "metadata")) {
    if (!metadata->is_object()) bad(ledger, key, "'metadata' is not an object");
    for (const auto& [k, v] : metadata->items()) {
      if (!v.is_string()) bad(ledger, key, "'metadata' has a value that is not a string");
      r.metadata[k] = v.get<std::string>();
    }
  } else {
    // The original tool keeps user metadata only in x-amz-meta-* headers.
    for (const auto& [name, value] : obj.info.headers)
      if (name.size() > 11 && codec::iequals(std::string_view(name).substr(0, 11), "x-amz-meta-"))
        r.metadata[codec::to_lower(name.substr(11))] = decode_meta_value(value);
  }
  r.signatures = signatures_of(ledger, key, j);
  guarded(ledger, key, [&] {
    validate_record(r);
    return 0;
  });
  if (const json* nonce = field(j, "nonce"); nonce && nonce->is_string()) out.nonce = nonce->get<std::string>();
  out.event = embedded_event(ledger, key, j);
  if (out.event && (out.event->action != EventAction::Add || out.event->package != package ||
                    out.event->version != version || out.event->seq != add_seq(version)))
    bad(ledger, key, "its 'event' is not the add event of this version");
  return out;
}

void add_metadata_headers(const Metadata& metadata, net::HttpHeaders& headers) {
  net::HttpHeaders meta;
  std::size_t total = 0;
  for (const auto& [k, v] : metadata) {
    std::string value = encode_meta_value(v);
    total += k.size() + value.size();
    meta.emplace_back("x-amz-meta-" + k, std::move(value));
  }
  if (total <= kMetaHeaderBudget) headers.insert(headers.end(), meta.begin(), meta.end());
}

std::string tag_body(const TagValue& value, const Event* event) {
  nlohmann::ordered_json j;
  j["version"] = value.version;
  j["seq"] = value.seq;
  if (!value.signatures.empty()) j["signatures"] = signatures_json(value.signatures);
  if (event) j["event"] = json::parse(event_to_json(*event));
  return j.dump();
}

std::string hint_body(std::uint64_t version) { return json{{"version", version}}.dump(); }

TagObject parse_tag_object(const std::string& ledger, const std::string& key, const std::string& package,
                           const std::string& tag, const std::string& body) {
  const json j = parse_json_object(ledger, key, body);
  const json* version = field(j, "version");
  if (!version) bad(ledger, key, "no 'version' field");
  std::optional<std::uint64_t> v;
  if (version->is_number_unsigned() && version->get<std::uint64_t>() <= kMaxVersion)
    v = version->get<std::uint64_t>();
  else if (version->is_string())
    v = parse_version_text(version->get<std::string>());
  if (!v || *v == 0) bad(ledger, key, "'version' is not a version number");
  TagObject out;
  out.value.version = *v;
  if (tag == kLatestTag) return out;  // the hint: nothing else is read
  if (const json* seq = field(j, "seq")) {
    if (!seq->is_number_unsigned() || seq->get<std::uint64_t>() > kMaxSeq) bad(ledger, key, "'seq' is not a seq");
    out.value.seq = seq->get<std::uint64_t>();
  }
  out.value.signatures = signatures_of(ledger, key, j);
  // The kit's rules for a stored tag value (signatures as an event's).
  out.value = ledger_kit::checked_tag_value(ledger, printable(key), ledger_kit::tag_value_to_json(out.value));
  out.event = embedded_event(ledger, key, j);
  if (out.event && (out.event->package != package || out.event->tag != tag || out.event->seq != out.value.seq ||
                    out.event->version != out.value.version || out.event->signatures != out.value.signatures ||
                    (out.event->action != EventAction::Tag && out.event->action != EventAction::Rollback)))
    bad(ledger, key, "its 'event' is not the event that set the tag");
  return out;
}

Event parse_event_object(const std::string& ledger, const std::string& key, const std::string& package,
                         std::uint64_t seq, const std::string& body) {
  Event e = guarded(ledger, key, [&] { return event_from_json(body); });
  if (e.seq != seq) bad(ledger, key, fmt::format("the event says seq {}", e.seq));
  if (e.package != package) bad(ledger, key, "the event belongs to another package");
  return e;
}

void run_parallel(std::vector<std::function<void()>> tasks) {
  if (tasks.size() <= 1) {
    for (auto& t : tasks) t();
    return;
  }
  ParallelTasks pool(std::min(tasks.size(), kReadParallelism));
  for (auto& t : tasks) pool.submit(std::move(t));
  pool.wait_all();
}

std::string bare_etag(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  return std::string(etag);
}

Objects::Objects(std::shared_ptr<aws::S3Client> client, S3Uri uri, int page_size, std::string versions_dir)
    : client_(std::move(client)),
      uri_(std::move(uri)),
      page_size_(page_size),
      versions_dir_(std::move(versions_dir)),
      acl_(s3_acl_headers(uri_)) {}

std::string Objects::package_prefix(const std::string& package) const {
  validate_package_name(package);  // the caller did; never let a name escape the prefix
  return uri_.prefix + package + "/";
}

std::string Objects::version_key(const std::string& package, std::uint64_t version) const {
  return package_prefix(package) + versions_dir_ + "/" + std::to_string(version);
}

std::string Objects::tag_key(const std::string& package, const std::string& tag) const {
  validate_tag_name(tag);
  return package_prefix(package) + "tags/" + tag;
}

std::string Objects::event_key(const std::string& package, std::uint64_t seq) const {
  return package_prefix(package) + "events/" + seq_text(seq);
}

aws::S3ListRequest Objects::request(std::string prefix) const {
  aws::S3ListRequest q;
  q.prefix = std::move(prefix);
  q.delimiter = "/";
  q.max_keys = page_size_;
  return q;
}

std::vector<std::string> Objects::list_names(const std::string& prefix, const std::string& start_after) {
  aws::S3ListRequest q = request(prefix);
  q.start_after = start_after;
  std::vector<std::string> out;
  client_->list_all(uri_.bucket, q, [&](aws::S3ListPage& page) {
    for (const auto& o : page.objects)
      if (o.key.size() > prefix.size() && o.key.compare(0, prefix.size(), prefix) == 0)
        out.push_back(o.key.substr(prefix.size()));
    return true;
  });
  return out;
}

std::vector<std::string> Objects::package_names() {
  std::vector<std::string> out;
  aws::S3ListRequest q = request(uri_.prefix);
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

bool Objects::has_versions(const std::string& package) {
  aws::S3ListRequest q = request(package_prefix(package) + versions_dir_ + "/");
  q.max_keys = 1;
  return !client_->list_page(uri_.bucket, q).objects.empty();
}

std::vector<std::uint64_t> Objects::list_versions(const std::string& package, const std::string& start_after) {
  const std::string prefix = package_prefix(package) + versions_dir_ + "/";
  std::vector<std::uint64_t> out;
  for (const auto& name : list_names(prefix, start_after)) {
    auto v = parse_version_text(name);
    if (!v) bad(uri_.display, prefix + name, "not a version number (1 to 13 digits)");
    out.push_back(*v);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::uint64_t> Objects::highest_from(const std::string& package, std::uint64_t from) {
  if (from < kMinStampVersion) {
    auto all = list_versions(package, "");
    if (all.empty() || all.back() < from) return std::nullopt;
    return all.back();
  }
  std::optional<std::uint64_t> best;
  for (auto v : list_versions(package, version_key(package, from - 1)))
    if (v >= from) best = v;  // shorter imported numbers may sort after; they are lower
  return best;
}

std::vector<std::string> Objects::tag_names(const std::string& package) {
  const std::string prefix = package_prefix(package) + "tags/";
  auto names = list_names(prefix, "");
  for (const auto& name : names) try {
      validate_tag_name(name);
    } catch (const Error& e) {
      bad(uri_.display, prefix + name, e.what());
    }
  return names;
}

std::vector<std::uint64_t> Objects::event_seqs(const std::string& package) {
  const std::string prefix = package_prefix(package) + "events/";
  std::vector<std::uint64_t> out;
  for (const auto& name : list_names(prefix, "")) {
    auto seq = parse_seq_text(name);
    if (!seq) bad(uri_.display, prefix + name, "not an event seq (19 digits)");
    out.push_back(*seq);
  }
  return out;
}

net::HttpHeaders cas_headers(const std::optional<TagState>& current) {
  if (!current) return {{"If-None-Match", "*"}};
  return {{"If-Match", bare_etag(current->etag)}};
}

std::vector<std::string> user_tags(std::vector<std::string> names) {
  names.erase(std::remove(names.begin(), names.end(), kLatestTag), names.end());
  return names;
}

std::map<std::string, TagState> Objects::read_tags(const std::string& package, const std::vector<std::string>& names) {
  std::vector<std::optional<TagState>> got(names.size());
  std::vector<std::function<void()>> tasks;
  for (std::size_t i = 0; i < names.size(); ++i) tasks.push_back([&, i] { got[i] = read_tag(package, names[i]); });
  run_parallel(std::move(tasks));
  std::map<std::string, TagState> out;
  for (std::size_t i = 0; i < names.size(); ++i)
    if (got[i]) out.emplace(names[i], std::move(*got[i]));
  return out;
}

std::optional<aws::S3Object> Objects::read_raw_version(const std::string& package, std::uint64_t version) {
  if (version == 0 || version > kMaxVersion) return std::nullopt;
  return client_->get(uri_.bucket, version_key(package, version), kMaxObjectRead);
}

std::optional<VersionObject> Objects::read_version(const std::string& package, std::uint64_t version) {
  auto obj = read_raw_version(package, version);
  if (!obj) return std::nullopt;
  return parse_version_object(uri_.display, version_key(package, version), package, version, *obj);
}

std::optional<TagState> Objects::read_tag(const std::string& package, const std::string& tag) {
  const std::string key = tag_key(package, tag);
  auto obj = client_->get(uri_.bucket, key, kMaxObjectRead);
  if (!obj) return std::nullopt;
  TagState out{parse_tag_object(uri_.display, key, package, tag, obj->body), std::move(obj->body), obj->info.etag};
  return out;
}

std::optional<Event> Objects::read_event(const std::string& package, std::uint64_t seq) {
  const std::string key = event_key(package, seq);
  auto obj = client_->get(uri_.bucket, key, kMaxObjectRead);
  if (!obj) return std::nullopt;
  return parse_event_object(uri_.display, key, package, seq, obj->body);
}

aws::S3PutResult Objects::put(const std::string& key, std::string body, net::HttpHeaders headers) {
  aws::S3PutOptions o;
  o.headers = {{"Content-Type", "application/json"}};
  o.headers.insert(o.headers.end(), acl_.begin(), acl_.end());
  o.headers.insert(o.headers.end(), headers.begin(), headers.end());
  return client_->put(uri_.bucket, key, std::move(body), std::move(o));
}

bool Objects::create_event(const Event& event) {
  if (event.seq == 0 || event.seq > kMaxSeq)
    throw Error(ErrorKind::Invalid, fmt::format("{}: event seq {} of {} does not fit the S3 ledger's 19-digit keys",
                                                uri_.display, event.seq, event.package));
  if (put(event_key(event.package, event.seq), event_to_json(event), {{"If-None-Match", "*"}}).written) return true;
  auto existing = read_event(event.package, event.seq);
  return existing && *existing == event;
}

bool Objects::holds(const std::string& key, const std::string& body, std::string& etag) {
  auto obj = client_->get(uri_.bucket, key, body.size() + 1);
  if (!obj || obj->body != body) return false;
  etag = obj->info.etag;
  return true;
}

void Objects::restore_version(const std::string& key, const aws::S3Object& removed) {
  net::HttpHeaders headers = {{"If-None-Match", "*"}};
  for (const auto& [name, value] : removed.info.headers)
    if (name.size() > 11 && codec::iequals(std::string_view(name).substr(0, 11), "x-amz-meta-"))
      headers.emplace_back(name, value);
  put(key, removed.body, std::move(headers));
}

}  // namespace sacker::s3_objects
