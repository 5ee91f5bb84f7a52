// ~/.aws/config and ~/.aws/credentials: parse_aws_ini (never throws for content),
// then what AwsConfig derives from a profile (region, endpoints, CA bundle) and,
// with S3 built in, an S3Client on that config: its object and presigned URLs
// must parse as URLs (or the client refuses the config with Error(Invalid)).
// The first byte picks the file kind and the profile (default or the first one).
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "aws/aws_config.h"
#include "aws/aws_credentials.h"
#include "net/http.h"
#ifdef SACKER_FUZZ_S3
#include "aws/s3_client.h"
#endif

using fuzz::check;
using fuzz::must_succeed;
namespace net = sacker::net;
namespace aws = sacker::aws;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool config_file = data[0] & 1;
  const bool first_profile = data[0] & 2;
  const std::string_view text = fuzz::as_text(data + 1, size - 1);

  aws::AwsIniFile ini = aws::parse_aws_ini(text, config_file);
  for (const auto& [section, keys] : ini)
    for (const auto& [key, value] : keys) {
      for (char c : key) check(!std::isupper(static_cast<unsigned char>(c)), "keys are lower-case", key);
      check(value.empty() || (!std::isspace(static_cast<unsigned char>(value.front())) &&
                              !std::isspace(static_cast<unsigned char>(value.back()))),
            "values are trimmed", value);
    }

  const std::string profile = first_profile && !ini.empty() ? ini.begin()->first : "default";
  const sacker::EnvLookup no_env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  aws::AwsIniFile credentials, config;
  (config_file ? config : credentials) = std::move(ini);
  const aws::AwsConfig aws(no_env, profile, std::move(credentials), std::move(config));
  (void)aws.region();
  (void)aws.ca_bundle();
  (void)aws.credentials_value("aws_access_key_id");
  // A default endpoint is on AWS's domain whatever the region says.
  for (const char* service : {"s3", "dynamodb", "sts"}) {
    aws::AwsEndpoint ep;
    try {
      ep = aws.endpoint(service);
    } catch (const sacker::Error& e) {
      check(e.kind() == sacker::ErrorKind::Invalid, "a bad region is Invalid", e.what());
      return 0;
    }
    if (ep.custom) continue;
    const std::string host = must_succeed("a default endpoint parses", [&] { return net::parse_url(ep.url); }).host;
    const auto ends_with = [&](std::string_view suffix) {
      return host.size() > suffix.size() && host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    check(ends_with(".amazonaws.com") || ends_with(".amazonaws.com.cn"), "a default endpoint is on AWS", ep.url);
  }

#ifdef SACKER_FUZZ_S3
  std::shared_ptr<aws::S3Client> client;
  try {
    aws::AwsCredentials keys;
    keys.access_key_id = "AKIDEXAMPLE";
    keys.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    client = std::make_shared<aws::S3Client>(aws, aws::make_static_credentials_provider(keys));
  } catch (const sacker::Error& e) {
    check(e.kind() == sacker::ErrorKind::Invalid, "a bad endpoint is Invalid", e.what());
    return 0;
  }
  for (const char* bucket : {"my-bucket", "my.dotted.bucket"}) {
    const std::string url = client->object_url(bucket, "pkg/versions/1");
    must_succeed("an object URL parses", [&] { return net::parse_url(url); });
    const std::string presigned = must_succeed(
        "presigning works", [&] { return client->presign_get(bucket, "pkg/blob", std::chrono::seconds(3600)); });
    must_succeed("a presigned URL parses", [&] { return net::parse_url(presigned); });
  }
#endif
  return 0;
}
