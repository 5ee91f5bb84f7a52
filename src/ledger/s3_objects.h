// The objects of the S3 ledger (layout and protocol: s3_ledger.cpp): the number
// forms their keys hold, their JSON bodies, and Objects, which lists, reads and
// writes them in one bucket and prefix. Every read goes through the read-back
// checks: hostile or corrupt content is Error(Invalid) naming the ledger and the key.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/s3_client.h"
#include "sacker/ledger.h"
#include "store/s3_location.h"

namespace sacker::s3_objects {

inline constexpr std::uint64_t kMaxVersion = 9'999'999'999'999ULL;       // 13 digits
inline constexpr std::uint64_t kMinStampVersion = 1'000'000'000'001ULL;  // v-1 still has 13 digits
// An event seq is a millisecond stamp times kSeqPerMs plus 0..999999: 19 digits.
inline constexpr std::uint64_t kSeqPerMs = 1'000'000;
inline constexpr std::uint64_t kMaxSeq = 9'999'999'999'999'999'999ULL;

// The seq of the add event of `version`: its own millisecond slot, offset 0.
// Other events never take offset 0 (unique_seq), so an add's seq is unique
// because its version is.
constexpr std::uint64_t add_seq(std::uint64_t version) { return version * kSeqPerMs; }

// A version number as a key or a tag holds it: 1..13 digits, no leading zero.
std::optional<std::uint64_t> parse_version_text(std::string_view text);
// An event seq as a key holds it: exactly 19 digits (zero-padded), so that key
// order is seq order.
std::string seq_text(std::uint64_t seq);
std::optional<std::uint64_t> parse_seq_text(std::string_view text);

// versions/<version>: the record, the writer's nonce, and (for adds) the add event.
struct VersionObject {
  VersionRecord record;
  std::string nonce;
  std::optional<Event> event;
};
std::string version_body(const VersionRecord& record, const std::string& nonce, const Event* event);
VersionObject parse_version_object(const std::string& ledger, const std::string& key, const std::string& package,
                                   std::uint64_t version, const aws::S3Object& object);
// The record's metadata also as x-amz-meta-* headers (what the original tool
// reads), when they fit AWS's 2 KB; the JSON body always has them.
void add_metadata_headers(const Metadata& metadata, net::HttpHeaders& headers);

// tags/<tag>: where it points, the seq and signatures of the event that set it,
// and that event itself. tags/latest (the hint) has the version only.
struct TagObject {
  TagValue value;
  std::optional<Event> event;
};
std::string tag_body(const TagValue& value, const Event* event);
std::string hint_body(std::uint64_t version);
// `tag` is the tag the key names ("latest" for the hint).
TagObject parse_tag_object(const std::string& ledger, const std::string& key, const std::string& package,
                           const std::string& tag, const std::string& body);

// events/<seq>: event_to_json of the event; its seq and package must match the key.
Event parse_event_object(const std::string& ledger, const std::string& key, const std::string& package,
                         std::uint64_t seq, const std::string& body);

// Runs the tasks on up to 8 threads (independent requests in one round trip);
// rethrows the first failure.
void run_parallel(std::vector<std::function<void()>> tasks);

// A tag object as read, with the ETag a compare-and-swap names.
struct TagState {
  TagObject object;
  std::string body;
  std::string etag;  // as the server sent it (quoted)
};

// The precondition of a compare-and-swap on a tag as read: If-Match on its ETag,
// or If-None-Match: * when there was none.
net::HttpHeaders cas_headers(const std::optional<TagState>& current);

// `names` without the hint "latest".
std::vector<std::string> user_tags(std::vector<std::string> names);

// The ETag as a precondition value: without quotes. RadosGW 16 compares If-Match
// with the bare digest (a quoted value never matches, tested); AWS takes either.
std::string bare_etag(std::string_view etag);

// The ledger's keys under one bucket and prefix, and the requests on them. All
// names passed in are validated again here, so none can escape the prefix.
class Objects {
 public:
  Objects(std::shared_ptr<aws::S3Client> client, S3Uri uri, int page_size, std::string versions_dir);

  const std::string& display() const { return uri_.display; }
  aws::S3Client& client() { return *client_; }
  const std::string& bucket() const { return uri_.bucket; }

  std::string version_key(const std::string& package, std::uint64_t version) const;
  std::string tag_key(const std::string& package, const std::string& tag) const;
  std::string event_key(const std::string& package, std::uint64_t seq) const;

  // Package names from one delimiter listing (prefixes that are no package name
  // are someone else's and skipped), and whether a package has a version.
  std::vector<std::string> package_names();
  bool has_versions(const std::string& package);
  // Versions whose keys sort after `start_after` (a full key or ""), ascending.
  std::vector<std::uint64_t> list_versions(const std::string& package, const std::string& start_after);
  // The highest version >= `from`, or nullopt: one listing that starts right
  // before `from` when it has 13 digits (13-digit keys sort like their numbers).
  std::optional<std::uint64_t> highest_from(const std::string& package, std::uint64_t from);
  // Every name under tags/ (the hint "latest" included), validated.
  std::vector<std::string> tag_names(const std::string& package);
  // Every seq under events/, ascending.
  std::vector<std::uint64_t> event_seqs(const std::string& package);
  // The tag objects of `names`, in parallel; tags removed since their listing are left out.
  std::map<std::string, TagState> read_tags(const std::string& package, const std::vector<std::string>& names);

  std::optional<VersionObject> read_version(const std::string& package, std::uint64_t version);
  std::optional<aws::S3Object> read_raw_version(const std::string& package, std::uint64_t version);
  std::optional<TagState> read_tag(const std::string& package, const std::string& tag);
  std::optional<Event> read_event(const std::string& package, std::uint64_t seq);

  // PUT of a JSON body with Content-Type, the acl option's header and `headers`.
  aws::S3PutResult put(const std::string& key, std::string body, net::HttpHeaders headers = {});
  // Creates events/<seq> (If-None-Match: *). true if written or already there
  // with the same content (a repeat); false if another event holds the seq.
  bool create_event(const Event& event);
  // After a 412 on a PUT the HTTP layer sent twice: whether `key` holds `body` (our
  // first attempt landed); if so `etag` becomes its ETag.
  bool holds(const std::string& key, const std::string& body, std::string& etag);
  // Puts a removed version object back as it was (body and x-amz-meta-* headers).
  void restore_version(const std::string& key, const aws::S3Object& removed);

 private:
  std::string package_prefix(const std::string& package) const;
  aws::S3ListRequest request(std::string prefix) const;
  std::vector<std::string> list_names(const std::string& prefix, const std::string& start_after);

  std::shared_ptr<aws::S3Client> client_;
  S3Uri uri_;
  int page_size_;
  std::string versions_dir_;
  net::HttpHeaders acl_;
};

}  // namespace sacker::s3_objects
