// Login sessions of the HTML pages: a random id in an HttpOnly, SameSite=Strict
// cookie, kept in memory with an expiry, each with its own CSRF token that every
// POST must carry. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "serve/site.h"

namespace sacker::serve {

// Equal without an early exit on the first difference (CRYPTO_memcmp). Session ids and
// CSRF tokens are random_hex(32) (core/random.h).
bool constant_time_equal(std::string_view a, std::string_view b);

struct WebSession {
  Principal principal;
  std::string csrf;
  std::int64_t expires = 0;  // Unix seconds
};

class Sessions {
 public:
  static constexpr const char* kCookie = "sacker_session";
  static constexpr std::int64_t kLifetimeSeconds = 8 * 3600;

  // A new session; returns its id (the cookie's value).
  std::string create(const Principal& principal, std::int64_t now);
  // The live session of `id`, or nullopt (unknown or expired; expired ones are dropped).
  std::optional<WebSession> find(std::string_view id, std::int64_t now);
  void remove(std::string_view id);

 private:
  std::mutex mutex_;
  std::map<std::string, WebSession, std::less<>> sessions_;
};

// The value of cookie `name` in a Cookie header, or "".
std::string cookie_value(std::string_view header, std::string_view name);

}  // namespace sacker::serve
