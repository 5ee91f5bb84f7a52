// serve::Server's front (serve/http_server.h): the cpp-httplib engine does the work
// (serve/http_engine.h). And TerminationSignals.
#include <pthread.h>

#include <string>

#include "serve/http_engine.h"

namespace sacker::serve {

Server::Server(Router router, ServerOptions options)
    : host_(options.host), engine_(make_http_engine(std::move(router), std::move(options))) {}

Server::~Server() = default;  // the engine stops

void Server::start() { engine_->start(); }

int Server::port() const { return engine_->port_number(); }

std::string Server::url() const {
  return "http://" + (host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_) + ":" +
         std::to_string(port());
}

void Server::stop() { engine_->stop(); }

TerminationSignals::TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, &old_mask_);
}

TerminationSignals::~TerminationSignals() { pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr); }

int TerminationSignals::wait() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

}  // namespace sacker::serve
