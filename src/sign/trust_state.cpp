#include "sign/trust_state.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "core/files.h"
#include "sacker/error.h"
#include "sign/text_file.h"

namespace sacker::sign {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxStateBytes = 16 << 20;

json read_state(const std::filesystem::path& file) {
  auto text = read_text_file(file, "trust state", kMaxStateBytes, /*must_exist=*/false);
  if (!text) return json{{"format", 1}, {"ledgers", json::object()}};
  auto bad = [&](const char* why) {
    return Error(ErrorKind::Invalid, fmt::format("trust state {}: {} (move it away to start over, which forgets "
                                                 "what was accepted)",
                                                 file.string(), why));
  };
  json j;
  try {
    j = json::parse(*text);
  } catch (const json::exception&) {
    throw bad("not JSON");
  }
  if (!j.is_object() || j.value("format", 0) != 1 || !j.contains("ledgers") || !j["ledgers"].is_object())
    throw bad("not a format 1 trust state");
  for (const auto& [ledger, packages] : j["ledgers"].items()) {
    if (!packages.is_object()) throw bad("malformed ledger entry");
    for (const auto& [package, tags] : packages.items()) {
      if (!tags.is_object()) throw bad("malformed package entry");
      for (const auto& [tag, entry] : tags.items())
        if (!entry.is_object() || !entry.contains("generation") || !entry["generation"].is_number_unsigned() ||
            !entry.contains("version") || !entry["version"].is_number_unsigned())
          throw bad("malformed tag entry");
    }
  }
  return j;
}

// An exclusive flock on `path` for the object's lifetime.
class FileLock {
 public:
  explicit FileLock(const std::filesystem::path& path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd_ < 0) throw_errno("cannot open the lock file " + path.string(), errno);
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd_);
      throw_errno("cannot lock " + path.string(), err);
    }
  }
  ~FileLock() { ::close(fd_); }  // closing drops the lock
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace

TrustState::TrustState(std::filesystem::path dir)
    : dir_(std::move(dir)), file_(dir_ / "trust-state.json"), lock_(dir_ / "trust-state.lock") {}

std::optional<AcceptedPromotion> TrustState::accepted(const std::string& ledger, const std::string& package,
                                                      const std::string& tag) const {
  // No lock: the file is only ever replaced by rename, so this reads one whole version.
  const json state = read_state(file_);
  const json& ledgers = state["ledgers"];
  if (!ledgers.contains(ledger) || !ledgers[ledger].contains(package) || !ledgers[ledger][package].contains(tag))
    return std::nullopt;
  const json& entry = ledgers[ledger][package][tag];
  return AcceptedPromotion{entry["generation"].get<std::uint64_t>(), entry["version"].get<std::uint64_t>()};
}

TrustState::Outcome TrustState::accept(const std::string& ledger, const std::string& package, const std::string& tag,
                                       const AcceptedPromotion& promotion, bool allow_rollback) {
  make_directories(dir_);
  ::chmod(dir_.c_str(), 0700);  // best effort: what we trusted is nobody else's business
  FileLock lock(lock_);
  json state = read_state(file_);
  json& entry = state["ledgers"][ledger][package][tag];
  if (entry.is_object()) {
    const auto generation = entry["generation"].get<std::uint64_t>();
    if (promotion.generation == generation) return Outcome::Unchanged;
    if (promotion.generation < generation && !allow_rollback) return Outcome::Rollback;
  }
  entry = json{{"generation", promotion.generation}, {"version", promotion.version}};
  const std::string text = state.dump(1) + "\n";
  TempFile temp(dir_, "trust-state.json");
  temp.write(text.data(), text.size());
  temp.commit(file_, 0600);
  return Outcome::Recorded;
}

}  // namespace sacker::sign
