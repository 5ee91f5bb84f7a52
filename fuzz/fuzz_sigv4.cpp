// The SigV4 signer's URL handling and the time format of AWS answers. The first
// choice picks:
//   0: uri_encode/uri_decode (round trip), canonical_query (idempotent),
//      canonical_uri, redact_url, parse_url, parse_iso8601_utc;
//   1: sign_request on a fuzzed method, URL and headers (service "s3" or another):
//      the URL it leaves parses, and signing that URL again gives the same
//      signature (what is signed is what is sent);
//   2: presign_url: the result parses and redact_url hides its signature.
#include <fuzzer/FuzzedDataProvider.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "aws/aws_credentials.h"
#include "net/http.h"
#include "aws/sigv4.h"

using fuzz::check;
using fuzz::must_succeed;
namespace net = sacker::net;
namespace aws = sacker::aws;

namespace {

aws::SigningParams params_from(FuzzedDataProvider& in) {
  aws::SigningParams p;
  p.credentials.access_key_id = "AKIDEXAMPLE";
  p.credentials.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  if (in.ConsumeBool()) p.credentials.session_token = in.ConsumeRandomLengthString(40);
  p.region = in.ConsumeBool() ? "us-east-1" : in.ConsumeRandomLengthString(20);
  p.service = in.ConsumeBool() ? "s3" : in.ConsumeRandomLengthString(20);
  // 1970 .. 2255 (system_clock counts nanoseconds in an int64: it ends in 2262)
  p.time = std::chrono::system_clock::time_point(
      std::chrono::seconds(in.ConsumeIntegralInRange<std::int64_t>(0, 9'000'000'000)));
  return p;
}

void encoding(FuzzedDataProvider& in) {
  const std::string s = in.ConsumeRandomLengthString(300);
  const bool keep_slash = in.ConsumeBool();
  check(aws::uri_decode(aws::uri_encode(s, keep_slash)) == s, "uri_decode undoes uri_encode");
  const std::string q = aws::canonical_query(s);
  check(aws::canonical_query(q) == q, "canonical_query is idempotent", q);
  (void)aws::canonical_uri(s, "s3");
  (void)aws::canonical_uri(s, "execute-api");
  (void)net::redact_url(s);
  try {
    const net::UrlParts u = net::parse_url(s);
    check(!u.host.empty() && u.port > 0 && u.port <= 65535 && !u.path.empty(), "parse_url parts");
    (void)u.host_header();
  } catch (const sacker::Error&) {
  }
  try {
    (void)aws::parse_iso8601_utc(s);
  } catch (const sacker::Error&) {
  }
}

void signing(FuzzedDataProvider& in) {
  net::HttpRequest request;
  request.method = in.ConsumeBool() ? "GET" : in.ConsumeRandomLengthString(10);
  request.url = in.ConsumeRandomLengthString(200);
  for (int n = in.ConsumeIntegralInRange(0, 4); n > 0; --n) {
    std::string name = in.ConsumeRandomLengthString(20);
    request.headers.emplace_back(std::move(name), in.ConsumeRandomLengthString(40));
  }
  const aws::SigningParams params = params_from(in);
  const net::HttpRequest original = request;
  aws::SignatureDetails first;
  try {
    first = aws::sign_request(request, aws::kEmptySha256, params);
  } catch (const sacker::Error&) {
    return;
  }
  must_succeed("a signed URL parses", [&] { return net::parse_url(request.url); });
  net::HttpRequest again = original;
  again.url = request.url;
  const auto second =
      must_succeed("a signed URL signs again", [&] { return aws::sign_request(again, aws::kEmptySha256, params); });
  check(again.url == request.url, "signing a signed URL leaves it alone", request.url);
  check(second.signature == first.signature, "a signed URL signs the same", second.canonical_request);
}

void presigning(FuzzedDataProvider& in) {
  const std::string url = in.ConsumeRandomLengthString(200);
  const auto expires = std::chrono::seconds(in.ConsumeIntegralInRange<std::int64_t>(1, 7 * 24 * 3600));
  const aws::SigningParams params = params_from(in);
  aws::SignatureDetails details;
  std::string out;
  try {
    out = aws::presign_url("GET", url, expires, params, &details);
  } catch (const sacker::Error&) {
    return;
  }
  must_succeed("a presigned URL parses", [&] { return net::parse_url(out); });
  check(net::redact_url(out).find(details.signature) == std::string::npos, "redact_url hides the signature", out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  switch (in.ConsumeIntegralInRange(0, 2)) {
    case 0: encoding(in); break;
    case 1: signing(in); break;
    case 2: presigning(in); break;
  }
  return 0;
}
