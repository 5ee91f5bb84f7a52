// The default chain of aws_credentials.h: which source is chosen (once, at the
// first get()), the role chains of assume-role profiles, and the caching of
// temporary credentials. The sources themselves are in credential_sources.cpp and
// sts.cpp.
#include "aws/aws_credentials.h"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <vector>

#include <fmt/format.h>

#include "aws/credential_sources.h"
#include "aws/sts.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker::aws {
namespace {

using Clock = std::chrono::system_clock;

constexpr const char* kNoCredentials =
    "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with a "
    "profile in ~/.aws/credentials or ~/.aws/config, or run with a web identity (AWS_ROLE_ARN + "
    "AWS_WEB_IDENTITY_TOKEN_FILE), a container role or an EC2 instance role";

net::HttpOptions with_ca_bundle(net::HttpOptions http, const AwsConfig& config) {
  if (http.ca_bundle.empty()) http.ca_bundle = config.ca_bundle();
  return http;
}

// Caches temporary credentials and refreshes them before they expire.
class RefreshingProvider final : public AwsCredentialsProvider {
 public:
  RefreshingProvider(std::function<AwsCredentials()> fetch, std::function<Clock::time_point()> now,
                     std::chrono::seconds margin, std::optional<AwsCredentials> first)
      : fetch_(std::move(fetch)), now_(std::move(now)), margin_(margin), cached_(std::move(first)) {}

  AwsCredentials get() override {
    std::lock_guard lock(mutex_);
    const auto now = now_();
    if (cached_ && (!cached_->expiration || now < *cached_->expiration - margin_)) return *cached_;
    try {
      cached_ = fetch_();
    } catch (const Error&) {
      if (cached_ && cached_->expiration && now < *cached_->expiration) return *cached_;
      throw;
    }
    return *cached_;
  }

 private:
  std::function<AwsCredentials()> fetch_;
  std::function<Clock::time_point()> now_;
  std::chrono::seconds margin_;
  std::mutex mutex_;
  std::optional<AwsCredentials> cached_;
};

class StaticProvider final : public AwsCredentialsProvider {
 public:
  explicit StaticProvider(AwsCredentials c) : creds_(std::move(c)) {}
  AwsCredentials get() override { return creds_; }

 private:
  AwsCredentials creds_;
};

// role_arn without web_identity_token_file: the profile assumes a role with
// source_profile or credential_source (botocore's _has_assume_role_config_vars).
bool is_assume_role_profile(const AwsConfig& config) {
  return config.profile_value("role_arn") && !config.profile_value("web_identity_token_file");
}

bool has_static_keys(const AwsConfig& config) {
  return config.profile_value("aws_access_key_id") || config.profile_value("aws_secret_access_key");
}

// Whether the selected profile's role chain ends in credential_source = Environment
// (see 1. in the header).
bool role_sourced_from_environment(const AwsConfig& selected) {
  AwsConfig config = selected;
  std::vector<std::string> seen;
  while (is_assume_role_profile(config)) {
    if (std::find(seen.begin(), seen.end(), config.profile()) != seen.end()) return false;  // a cycle: reported later
    seen.push_back(config.profile());
    if (auto source = config.profile_value("credential_source"))
      return *source == "Environment" && !config.profile_value("source_profile");
    auto next = config.profile_value("source_profile");
    if (!next || !config.has_profile(*next)) return false;
    config = config.with_profile(*next);
    if (has_static_keys(config)) return false;
  }
  return false;
}

class DefaultChain final : public AwsCredentialsProvider {
 public:
  DefaultChain(AwsConfig config, AwsCredentialsOptions options)
      : config_(std::move(config)), options_(std::move(options)) {
    if (!options_.now) options_.now = [] { return Clock::now(); };
    options_.http = with_ca_bundle(options_.http, config_);
  }

  AwsCredentials get() override {
    std::shared_ptr<AwsCredentialsProvider> chosen;
    {
      std::lock_guard lock(mutex_);
      if (!chosen_) chosen_ = resolve();
      chosen = chosen_;
    }
    return chosen->get();
  }

