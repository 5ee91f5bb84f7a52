// The STS calls of the credential chain (aws_credentials.h, sources 2. and 3.):
// AssumeRole, a form POST signed with SigV4 (service "sts") by the source
// credentials, and AssumeRoleWithWebIdentity, unsigned, carrying the token read
// from its file at each call. Both go to sts_endpoint(): the "sts" endpoint of
// AwsConfig, or the global one for sts_regional_endpoints = legacy (see the
// header of aws_credentials.h). An answer other than 200 is an Error: Denied for
// the STS codes that mean "refused" (AccessDenied, InvalidClientTokenId,
// SignatureDoesNotMatch, ExpiredToken(Exception), InvalidIdentityToken,
// IDPRejectedClaim), else the kind of its HTTP status; the secrets a request
// carried are blanked out of whatever the server's message quotes.
#pragma once

#include <optional>
#include <string>

#include "aws/aws_config.h"
#include "aws/sigv4.h"  // AwsCredentials
#include "net/http.h"

namespace sacker::aws {

// Where STS calls go and the region they are signed for.
struct StsEndpoint {
  std::string url;  // no trailing '/'
  std::string region;
};
// Throws Error(Invalid) for an sts_regional_endpoints other than legacy/regional.
StsEndpoint sts_endpoint(const AwsConfig& config);

struct WebIdentitySettings {
  std::string role_arn, token_file, session_name;
};
// AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE (+ AWS_ROLE_SESSION_NAME), else the
// profile's role_arn + web_identity_token_file; nullopt when neither is set.
// `use_env` false: the profile's settings only (a source_profile, as the AWS CLI).
std::optional<WebIdentitySettings> web_identity_settings(const AwsConfig& config, bool use_env = true);
AwsCredentials fetch_web_identity(const WebIdentitySettings& settings, const StsEndpoint& sts, net::HttpClient& http);

struct AssumeRoleSettings {
  std::string profile;  // where role_arn was found
  std::string role_arn, session_name, external_id, duration_seconds;
};
AwsCredentials fetch_assume_role(const AssumeRoleSettings& settings, const StsEndpoint& sts,
                                 const AwsCredentials& source, net::HttpClient& http);

// STS AssumeRoleWithWebIdentity (environment or profile settings); nullopt when
// not configured.
std::optional<AwsCredentials> credentials_from_web_identity(const AwsConfig& config, net::HttpClient& http);

// A fresh RoleSessionName, "sacker-<ms since the epoch>".
std::string default_role_session_name();

}  // namespace sacker::aws
