// Azure Storage Shared Key authorization and service SAS for the Blob service,
// our own. Pure functions: the signing time is a parameter, nothing reads the
// clock or the environment, so signatures are reproducible against Microsoft's
// documented examples and its Python SDK (tests/integration/azure/).
//
// String-to-sign (Shared Key, Blob service, version 2009-09-19 and later):
//   VERB \n Content-Encoding \n Content-Language \n Content-Length \n Content-MD5 \n
//   Content-Type \n Date \n If-Modified-Since \n If-Match \n If-None-Match \n
//   If-Unmodified-Since \n Range \n CanonicalizedHeaders CanonicalizedResource
// - Content-Length is "" when zero (version 2015-02-21 and later); Date is "" since we
//   always send x-ms-date.
// - CanonicalizedHeaders: every x-ms-* header, name lower-cased, value with leading
//   and trailing whitespace trimmed and inner runs of whitespace folded to one space,
//   repeated names joined with ',', sorted by name in the service's order ('-' and
//   '_' before digits and letters), each "name:value\n".
// - CanonicalizedResource: "/" + account + the URL path as sent (so a path-style
//   Azurite URL /devstoreaccount1/c/b signs "/devstoreaccount1/devstoreaccount1/c/b"),
//   then per query parameter, sorted by lower-cased name: "\nname:value", the value
//   percent-decoded, several values of one name sorted and joined with ','.
//
// Service SAS (signed version 2020-12-06 and later): permissions, start, expiry,
// "/blob/<account>/<container>/<blob>" (not encoded), identifier, IP, protocol,
// version, resource, snapshot time, encryption scope, rscc, rscd, rsce, rscl, rsct,
// joined with '\n', HMAC-SHA256 with the account key, base64.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "net/http.h"

namespace sacker::azure {

// The REST API version we speak (x-ms-version and the SAS "sv").
inline constexpr std::string_view kApiVersion = "2021-08-06";

// An account name and its key (raw bytes, base64-decoded). Never log or print `key`.
struct SharedKey {
  std::string account;
  std::string key;
};

// Decodes a base64 account key. Error(Invalid) naming `source` (never the key) if
// it is not strict base64 or empty.
SharedKey make_shared_key(std::string account, std::string_view base64_key, std::string_view source);

// "2009-10-11T21:49:13Z" (SAS times; x-ms-date is codec::http_date).
std::string iso8601_seconds(std::chrono::system_clock::time_point t);

std::string canonicalized_headers(const net::HttpHeaders& headers);
// `url` is absolute and percent-encoded as it goes on the wire.
std::string canonicalized_resource(std::string_view account, std::string_view url);
// `content_length` is the body's size (the HTTP layer sets the header from it).
std::string string_to_sign(std::string_view method, std::string_view url, const net::HttpHeaders& headers,
                           std::uint64_t content_length, std::string_view account);
// base64(HMAC-SHA256(key, text)).
std::string signature(const SharedKey& key, std::string_view text);

// Removes any earlier Authorization / x-ms-date, sets x-ms-date from `time`,
// x-ms-version (kApiVersion) when missing, and Authorization: SharedKey
// account:signature. Returns the string that was signed (contains no secret).
std::string sign_request(net::HttpRequest& request, std::uint64_t content_length, const SharedKey& key,
                         std::chrono::system_clock::time_point time);

struct BlobSasParams {
  std::string container;
  std::string blob;  // as stored, not percent-encoded
  std::string permissions = "r";
  std::optional<std::chrono::system_clock::time_point> start;
  std::chrono::system_clock::time_point expiry;
  std::string protocol;  // "https", "https,http" or "" (any)
  std::string version = std::string(kApiVersion);
};

// The query of a blob service SAS ("sv=..&se=..&sr=b&sp=r&sig=..", values
// percent-encoded, no leading '?'). `string_to_sign` (optional) receives what was signed.
std::string blob_sas_query(const SharedKey& key, const BlobSasParams& params, std::string* string_to_sign = nullptr);

}  // namespace sacker::azure