 private:
  std::shared_ptr<AwsCredentialsProvider> refreshing(std::function<AwsCredentials()> fetch,
                                                     std::optional<AwsCredentials> first) {
    return std::make_shared<RefreshingProvider>(std::move(fetch), options_.now, options_.refresh_margin,
                                                std::move(first));
  }

  std::shared_ptr<AwsCredentialsProvider> resolve() {
    if (auto c = credentials_from_env(config_))
      if (!role_sourced_from_environment(config_)) return std::make_shared<StaticProvider>(*c);
    if (is_assume_role_profile(config_)) {
      std::vector<std::string> visited{config_.profile()};
      return assume_role(config_.profile(), visited);
    }
    if (auto settings = web_identity_settings(config_)) return web_identity(*settings);
    if (auto p = profile_keys_or_process(config_)) return p;
    if (container_configured()) return container();
    if (auto p = instance_metadata()) return p;
    if (config_.getenv("AWS_PROFILE"))
      throw Error(ErrorKind::Denied, fmt::format("no AWS credentials: profile '{}' has none (in {} or {}) and no "
                                                 "web identity, container or instance role is available",
                                                 config_.profile(), config_.credentials_path(), config_.config_path()));
    throw Error(ErrorKind::Denied, kNoCredentials);
  }

  // 4.-6. of the header for `config`'s profile; nullptr when it has none of them.
  std::shared_ptr<AwsCredentialsProvider> profile_keys_or_process(const AwsConfig& config) {
    if (auto c = profile_static_keys(config, true)) return std::make_shared<StaticProvider>(*c);
    if (auto first = credentials_from_process(config)) {
      if (!first->expiration) return std::make_shared<StaticProvider>(*first);
      return refreshing([config] { return *credentials_from_process(config); }, std::move(first));
    }
    if (auto c = profile_static_keys(config, false)) return std::make_shared<StaticProvider>(*c);
    return nullptr;
  }

  std::shared_ptr<AwsCredentialsProvider> web_identity(const WebIdentitySettings& settings) {
    auto http = std::make_shared<net::HttpClient>(options_.http);
    return refreshing(
        [settings, sts = sts_endpoint(config_), http] { return fetch_web_identity(settings, sts, *http); },
        std::nullopt);
  }

  bool container_configured() const {
    return config_.getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") ||
           config_.getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
  }

  std::shared_ptr<AwsCredentialsProvider> container() {
    auto http = std::make_shared<net::HttpClient>(options_.http);
    return refreshing(
        [config = config_, http, opts = options_] { return *credentials_from_container(config, *http, opts); },
        std::nullopt);
  }

  // nullptr when the metadata service does not answer.
  std::shared_ptr<AwsCredentialsProvider> instance_metadata() {
    auto first = credentials_from_instance_metadata(config_, options_);
    if (!first) return nullptr;
    return refreshing(
        [config = config_, opts = options_] {
          auto c = credentials_from_instance_metadata(config, opts);
          if (!c) throw Error(ErrorKind::Unavailable, "instance metadata no longer answers");
          return *c;
        },
        std::move(first));
  }

