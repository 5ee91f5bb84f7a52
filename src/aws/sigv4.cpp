#include "aws/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/codec.h"

namespace sacker::aws {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

bool is_unreserved(unsigned char c) { return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Headers never signed: hop-by-hop or rewritten by proxies and by libcurl.
bool unsigned_header(const std::string& lname) {
  return lname == "authorization" || lname == "expect" || lname == "user-agent" || lname == "x-amzn-trace-id" ||
         lname == "content-length" || lname == "transfer-encoding" || lname == "connection";
}

// Removes dot segments and empty segments (AWS: consecutive slashes collapse).
std::string normalize_path(std::string_view path) {
  if (path.empty()) return "/";
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i <= path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view seg = path.substr(i, j - i);
    if (seg == "..") {
      if (!out.empty()) out.pop_back();
    } else if (!seg.empty() && seg != ".") {
      out.push_back(seg);
    }
    i = j + 1;
  }
  std::string result = path.front() == '/' ? "/" : "";
  for (std::size_t k = 0; k < out.size(); ++k) {
    if (k) result += '/';
    result += out[k];
  }
  if (path.back() == '/' && !out.empty()) result += '/';
  if (result.empty()) result = "/";
  return result;
}

struct CanonicalHeaders {
  std::string block;  // "name:value\n" lines
  std::string signed_names;
};

CanonicalHeaders canonical_headers(const net::HttpHeaders& headers) {
  std::map<std::string, std::string> merged;
  for (const auto& [name, value] : headers) {
    std::string lname = codec::to_lower(name);
    if (unsigned_header(lname)) continue;
    auto [it, inserted] = merged.try_emplace(lname, codec::trim_all(value));
    if (!inserted) it->second += "," + codec::trim_all(value);
  }
  CanonicalHeaders out;
  for (const auto& [name, value] : merged) {
    out.block += name + ":" + value + "\n";
    if (!out.signed_names.empty()) out.signed_names += ';';
    out.signed_names += name;
  }
  return out;
}

std::string credential_scope(std::string_view day, const SigningParams& p) {
  return fmt::format("{}/{}/{}/aws4_request", day, p.region, p.service);
}

void check_params(const SigningParams& p) {
  if (p.credentials.access_key_id.empty() || p.credentials.secret_access_key.empty())
    throw Error(ErrorKind::Invalid, "AWS signing: the access key id or the secret key is empty");
  if (p.region.empty() || p.service.empty())
    throw Error(ErrorKind::Invalid, "AWS signing: the region or the service is empty");
}

// Replaces the path and query of `url` (keeping scheme://authority).
std::string rebuild_url(std::string_view url, const std::string& path, const std::string& query) {
  std::size_t scheme_end = url.find("://");
  std::size_t auth_start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  std::size_t path_start = url.find_first_of("/?#", auth_start);
  std::string out(url.substr(0, path_start));
  out += path;
  if (!query.empty()) out += "?" + query;
  return out;
}

SignatureDetails finish(std::string canonical_request, std::string signed_headers, const SigningParams& p) {
  SignatureDetails d;
  const std::string day = amz_day(p.time);
  d.canonical_request = std::move(canonical_request);
  d.string_to_sign = fmt::format("{}\n{}\n{}\n{}", kAlgorithm, amz_date(p.time), credential_scope(day, p),
                                 sha256_hex(d.canonical_request));
  const std::string key = signing_key(p.credentials.secret_access_key, day, p.region, p.service);
  d.signature = hex_encode(hmac_sha256(key, d.string_to_sign));
  d.signed_headers = std::move(signed_headers);
  d.authorization = fmt::format("{} Credential={}/{}, SignedHeaders={}, Signature={}", kAlgorithm,
                                p.credentials.access_key_id, credential_scope(day, p), d.signed_headers, d.signature);
  return d;
}

}  // namespace

std::string uri_encode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c) || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::string uri_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
            data.size(), out, &len))
    throw Error(ErrorKind::Internal, "HMAC-SHA256 failed in OpenSSL");
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string sha256_hex(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr))
    throw Error(ErrorKind::Internal, "SHA-256 failed in OpenSSL");
  return hex_encode(std::string_view(reinterpret_cast<const char*>(out), len));
}

std::string hex_encode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char ch : bytes) {
    auto c = static_cast<unsigned char>(ch);
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xF]);
  }
  return out;
}

