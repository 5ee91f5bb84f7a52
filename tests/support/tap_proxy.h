// A TCP tap between a client under test and its server (RadosGW, dynalite) for the integration
// tests: it can run an action before a chosen request reaches the server (the
// "other client" of a race, or killing the client), drop that request, delay
// every request, and log when each request started.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace sacker::test {

// Forwards 127.0.0.1:port() to the server. For the first client chunk that contains
// `marker`, runs `action` once (synchronously: the request waits), at the moment
// `When` says.
class TapProxy {
 public:
  struct Request {
    std::chrono::steady_clock::time_point at;
    std::string line;  // "GET /bucket/key?query HTTP/1.1"
  };

  explicit TapProxy(int server_port) : server_port_(server_port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener_, 64) != 0)
      throw std::runtime_error("tap: cannot listen");
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~TapProxy() {
    stop_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    acceptor_.join();
    for (auto& t : pumps_) t.join();
  }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  enum class When {
    before,        // then forward the request
    instead,       // then close the connection: the server never sees the request
    after_answer,  // forward the request; run when its answer arrives, then close
                   // the connection: the client never sees the answer
  };
  void on_request(std::string marker, std::function<void()> action, When when = When::before) {
    std::lock_guard<std::mutex> lock(mutex_);
    marker_ = std::move(marker);
    action_ = std::move(action);
    when_ = when;
    fired_ = false;
  }
  bool fired() {
    std::lock_guard<std::mutex> lock(mutex_);
    return fired_;
  }
  // Every request waits `delay` before it is forwarded (a far-away server).
  void delay_requests(std::chrono::milliseconds delay) { delay_ms_ = delay.count(); }
  std::vector<Request> requests() {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }
  void clear_requests() {
    std::lock_guard<std::mutex> lock(mutex_);
    requests_.clear();
  }

 private:
  void accept_loop() {
    while (!stop_) {
      int client = ::accept(listener_, nullptr, nullptr);
      if (client < 0) return;
      int server = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<std::uint16_t>(server_port_));
      if (::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(client);
        ::close(server);
        continue;
      }
      pumps_.emplace_back([this, client, server] { pump(client, server); });
    }
  }
  static bool starts_request(std::string_view chunk) {
    for (std::string_view m : {"GET ", "PUT ", "HEAD ", "DELETE ", "POST "})
      if (chunk.substr(0, m.size()) == m) return true;
    return false;
  }
  void pump(int client, int server) {
    char buf[65536];
    pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    std::function<void()> answer_action;  // to run when the server answers (When::after_answer)
    while (!stop_) {
      if (::poll(fds, 2, 100) <= 0) continue;
      bool closed = false;
      for (int i = 0; i < 2 && !closed; ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          if (i == 0) drain(server);
          closed = true;
          break;
        }
        std::string_view chunk(buf, static_cast<std::size_t>(n));
        if (i == 0 && starts_request(chunk)) {
          {
            std::lock_guard<std::mutex> lock(mutex_);
            requests_.push_back({std::chrono::steady_clock::now(), std::string(chunk.substr(0, chunk.find('\r')))});
          }
          if (delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_.load()));
        }
        if (i == 1 && answer_action) {
          answer_action();
          closed = true;
          break;
        }
        if (i == 0 && maybe_fire(chunk, answer_action)) {
          closed = true;
          break;
        }
        for (ssize_t off = 0; off < n;) {
          ssize_t w = ::write(fds[1 - i].fd, buf + off, static_cast<std::size_t>(n - off));
          if (w <= 0) {
            closed = true;
            break;
          }
          off += w;
        }
      }
      if (closed) break;
    }
    ::close(client);
    ::close(server);
  }
  // The client went away (or was killed) with a request maybe in flight: let the
  // server finish and answer it before closing (dynalite dies when a request it is
  // still reading is reset).
  void drain(int server) {
    char buf[4096];
    pollfd fd{server, POLLIN, 0};
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (std::chrono::steady_clock::now() < until && ::poll(&fd, 1, 100) >= 0)
      if ((fd.revents & (POLLIN | POLLHUP | POLLERR)) && ::read(server, buf, sizeof buf) <= 0) return;
  }
  // Runs the action if `chunk` has the marker (or leaves it in `later` for
  // When::after_answer); true if the chunk is to be dropped.
  bool maybe_fire(std::string_view chunk, std::function<void()>& later) {
    std::function<void()> action;
    When when;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (fired_ || marker_.empty() || chunk.find(marker_) == std::string_view::npos) return false;
      fired_ = true;
      action = action_;
      when = when_;
    }
    if (when == When::after_answer) {
      later = std::move(action);
      return false;
    }
    action();
    return when == When::instead;
  }

  int server_port_, port_ = 0, listener_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<long> delay_ms_{0};
  std::thread acceptor_;
  std::vector<std::thread> pumps_;
  std::mutex mutex_;
  std::string marker_;
  std::function<void()> action_;
  When when_ = When::before;
  bool fired_ = false;
  std::vector<Request> requests_;
};

}  // namespace sacker::test