  // The role of profile `name` (is_assume_role_profile). `visited`: the profiles
  // of the chain so far, `name` last.
  std::shared_ptr<AwsCredentialsProvider> assume_role(const std::string& name, std::vector<std::string>& visited) {
    const AwsConfig config = config_.with_profile(name);
    AssumeRoleSettings settings;
    settings.profile = name;
    settings.role_arn = *config.profile_value("role_arn");
    const auto source_profile = config.profile_value("source_profile");
    const auto credential_source = config.profile_value("credential_source");
    if (source_profile && credential_source)
      throw Error(ErrorKind::Invalid,
                  fmt::format("AWS profile '{}' has both source_profile and credential_source; use one", name));
    if (!source_profile && !credential_source)
      throw Error(ErrorKind::Invalid, fmt::format("AWS profile '{}' has role_arn but no source_profile, "
                                                  "credential_source or web_identity_token_file",
                                                  name));
    if (config.profile_value("mfa_serial"))
      throw Error(ErrorKind::Invalid, fmt::format("AWS profile '{}' has mfa_serial: sacker cannot prompt for an MFA "
                                                  "code (use a credential_process or temporary credentials)",
                                                  name));
    settings.session_name = config.profile_value("role_session_name").value_or("");
    if (settings.session_name.empty()) settings.session_name = default_role_session_name();
    settings.external_id = config.profile_value("external_id").value_or("");
    if (auto d = config.profile_value("duration_seconds")) {
      if (d->empty() || d->size() > 9 ||
          !std::all_of(d->begin(), d->end(), [](unsigned char c) { return std::isdigit(c); }))
        throw Error(ErrorKind::Invalid, fmt::format("AWS profile '{}': duration_seconds must be a number of seconds, "
                                                    "not '{}'",
                                                    name, printable(*d)));
      settings.duration_seconds = *d;
    }

    std::shared_ptr<AwsCredentialsProvider> source;
    if (credential_source) {
      source = named_source(*credential_source, name);
    } else {
      const std::string& next = *source_profile;
      if (!config_.has_profile(next))
        throw Error(ErrorKind::Invalid, fmt::format("AWS profile '{}' names the source_profile '{}', which is in "
                                                    "neither {} nor {}",
                                                    name, next, config_.credentials_path(), config_.config_path()));
      const bool seen = std::find(visited.begin(), visited.end(), next) != visited.end();
      // A profile may name itself to take its own static keys (as the AWS CLI).
      if (seen && (next != name || !has_static_keys(config))) {
        std::string cycle;
        for (const auto& v : visited) cycle += v + " -> ";
        throw Error(ErrorKind::Invalid,
                    fmt::format("AWS profile '{}': the source_profile settings form a cycle: {}{}", name, cycle, next));
      }
      visited.push_back(next);
      source = source_of_profile(next, name, visited);
    }
    auto http = std::make_shared<net::HttpClient>(options_.http);
    return refreshing([settings, sts = sts_endpoint(config_), source,
                       http] { return fetch_assume_role(settings, sts, source->get(), *http); },
                      std::nullopt);
  }

  // The credentials that profile `name` lends as the source_profile of `parent`.
  std::shared_ptr<AwsCredentialsProvider> source_of_profile(const std::string& name, const std::string& parent,
                                                            std::vector<std::string>& visited) {
    const AwsConfig config = config_.with_profile(name);
    if (!has_static_keys(config) && is_assume_role_profile(config)) return assume_role(name, visited);
    if (auto settings = web_identity_settings(config, /*use_env=*/false)) return web_identity(*settings);
    if (auto p = profile_keys_or_process(config)) return p;
    throw Error(ErrorKind::Invalid, fmt::format("AWS profile '{}' (the source_profile of '{}') has no credentials: "
                                                "no keys, role_arn, web_identity_token_file or credential_process",
                                                name, parent));
  }

  // credential_source = Environment | Ec2InstanceMetadata | EcsContainer.
  std::shared_ptr<AwsCredentialsProvider> named_source(const std::string& source, const std::string& profile) {
    auto none = [&] {
      return Error(ErrorKind::Denied, fmt::format("AWS profile '{}' has credential_source = {}, which has no "
                                                  "credentials here",
                                                  profile, source));
    };
    if (source == "Environment") {
      auto c = credentials_from_env(config_);
      if (!c) throw none();
      return std::make_shared<StaticProvider>(*c);
    }
    if (source == "EcsContainer") {
      if (!container_configured()) throw none();
      return container();
    }
    if (source == "Ec2InstanceMetadata") {
      auto p = instance_metadata();
      if (!p) throw none();
      return p;
    }
    throw Error(ErrorKind::Invalid, fmt::format("AWS profile '{}': credential_source must be Environment, "
                                                "Ec2InstanceMetadata or EcsContainer, not '{}'",
                                                profile, printable(source)));
  }

  AwsConfig config_;
  AwsCredentialsOptions options_;
  std::mutex mutex_;
  std::shared_ptr<AwsCredentialsProvider> chosen_;
};

}  // namespace

std::shared_ptr<AwsCredentialsProvider> make_default_credentials_provider(const AwsConfig& config,
                                                                          AwsCredentialsOptions options) {
  return std::make_shared<DefaultChain>(config, std::move(options));
}

std::shared_ptr<AwsCredentialsProvider> make_static_credentials_provider(AwsCredentials credentials) {
  return std::make_shared<StaticProvider>(std::move(credentials));
}

}  // namespace sacker::aws
