// `sacker import`: Client::import_jsonl reading a hostile JSON Lines file into an
// in-memory ledger (no store is touched). Invariant: what was imported exports,
// and that export imports into an empty ledger and exports again identically.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "fuzz_check.h"
#include "sacker/client.h"

using fuzz::check;
using fuzz::must_succeed;
using sacker::Error;
using sacker::ErrorKind;
using sacker::VersionRecord;

namespace {

// The ledger contract (ledger.h) kept in maps.
class MemoryLedger final : public sacker::Ledger {
 public:
  void init() override {}
  std::vector<std::string> packages() override {
    std::vector<std::string> out;
    for (const auto& [p, vs] : versions_)
      if (!vs.empty()) out.push_back(p);
    return out;
  }
  std::vector<std::uint64_t> versions(const std::string& package) override {
    std::vector<std::uint64_t> out;
    for (const auto& [v, r] : versions_[package]) out.push_back(v);
    return out;
  }
  std::optional<VersionRecord> get(const std::string& package, std::uint64_t version) override {
    auto& vs = versions_[package];
    auto it = vs.find(version);
    if (it == vs.end()) return std::nullopt;
    return it->second;
  }
  std::uint64_t add(const VersionRecord& record) override {
    VersionRecord r = record;
    r.version = ++highest_[r.package];
    versions_[r.package][r.version] = r;
    return r.version;
  }
  void put_record(const VersionRecord& record) override {
    auto& vs = versions_[record.package];
    auto it = vs.find(record.version);
    if (it != vs.end()) {
      if (it->second == record) return;
      throw Error(ErrorKind::Conflict, "put_record: version exists with other content");
    }
    vs[record.version] = record;
    highest_[record.package] = std::max(highest_[record.package], record.version);
  }
  bool remove_version(const std::string& package, std::uint64_t version) override {
    return versions_[package].erase(version) > 0;
  }
  std::map<std::string, std::uint64_t> tags(const std::string& package) override { return tags_[package]; }
  void set_tag(const std::string& package, const std::string& tag, std::uint64_t version) override {
    if (!versions_[package].count(version)) throw Error(ErrorKind::NotFound, "set_tag: no such version");
    tags_[package][tag] = version;
  }
  bool remove_tag(const std::string& package, const std::string& tag) override { return tags_[package].erase(tag) > 0; }
  std::string describe() const override { return "memory"; }

 private:
  std::map<std::string, std::map<std::uint64_t, VersionRecord>> versions_;
  std::map<std::string, std::map<std::string, std::uint64_t>> tags_;
  std::map<std::string, std::uint64_t> highest_;
};

// Import never touches the store.
class NoStore final : public sacker::Store {
 public:
  void init() override { unexpected(); }
  std::optional<bool> contains(const std::string&) override { unexpected(); }
  bool put_file(const std::string&, const std::filesystem::path&, std::uint64_t, sacker::Progress*) override {
    unexpected();
  }
  void get(const std::string&, sacker::BlobSink&, sacker::Progress*) override { unexpected(); }
  bool remove(const std::string&) override { unexpected(); }
  std::vector<sacker::BlobInfo> list() override { unexpected(); }
  std::string describe() const override { return "none"; }

 private:
  [[noreturn]] static void unexpected() { fuzz::fail("import used the store"); }
};

sacker::Client new_client() { return sacker::Client(std::make_unique<MemoryLedger>(), std::make_unique<NoStore>()); }

std::string export_of(sacker::Client& client) {
  std::ostringstream out;
  must_succeed("export of an imported ledger", [&] { client.export_jsonl(out); });
  return out.str();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sacker::Client first = new_client();
  std::istringstream in{std::string(fuzz::as_text(data, size))};
  try {
    first.import_jsonl(in);
  } catch (const Error&) {
    return 0;
  }
  const std::string exported = export_of(first);
  sacker::Client second = new_client();
  std::istringstream again(exported);
  must_succeed("an export imports into an empty ledger", [&] { second.import_jsonl(again); });
  check(export_of(second) == exported, "export/import/export is stable", exported);
  return 0;
}
