// A small libcurl client for the serve tests: one request, the status, the header
// lines and the body (or only its length). The path is sent as it is (no dot-segment
// removal), so hostile paths reach the server untouched.
#pragma once

#include <curl/curl.h>
#include <strings.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sacker::serve::test {

struct Reply {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
  std::vector<std::string> header_lines;
  std::optional<std::string> header(std::string_view name) const {
    for (const auto& line : header_lines) {
      const auto colon = line.find(':');
      if (colon == std::string::npos || colon != name.size() || strncasecmp(line.data(), name.data(), colon) != 0)
        continue;
      auto v = line.substr(colon + 1);
      while (!v.empty() && (v.front() == ' ')) v.erase(0, 1);
      while (!v.empty() && (v.back() == '\r' || v.back() == '\n')) v.pop_back();
      return v;
    }
    return std::nullopt;
  }
};

struct Call {
  std::string method = "GET";
  std::vector<std::string> headers;
  std::optional<std::string> body;
  bool chunked = false;
  bool discard_body = false;  // count bytes only
  long timeout_ms = 20000;
};

class CurlClient {
 public:
  CurlClient() : curl_(curl_easy_init()) {}
  ~CurlClient() { curl_easy_cleanup(curl_); }
  CurlClient(const CurlClient&) = delete;
  CurlClient& operator=(const CurlClient&) = delete;

  Reply fetch(const std::string& url, const Call& call = {}) {
    Reply r;
    struct Upload {
      const std::string* data;
      std::size_t pos = 0;
    } upload{call.body ? &*call.body : nullptr};
    std::uint64_t discarded = 0;
    curl_easy_reset(curl_);
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, call.timeout_ms);
    curl_easy_setopt(curl_, CURLOPT_NOPROXY, "*");
    if (call.method == "HEAD") {
      curl_easy_setopt(curl_, CURLOPT_NOBODY, 1L);
    } else if (call.method != "GET") {
      curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, call.method.c_str());
    }
    curl_slist* list = nullptr;
    for (const auto& h : call.headers) list = curl_slist_append(list, h.c_str());
    if (call.body) {
      curl_easy_setopt(curl_, CURLOPT_UPLOAD, 1L);
      if (call.chunked) {
        list = curl_slist_append(list, "Transfer-Encoding: chunked");
      } else {
        curl_easy_setopt(curl_, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(call.body->size()));
      }
      list = curl_slist_append(list, "Expect:");
      curl_easy_setopt(curl_, CURLOPT_READDATA, &upload);
      curl_easy_setopt(
          curl_, CURLOPT_READFUNCTION, +[](char* buf, size_t size, size_t n, void* p) -> size_t {
            auto* u = static_cast<Upload*>(p);
            const std::size_t len = std::min(size * n, u->data->size() - u->pos);
            std::memcpy(buf, u->data->data() + u->pos, len);
            u->pos += len;
            return len;
          });
    }
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, list);
    if (call.discard_body) {
      curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &discarded);
      curl_easy_setopt(
          curl_, CURLOPT_WRITEFUNCTION, +[](char*, size_t size, size_t n, void* p) -> size_t {
            *static_cast<std::uint64_t*>(p) += size * n;
            return size * n;
          });
    } else {
      curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &r.body);
      curl_easy_setopt(
          curl_, CURLOPT_WRITEFUNCTION, +[](char* data, size_t size, size_t n, void* p) -> size_t {
            static_cast<std::string*>(p)->append(data, size * n);
            return size * n;
          });
    }
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &r.header_lines);
    curl_easy_setopt(
        curl_, CURLOPT_HEADERFUNCTION, +[](char* data, size_t size, size_t n, void* p) -> size_t {
          static_cast<std::vector<std::string>*>(p)->emplace_back(data, size * n);
          return size * n;
        });
    r.code = curl_easy_perform(curl_);
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(list);
    if (call.discard_body) r.body = std::to_string(discarded);
    return r;
  }

 private:
  CURL* curl_;
};

inline Reply fetch(const std::string& url, const Call& call = {}) {
  CurlClient c;
  return c.fetch(url, call);
}

}  // namespace sacker::serve::test
