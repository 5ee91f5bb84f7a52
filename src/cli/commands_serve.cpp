// sacker serve: the web pages and the JSON API over the configured ledger and store
// (src/serve/, docs/serve.md). Loopback and read-only by default.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <ctime>
#include <memory>

#include "cli/command.h"
#include "sacker/backends.h"
#include "sacker/error.h"
#include "sacker/names.h"
#include "sacker/uri.h"

#if SACKER_WITH_SERVE
#include "client/json_view.h"
#include "serve/api_support.h"
#include "serve/metrics.h"
#include "serve/site.h"
#include "serve/tokens.h"
#endif

namespace sacker::cli {
namespace {

void declare_serve(CLI::App& c, Args& a) {
  c.add_option("--listen", a.listen, "HOST:PORT to listen on (default 127.0.0.1:8080; port 0 picks a free one)");
  c.add_flag("--read-only", a.read_only, "serve without any write route (the default)");
  c.add_flag("--allow-writes", a.allow_writes, "let promote tokens (--tokens) move and remove tags");
  c.add_option_function<std::string>(
      "--tokens", [&a](const std::string& t) { a.tokens = t; },
      "the tokens file: one 'NAME SCOPE sha256:HEX' a line (needs --allow-writes)");
  c.add_option_function<std::string>(
      "--protect", [&a](const std::string& t) { a.protect = t; },
      "comma-separated tags whose promotion page asks to type the package name (default live)");
  c.add_option_function<std::string>(
      "--new-token", [&a](const std::string& t) { a.new_token = t; },
      "print a new secret for NAME once, and the line to add to the tokens file; serves nothing");
  c.add_option("--scope", a.scope, "with --new-token: read or promote (default read)");
}

#if SACKER_WITH_SERVE

struct Listen {
  std::string host;
  int port = 0;
};

Listen parse_listen(const std::string& text) {
  const auto bad = [&](const char* why) {
    return Error(ErrorKind::Invalid, fmt::format("invalid --listen '{}': {} (e.g. 127.0.0.1:8080, [::1]:0)",
                                                 printable(text), why));
  };
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) throw bad("HOST:PORT expected");
  std::string host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.back() != ']') throw bad("an IPv6 address goes in brackets");
    host = host.substr(1, host.size() - 2);
  }
  const std::string port_text = text.substr(colon + 1);
  int port = -1;
  if (!port_text.empty() && port_text.size() <= 5 && port_text.find_first_not_of("0123456789") == std::string::npos)
    port = std::stoi(port_text);
  if (port < 0 || port > 65535) throw bad("the port is a number from 0 to 65535");
  return {host, port};
}

std::vector<std::string> protected_tags(const std::optional<std::string>& text) {
  if (!text) return {"live"};
  std::vector<std::string> tags;
  for (std::size_t i = 0; i <= text->size();) {
    auto end = text->find(',', i);
    if (end == std::string::npos) end = text->size();
    std::string tag = text->substr(i, end - i);
    if (!tag.empty()) {
      validate_user_tag(tag);
      tags.push_back(tag);
    }
    i = end + 1;
  }
  return tags;
}

void new_token(Session& s, const Args& a) {
  auto token = serve::make_token(*a.new_token, serve::parse_scope(a.scope));
  if (s.json()) return s.out().json({{"name", *a.new_token}, {"scope", a.scope}, {"secret", token.secret}, {"line", token.line}});
  s.out().text(fmt::format(
      "secret (shown once, give it to the client as 'Authorization: Bearer <secret>'):\n{}\n\nadd this line to the "
      "tokens file (it holds only the secret's sha256):\n{}",
      token.secret, token.line));
}

