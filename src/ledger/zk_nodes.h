// The znodes of the ZooKeeper ledger (the layout is in zk_ledger.cpp): their paths,
// and what they hold, encoded on the way out and checked on the way back in, so
// hostile or corrupt content becomes Error(Invalid) naming the ledger and the znode.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ledger/zk_session.h"
#include "sacker/ledger.h"

namespace sacker::zk {

// Versions and seqs the ledger hands out or accepts: every ledger can hold them,
// and N+1 never overflows.
inline constexpr std::uint64_t kMaxNumber = INT64_MAX;

// A counter node (`next`, `nextseq`): its value and znode version.
struct Counter {
  std::uint64_t value = 0;
  int version = 0;
};

class Nodes {
 public:
  // `root`: the chroot ("/sacker"); `ledger`: describe(), for messages.
  Nodes(std::string root, std::string ledger) : root_(std::move(root)), ledger_(std::move(ledger)) {}

  std::string packages_path() const { return root_ + "/packages"; }
  std::string package_path(const std::string& p) const { return packages_path() + "/" + p; }
  std::string next_path(const std::string& p) const { return package_path(p) + "/next"; }
  std::string nextseq_path(const std::string& p) const { return package_path(p) + "/nextseq"; }
  std::string versions_path(const std::string& p) const { return package_path(p) + "/versions"; }
  std::string tags_path(const std::string& p) const { return package_path(p) + "/tags"; }
  std::string events_path(const std::string& p) const { return package_path(p) + "/events"; }
  std::string version_path(const std::string& p, std::uint64_t v) const;
  std::string tag_path(const std::string& p, const std::string& t) const { return tags_path(p) + "/" + t; }
  std::string event_path(const std::string& p, std::uint64_t seq) const;

  // --- read back (each throws Error(Invalid) naming the znode)
  // The number a child of `dir` is named by (20 digits, 1..kMaxNumber).
  std::uint64_t number_name(const std::string& dir, const std::string& name) const;
  // nullopt for ZNONODE; a value in 1..kMaxNumber-1 otherwise.
  std::optional<Counter> counter(const std::string& path, const Reply& reply) const;
  // The record at versions/<version>, which must name that package and version.
  VersionRecord record_at(const std::string& package, std::uint64_t version, const Reply& reply) const;
  // A tag node: JSON, or the bare decimal version written before history (seq 0).
  TagValue tag_at(const std::string& path, const Reply& reply) const;
  // The event at events/<seq>, which must name that package and seq.
  Event event_at(const std::string& package, std::uint64_t seq, const Reply& reply) const;

  // --- written
  // event_to_json + the operation's id (see "Lost answers" in zk_ledger.cpp).
  static std::string encode_event(const Event& e, const std::string& op_id);
  // The op_id an event node carries, or "".
  static std::string op_id_of(const std::string& data);

  const std::string& ledger() const { return ledger_; }

 private:
  std::string root_, ledger_;
};

}  // namespace sacker::zk
