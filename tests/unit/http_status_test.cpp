// net::throw_for_status, the shared end of the S3 and Azure clients' error mapping.
#include "net/http_status.h"

#include <gtest/gtest.h>

#include <string>

#include "sacker/error.h"

namespace sacker::net {
namespace {

Error thrown(long status, const StatusFailure& f, int attempts = 1) {
  HttpResponse r;
  r.status = status;
  r.attempts = attempts;
  try {
    throw_for_status(r, f);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error for HTTP " << status;
  return Error(ErrorKind::Internal, "none");
}

const StatusFailure kFailure{.target = "s3://b/k", .detail = "Oops: no", .endpoint = "http://u:p@127.0.0.1:9000/x"};

TEST(HttpStatus, KindsByStatus) {
  EXPECT_EQ(thrown(500, kFailure).kind(), ErrorKind::Unavailable);
  EXPECT_EQ(thrown(503, kFailure).kind(), ErrorKind::Unavailable);
  EXPECT_EQ(thrown(429, kFailure).kind(), ErrorKind::Unavailable);
  EXPECT_EQ(thrown(409, kFailure).kind(), ErrorKind::Conflict);
  EXPECT_EQ(thrown(412, kFailure).kind(), ErrorKind::Conflict);
  EXPECT_EQ(thrown(301, kFailure).kind(), ErrorKind::Invalid);
  EXPECT_EQ(thrown(400, kFailure).kind(), ErrorKind::Invalid);
  EXPECT_EQ(thrown(405, kFailure).kind(), ErrorKind::Invalid);
  EXPECT_EQ(thrown(200, kFailure).kind(), ErrorKind::Internal);
  EXPECT_EQ(thrown(100, kFailure).kind(), ErrorKind::Internal);
}

TEST(HttpStatus, BusyCodeIsUnavailableWhateverTheStatus) {
  StatusFailure busy = kFailure;
  busy.busy = true;
  EXPECT_EQ(thrown(400, busy).kind(), ErrorKind::Unavailable);
  EXPECT_EQ(thrown(409, busy).kind(), ErrorKind::Unavailable);
}

TEST(HttpStatus, MessagesNameTargetDetailAndOnlyTheHost) {
  const std::string busy = thrown(503, kFailure, 3).what();
  EXPECT_EQ(busy, "s3://b/k: server error 503 (Oops: no) from 127.0.0.1:9000, after 3 attempts");
  EXPECT_EQ(std::string(thrown(503, kFailure).what()), "s3://b/k: server error 503 (Oops: no) from 127.0.0.1:9000");
  EXPECT_EQ(std::string(thrown(409, kFailure).what()), "s3://b/k: conflict (Oops: no)");
  EXPECT_EQ(std::string(thrown(418, kFailure).what()), "s3://b/k: request refused with HTTP 418 (Oops: no)");
  StatusFailure hinted = kFailure;
  hinted.redirect_hint = " and AWS_REGION (eu-west-1)";
  EXPECT_EQ(std::string(thrown(307, hinted).what()),
            "s3://b/k: redirected (Oops: no): check the endpoint and AWS_REGION (eu-west-1)");
  EXPECT_EQ(std::string(thrown(307, kFailure).what()), "s3://b/k: redirected (Oops: no): check the endpoint");
}

TEST(HttpStatus, EndpointHost) {
  EXPECT_EQ(endpoint_host("https://user:secret@blob.example:10000/devaccount?sig=x"), "blob.example:10000");
  EXPECT_EQ(endpoint_host("not a url"), "the endpoint");
}

}  // namespace
}  // namespace sacker::net
