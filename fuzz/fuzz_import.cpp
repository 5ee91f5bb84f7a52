// `sacker import`: Client::import_jsonl reading a hostile JSON Lines file into an
// in-memory mem:// ledger (no store is touched). Invariant: what was imported exports,
// and that export imports into an empty ledger and exports again identically.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "fuzz_check.h"
#include "sacker/backends.h"
#include "sacker/client.h"

using fuzz::check;
using fuzz::must_succeed;
using sacker::Error;
using sacker::ErrorKind;

namespace {

// Import never touches the store.
class NoStore final : public sacker::Store {
 public:
  void init() override { unexpected(); }
  std::optional<bool> contains(const std::string&) override { unexpected(); }
  bool put_file(const std::string&, const std::filesystem::path&, std::uint64_t, sacker::Progress*) override {
    unexpected();
  }
  std::optional<sacker::BlobInfo> stat(const std::string&) override { unexpected(); }
  void get(const std::string&, sacker::BlobSink&, sacker::Progress*) override { unexpected(); }
  void get_range(const std::string&, std::uint64_t, std::uint64_t, const std::string&, sacker::BlobSink&) override {
    unexpected();
  }
  bool remove(const std::string&) override { unexpected(); }
  std::vector<sacker::BlobInfo> list() override { unexpected(); }
  std::string describe() const override { return "none"; }

 private:
  [[noreturn]] static void unexpected() { fuzz::fail("import used the store"); }
};

// A fresh, empty mem:// ledger each time (the in-process backend of the conformance suite).
sacker::Client new_client() {
  static unsigned long n = 0;
  return sacker::Client(sacker::open_ledger("mem://fuzz-import-" + std::to_string(++n)), std::make_unique<NoStore>());
}

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
