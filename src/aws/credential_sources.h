// The credential sources of the chain (aws_credentials.h) one by one, except the
// STS ones (sts.h): the environment (1.), a profile's static keys (4., 6.), its
// credential_process (5.), the container endpoint (7.) and EC2 instance metadata
// (8.). Each returns nullopt when its source is not configured, and throws (as
// AwsCredentialsProvider::get) when it is configured but fails. Exposed for the
// chain and for tests; none of them caches.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "aws/aws_config.h"
#include "aws/aws_credentials.h"  // AwsCredentialsOptions
#include "net/http.h"

namespace sacker::aws {

// Environment variables only.
std::optional<AwsCredentials> credentials_from_env(const AwsConfig& config);
// Static keys of the selected profile only: the credentials file's, else the
// config file's.
std::optional<AwsCredentials> credentials_from_profile(const AwsConfig& config);
// The static keys of the selected profile in the credentials file
// (`credentials_file`) or the config file; Error(Invalid) when only one is set.
std::optional<AwsCredentials> profile_static_keys(const AwsConfig& config, bool credentials_file);
// The selected profile's credential_process, run once (either file).
std::optional<AwsCredentials> credentials_from_process(const AwsConfig& config);
std::optional<AwsCredentials> credentials_from_container(const AwsConfig& config, net::HttpClient& http,
                                                         const AwsCredentialsOptions& options);
// nullopt also when the metadata service does not answer (not an EC2 instance).
std::optional<AwsCredentials> credentials_from_instance_metadata(const AwsConfig& config,
                                                                 const AwsCredentialsOptions& options);

// The trimmed content of a token file (`what` names it in errors): the errno's
// kind when unreadable, Error(Invalid) when empty.
std::string read_secret_file(const std::string& path, std::string_view what);

}  // namespace sacker::aws
