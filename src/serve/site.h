// What `sacker serve` serves: the JSON API (api.cpp) and the HTML pages (pages.cpp)
// are two sets of routes on one Router, over one Site. The CLI's `serve` command
// (src/cli/commands_serve.cpp) builds the Site from the configured ledger and store,
// adds both route sets, and runs a Server (http_server.h).
//
// This header is the seam between the two route sets: each sees the Site, never the
// other's code.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sacker/client.h"
#include "serve/http_server.h"

namespace sacker::serve {

// What a bearer token may do. Promote covers tag, untag and rollback; nothing the
// server offers adds or removes versions.
enum class Scope { Read, Promote };

struct Principal {
  std::string name;  // recorded as the actor of what it changes; never the secret
  Scope scope = Scope::Read;
};

// Checks a presented secret (a bearer token, or what a login form was given).
// nullopt: not a valid token. Must compare in constant time and be thread-safe.
using Authenticate = std::function<std::optional<Principal>(std::string_view secret)>;

struct SiteOptions {
  // false (--read-only, the default): no route changes anything; write routes answer
  // 403 and the pages show no forms.
  bool allow_writes = false;
  // Tags whose promotion pages require typing the package name (--protect).
  std::vector<std::string> protected_tags{"live"};
  std::string sacker_version;  // shown on the status page and in /api/v1/status
  std::string ledger_uri;      // redacted (redact_uri) before it is stored here
  std::string store_uri;       // redacted
};

// Clients on demand: a Client (and its ledger connection) is not thread-safe, so a
// request leases one for its duration. The pool keeps released clients for reuse.
class ClientPool {
 public:
  using Factory = std::function<std::unique_ptr<Client>()>;
  explicit ClientPool(Factory factory) : factory_(std::move(factory)) {}

  class Lease {
   public:
    Lease(ClientPool& pool, std::unique_ptr<Client> client) : pool_(&pool), client_(std::move(client)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (client_) pool_->release(std::move(client_));
    }
    Client& operator*() const { return *client_; }
    Client* operator->() const { return client_.get(); }

   private:
    ClientPool* pool_;
    std::unique_ptr<Client> client_;
  };

  // A free client, or a new one from the factory (whose errors propagate).
  Lease lease() {
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        auto client = std::move(free_.back());
        free_.pop_back();
        return Lease(*this, std::move(client));
      }
    }
    return Lease(*this, factory_());
  }

 private:
  void release(std::unique_ptr<Client> client) {
    std::lock_guard lock(mutex_);
    free_.push_back(std::move(client));
  }
  Factory factory_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Client>> free_;
};

// Records the changes of a leased client as `who` (the token's name is the actor) for
// one scope, and puts the client's own identity back after: leases are reused.
class ActingAs {
 public:
  ActingAs(Client& client, const Principal& who) : client_(client), saved_(client.identity()) {
    ClientIdentity as = saved_;
    as.actor = who.name;
    client_.set_identity(as);
  }
  ~ActingAs() { client_.set_identity(saved_); }
  ActingAs(const ActingAs&) = delete;
  ActingAs& operator=(const ActingAs&) = delete;

 private:
  Client& client_;
  ClientIdentity saved_;
};

struct Site {
  ClientPool& clients;
  SiteOptions options;
  // Empty when writes are off. With writes on, every write needs a Principal with
  // Scope::Promote; reads need no token.
  Authenticate authenticate;
  // Unix seconds (injectable for tests).
  std::function<std::int64_t()> now;
};

// /api/v1/..., /healthz, /metrics (api.cpp).
void add_api_routes(Router& router, Site& site);
// /, /packages/..., /history/..., /lookup, /status, forms, static assets (pages.cpp).
void add_page_routes(Router& router, Site& site);

}  // namespace sacker::serve
