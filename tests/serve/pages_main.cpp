// serve_pages: the HTML pages (add_page_routes) on a ledger and a store, before the
// `sacker serve` command is merged; for trying the pages by hand and, later, the
// browser suite. Read-only: the write pages are not built yet.
//
//   serve_pages --ledger URI --store URI [--listen 127.0.0.1:0]
//
// Prints "listening on http://HOST:PORT" once it accepts connections; stops on
// SIGINT/SIGTERM (exit 0).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "sacker/backends.h"
#include "sacker/uri.h"
#include "serve/site.h"

namespace {

[[noreturn]] void usage() {
  std::fprintf(stderr, "usage: serve_pages --ledger URI --store URI [--listen HOST:PORT]\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  sacker::serve::TerminationSignals signals;  // before any thread exists
  sacker::serve::ServerOptions options;
  std::string ledger, store;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) usage();
    if (arg == "--ledger") {
      ledger = argv[++i];
    } else if (arg == "--store") {
      store = argv[++i];
    } else if (arg == "--listen") {
      const std::string hp = argv[++i];
      const auto colon = hp.rfind(':');
      if (colon == std::string::npos) usage();
      options.host = hp.substr(0, colon);
      options.port = std::atoi(hp.c_str() + colon + 1);
    } else {
      usage();
    }
  }
  if (ledger.empty() || store.empty()) usage();
  try {
    sacker::serve::ClientPool pool([&] {
      return std::make_unique<sacker::Client>(sacker::open_ledger(ledger), sacker::open_store(store),
                                              sacker::Client::Clock{},
                                              sacker::ClientIdentity{"serve_pages", "serve_pages test server"});
    });
    sacker::serve::Site site{pool, {}, {}, {}};
    site.options.ledger_uri = sacker::redact_uri(ledger);
    site.options.store_uri = sacker::redact_uri(store);
    site.options.sacker_version = "test";
    sacker::serve::Router router;
    sacker::serve::add_page_routes(router, site);
    sacker::serve::Server server(std::move(router), options);
    server.start();
    std::printf("listening on %s\n", server.url().c_str());
    std::fflush(stdout);
    signals.wait();
    server.stop();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "serve_pages: %s\n", e.what());
    return 1;
  }
  return 0;
}
