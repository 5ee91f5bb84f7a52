#include "support/test_env.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>

#include "sacker/sha256.h"

namespace sacker::test {

void load_test_env() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* file = std::getenv("SACKER_TEST_ENV_FILE");
    if (!file || !*file) return;
    std::ifstream in(file);
    if (!in)
      throw std::runtime_error(std::string("SACKER_TEST_ENV_FILE ") + file + " cannot be read (is the server up?)");
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      auto eq = line.find('=');
      if (eq == std::string::npos) continue;
      ::setenv(line.substr(0, eq).c_str(), line.substr(eq + 1).c_str(), 1);
    }
  });
}

std::string unique_token() {
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device rd;
  std::mt19937_64 rng((static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^ static_cast<std::uint64_t>(::getpid()));
  std::string out;
  out += alphabet[rng() % 26];
  for (int i = 0; i < 11; ++i) out += alphabet[rng() % 36];
  return out;
}

std::string expand_template(const std::string& tmpl, const std::string& unique) {
  std::string out;
  for (std::size_t i = 0; i < tmpl.size();) {
    if (tmpl[i] == '{') {
      auto close = tmpl.find('}', i);
      if (close == std::string::npos) throw std::runtime_error("unbalanced { in " + tmpl);
      std::string name = tmpl.substr(i + 1, close - i - 1);
      if (name == "unique") {
        out += unique;
      } else {
        const char* v = std::getenv(name.c_str());
        if (!v) throw std::runtime_error("template " + tmpl + " needs $" + name + ", which is not set");
        out += v;
      }
      i = close + 1;
    } else {
      out += tmpl[i++];
    }
  }
  return out;
}

std::filesystem::path make_temp_dir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed for " + tmpl);
  return buf.data();
}

std::string write_random_file(const std::filesystem::path& path, std::size_t size, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  Sha256 hash;
  std::string chunk;
  while (size > 0) {
    std::size_t n = std::min<std::size_t>(size, 1 << 20);
    chunk.resize(n);
    for (std::size_t i = 0; i < n; i += 8) {
      std::uint64_t r = rng();
      for (std::size_t j = 0; j < 8 && i + j < n; ++j) chunk[i + j] = static_cast<char>(r >> (8 * j));
    }
    out.write(chunk.data(), static_cast<std::streamsize>(n));
    hash.update(chunk.data(), n);
    size -= n;
  }
  if (!out) throw std::runtime_error("cannot write " + path.string());
  return hash.finish_hex();
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace sacker::test
