// What an S3 server or an s3:// URI hands the S3 backends. The first byte picks:
//   even: a response body: s3_error_code (error documents) and parse_list_page
//         (ListObjectsV2 pages); a malformed page is Error(Unavailable) only;
//   odd:  an s3:// URI: parse_uri, parse_s3_uri with the store's and the
//         ledger's options, s3_size_option, s3_acl_headers; the bucket is a
//         plain name and the prefix is empty or ends with '/'.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "aws/s3_client.h"
#include "sacker/uri.h"
#include "store/s3_location.h"

using fuzz::check;
namespace net = sacker::net;
namespace aws = sacker::aws;

namespace {

void response_body(const std::string& body) {
  (void)aws::s3_error_code(body);
  try {
    const aws::S3ListPage page = aws::parse_list_page(body, "s3://bucket/prefix/", "s3.example.com");
    for (const auto& e : page.objects) (void)e;
  } catch (const sacker::Error& e) {
    check(e.kind() == sacker::ErrorKind::Unavailable, "a malformed list page is Unavailable", e.what());
  }
}

void s3_uri(const std::string& text) {
  try {
    const sacker::Uri uri = sacker::parse_uri(text);
    const sacker::S3Uri s3 = sacker::parse_s3_uri(uri, {"multipart_threshold", "part_size", "download_part_size",
                                                  "concurrency", "acl", "refresh_after", "page_size"});
    check(!s3.bucket.empty(), "a bucket is named");
    for (char c : s3.bucket) check(c != '/' && c != '?' && c != '@' && c != ':', "the bucket is a plain name");
    check(s3.prefix.empty() || s3.prefix.back() == '/', "the prefix ends with '/'");
    check(s3.prefix.empty() || s3.prefix.front() != '/', "the prefix is relative");
    (void)sacker::s3_acl_headers(s3);
    const auto v = sacker::s3_size_option(s3, "part_size", 0, 5 << 20, 5ULL << 30);
    check(v == 0 || (v >= (5 << 20) && v <= (5ULL << 30)), "size options stay in range");
    (void)sacker::s3_size_option(s3, "concurrency", 8, 1, 64);
  } catch (const sacker::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string rest(fuzz::as_text(data + 1, size - 1));
  if (data[0] % 2 == 0)
    response_body(rest);
  else
    s3_uri(rest);
  return 0;
}