void serve(Session& s, const Args& a) {
  if (a.new_token) return new_token(s, a);
  if (a.read_only && a.allow_writes) throw Error(ErrorKind::Invalid, "--read-only and --allow-writes exclude each other");
  if (a.allow_writes && !a.tokens)
    throw Error(ErrorKind::Invalid, "--allow-writes needs --tokens FILE (who may write, as whom)");
  if (a.tokens && !a.allow_writes)
    throw Error(ErrorKind::Invalid, "--tokens is for --allow-writes (reads need no token)");
  const Listen listen = parse_listen(a.listen);

  // Before any thread exists (libcurl's, the server's): SIGINT/SIGTERM are taken by wait().
  serve::TerminationSignals signals;

  serve::SiteOptions options;
  options.allow_writes = a.allow_writes;
  options.protected_tags = protected_tags(a.protect);
  options.sacker_version = SACKER_VERSION;
  const Config& config = s.config();
  options.ledger_uri = redact_uri(config.ledger);
  for (const auto& uri : config.stores) options.store_uri += (options.store_uri.empty() ? "" : ", ") + redact_uri(uri);

  serve::Authenticate authenticate;
  if (a.tokens) {
    std::vector<std::string> warnings;
    auto tokens = serve::TokenSet::load(*a.tokens, &warnings);
    for (const auto& w : warnings) report_line("warning: " + w);
    if (tokens.size() == 0) report_line(fmt::format("warning: tokens file {} has no tokens: every write gets 401", *a.tokens));
    authenticate = tokens.authenticator();
  }

  const ClientIdentity who = identity(s.globals());
  const std::string ledger_uri = config.ledger;
  const std::vector<std::string> store_uris = config.stores;
  serve::ClientPool pool([who, ledger_uri, store_uris] {
    return std::make_unique<Client>(open_ledger(ledger_uri), open_store_chain(store_uris), Client::Clock{}, who);
  });
  { auto first = pool.lease(); }  // a bad URI fails here, before we listen

  serve::Site site{pool, options, authenticate, [] { return static_cast<std::int64_t>(std::time(nullptr)); }};
  serve::Router router;
  // JSON errors for the API's own paths; the rest keeps the default (the pages set theirs).
  router.set_error_renderer([](const serve::Request& req, int status, std::string_view message, serve::Response& res) {
    if (req.raw_path.rfind("/api/", 0) == 0) {
      const ErrorKind kind = status == 404 ? ErrorKind::NotFound : status >= 500 ? ErrorKind::Unavailable
                                                                                : ErrorKind::Invalid;
      serve::api::send_error(res, kind, message);
      res.status = status;
    } else {
      res.status = status;
      res.set_body(fmt::format("{} {}\n", status, message), "text/plain; charset=utf-8");
    }
  });
  serve::add_api_routes(router, site);
  serve::add_page_routes(router, site);

  serve::ServerOptions server_options;
  server_options.host = listen.host;
  server_options.port = listen.port;
  server_options.default_headers.add("X-Content-Type-Options", "nosniff");
  server_options.access_log = [](std::string_view method, std::string_view target, int status, std::uint64_t bytes) {
    serve::metrics().response(status);
    // The target is all a line shows of a request: never a header (tokens travel there).
    std::string line = fmt::format("{} {} {} {}", display(std::string(method)), display(std::string(target)), status, bytes);
    report_line(line);
  };
  server_options.error_log = [](std::string_view message) { report_line(std::string(message)); };
  serve::Server server(std::move(router), server_options);
  server.start();
  std::printf("listening on %s\n", server.url().c_str());
  std::fflush(stdout);
  const int sig = signals.wait();
  if (!s.quiet()) report_line(fmt::format("stopping on signal {}", sig == SIGINT ? "INT" : "TERM"));
  server.stop();
}

#else

void serve(Session&, const Args&) {
  throw Error(ErrorKind::Invalid, "this sacker was built without serve (cmake -DSACKER_WITH_SERVE=OFF)");
}

#endif

}  // namespace

const std::vector<Command>& serve_commands() {
  static const std::vector<Command> commands = {
      {"serve", "serve web pages and a JSON API of the ledger (read-only, on loopback, by default)",
       "sacker serve [--listen HOST:PORT] [--read-only | --allow-writes --tokens FILE] [--protect TAGS] | "
       "--new-token NAME [--scope read|promote]",
       "sacker serve --listen 127.0.0.1:8080", declare_serve, serve},
  };
  return commands;
}

}  // namespace sacker::cli
