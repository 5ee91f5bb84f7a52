#include "cli/progress.h"

#include <fmt/core.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>

namespace sacker::cli {
namespace {

class TerminalProgress final : public Progress {
 public:
  explicit TerminalProgress(std::string label) : label_(std::move(label)) {}
  ~TerminalProgress() override {
    if (drawn_) std::fputs("\r\x1b[K", stderr);
  }
  void start(std::uint64_t total) override {
    total_ = total;
    done_ = 0;
    begin_ = std::chrono::steady_clock::now();
    draw(true);
  }
  void advance(std::uint64_t bytes) override {
    done_ += bytes;
    draw(false);
  }
  void finish() override {
    if (drawn_) std::fputs("\r\x1b[K", stderr);
    drawn_ = false;
  }

 private:
  void draw(bool force) {
    auto now = std::chrono::steady_clock::now();
    if (!force && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    winsize ws{};
    int width = (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) ? ws.ws_col : 80;
    double seconds = std::chrono::duration<double>(now - begin_).count();
    double rate = seconds > 0 ? static_cast<double>(done_) / seconds / (1 << 20) : 0;
    double fraction = total_ ? static_cast<double>(done_) / static_cast<double>(total_) : 0;
    std::string tail =
        fmt::format(" {:3.0f}% {:.1f}/{:.1f} MiB {:.0f} MiB/s", fraction * 100, static_cast<double>(done_) / (1 << 20),
                    static_cast<double>(total_) / (1 << 20), rate);
    int bar = std::max(10, width - static_cast<int>(label_.size() + tail.size()) - 4);
    int filled = static_cast<int>(fraction * bar);
    std::string line = label_ + " [" + std::string(static_cast<std::size_t>(filled), '#') +
                       std::string(static_cast<std::size_t>(bar - filled), ' ') + "]" + tail;
    std::fprintf(stderr, "\r%s", line.substr(0, static_cast<std::size_t>(width - 1)).c_str());
    std::fflush(stderr);
    drawn_ = true;
  }

  std::string label_;
  std::uint64_t total_ = 0, done_ = 0;
  std::chrono::steady_clock::time_point begin_, last_;
  bool drawn_ = false;
};

}  // namespace

std::unique_ptr<Progress> make_progress(const std::string& label, bool quiet) {
  if (quiet || !::isatty(STDERR_FILENO)) return nullptr;
  return std::make_unique<TerminalProgress>(label);
}

}  // namespace sacker::cli
