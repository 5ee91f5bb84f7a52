// SigV4 against AWS's published examples. The expected values below are copied
// verbatim from:
//  (a) the Amazon S3 API Reference, "Signature Calculations for the Authorization
//      Header: Transferring Payload in a Single Chunk" -> "Examples: Signature
//      Calculations" (docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html):
//      GET Object, PUT Object, GET Bucket Lifecycle, GET Bucket (List Objects);
//  (b) the Amazon S3 API Reference, "Authenticating Requests: Using Query Parameters"
//      (docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html):
//      the presigned GET of examplebucket/test.txt;
//  (c) the AWS Signature Version 4 test suite ("aws-sig-v4-test-suite", linked from
//      docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html), cases
//      named as in the suite (the .authz / .creq / .sts files), service "service",
//      region us-east-1, AKIDEXAMPLE, 20150830T123600Z.
// botocore_sigv4_test.cpp adds a second opinion over generated requests.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <string>
#include <vector>

#include "aws/sigv4.h"

namespace sacker::aws {
using namespace sacker::net;  // the HTTP layer the AWS code sits on
namespace {

using std::chrono::system_clock;

system_clock::time_point utc(int y, int mo, int d, int h, int mi, int s) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return system_clock::from_time_t(timegm(&tm));
}

// ---- (a) and (b): the S3 documentation examples ---------------------------------

SigningParams s3_doc_params() {
  SigningParams p;
  p.credentials.access_key_id = "AKIAIOSFODNN7EXAMPLE";
  p.credentials.secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  p.region = "us-east-1";
  p.service = "s3";
  p.time = utc(2013, 5, 24, 0, 0, 0);
  return p;
}

TEST(SigV4S3Docs, GetObjectWithRange) {
  HttpRequest r;
  r.method = "GET";
  r.url = "https://examplebucket.s3.amazonaws.com/test.txt";
  r.headers = {{"Range", "bytes=0-9"}};
  const SignatureDetails d = sign_request(r, kEmptySha256, s3_doc_params());
  EXPECT_EQ(d.canonical_request,
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
            "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
            "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(d.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(d.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(d.signed_headers, "host;range;x-amz-content-sha256;x-amz-date");
  ASSERT_NE(find_header(r.headers, "authorization"), nullptr);
  EXPECT_EQ(*find_header(r.headers, "authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(*find_header(r.headers, "x-amz-date"), "20130524T000000Z");
  EXPECT_EQ(*find_header(r.headers, "x-amz-content-sha256"), kEmptySha256);
}

TEST(SigV4S3Docs, PutObjectDollarKeyAndStorageClass) {
  const std::string body = "Welcome to Amazon S3.";
  const std::string hash = sha256_hex(body);
  ASSERT_EQ(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  HttpRequest r;
  r.method = "PUT";
  // The raw '$' is made canonical (%24) on the wire and in the signature.
  r.url = "https://examplebucket.s3.amazonaws.com/test$file.text";
  r.headers = {{"Date", "Fri, 24 May 2013 00:00:00 GMT"}, {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
  const SignatureDetails d = sign_request(r, hash, s3_doc_params());
  EXPECT_EQ(r.url, "https://examplebucket.s3.amazonaws.com/test%24file.text");
  EXPECT_EQ(d.canonical_request,
            "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n"
            "host:examplebucket.s3.amazonaws.com\n"
            "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
            "x-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n"
            "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  EXPECT_EQ(d.signature, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4S3Docs, GetBucketLifecycleValuelessParameter) {
  HttpRequest r;
  r.url = "https://examplebucket.s3.amazonaws.com/?lifecycle";
  const SignatureDetails d = sign_request(r, kEmptySha256, s3_doc_params());
  EXPECT_EQ(d.canonical_request.substr(0, 17), "GET\n/\nlifecycle=\n");
  EXPECT_EQ(d.signature, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
  EXPECT_EQ(r.url, "https://examplebucket.s3.amazonaws.com/?lifecycle=");
}

TEST(SigV4S3Docs, ListObjectsQuerySorted) {
  HttpRequest r;
  r.url = "https://examplebucket.s3.amazonaws.com/?prefix=J&max-keys=2";  // unsorted on purpose
  const SignatureDetails d = sign_request(r, kEmptySha256, s3_doc_params());
  EXPECT_EQ(d.signature, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
  EXPECT_EQ(r.url, "https://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J");
}

TEST(SigV4S3Docs, PresignedGet) {
  SignatureDetails d;
  const std::string url = presign_url("GET", "https://examplebucket.s3.amazonaws.com/test.txt",
                                      std::chrono::seconds(86400), s3_doc_params(), &d);
  EXPECT_EQ(d.canonical_request,
            "GET\n/test.txt\n"
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2F"
            "us-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&"
            "X-Amz-SignedHeaders=host\nhost:examplebucket.s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD");
  EXPECT_EQ(d.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04");
  EXPECT_EQ(url,
            "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&"
            "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&"
            "X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&"
            "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

// ---- (c): the aws-sig-v4-test-suite -----------------------------------------------

// The test-suite table reads best one case per line.
// clang-format off
constexpr const char* kSuiteToken =
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

struct SuiteCase {
  const char* name;
  const char* method;
  const char* path_and_query;  // as in the suite's .req file
  HttpHeaders headers;         // besides Host and X-Amz-Date
  const char* body;
  bool session_token;
  const char* authorization;  // the suite's .authz file
};

constexpr const char* kScope = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ";

std::vector<SuiteCase> suite_cases() {
  auto authz = [](const char* signed_headers, const char* sig) {
    return std::string(kScope) + "SignedHeaders=" + signed_headers + ", Signature=" + sig;
  };
  static std::vector<std::string> storage;  // keeps the composed strings alive
  auto keep = [](std::string s) {
    storage.push_back(std::move(s));
    return storage.back().c_str();
  };
  storage.reserve(64);
  const char* hx = "host;x-amz-date";
  return {
      {"get-header-key-duplicate", "GET", "/", {{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}}, "", false,
       keep(authz("host;my-header1;x-amz-date", "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"))},
      {"get-header-value-order", "GET", "/", {{"My-Header1", "value4"}, {"My-Header1", "value1"}, {"My-Header1", "value3"}, {"My-Header1", "value2"}}, "", false,
       keep(authz("host;my-header1;x-amz-date", "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"))},
      {"get-header-value-trim", "GET", "/", {{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}}, "", false,
       keep(authz("host;my-header1;my-header2;x-amz-date", "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"))},
      {"get-unreserved", "GET", "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", {}, "", false,
       keep(authz(hx, "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"))},
      {"get-utf8", "GET", "/\xE1\x88\xB4", {}, "", false,
       keep(authz(hx, "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"))},
      {"get-vanilla", "GET", "/", {}, "", false,
       keep(authz(hx, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"))},
      {"get-vanilla-empty-query-key", "GET", "/?Param1=value1", {}, "", false,
       keep(authz(hx, "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"))},
      {"get-vanilla-query", "GET", "/", {}, "", false,
       keep(authz(hx, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"))},
      {"get-vanilla-query-order-key", "GET", "/?Param1=value2&Param1=Value1", {}, "", false,
       keep(authz(hx, "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1"))},
      {"get-vanilla-query-order-key-case", "GET", "/?Param2=value2&Param1=value1", {}, "", false,
       keep(authz(hx, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"))},
      {"get-vanilla-query-order-value", "GET", "/?Param1=value2&Param1=value1", {}, "", false,
       keep(authz(hx, "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"))},
      {"get-vanilla-query-unreserved", "GET",
       "/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
       {}, "", false, keep(authz(hx, "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"))},
      {"get-vanilla-utf8-query", "GET", "/?\xE1\x88\xB4=bar", {}, "", false,
       keep(authz(hx, "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"))},
      {"post-header-key-case", "POST", "/", {}, "", false,
       keep(authz(hx, "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"))},
      {"post-header-key-sort", "POST", "/", {{"My-Header1", "value1"}}, "", false,
       keep(authz("host;my-header1;x-amz-date", "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"))},
      {"post-header-value-case", "POST", "/", {{"My-Header1", "VALUE1"}}, "", false,
       keep(authz("host;my-header1;x-amz-date", "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"))},
      {"post-vanilla", "POST", "/", {}, "", false,
       keep(authz(hx, "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"))},
      {"post-vanilla-empty-query-value", "POST", "/?Param1=value1", {}, "", false,
       keep(authz(hx, "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"))},
      {"post-vanilla-query", "POST", "/?Param1=value1", {}, "", false,
       keep(authz(hx, "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"))},
      {"post-x-www-form-urlencoded", "POST", "/", {{"Content-Type", "application/x-www-form-urlencoded"}}, "Param1=value1", false,
       keep(authz("content-type;host;x-amz-date", "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"))},
      // The suite's .req has "charset=utf8" (no hyphen); its .sts hash
      // 2e1cf7ed91881a30569e46552437e4156c823447bf1781b921b5d486c568dd1c confirms it.
      {"post-x-www-form-urlencoded-parameters", "POST", "/", {{"Content-Type", "application/x-www-form-urlencoded; charset=utf8"}}, "Param1=value1", false,
       keep(authz("content-type;host;x-amz-date", "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"))},
      // normalize-path/
      {"get-relative", "GET", "/example/..", {}, "", false,
       keep(authz(hx, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"))},
      {"get-relative-relative", "GET", "/example1/example2/../..", {}, "", false,
       keep(authz(hx, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"))},
      {"get-slash", "GET", "//", {}, "", false,
       keep(authz(hx, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"))},
      {"get-slash-dot-slash", "GET", "/./", {}, "", false,
       keep(authz(hx, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"))},
      {"get-slash-pointless-dot", "GET", "/./example", {}, "", false,
       keep(authz(hx, "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5"))},
      {"get-slashes", "GET", "//example//", {}, "", false,
       keep(authz(hx, "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"))},
      {"get-space", "GET", "/example space/", {}, "", false,
       keep(authz(hx, "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"))},
      // post-sts-token/: the token signed as a header.
      {"post-sts-header-before", "POST", "/", {}, "", true,
       keep(authz("host;x-amz-date;x-amz-security-token", "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"))},
  };
}
// clang-format on

SigningParams suite_params(bool token) {
  SigningParams p;
  p.credentials.access_key_id = "AKIDEXAMPLE";
  p.credentials.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  if (token) p.credentials.session_token = kSuiteToken;
  p.region = "us-east-1";
  p.service = "service";
  p.time = utc(2015, 8, 30, 12, 36, 0);
  return p;
}

TEST(SigV4TestSuite, EveryCaseMatchesThePublishedAuthorization) {
  int checked = 0;
  for (const SuiteCase& c : suite_cases()) {
    SCOPED_TRACE(c.name);
    HttpRequest r;
    r.method = c.method;
    r.url = std::string("https://example.amazonaws.com") + c.path_and_query;
    r.headers.emplace_back("Host", "example.amazonaws.com");
    for (const auto& h : c.headers) r.headers.push_back(h);
    r.headers.emplace_back("X-Amz-Date", "20150830T123600Z");
    r.body = c.body;
    sign_request(r, sha256_hex(r.body), suite_params(c.session_token));
    const std::string* auth = find_header(r.headers, "Authorization");
    ASSERT_NE(auth, nullptr);
    EXPECT_EQ(*auth, c.authorization);
    ++checked;
  }
  EXPECT_EQ(checked, 29);
}

TEST(SigV4TestSuite, CanonicalRequestsAndStringsToSign) {
  // get-vanilla-query-order-key: .creq and .sts
  HttpRequest r;
  r.url = "https://example.amazonaws.com/?Param1=value2&Param1=Value1";
  r.headers = {{"Host", "example.amazonaws.com"}};
  SignatureDetails d = sign_request(r, kEmptySha256, suite_params(false));
  EXPECT_EQ(d.canonical_request,
            "GET\n/\nParam1=Value1&Param1=value2\nhost:example.amazonaws.com\n"
            "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(d.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "704b4cef673542d84cdff252633f065e8daeba5f168b77116f8b1bcaf3d38f89");

  // get-header-value-trim: .creq
  HttpRequest t;
  t.url = "https://example.amazonaws.com/";
  t.headers = {{"Host", "example.amazonaws.com"}, {"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}};
  d = sign_request(t, kEmptySha256, suite_params(false));
  EXPECT_EQ(d.canonical_request,
            "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\n"
            "x-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(d.string_to_sign.substr(d.string_to_sign.rfind('\n') + 1),
            "a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7");

  // get-space (normalize-path): .creq path line and .sts hash
  HttpRequest s;
  s.url = "https://example.amazonaws.com/example space/";
  d = sign_request(s, kEmptySha256, suite_params(false));
  EXPECT_EQ(d.canonical_request.substr(0, 23), "GET\n/example%20space/\n\n");
  EXPECT_EQ(d.string_to_sign.substr(d.string_to_sign.rfind('\n') + 1),
            "63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86");

  // get-vanilla-utf8-query: .creq query line
  HttpRequest u;
  u.url = "https://example.amazonaws.com/?\xE1\x88\xB4=bar";
  d = sign_request(u, kEmptySha256, suite_params(false));
  EXPECT_EQ(d.canonical_request.substr(0, 22), "GET\n/\n%E1%88%B4=bar\nho");
}

// ---- building blocks ---------------------------------------------------------------

TEST(SigV4Helpers, UriEncode) {
  EXPECT_EQ(uri_encode("a b+c=d*e(f)g~h/i!j'k", false), "a%20b%2Bc%3Dd%2Ae%28f%29g~h%2Fi%21j%27k");
  EXPECT_EQ(uri_encode("dir/sub dir/ä", true), "dir/sub%20dir/%C3%A4");
  EXPECT_EQ(uri_encode("-_.~AZaz09", false), "-_.~AZaz09");
  EXPECT_EQ(uri_encode(std::string("\0\xff", 2), false), "%00%FF");
}

TEST(SigV4Helpers, UriDecode) {
  EXPECT_EQ(uri_decode("a%20b%2fc+d"), "a b/c+d");
  EXPECT_EQ(uri_decode("100%"), "100%");
  EXPECT_EQ(uri_decode("%zz%4"), "%zz%4");
}

TEST(SigV4Helpers, CanonicalQuery) {
  EXPECT_EQ(canonical_query(""), "");
  EXPECT_EQ(canonical_query("uploads"), "uploads=");
  EXPECT_EQ(canonical_query("prefix=dir/&list-type=2"), "list-type=2&prefix=dir%2F");
  EXPECT_EQ(canonical_query("b=2&a=%7e&A=x%2a"), "A=x%2A&a=~&b=2");
  EXPECT_EQ(canonical_query("k=a+b"), "k=a%2Bb");  // '+' is a literal plus, never a space
  EXPECT_EQ(canonical_query("&&x=1&"), "x=1");
}

TEST(SigV4Helpers, CanonicalUriPerService) {
  // S3: the wire path verbatim; others: normalised, then encoded again.
  EXPECT_EQ(canonical_uri("/a%20b//c/../d", "s3"), "/a%20b//c/../d");
  EXPECT_EQ(canonical_uri("/a%20b//c/../d", "dynamodb"), "/a%2520b/d");
  EXPECT_EQ(canonical_uri("", "dynamodb"), "/");
}

TEST(SigV4Helpers, HmacAndSha256) {
  // RFC 4231 test case 2.
  EXPECT_EQ(hex_encode(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(sha256_hex(""), kEmptySha256);
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(SigV4Helpers, Dates) {
  EXPECT_EQ(amz_date(utc(2015, 8, 30, 12, 36, 0)), "20150830T123600Z");
  EXPECT_EQ(amz_day(utc(2015, 8, 30, 12, 36, 0)), "20150830");
}

TEST(SigV4Signing, ResigningReplacesEveryAuthHeader) {
  SigningParams p = s3_doc_params();
  p.credentials.session_token = "TOKEN-ONE";
  HttpRequest r;
  r.method = "PUT";
  r.url = "https://examplebucket.s3.amazonaws.com/a%20b";
  r.headers = {{"If-None-Match", "*"}};
  sign_request(r, kUnsignedPayload, p);
  p.time += std::chrono::seconds(61);
  p.credentials.session_token = "TOKEN-TWO";
  sign_request(r, kUnsignedPayload, p);
  int auth = 0, date = 0, token = 0, sha = 0, host = 0;
  for (const auto& [n, v] : r.headers) {
    auth += n == "Authorization";
    date += n == "X-Amz-Date";
    token += n == "X-Amz-Security-Token";
    sha += n == "X-Amz-Content-SHA256";
    host += n == "Host";
  }
  EXPECT_EQ(auth + date + token + sha + host, 5);
  EXPECT_EQ(*find_header(r.headers, "x-amz-date"), "20130524T000101Z");
  EXPECT_EQ(*find_header(r.headers, "x-amz-security-token"), "TOKEN-TWO");
  EXPECT_EQ(*find_header(r.headers, "x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
  EXPECT_NE(find_header(r.headers, "authorization")
                ->find("SignedHeaders=host;if-none-match;x-amz-content-sha256;x-amz-date;x-amz-security-token,"),
            std::string::npos);
}

TEST(SigV4Signing, NonS3ServicesSendNoContentHashHeaderAndKeepTheirPath) {
  SigningParams p = suite_params(false);
  p.service = "dynamodb";
  HttpRequest r;
  r.method = "POST";
  r.url = "http://127.0.0.1:8000/";
  r.headers = {{"X-Amz-Target", "DynamoDB_20120810.ListTables"}};
  sign_request(r, sha256_hex("{}"), p);
  EXPECT_EQ(find_header(r.headers, "x-amz-content-sha256"), nullptr);
  EXPECT_EQ(*find_header(r.headers, "host"), "127.0.0.1:8000");
  EXPECT_EQ(r.url, "http://127.0.0.1:8000/");
}

TEST(SigV4Signing, HostHeaderOmitsDefaultPortsOnly) {
  HttpRequest a;
  a.url = "https://Bucket.Example.com:443/k";
  sign_request(a, kEmptySha256, s3_doc_params());
  EXPECT_EQ(*find_header(a.headers, "host"), "bucket.example.com");
  HttpRequest b;
  b.url = "http://[::1]:9000/k";
  sign_request(b, kEmptySha256, s3_doc_params());
  EXPECT_EQ(*find_header(b.headers, "host"), "[::1]:9000");
}

TEST(SigV4Signing, PresignWithTokenSignsTheToken) {
  SigningParams p = s3_doc_params();
  p.credentials.session_token = "tok/en+=";
  SignatureDetails d;
  const std::string url = presign_url("PUT", "https://examplebucket.s3.amazonaws.com/k?partNumber=1&uploadId=x",
                                      std::chrono::seconds(60), p, &d);
  EXPECT_NE(d.canonical_request.find("X-Amz-Security-Token=tok%2Fen%2B%3D&X-Amz-SignedHeaders=host"),
            std::string::npos);
  EXPECT_NE(url.find("&partNumber=1&uploadId=x&X-Amz-Signature="), std::string::npos) << url;
  EXPECT_EQ(url.find("wJalr"), std::string::npos);
}

TEST(SigV4Signing, PresignExpiryBounds) {
  EXPECT_THROW(presign_url("GET", "https://b.example.com/k", std::chrono::seconds(0), s3_doc_params()), Error);
  EXPECT_THROW(presign_url("GET", "https://b.example.com/k", std::chrono::seconds(604801), s3_doc_params()), Error);
  EXPECT_NO_THROW(presign_url("GET", "https://b.example.com/k", std::chrono::seconds(604800), s3_doc_params()));
}

TEST(SigV4Signing, EmptyCredentialsAreInvalidAndNamelessInMessages) {
  SigningParams p = s3_doc_params();
  p.credentials.access_key_id.clear();
  HttpRequest r;
  r.url = "https://b.example.com/k";
  try {
    sign_request(r, kEmptySha256, p);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Invalid);
    EXPECT_EQ(std::string(e.what()).find("wJalr"), std::string::npos);
  }
}

TEST(SigV4Signing, DetailsCarryNoSecret) {
  SigningParams p = s3_doc_params();
  p.credentials.session_token = "SESSION";
  HttpRequest r;
  r.url = "https://b.example.com/k";
  const SignatureDetails d = sign_request(r, kEmptySha256, p);
  for (const std::string* s : {&d.canonical_request, &d.string_to_sign, &d.authorization})
    EXPECT_EQ(s->find("wJalrXUtnFEMI"), std::string::npos);
}

}  // namespace
}  // namespace sacker::aws
