#include "azure/shared_key.h"

#include <fmt/core.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <map>
#include <vector>

#include "core/codec.h"
#include "sacker/error.h"

namespace sacker::azure {
namespace {

std::tm utc(std::chrono::system_clock::time_point t) {
  std::time_t s = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&s, &tm);
  return tm;
}

std::string header_or_empty(const net::HttpHeaders& headers, std::string_view name) {
  const std::string* v = net::find_header(headers, name);
  return v ? *v : std::string();
}

}  // namespace

SharedKey make_shared_key(std::string account, std::string_view base64_key, std::string_view source) {
  auto raw = codec::base64_decode(codec::trim(base64_key));
  if (!raw || raw->empty())
    throw Error(ErrorKind::Invalid, fmt::format("the Azure account key from {} is not valid base64", source));
  return SharedKey{std::move(account), std::move(*raw)};
}

std::string iso8601_seconds(std::chrono::system_clock::time_point t) {
  std::tm tm = utc(t);
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
}

namespace {

// The service sorts x-ms-* names by this alphabet, not by byte value ('_' before
// letters and digits); the Python SDK emulates it the same way. Other bytes sort after.
struct ServiceHeaderOrder {
  static int weight(char c) {
    static constexpr std::string_view kAlphabet =
        "-!#$%&*.^_|~+\"'(),/`~0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]abcdefghijklmnopqrstuvwxyz{}";
    const auto at = kAlphabet.find(c);
    return at == std::string_view::npos ? 256 + static_cast<unsigned char>(c) : static_cast<int>(at);
  }
  bool operator()(const std::string& a, const std::string& b) const {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                        [](char x, char y) { return weight(x) < weight(y); });
  }
};

}  // namespace

std::string canonicalized_headers(const net::HttpHeaders& headers) {
  std::map<std::string, std::string, ServiceHeaderOrder> ms;
  for (const auto& [name, value] : headers) {
    std::string lname = codec::to_lower(codec::trim(name));
    if (lname.rfind("x-ms-", 0) != 0) continue;
    auto [it, fresh] = ms.emplace(lname, codec::trim_all(value));
    if (!fresh) it->second += "," + codec::trim_all(value);
  }
  std::string out;
  for (const auto& [name, value] : ms) out += name + ":" + value + "\n";
  return out;
}

std::string canonicalized_resource(std::string_view account, std::string_view url) {
  net::UrlParts u = net::parse_url(url);
  std::string out = "/" + std::string(account) + u.path;
  std::map<std::string, std::vector<std::string>> params;
  std::string_view query = u.query;
  while (!query.empty()) {
    const auto amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (item.empty()) continue;
    const auto eq = item.find('=');
    auto name = codec::percent_decode(item.substr(0, eq), true);
    auto value = codec::percent_decode(eq == std::string_view::npos ? "" : item.substr(eq + 1), true);
    if (!name || !value) throw Error(ErrorKind::Invalid, "Azure request URL: a malformed percent escape in the query");
    params[codec::to_lower(*name)].push_back(std::move(*value));
  }
  for (auto& [name, values] : params) {
    std::sort(values.begin(), values.end());
    out += "\n" + name + ":";
    for (std::size_t i = 0; i < values.size(); ++i) out += (i ? "," : "") + values[i];
  }
  return out;
}

std::string string_to_sign(std::string_view method, std::string_view url, const net::HttpHeaders& headers,
                           std::uint64_t content_length, std::string_view account) {
  std::string out(method);
  out += "\n";
  for (const char* name : {"Content-Encoding", "Content-Language"}) out += header_or_empty(headers, name) + "\n";
  out += (content_length == 0 ? std::string() : std::to_string(content_length)) + "\n";
  for (const char* name : {"Content-MD5", "Content-Type", "Date", "If-Modified-Since", "If-Match", "If-None-Match",
                           "If-Unmodified-Since", "Range"})
    out += header_or_empty(headers, name) + "\n";
  out += canonicalized_headers(headers);
  out += canonicalized_resource(account, url);
  return out;
}

std::string signature(const SharedKey& key, std::string_view text) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key.key.data(), static_cast<int>(key.key.size()),
            reinterpret_cast<const unsigned char*>(text.data()), text.size(), mac, &len))
    throw Error(ErrorKind::Internal, "HMAC-SHA256 failed");
  return codec::base64_encode(std::string_view(reinterpret_cast<const char*>(mac), len));
}

std::string sign_request(net::HttpRequest& request, std::uint64_t content_length, const SharedKey& key,
                         std::chrono::system_clock::time_point time) {
  net::remove_header(request.headers, "Authorization");
  net::set_header(request.headers, "x-ms-date", codec::http_date(std::chrono::system_clock::to_time_t(time)));
  if (!net::find_header(request.headers, "x-ms-version"))
    request.headers.emplace_back("x-ms-version", std::string(kApiVersion));
  std::string text = string_to_sign(request.method, request.url, request.headers, content_length, key.account);
  request.headers.emplace_back("Authorization", "SharedKey " + key.account + ":" + signature(key, text));
  return text;
}

std::string blob_sas_query(const SharedKey& key, const BlobSasParams& p, std::string* string_to_sign) {
  const std::string start = p.start ? iso8601_seconds(*p.start) : std::string();
  const std::string expiry = iso8601_seconds(p.expiry);
  // permissions, start, expiry, resource, identifier, IP, protocol, version, resource
  // type, snapshot time, encryption scope, rscc, rscd, rsce, rscl, rsct
  const std::string text = fmt::format("{}\n{}\n{}\n/blob/{}/{}/{}\n\n\n{}\n{}\nb\n\n\n\n\n\n\n", p.permissions, start,
                                       expiry, key.account, p.container, p.blob, p.protocol, p.version);
  if (string_to_sign) *string_to_sign = text;
  std::string q = "sv=" + codec::percent_encode(p.version);
  if (p.start) q += "&st=" + codec::percent_encode(start);
  q += "&se=" + codec::percent_encode(expiry) + "&sr=b&sp=" + codec::percent_encode(p.permissions);
  if (!p.protocol.empty()) q += "&spr=" + codec::percent_encode(p.protocol);
  q += "&sig=" + codec::percent_encode(signature(key, text));
  return q;
}

}  // namespace sacker::azure
