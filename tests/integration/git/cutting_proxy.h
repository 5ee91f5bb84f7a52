// A TCP proxy on 127.0.0.1 in front of `git daemon` that cuts the first push (a
// receive-pack connection that sends a pack) at a chosen point, and passes every other
// connection through. Deterministic: it cuts on what it sees in the stream, not on time.
//   DuringPack:   forwards the commands and the pack header, then closes both sides: the
//                 server gets a truncated pack and updates nothing.
//   BeforeReport: forwards the whole push and closes both sides when the server starts
//                 its report ("unpack ok"), which receive-pack sends only after it has
//                 updated the refs: the change is published, the writer never hears so.
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace sacker::git_test {

class CuttingProxy {
 public:
  enum class Cut { DuringPack, BeforeReport };

  CuttingProxy(int upstream_port, Cut cut) : upstream_port_(upstream_port), cut_(cut) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = loopback(0);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::listen(listener_, 16);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~CuttingProxy() {
    stop_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    acceptor_.join();
    for (auto& t : pumps_) t.join();
  }
  CuttingProxy(const CuttingProxy&) = delete;
  CuttingProxy& operator=(const CuttingProxy&) = delete;

  int port() const { return port_; }
  bool has_cut() const { return done_; }

 private:
  static sockaddr_in loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    return addr;
  }

  void accept_loop() {
    for (;;) {
      int client = ::accept(listener_, nullptr, nullptr);
      if (client < 0) return;  // stopped
      int server = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr = loopback(upstream_port_);
      if (::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(client);
        ::close(server);
        continue;
      }
      pumps_.emplace_back([this, client, server] { pump(client, server); });
    }
  }

  static bool send_all(int fd, const char* data, std::size_t size) {
    while (size > 0) {
      auto n = ::send(fd, data, size, MSG_NOSIGNAL);
      if (n <= 0) return false;
      data += n;
      size -= static_cast<std::size_t>(n);
    }
    return true;
  }

  void pump(int client, int server) {
    std::string upstream;  // what the client sent so far (the first bytes name the service)
    bool pushing = false, pack_seen = false;
    char buf[65536];
    for (bool open = true; open && !stop_;) {
      pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      if (::poll(fds, 2, 200) < 0) break;
      if (fds[0].revents) {
        auto n = ::recv(client, buf, sizeof buf, 0);
        if (n <= 0) break;
        std::string chunk(buf, static_cast<std::size_t>(n));
        const std::size_t from = upstream.size() < 3 ? 0 : upstream.size() - 3;
        upstream += chunk;
        pushing = pushing || upstream.find("git-receive-pack") != std::string::npos;
        auto pack = upstream.find("PACK", from);
        if (pushing && !pack_seen && pack != std::string::npos && !done_) {
          pack_seen = true;
          if (cut_ == Cut::DuringPack) {
            const std::size_t keep = pack + 12 - (upstream.size() - chunk.size());  // the pack header only
            send_all(server, chunk.data(), std::min(keep, chunk.size()));
            done_ = true;
            break;
          }
        }
        open = send_all(server, chunk.data(), chunk.size());
      }
      if (open && fds[1].revents) {
        auto n = ::recv(server, buf, sizeof buf, 0);
        if (n <= 0) break;
        if (pack_seen && cut_ == Cut::BeforeReport && !done_ &&
            std::string(buf, static_cast<std::size_t>(n)).find("unpack ") != std::string::npos) {
          done_ = true;
          break;
        }
        open = send_all(client, buf, static_cast<std::size_t>(n));
      }
    }
    ::close(client);
    ::close(server);
  }

  int upstream_port_;
  Cut cut_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false}, done_{false};
  std::thread acceptor_;
  std::vector<std::thread> pumps_;  // touched by the acceptor only, joined after it
};

}  // namespace sacker::git_test