std::string amz_date(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string amz_day(std::chrono::system_clock::time_point t) { return amz_date(t).substr(0, 8); }

std::string signing_key(std::string_view secret, std::string_view day, std::string_view region,
                        std::string_view service) {
  std::string k = hmac_sha256("AWS4" + std::string(secret), day);
  k = hmac_sha256(k, region);
  k = hmac_sha256(k, service);
  return hmac_sha256(k, "aws4_request");
}

std::string canonical_uri(std::string_view path, std::string_view service) {
  if (service == "s3") {
    // Encoded once, exactly as on the wire (sign_request made the wire form canonical).
    return path.empty() ? "/" : std::string(path);
  }
  return uri_encode(normalize_path(path), /*keep_slash=*/true);
}

std::string canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  std::size_t i = 0;
  while (i < query.size()) {
    std::size_t j = query.find('&', i);
    if (j == std::string_view::npos) j = query.size();
    std::string_view item = query.substr(i, j - i);
    if (!item.empty()) {
      std::size_t eq = item.find('=');
      std::string_view name = item.substr(0, eq);
      std::string_view value = eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1);
      params.emplace_back(uri_encode(uri_decode(name), false), uri_encode(uri_decode(value), false));
    }
    i = j + 1;
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    out += name + "=" + value;
  }
  return out;
}

SignatureDetails sign_request(net::HttpRequest& request, std::string_view payload_hash, const SigningParams& params) {
  check_params(params);
  net::UrlParts url = net::parse_url(request.url);
  const bool s3 = params.service == "s3";

  // Make the wire URL canonical so what is signed is what is sent.
  std::string path = s3 ? uri_encode(uri_decode(url.path), /*keep_slash=*/true) : url.path;
  std::string query = canonical_query(url.query);
  request.url = rebuild_url(request.url, path, query);

  for (auto name : {"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-SHA256"})
    net::remove_header(request.headers, name);
  if (!net::find_header(request.headers, "host")) request.headers.emplace_back("Host", url.host_header());
  request.headers.emplace_back("X-Amz-Date", amz_date(params.time));
  if (s3) request.headers.emplace_back("X-Amz-Content-SHA256", std::string(payload_hash));
  if (!params.credentials.session_token.empty())
    request.headers.emplace_back("X-Amz-Security-Token", params.credentials.session_token);

  CanonicalHeaders ch = canonical_headers(request.headers);
  std::string creq = fmt::format("{}\n{}\n{}\n{}\n{}\n{}", request.method, canonical_uri(path, params.service), query,
                                 ch.block, ch.signed_names, payload_hash);
  SignatureDetails d = finish(std::move(creq), std::move(ch.signed_names), params);
  request.headers.emplace_back("Authorization", d.authorization);
  return d;
}

std::string presign_url(std::string_view method, std::string_view url_text, std::chrono::seconds expires,
                        const SigningParams& params, SignatureDetails* details) {
  check_params(params);
  if (expires < std::chrono::seconds(1) || expires > std::chrono::seconds(7 * 24 * 3600))
    throw Error(ErrorKind::Invalid,
                fmt::format("presigned URL: expiry must be 1 s to 7 days, not {} s", expires.count()));
  net::UrlParts url = net::parse_url(url_text);
  const bool s3 = params.service == "s3";
  std::string path = s3 ? uri_encode(uri_decode(url.path), true) : url.path;

  const std::string day = amz_day(params.time);
  std::string query = url.query;
  auto add = [&query](std::string_view name, std::string_view value) {
    if (!query.empty()) query += '&';
    query += uri_encode(name, false) + "=" + uri_encode(value, false);
  };
  add("X-Amz-Algorithm", kAlgorithm);
  add("X-Amz-Credential", params.credentials.access_key_id + "/" + credential_scope(day, params));
  add("X-Amz-Date", amz_date(params.time));
  add("X-Amz-Expires", std::to_string(expires.count()));
  if (!params.credentials.session_token.empty()) add("X-Amz-Security-Token", params.credentials.session_token);
  add("X-Amz-SignedHeaders", "host");
  query = canonical_query(query);

  std::string creq = fmt::format("{}\n{}\n{}\nhost:{}\n\nhost\n{}", method, canonical_uri(path, params.service), query,
                                 url.host_header(), kUnsignedPayload);
  SignatureDetails d = finish(std::move(creq), "host", params);
  std::string out = rebuild_url(url_text, path, query + "&X-Amz-Signature=" + d.signature);
  if (details) *details = std::move(d);
  return out;
}

}  // namespace sacker::aws
