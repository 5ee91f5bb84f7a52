#include "serve/sessions.h"

#include <openssl/crypto.h>

#include "core/random.h"

namespace sacker::serve {

bool constant_time_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string Sessions::create(const Principal& principal, std::int64_t now) {
  std::string id = random_hex(32);
  std::lock_guard lock(mutex_);
  for (auto it = sessions_.begin(); it != sessions_.end();)  // drop the expired ones
    it = it->second.expires <= now ? sessions_.erase(it) : std::next(it);
  sessions_[id] = WebSession{principal, random_hex(32), now + kLifetimeSeconds};
  return id;
}

std::optional<WebSession> Sessions::find(std::string_view id, std::int64_t now) {
  if (id.empty()) return std::nullopt;
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  if (it->second.expires <= now) {
    sessions_.erase(it);
    return std::nullopt;
  }
  return it->second;
}

void Sessions::remove(std::string_view id) {
  std::lock_guard lock(mutex_);
  if (auto it = sessions_.find(id); it != sessions_.end()) sessions_.erase(it);
}

std::string cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const auto semi = header.find(';');
    std::string_view part = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    const auto eq = part.find('=');
    if (eq != std::string_view::npos && part.substr(0, eq) == name) return std::string(part.substr(eq + 1));
  }
  return "";
}

}  // namespace sacker::serve
