#include "sacker/ledger.h"

namespace sacker {

std::optional<std::uint64_t> Ledger::latest(const std::string& package) {
  auto all = versions(package);
  if (all.empty()) return std::nullopt;
  return all.back();
}

std::optional<std::uint64_t> Ledger::tag(const std::string& package, const std::string& tag) {
  auto all = tags(package);
  auto it = all.find(tag);
  if (it == all.end()) return std::nullopt;
  return it->second;
}

std::vector<VersionRecord> Ledger::records(const std::string& package) {
  std::vector<VersionRecord> out;
  for (auto v : versions(package))
    if (auto r = get(package, v)) out.push_back(std::move(*r));
  return out;
}

}  // namespace sacker
