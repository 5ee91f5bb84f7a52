#include "azure/azure_account.h"

#include <fmt/core.h>

#include "core/codec.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker::azure {
namespace {

constexpr std::string_view kConnectionString = "AZURE_STORAGE_CONNECTION_STRING";

std::optional<std::string> non_empty(const EnvLookup& env, const std::string& name) {
  auto v = env(name);
  if (!v || codec::trim(*v).empty()) return std::nullopt;
  return std::string(codec::trim(*v));
}

std::string strip_question_mark(std::string sas) {
  if (!sas.empty() && sas.front() == '?') sas.erase(sas.begin());
  return sas;
}

void refuse_other_account(const std::string& named, const std::string& uri_account, std::string_view source) {
  if (named != uri_account)
    throw Error(ErrorKind::Invalid, fmt::format("{} is for the Azure account '{}', but the store URI names '{}'",
                                                source, printable(named), printable(uri_account)));
}

}  // namespace

std::map<std::string, std::string> parse_connection_string(std::string_view text) {
  std::map<std::string, std::string> out;
  while (!text.empty()) {
    const auto semi = text.find(';');
    std::string_view item = codec::trim(text.substr(0, semi));
    text = semi == std::string_view::npos ? std::string_view{} : text.substr(semi + 1);
    if (item.empty()) continue;
    const auto eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0)
      throw Error(ErrorKind::Invalid, fmt::format("{}: an entry is not Key=Value (entry {} of the string)",
                                                  kConnectionString, out.size() + 1));
    out[codec::to_lower(codec::trim(item.substr(0, eq)))] = std::string(codec::trim(item.substr(eq + 1)));
  }
  return out;
}

std::string checked_endpoint(std::string_view url, std::string_view what) {
  net::UrlParts u;
  try {
    u = net::parse_url(url);
  } catch (const Error&) {
    throw Error(ErrorKind::Invalid, fmt::format("{} is not an http(s) URL", what));
  }
  if (!u.query.empty() || url.find('#') != std::string_view::npos)
    throw Error(ErrorKind::Invalid, fmt::format("{} must not have a query or fragment", what));
  const auto authority_end = url.find_first_of("/?#", url.find("://") + 3);
  if (url.substr(0, authority_end).find('@') != std::string_view::npos)
    throw Error(ErrorKind::Invalid, fmt::format("{} must not carry user information", what));
  std::string out(url);
  while (!out.empty() && out.back() == '/') out.pop_back();
  return out;
}

AzureAccount resolve_account(const std::string& account, const std::optional<std::string>& endpoint_option,
                             const EnvLookup& env) {
  AzureAccount a;
  a.name = account;
  std::string protocol = "https", suffix = "core.windows.net";
  std::optional<std::string> blob_endpoint;
  if (auto cs = non_empty(env, std::string(kConnectionString))) {
    auto kv = parse_connection_string(*cs);
    a.source = std::string(kConnectionString);
    auto get = [&](const char* key) -> std::optional<std::string> {
      auto it = kv.find(key);
      if (it == kv.end() || it->second.empty()) return std::nullopt;
      return it->second;
    };
    if (auto dev = get("usedevelopmentstorage"); dev && codec::iequals(*dev, "true")) {
      refuse_other_account(std::string(kDevAccount), account, "UseDevelopmentStorage=true");
      a.key = make_shared_key(account, kDevAccountKey, "the development account");
      blob_endpoint = "http://127.0.0.1:10000/" + std::string(kDevAccount);
    } else {
      if (auto name = get("accountname")) refuse_other_account(*name, account, a.source);
      if (auto key = get("accountkey"))
        a.key = make_shared_key(account, *key, a.source + " (AccountKey)");
      else if (auto sas = get("sharedaccesssignature"))
        a.sas_token = strip_question_mark(*sas);
      else
        throw Error(ErrorKind::Invalid,
                    fmt::format("{} has neither AccountKey nor SharedAccessSignature", kConnectionString));
      if (auto p = get("defaultendpointsprotocol")) protocol = codec::to_lower(*p);
      if (protocol != "https" && protocol != "http")
        throw Error(ErrorKind::Invalid,
                    fmt::format("{}: DefaultEndpointsProtocol must be https or http", kConnectionString));
      if (auto s = get("endpointsuffix")) suffix = *s;
      blob_endpoint = get("blobendpoint");
    }
  } else if (auto key = non_empty(env, "AZURE_STORAGE_KEY")) {
    a.source = "AZURE_STORAGE_KEY";
    if (auto named = non_empty(env, "AZURE_STORAGE_ACCOUNT"))
      refuse_other_account(*named, account, "AZURE_STORAGE_ACCOUNT");
    a.key = make_shared_key(account, *key, a.source);
  } else if (auto sas = non_empty(env, "AZURE_STORAGE_SAS_TOKEN")) {
    a.source = "AZURE_STORAGE_SAS_TOKEN";
    if (auto named = non_empty(env, "AZURE_STORAGE_ACCOUNT"))
      refuse_other_account(*named, account, "AZURE_STORAGE_ACCOUNT");
    a.sas_token = strip_question_mark(*sas);
  }
  if (endpoint_option)
    a.endpoint = checked_endpoint(*endpoint_option, "the store URI's endpoint option");
  else if (blob_endpoint)
    a.endpoint = checked_endpoint(*blob_endpoint, "BlobEndpoint in " + std::string(kConnectionString));
  else
    a.endpoint = checked_endpoint(protocol + "://" + account + ".blob." + suffix, "the derived Blob endpoint");
  return a;
}

}  // namespace sacker::azure
