// Region, profile and endpoints resolved like the AWS CLI does. Reads the
// environment only through an injectable EnvLookup and the shared files only at
// load(), so tests run against a fake environment and a temporary HOME.
//
// Profile: AWS_PROFILE, else "default". Files: AWS_SHARED_CREDENTIALS_FILE (else
// $HOME/.aws/credentials) with sections [name], and AWS_CONFIG_FILE (else
// $HOME/.aws/config) with [default], [profile name] and [services name] sections.
// Indented lines after "key =" form a sub-section: "s3 =\n  endpoint_url = ..."
// is stored as key "s3.endpoint_url".
//
// Region: AWS_REGION > AWS_DEFAULT_REGION > profile "region" > "us-east-1".
//
// Endpoint of a service (its id: "s3", "dynamodb", "sts"), unless
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true or the profile's
// ignore_configure_endpoint_urls = true:
//   AWS_ENDPOINT_URL_<ID upper-case> > AWS_ENDPOINT_URL >
//   the profile's services section "<id>.endpoint_url" > profile "endpoint_url" >
// then the AWS default https://<id>.<region>.amazonaws.com (".com.cn" for cn-*).
// Everything but the default is "custom": S3 then uses path-style addressing.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "sacker/config.h"  // EnvLookup

namespace sacker::aws {

// key -> value of one section of an AWS shared file.
using AwsSection = std::map<std::string, std::string>;
// section name -> section. Config-file "[profile x]" is stored as "x",
// "[services x]" as "services x", "[default]" as "default".
using AwsIniFile = std::map<std::string, AwsSection>;

// Parses the AWS INI dialect (comments start with '#' or ';' at the start of a
// line; "key = value"; nested indented sub-sections). `config_file` selects the
// config-file section naming. Never throws for content: unparsable lines are
// skipped, as the AWS CLI mostly does.
AwsIniFile parse_aws_ini(std::string_view text, bool config_file);

struct AwsEndpoint {
  std::string url;      // "https://s3.eu-west-1.amazonaws.com", no trailing '/'
  bool custom = false;  // not the AWS default (=> S3 path-style addressing)
};

class AwsConfig {
 public:
  // Reads the environment and the two shared files. Missing files are fine.
  // Throws Error(Invalid) if AWS_PROFILE names a profile that is in neither file
  // (as the AWS CLI does), Error(LocalIO/Denied) if a file exists but cannot be
  // read.
  static AwsConfig load(const EnvLookup& env);
  // From values in memory (tests and the credential chain's unit tests).
  AwsConfig(EnvLookup env, std::string profile, AwsIniFile credentials, AwsIniFile config);

  const EnvLookup& env() const { return env_; }
  // The environment variable, treating an empty value as unset.
  std::optional<std::string> getenv(const std::string& name) const;

  const std::string& profile() const { return profile_; }
  // Key of the selected profile: the config file's section (config_value) or the
  // credentials file's (credentials_value). nullopt if absent or empty.
  std::optional<std::string> config_value(const std::string& key) const;
  std::optional<std::string> credentials_value(const std::string& key) const;
  // Key of the selected profile in either file, the credentials file winning (the
  // AWS CLI merges the two for role_arn, source_profile, credential_process, ...).
  std::optional<std::string> profile_value(const std::string& key) const;
  // Whether either file has a section for `profile`.
  bool has_profile(const std::string& profile) const;
  // The same environment and files with another profile selected (source_profile).
  AwsConfig with_profile(std::string profile) const;
  // Where the files were looked for (for messages; may not exist).
  const std::string& credentials_path() const { return credentials_path_; }
  const std::string& config_path() const { return config_path_; }

  std::string region() const;
  // Error(Invalid) when the AWS default is built from a region that is not a DNS
  // label (letters, digits, '-').
  AwsEndpoint endpoint(std::string_view service_id) const;
  // AWS_CA_BUNDLE > profile ca_bundle > "" (the system store).
  std::string ca_bundle() const;

 private:
  EnvLookup env_;
  std::string profile_;
  AwsIniFile credentials_;
  AwsIniFile config_;
  std::string credentials_path_;
  std::string config_path_;
};

}  // namespace sacker::aws
