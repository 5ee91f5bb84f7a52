// store/s3_location: s3:// URIs and their options as the S3 store and ledger read
// them (through UriOptions), no server.
#include <gtest/gtest.h>

#include "sacker/error.h"
#include "store/s3_location.h"
#include "support/records.h"

namespace sacker {
namespace {

using test::kind_of;

TEST(S3Location, BucketPrefixAndOptions) {
  auto u = parse_s3_uri(parse_uri("s3://my-bucket/team/artifacts?concurrency=4&part_size=32MiB"),
                        {"concurrency", "part_size", "acl"});
  EXPECT_EQ(u.bucket, "my-bucket");
  EXPECT_EQ(u.prefix, "team/artifacts/");
  EXPECT_EQ(u.options, (std::map<std::string, std::string>{{"concurrency", "4"}, {"part_size", "32MiB"}}));
  EXPECT_EQ(s3_size_option(u, "part_size", 0, 1, 1ULL << 40), 32ULL << 20);
  EXPECT_EQ(s3_size_option(u, "concurrency", 8, 1, 64), 4u);
  EXPECT_EQ(s3_size_option(u, "missing", 7, 1, 64), 7u);
  EXPECT_TRUE(s3_acl_headers(u).empty());
  for (auto [text, prefix] : {std::pair{"s3://my-bucket", ""}, std::pair{"s3://my-bucket/", ""},
                              std::pair{"s3://my-bucket/p/", "p/"}, std::pair{"s3://my-bucket//p", "p/"}})
    EXPECT_EQ(parse_s3_uri(parse_uri(text), {}).prefix, prefix) << text;
  EXPECT_EQ(s3_size_option(parse_s3_uri(parse_uri("s3://bkt?s=2K"), {"s"}), "s", 0, 0, 1 << 20), 2048u);
  EXPECT_EQ(s3_size_option(parse_s3_uri(parse_uri("s3://bkt?s=1GiB"), {"s"}), "s", 0, 0, 1ULL << 40), 1ULL << 30);
}

TEST(S3Location, BadUrisAndOptionsAreInvalidWithOneMessageFormat) {
  std::string message;
  EXPECT_EQ(kind_of(
                [] {
                  parse_s3_uri(parse_uri("s3://bkt/p?x=1"), {"page_size", "acl"});
                },
                &message),
            ErrorKind::Invalid);
  EXPECT_NE(message.find("unknown option 'x' (known: acl, page_size)"), std::string::npos) << message;
  for (const char* bad : {"s3:///p", "s3://ab/p", "s3://b%2Fx/p", "s3://b?c/p", "s3://bucket/a//b", "s3://key:secret@bucket"})
    EXPECT_EQ(kind_of([&] { parse_s3_uri(parse_uri(bad), {}); }), ErrorKind::Invalid) << bad;
  for (const char* value : {"65", "-1", "1.5", "", "0x10", "4K", "99999999999999999999999", "16E"}) {
    auto u = parse_s3_uri(parse_uri(std::string("s3://bucket?concurrency=") + value), {"concurrency"});
    EXPECT_EQ(kind_of([&] { s3_size_option(u, "concurrency", 8, 1, 64); }, &message), ErrorKind::Invalid) << value;
    EXPECT_NE(message.find("concurrency"), std::string::npos) << message;
  }
  auto acl = parse_s3_uri(parse_uri("s3://bucket?acl=bucket-owner-full-control"), {"acl"});
  EXPECT_EQ(s3_acl_headers(acl), (net::HttpHeaders{{"x-amz-acl", "bucket-owner-full-control"}}));
  auto bad_acl = parse_s3_uri(parse_uri("s3://bucket?acl=everyone"), {"acl"});
  EXPECT_EQ(kind_of([&] { s3_acl_headers(bad_acl); }), ErrorKind::Invalid);
  auto secret = parse_s3_uri(parse_uri("s3://bucket?token=abc"), {"token"});
  EXPECT_EQ(secret.display.find("abc"), std::string::npos) << secret.display;
}

}  // namespace
}  // namespace sacker
