// The ledger identifier that every signed statement carries ("ledger"), so a
// signature made for one ledger cannot be replayed into another one.
//
// The facade derives it once per command:
//   1. the config file's "ledger_id" if it has one (recommended for production:
//      it survives a migration to another backend and a change of endpoint), else
//   2. canonical_ledger_id(the ledger URI).
// Signer (CI) and verifier (production) must arrive at the same id; when they reach
// one ledger through different URIs, they set the same "ledger_id".
#pragma once

#include <string>
#include <string_view>

namespace sacker::sign {

inline constexpr std::size_t kMaxLedgerIdBytes = 512;

// The URI reduced to what names the ledger, without secrets:
//   scheme "://" hosts path ["?" identity options]
// - userinfo (user:password@) is dropped; hosts are lower-cased; a host list
//   ("h1:2181,h2:2181") is sorted and deduplicated;
// - the path loses repeated '/', "." segments and a trailing '/';
// - of the query, only options that select other records are kept, sorted:
//   branch, schema, table, versions_dir (tuning, TLS, cache paths and credentials go);
// - a URI with a `remote` option (a local cache of a remote git ledger) is
//   identified by its remote (canonicalised the same way) and branch, not by the
//   local cache path, so every host sees the same id;
// - path and values are percent-encoded (RFC 3986 unreserved kept), so the id is
//   printable ASCII.
// Examples: "s3://Bucket/p/?page_size=7" -> "s3://bucket/p",
//   "postgres://bob:pw@DB:5432/x?schema=s1&sslmode=require" -> "postgres://db:5432/x?schema=s1",
//   "zk://h2:2181,h1:2181/sacker" -> "zk://h1:2181,h2:2181/sacker".
// Pure. Error(Invalid) for a URI parse_uri refuses (message redacted).
std::string canonical_ledger_id(std::string_view ledger_uri);

// An explicit or derived id: 1..512 bytes of printable ASCII without spaces.
// Error(Invalid) "<what>: ..." otherwise.
void validate_ledger_id(std::string_view id, std::string_view what = "ledger id");

// `explicit_id` if not empty (validated), else canonical_ledger_id(ledger_uri).
std::string ledger_id(std::string_view ledger_uri, std::string_view explicit_id = {});

}  // namespace sacker::sign
