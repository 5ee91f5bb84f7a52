// Pure parts of the S3 client, no server: addressing (path style for custom
// endpoints, virtual host for AWS), key encoding, URI options, error documents,
// presigned URLs.
#include <gtest/gtest.h>

#include <atomic>
#include <map>

#include "aws/s3_client.h"
#include "aws/sigv4.h"
#include "kit/parallel.h"
#include "sacker/error.h"
#include "support/records.h"

namespace sacker::aws {
namespace {

std::shared_ptr<S3Client> client_with(std::map<std::string, std::string> vars) {
  EnvLookup env = [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
  AwsConfig config(env, "default", {}, {});
  AwsCredentials creds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "", std::nullopt, "test"};
  return std::make_shared<S3Client>(config, make_static_credentials_provider(creds));
}

using test::kind_of;

TEST(S3ClientUnit, CustomEndpointsUsePathStyle) {
  auto c = client_with({{"AWS_ENDPOINT_URL_S3", "http://127.0.0.1:7480/"}, {"AWS_REGION", "eu-west-1"}});
  EXPECT_TRUE(c->path_style());
  EXPECT_EQ(c->region(), "eu-west-1");
  EXPECT_EQ(c->object_url("bucket", "pkg/versions/1700000000000"),
            "http://127.0.0.1:7480/bucket/pkg/versions/1700000000000");
}

TEST(S3ClientUnit, AwsUsesVirtualHostsExceptForDottedBuckets) {
  auto c = client_with({{"AWS_REGION", "eu-west-1"}});
  EXPECT_FALSE(c->path_style());
  EXPECT_EQ(c->object_url("my-bucket", "a/b"), "https://my-bucket.s3.eu-west-1.amazonaws.com/a/b");
  // A dotted name would not match the wildcard certificate as a host name.
  EXPECT_EQ(c->object_url("my.bucket", "a/b"), "https://s3.eu-west-1.amazonaws.com/my.bucket/a/b");
}

TEST(S3ClientUnit, KeysAreEncodedAsAwsWants) {
  auto c = client_with({{"AWS_ENDPOINT_URL", "http://h:1"}});
  EXPECT_EQ(c->object_url("b", "p/a b+c=d*(e):f@g,h;i$j!k'l~m_n.o-p"),
            "http://h:1/b/p/a%20b%2Bc%3Dd%2A%28e%29%3Af%40g%2Ch%3Bi%24j%21k%27l~m_n.o-p");
  EXPECT_EQ(c->object_url("b", "caf\xc3\xa9"), "http://h:1/b/caf%C3%A9");
}

TEST(S3ClientUnit, PresignedUrlsCarryTheQueryAuthAndNoSecret) {
  auto c = client_with({{"AWS_ENDPOINT_URL", "http://127.0.0.1:7480"}});
  std::string url = c->presign_get("b", "prefix/" + std::string(64, 'a'), std::chrono::seconds(600));
  EXPECT_EQ(url.rfind("http://127.0.0.1:7480/b/prefix/aaaa", 0), 0u) << url;
  for (const char* part : {"X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Credential=AKIDEXAMPLE%2F", "X-Amz-Expires=600",
                           "X-Amz-SignedHeaders=host", "X-Amz-Signature="})
    EXPECT_NE(url.find(part), std::string::npos) << part << " in " << url;
  EXPECT_EQ(url.find("wJalrXUtnFEMI"), std::string::npos);
  EXPECT_EQ(kind_of([&] { c->presign_get("b", "k", std::chrono::seconds(8 * 24 * 3600)); }), ErrorKind::Invalid);
}

TEST(S3ClientUnit, ErrorDocumentsAndChecksums) {
  EXPECT_EQ(s3_error_code("<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message></Message></Error>"),
            "NoSuchKey");
  EXPECT_EQ(s3_error_code("not xml"), "");
  EXPECT_EQ(s3_error_code(""), "");
  // sha256("") as x-amz-checksum-sha256 wants it.
  EXPECT_EQ(sha256_hex_to_base64(std::string(kEmptySha256)), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
}

TEST(S3ClientUnit, ParallelTasksRethrowTheFirstFailureOnTheCaller) {
  ParallelTasks tasks(3);
  std::atomic<int> ran{0};
  for (int i = 0; i < 10; ++i)
    tasks.submit([&ran, i] {
      ++ran;
      if (i == 2) throw Error(ErrorKind::Unavailable, "part 3 failed");
    });
  try {
    tasks.wait_all();
    FAIL() << "expected the task's error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Unavailable);
    EXPECT_STREQ(e.what(), "part 3 failed");
  }
  EXPECT_GE(ran.load(), 3);
}

}  // namespace
}  // namespace sacker::aws
