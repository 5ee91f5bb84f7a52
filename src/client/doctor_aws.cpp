// The AWS steps of `sacker doctor` (client/doctor.h): the endpoint, the credential
// chain's source and the server's clock, resolved as S3Client::from_environment
// and the DynamoDB ledger resolve them (AwsConfig::load of the process env).
// Built only with an AWS backend (SACKER_DOCTOR_AWS); otherwise every answer is
// nullopt. Linked into the library's scheme table, or into the wire module when the
// sacker command loads backends on demand (client/backend_module.h).
#include <fmt/core.h>

#include "client/doctor.h"
#include "sacker/uri.h"

#if SACKER_DOCTOR_AWS
#include <cstdlib>

#include "aws/aws_config.h"
#include "aws/aws_credentials.h"
#include "aws/s3_client.h"
#include "net/http.h"
#endif
#if SACKER_DOCTOR_S3
#include "store/s3_location.h"
#endif

namespace sacker {

#if SACKER_DOCTOR_AWS
namespace {

DoctorCheck line(const std::string& role, const std::string& uri, const std::string& step, CheckStatus status,
                 std::string detail, std::string fix = {}, ErrorKind kind = ErrorKind::Internal) {
  return {role, redact_uri(uri), step, status, std::move(detail), std::move(fix), kind};
}

}  // namespace

std::optional<AwsProbe> aws_probe_linked(const std::string& role, const std::string& uri, std::int64_t now) {
  std::string scheme;
  try {
    scheme = parse_uri(uri).scheme;
  } catch (const Error&) {
    return std::nullopt;  // the open step reports it
  }
  const std::string service = scheme == "s3" ? "s3" : scheme == "dynamo" ? "dynamodb" : "";
  if (service.empty()) return std::nullopt;
  AwsProbe probe;
  std::optional<aws::AwsConfig> loaded;
  std::string endpoint;
  try {
    loaded = aws::AwsConfig::load(process_env());
    endpoint = loaded->endpoint(service).url;
  } catch (const Error& e) {
    probe.reachable = line(role, uri, "reachable", CheckStatus::Failed, e.what(),
                           "correct AWS_REGION / AWS_ENDPOINT_URL or the profile", e.kind());
    return probe;
  }
  const aws::AwsConfig& config = *loaded;

  // Unsigned: any HTTP answer (a 403 included) proves the endpoint is there, and carries its Date.
  try {
    net::HttpOptions http;
    http.retry.max_attempts = 2;
    http.connect_timeout = std::chrono::milliseconds(5000);
    http.ca_bundle = config.ca_bundle();
    net::HttpClient client(http);
    net::HttpRequest request;
    request.url = endpoint + "/";
    request.idempotent = true;
    auto response = client.send(request);
    probe.reachable = line(role, uri, "reachable", CheckStatus::Ok, fmt::format("{} answered", endpoint));
    const std::string* date = response.header("Date");
    auto skew = date ? clock_skew_seconds(*date, now) : std::nullopt;
    if (!skew)
      probe.clock = line(role, uri, "clock", CheckStatus::Skipped, "the server sent no Date header");
    else if (std::llabs(*skew) > kMaxClockSkewSeconds)
      probe.clock = line(role, uri, "clock", CheckStatus::Failed,
                         fmt::format("this machine's clock is {} s {} the server's; SigV4 signatures fail past 15 min",
                                     std::llabs(*skew), *skew > 0 ? "behind" : "ahead of"),
                         "set the clock (e.g. timedatectl set-ntp true, or chrony)", ErrorKind::Denied);
    else
      probe.clock = line(role, uri, "clock", CheckStatus::Ok,
                         fmt::format("within {} s of the server (SigV4 allows 15 min)", std::llabs(*skew)));
  } catch (const Error& e) {
    probe.reachable = line(role, uri, "reachable", CheckStatus::Failed, e.what(),
                           fmt::format("start the server or correct the endpoint ({}: AWS_ENDPOINT_URL, "
                                       "AWS_ENDPOINT_URL_{}, or the profile's endpoint_url)",
                                       endpoint, service == "s3" ? "S3" : "DYNAMODB"),
                           e.kind());
    return probe;
  }

  try {
    aws::AwsCredentialsOptions options;
    options.imds_attempts = 1;
    auto credentials = aws::make_default_credentials_provider(config, options)->get();
    probe.credentials = line(role, uri, "credentials", CheckStatus::Ok, "from " + credentials.source);
  } catch (const Error& e) {
    probe.credentials = line(role, uri, "credentials", CheckStatus::Failed, e.what(),
                             "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (~/.aws/credentials), "
                             "or AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE",
                             e.kind());
  }
  return probe;
}

std::optional<DoctorCheck> aws_list_probe_linked(const std::string& uri) {
#if SACKER_DOCTOR_S3
  try {
    Uri parsed = parse_uri(uri);
    if (parsed.scheme != "s3") return std::nullopt;
    std::vector<std::string> given;
    for (const auto& [name, value] : parsed.query) given.push_back(name);
    S3Uri s3 = parse_s3_uri(parsed, given);
    aws::S3ListRequest request;
    request.prefix = s3.prefix;
    request.max_keys = 1;
    auto page = aws::S3Client::from_environment()->list_page(s3.bucket, request);
    return line("store", uri, "can list", CheckStatus::Ok,
                page.objects.empty() ? "listed: no blobs yet" : "listed the first blob");
  } catch (const Error& e) {
    return line("store", uri, "can list", CheckStatus::Failed, e.what(), doctor_fix(e, "store"), e.kind());
  }
#else
  (void)uri;
  return std::nullopt;
#endif
}

#else

std::optional<AwsProbe> aws_probe_linked(const std::string&, const std::string&, std::int64_t) { return std::nullopt; }
std::optional<DoctorCheck> aws_list_probe_linked(const std::string&) { return std::nullopt; }

#endif

}  // namespace sacker
