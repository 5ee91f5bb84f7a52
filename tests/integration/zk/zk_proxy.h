// A TCP proxy between the ZooKeeper C client and one server, for fault tests:
// it can lose the reply to (or the request of) the first client packet that
// contains a marker, refuse connections for a while, and it records the session
// id of every ConnectRequest so a test can tell a resumed session from a new one.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace zktest {

class ZkProxy {
 public:
  enum class Drop { Nothing, Request, Reply };

  explicit ZkProxy(int server_port) : server_port_(server_port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener_, 16) != 0)
      throw std::runtime_error("proxy: cannot listen");
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::pipe(wake_);
    thread_ = std::thread([this] { run(); });
  }
  ~ZkProxy() {
    stop_ = true;
    (void)::write(wake_[1], "x", 1);
    thread_.join();
    for (auto& p : pairs_) close_pair(p);
    ::close(listener_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }

  int port() const { return port_; }

  // The next client packet containing `marker` loses its request (never reaches
  // the server) or its reply (the server applies it, the client never hears).
  // Then every connection is cut; with `refuse_after`, new ones are refused until
  // set_refusing(false).
  void arm(Drop what, std::string marker, bool refuse_after) {
    std::lock_guard lock(mutex_);
    drop_ = what;
    marker_ = std::move(marker);
    refuse_after_ = refuse_after;
    fired_ = false;
  }
  // Waits until the armed drop happened; false after `timeout`.
  bool wait_fired(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return fired_; });
  }
  void set_refusing(bool on) { refusing_ = on; }
  // Session ids of the ConnectRequests seen so far (0 = "start a new session").
  std::vector<std::int64_t> connect_sessions() {
    std::lock_guard lock(mutex_);
    return sessions_;
  }

 private:
  struct Pair {
    int client = -1, server = -1;
    bool first = true;  // still reading the ConnectRequest's first 28 bytes
    std::string head;
    bool swallow = false;  // drop the server's next reply, then cut everything
  };

  static void close_pair(Pair& p) {
    if (p.client >= 0) ::close(p.client);
    if (p.server >= 0) ::close(p.server);
    p.client = p.server = -1;
  }

  static bool write_all(int fd, const char* data, std::size_t n) {
    while (n > 0) {
      ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
      if (w <= 0) return false;
      data += w;
      n -= static_cast<std::size_t>(w);
    }
    return true;
  }

  void fire() {
    for (auto& p : pairs_) close_pair(p);
    if (refuse_after_) refusing_ = true;
    fired_ = true;
    drop_ = Drop::Nothing;
    cv_.notify_all();
  }

  void accept_one() {
    int c = ::accept(listener_, nullptr, nullptr);
    if (c < 0) return;
    if (refusing_) {
      ::close(c);
      return;
    }
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(server_port_));
    if (::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(s);
      ::close(c);
      return;
    }
    pairs_.push_back(Pair{c, s});
  }

  void from_client(Pair& p) {
    char buf[65536];
    ssize_t n = ::recv(p.client, buf, sizeof buf, 0);
    if (n <= 0) return close_pair(p);
    std::lock_guard lock(mutex_);
    if (p.first) {  // len, protocolVersion, lastZxidSeen, timeOut, sessionId (may come in pieces)
      p.head.append(buf, static_cast<std::size_t>(std::min<ssize_t>(n, 28)));
      if (p.head.size() >= 28) {
        std::uint64_t raw = 0;
        for (int i = 20; i < 28; ++i) raw = (raw << 8) | static_cast<unsigned char>(p.head[i]);
        sessions_.push_back(static_cast<std::int64_t>(raw));
        p.first = false;
      }
    }
    bool marked = drop_ != Drop::Nothing &&
                  std::string_view(buf, static_cast<std::size_t>(n)).find(marker_) != std::string_view::npos;
    if (marked && drop_ == Drop::Request) return fire();
    if (marked) p.swallow = true;
    if (!write_all(p.server, buf, static_cast<std::size_t>(n))) close_pair(p);
  }

  void from_server(Pair& p) {
    char buf[65536];
    ssize_t n = ::recv(p.server, buf, sizeof buf, 0);
    if (n <= 0) return close_pair(p);
    if (p.swallow) {
      std::lock_guard lock(mutex_);
      return fire();
    }
    if (!write_all(p.client, buf, static_cast<std::size_t>(n))) close_pair(p);
  }

  void run() {
    while (!stop_) {
      std::vector<pollfd> fds{{wake_[0], POLLIN, 0}, {listener_, POLLIN, 0}};
      for (auto& p : pairs_) {
        fds.push_back({p.client, POLLIN, 0});
        fds.push_back({p.server, POLLIN, 0});
      }
      if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
      if (fds[1].revents) accept_one();
      for (std::size_t i = 0; i < pairs_.size() && 2 + 2 * i + 1 < fds.size(); ++i) {
        if (pairs_[i].client >= 0 && fds[2 + 2 * i].revents) from_client(pairs_[i]);
        if (pairs_[i].server >= 0 && fds[3 + 2 * i].revents) from_server(pairs_[i]);
      }
      if (refusing_)
        for (auto& p : pairs_) close_pair(p);
      std::erase_if(pairs_, [](const Pair& p) { return p.client < 0; });
    }
  }

  int server_port_, port_ = 0, listener_ = -1, wake_[2] = {-1, -1};
  std::thread thread_;
  std::atomic<bool> stop_{false}, refusing_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Pair> pairs_;
  std::vector<std::int64_t> sessions_;
  Drop drop_ = Drop::Nothing;
  std::string marker_;
  bool refuse_after_ = false, fired_ = false;
};

}  // namespace zktest
