// Where AWS credentials come from, in the AWS CLI's order (the first source that
// is configured wins and is kept for the life of the provider):
//   1. environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN).
//      Exception: when the selected profile assumes a role whose source is
//      credential_source = Environment (directly or at the end of its source_profile
//      chain), these keys are that role's source credentials and 2. applies, as
//      with `aws --profile NAME` (sacker selects a profile only by AWS_PROFILE, with
//      which the AWS CLI would use the keys as they are, aws-cli issue 3875).
//   2. assume role: the selected profile (aws_config.h; either file) has role_arn
//      and no web_identity_token_file, even if it also has static keys. STS
//      AssumeRole (RoleArn, RoleSessionName = role_session_name or "sacker-<ms>",
//      ExternalId = external_id, DurationSeconds = duration_seconds), a POST signed
//      with SigV4 (service "sts") by the source credentials, which come from exactly
//      one of
//        source_profile = NAME: that profile's static keys if it has any (so a
//          profile may name itself to use its own keys); else its own role,
//          recursively; else its web identity, static keys or credential_process
//          (4.-6. below, never the environment);
//        credential_source = Environment | Ec2InstanceMetadata | EcsContainer.
//      A source_profile cycle, a missing source profile, both or neither of the two
//      settings, and mfa_serial (no MFA prompt here) are Error(Invalid).
//   3. web identity: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE
//      (+ AWS_ROLE_SESSION_NAME), or a profile with role_arn +
//      web_identity_token_file: an unsigned STS AssumeRoleWithWebIdentity POST;
//      the token file is re-read at each refresh
//   4. the profile's static keys in the credentials file (aws_access_key_id /
//      aws_secret_access_key / aws_session_token)
//   5. the profile's credential_process = COMMAND ARGS: run without a shell (split
//      like the AWS CLI, credential_process.h), its stdout a JSON object {"Version":
//      1, "AccessKeyId", "SecretAccessKey", "SessionToken"?, "Expiration"?}; run
//      again when Expiration comes near. A failing process is Error(Denied) (with
//      the first line of its stderr), unusable output Error(Invalid); stdout is
//      never quoted.
//   6. the profile's static keys in the config file
//   7. container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI against
//      http://169.254.170.2, or AWS_CONTAINER_CREDENTIALS_FULL_URI (https, or http
//      to a loopback / the ECS or EKS link-local address) with
//      AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE) as the Authorization header
//   8. EC2 instance metadata, IMDSv2: PUT /latest/api/token, GET the role name,
//      GET the role's credentials (IMDSv1 if the token PUT answers 403/404/405);
//      AWS_EC2_METADATA_SERVICE_ENDPOINT overrides http://169.254.169.254;
//      skipped when AWS_EC2_METADATA_DISABLED=true; 1 s timeouts, so a machine
//      without IMDS fails over fast.
// Nothing configured (and no IMDS answering) -> Error(Denied) "no AWS credentials:
// set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE ...".
//
// STS (2, 3) is the "sts" endpoint of AwsConfig for the selected profile, for every
// hop of a role chain: AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL / the profile's
// endpoint settings (tests point them at a stand-in), else
// https://sts.REGION.amazonaws.com; sts_regional_endpoints = legacy (or
// AWS_STS_REGIONAL_ENDPOINTS) selects https://sts.amazonaws.com, signed for
// us-east-1, in the regions that once had only that endpoint. STS error codes
// AccessDenied, InvalidClientTokenId, SignatureDoesNotMatch, ExpiredToken(Exception),
// InvalidIdentityToken and IDPRejectedClaim are Error(Denied); others follow the
// HTTP status.
//
// Temporary credentials (2, 3, 5 with Expiration, 7, 8) are cached and refreshed
// when less than refresh_margin of their life is left; if a refresh fails while
// the old ones are still valid, the old ones are used. Messages and the HTTP log
// never contain secret keys, session tokens, web identity tokens or a
// credential_process's stdout.
//
// Code: the chain (this file pair), the sources (credential_sources.h), STS (sts.h).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "aws/aws_config.h"
#include "aws/sigv4.h"  // AwsCredentials
#include "net/http.h"

namespace sacker::aws {

class AwsCredentialsProvider {
 public:
  virtual ~AwsCredentialsProvider() = default;
  // Valid credentials, fetched or refreshed as needed. Thread-safe. Throws
  // Error(Denied) when there are none or the source refuses, Error(Unavailable)
  // when a configured source cannot be reached, Error(Invalid) for a broken
  // configuration (e.g. only one of the two key variables set).
  virtual AwsCredentials get() = 0;
};

struct AwsCredentialsOptions {
  // The clock for expiry decisions; default system_clock::now.
  std::function<std::chrono::system_clock::time_point()> now;
  // Refresh temporary credentials this long before they expire.
  std::chrono::seconds refresh_margin{300};
  // HTTP settings for STS and the container endpoint (log hook, retry sleeper).
  // ca_bundle is taken from AwsConfig when empty here.
  net::HttpOptions http;
  // Instance metadata: timeout of each of its requests and its attempts.
  std::chrono::milliseconds imds_timeout{1000};
  int imds_attempts = 1;
  // Base of AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (tests point it at a fixture).
  std::string container_relative_base = "http://169.254.170.2";
};

// The chain above, resolved lazily at the first get() (so building it costs
// nothing and never touches the network). `config` is copied.
std::shared_ptr<AwsCredentialsProvider> make_default_credentials_provider(const AwsConfig& config,
                                                                          AwsCredentialsOptions options = {});

// Always returns `credentials` (tests, and the etcd/S3 code paths given explicit keys).
std::shared_ptr<AwsCredentialsProvider> make_static_credentials_provider(AwsCredentials credentials);

// The sources one by one (credentials_from_env, ...) are declared in
// credential_sources.h, the STS ones in sts.h.

// Parses an ISO 8601 UTC time ("2024-01-02T03:04:05Z", fractions allowed) as used
// by STS, ECS and IMDS. Throws Error(Invalid).
std::chrono::system_clock::time_point parse_iso8601_utc(std::string_view text);

}  // namespace sacker::aws
