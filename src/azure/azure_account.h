// Which Azure storage account, where its Blob endpoint is, and how requests are
// authorized, resolved from the environment as the Azure CLI (`az storage`) does.
// Pure: the environment is a parameter.
//
// Precedence (the first that is set wins):
//   1. AZURE_STORAGE_CONNECTION_STRING: "Key=Value;..." with AccountName, AccountKey,
//      SharedAccessSignature, BlobEndpoint, DefaultEndpointsProtocol (default https),
//      EndpointSuffix (default core.windows.net); or UseDevelopmentStorage=true
//      (Azurite's well-known devstoreaccount1 on http://127.0.0.1:10000).
//   2. AZURE_STORAGE_KEY, with AZURE_STORAGE_ACCOUNT when that is set.
//   3. AZURE_STORAGE_SAS_TOKEN (with or without its leading '?').
// Nothing set: no credentials; the first request fails with Error(Denied) saying so.
// A connection string or AZURE_STORAGE_ACCOUNT naming another account than the URI
// is refused (Error(Invalid)): a key must never be sent to the wrong account.
// The endpoint: the URI's ?endpoint= option, else BlobEndpoint, else
// <protocol>://<account>.blob.<suffix>.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "azure/shared_key.h"
#include "sacker/config.h"

namespace sacker::azure {

struct AzureAccount {
  std::string name;
  // scheme://host[:port][/path], no trailing '/', no query: a blob's URL is
  // endpoint + "/" + container + "/" + blob.
  std::string endpoint;
  std::optional<SharedKey> key;  // Shared Key authorization
  std::string sas_token;         // else a SAS: the query to append (no leading '?'); secret
  std::string source;            // where the credentials came from, for -v and messages
  bool has_credentials() const { return key.has_value() || !sas_token.empty(); }
};

// Azurite's well-known development account (public, documented by Microsoft).
inline constexpr std::string_view kDevAccount = "devstoreaccount1";
inline constexpr std::string_view kDevAccountKey =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

// Keys lower-cased; a value keeps everything after the first '=' (base64 keys end
// in '='). Error(Invalid) for an entry without '=' (the message never quotes values).
std::map<std::string, std::string> parse_connection_string(std::string_view text);

// `account` is the URI's; `endpoint_option` the URI's ?endpoint= if given.
AzureAccount resolve_account(const std::string& account, const std::optional<std::string>& endpoint_option,
                             const EnvLookup& env);

// Checks an endpoint URL (http(s), a host, no query, no userinfo) and drops a
// trailing '/'. Error(Invalid) naming `what`.
std::string checked_endpoint(std::string_view url, std::string_view what);

}  // namespace sacker::azure
