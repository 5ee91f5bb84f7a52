// AWS Signature Version 4, our own (libcurl's CURLOPT_AWS_SIGV4 cannot presign and
// signs the wire URL verbatim, see shared/reference/deps.md section 2). Pure
// functions: the signing time is a parameter, nothing reads the clock or the
// environment, so results are reproducible against AWS's published examples.
//
// Canonicalisation (what the signer assumes and what it does):
// - The request URL is percent-encoded as it goes on the wire.
// - Service "s3": the canonical URI is the wire path encoded once: sign_request
//   first rewrites the path to canonical form (percent-decode, then uri_encode
//   with '/' kept), so what is signed is exactly what is sent. No dot-segment or
//   slash normalisation (S3 keys may contain "//" and "..").
// - Any other service: the canonical URI is the path with empty and "." segments
//   dropped and ".." resolved, then uri_encode()d again (so "%" becomes "%25":
//   AWS's double-encoding rule for non-S3 services). The wire URL is left as is.
// - Query: every parameter is percent-decoded then uri_encode()d (RFC 3986: only
//   A-Z a-z 0-9 - _ . ~ unencoded, '+' is a literal plus), sorted by encoded name
//   then encoded value; a valueless parameter becomes "name=". sign_request
//   writes the query back to the URL in that canonical form.
// - Headers: names lower-cased; values trimmed and inner runs of whitespace
//   collapsed to one space; repeated names joined with ','; sorted by name. All
//   request headers are signed except expect, user-agent, x-amzn-trace-id,
//   authorization, content-length and transfer-encoding. A Host header is added
//   from the URL when missing (default ports omitted).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "net/http.h"

namespace sacker::aws {

// AWS credentials. `session_token` is empty for long-term keys; `expiration` is
// set for temporary credentials. Never log or print the secret or the token.
struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  std::optional<std::chrono::system_clock::time_point> expiration;
  // Where they came from ("environment", "profile dev", "web identity",
  // "container", "instance metadata"), for -v and error messages.
  std::string source;
};

struct SigningParams {
  AwsCredentials credentials;
  std::string region;   // "us-east-1"
  std::string service;  // "s3", "dynamodb", "sts", ... ("s3" selects the S3 rules)
  std::chrono::system_clock::time_point time;
};

inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
// sha256 of the empty string, the payload hash of a request without a body.
inline constexpr std::string_view kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// The pieces of one signature, for tests and debugging (contain no secret).
struct SignatureDetails {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;  // "host;x-amz-content-sha256;x-amz-date"
  std::string signature;       // lower-case hex
  std::string authorization;   // the whole Authorization header value (header form)
};

// Header form. Removes any earlier Authorization / X-Amz-Date /
// X-Amz-Security-Token / X-Amz-Content-SHA256 (so it can re-sign a retried
// request), then sets X-Amz-Date, X-Amz-Content-SHA256 = `payload_hash` (service
// "s3" only; other services sign the hash without sending it),
// X-Amz-Security-Token when the credentials have a session token, Host when
// missing, canonicalises the URL (see above) and sets Authorization.
// `payload_hash` is the lower-case hex sha256 of the body or kUnsignedPayload.
// Throws Error(Invalid) for a malformed URL or empty key id/secret.
SignatureDetails sign_request(net::HttpRequest& request, std::string_view payload_hash, const SigningParams& params);

// Presigned query form (S3 GET/PUT URLs): returns `url` with X-Amz-Algorithm,
// X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders=host,
// X-Amz-Security-Token (when there is a session token; it is signed) and
// X-Amz-Signature added to its query; the payload is UNSIGNED-PAYLOAD. `expires`
// must be 1 s .. 7 days (Error(Invalid) otherwise). `details` (optional) receives
// the intermediate strings.
std::string presign_url(std::string_view method, std::string_view url, std::chrono::seconds expires,
                        const SigningParams& params, SignatureDetails* details = nullptr);

// ---- building blocks (exposed for tests and for other signers) --------------

// RFC 3986 percent-encoding as AWS wants it: A-Z a-z 0-9 - _ . ~ stay, every other
// byte becomes %XX (upper-case hex); '/' stays when keep_slash.
std::string uri_encode(std::string_view s, bool keep_slash);
// Decodes %XX sequences (invalid ones are kept as is); '+' stays '+'.
std::string uri_decode(std::string_view s);
// Raw 32-byte HMAC-SHA256 (OpenSSL).
std::string hmac_sha256(std::string_view key, std::string_view data);
// Lower-case hex sha256.
std::string sha256_hex(std::string_view data);
std::string hex_encode(std::string_view bytes);
// "20130524T000000Z" and "20130524" for a time point (UTC).
std::string amz_date(std::chrono::system_clock::time_point t);
std::string amz_day(std::chrono::system_clock::time_point t);
// The signing key HMAC chain: kSecret="AWS4"+secret -> date -> region -> service
// -> "aws4_request".
std::string signing_key(std::string_view secret, std::string_view day, std::string_view region,
                        std::string_view service);
// The canonical URI for `path` (the wire path) under the rules of `service`.
std::string canonical_uri(std::string_view path, std::string_view service);
// The canonical query string for `query` (no leading '?').
std::string canonical_query(std::string_view query);

}  // namespace sacker::aws
