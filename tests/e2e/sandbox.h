// A temporary HOME in which the real sacker binary runs with the embedded default.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "support/process.h"
#include "support/test_env.h"

namespace sacker::test {

class Sandbox {
 public:
  Sandbox() : home_(make_temp_dir("sacker-e2e")) { std::filesystem::create_directories(home_ / "work"); }
  ~Sandbox() {
    std::error_code ec;
    std::filesystem::remove_all(home_, ec);
  }
  const std::filesystem::path& home() const { return home_; }
  std::filesystem::path work() const { return home_ / "work"; }
  std::filesystem::path data() const { return home_ / ".local/share/sacker"; }

  // Runs `sacker args...` in work() with HOME set to the sandbox and no other
  // sacker configuration in the environment.
  ProcessResult run(const std::vector<std::string>& args, const std::string& stdin_data = "",
                    const std::vector<std::string>& env = {}) const {
    std::vector<std::string> argv = {SACKER_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> full_env = {"HOME=" + home_.string(),
                                         "XDG_DATA_HOME=", "SACKER_CONFIG=", "SACKER_LEDGER=", "SACKER_STORE="};
    full_env.insert(full_env.end(), env.begin(), env.end());
    return run_process(argv, full_env, stdin_data, work());
  }

  std::filesystem::path write(const std::string& name, const std::string& content) const {
    auto p = work() / name;
    write_file(p, content);
    return p;
  }

 private:
  std::filesystem::path home_;
};

}  // namespace sacker::test
