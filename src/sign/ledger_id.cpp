#include "sign/ledger_id.h"

#include <fmt/core.h>

#include <algorithm>
#include <vector>

#include "core/codec.h"
#include "sacker/error.h"
#include "sacker/names.h"
#include "sacker/uri.h"

namespace sacker::sign {
namespace {

// Query options that change which records a URI reaches. Everything else is tuning
// (page_size, timeouts), transport (tls, ca, sslmode), local (cache) or secret.
constexpr const char* kIdentityOptions[] = {"branch", "schema", "table", "versions_dir"};

std::string canonical_hosts(std::string_view authority) {
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  std::vector<std::string> hosts;
  while (true) {
    auto comma = authority.find(',');
    auto host = codec::to_lower(authority.substr(0, comma));
    if (!host.empty()) hosts.push_back(codec::percent_encode(host, ":[]"));
    if (comma == std::string_view::npos) break;
    authority.remove_prefix(comma + 1);
  }
  std::sort(hosts.begin(), hosts.end());
  hosts.erase(std::unique(hosts.begin(), hosts.end()), hosts.end());
  std::string out;
  for (const auto& h : hosts) out += (out.empty() ? "" : ",") + h;
  return out;
}

std::string canonical_path(std::string_view path) {
  std::string out;
  while (!path.empty()) {
    auto slash = path.find('/');
    auto segment = path.substr(0, slash);
    if (!segment.empty() && segment != ".") out += "/" + codec::percent_encode(segment);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// A git remote that is not a URI: "git@host:org/repo.git" or a local path.
std::string canonical_remote(std::string_view remote) {
  if (remote.find("://") != std::string_view::npos) return canonical_ledger_id(remote);
  auto at = remote.find('@');
  if (at != std::string_view::npos && at < remote.find_first_of(":/")) remote.remove_prefix(at + 1);
  return "git:" + codec::percent_encode(remote, "/:@");
}

}  // namespace

std::string canonical_ledger_id(std::string_view ledger_uri) {
  const Uri uri = parse_uri(ledger_uri);
  std::string id;
  if (auto remote = uri.query.find("remote"); remote != uri.query.end())
    id = canonical_remote(remote->second);
  else
    id = uri.scheme + "://" + canonical_hosts(uri.authority) + canonical_path(uri.path);
  char separator = id.find('?') == std::string::npos ? '?' : '&';
  for (const char* name : kIdentityOptions)
    if (auto it = uri.query.find(name); it != uri.query.end()) {
      id += fmt::format("{}{}={}", separator, name, codec::percent_encode(it->second));
      separator = '&';
    }
  validate_ledger_id(id);
  return id;
}

void validate_ledger_id(std::string_view id, std::string_view what) {
  bool ok = !id.empty() && id.size() <= kMaxLedgerIdBytes;
  for (unsigned char c : id)
    if (c <= 0x20 || c >= 0x7f) ok = false;
  if (!ok)
    throw Error(ErrorKind::Invalid, fmt::format("invalid {} '{}': 1 to {} printable ASCII characters without spaces",
                                                what, printable(id), kMaxLedgerIdBytes));
}

std::string ledger_id(std::string_view ledger_uri, std::string_view explicit_id) {
  if (explicit_id.empty()) return canonical_ledger_id(ledger_uri);
  validate_ledger_id(explicit_id);
  return std::string(explicit_id);
}

}  // namespace sacker::sign
