#include "kit/upload_journal.h"

#include <fmt/core.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/files.h"
#include "sacker/error.h"
#include "sacker/names.h"
#include "sacker/sha256.h"

namespace sacker {
namespace {

constexpr int kFormat = 1;

}  // namespace

std::filesystem::path UploadJournal::default_directory() {
  const char* state = std::getenv("XDG_STATE_HOME");
  if (state && *state) return std::filesystem::path(state) / "sacker/uploads";
  const char* home = std::getenv("HOME");
  if (home && *home) return std::filesystem::path(home) / ".local/state/sacker/uploads";
  return {};
}

UploadJournal::UploadJournal(const std::string& store, const std::string& sha256, const std::filesystem::path& source,
                             std::uint64_t size, std::filesystem::path dir) {
  struct stat st {};
  if (::stat(source.c_str(), &st) != 0) return;  // no identity, no journal
  identity_ = fmt::format("store={}\nsha256={}\nsize={}\ndevice={}\ninode={}\nmtime_ns={}", store, sha256, size,
                          static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec);
  if (dir.empty()) dir = default_directory();
  if (dir.empty()) return;
  path_ = dir / (Sha256::hex_of(identity_.data(), identity_.size()) + ".json");
}

std::optional<UploadJournalState> UploadJournal::load() const {
  if (path_.empty()) return std::nullopt;
  std::ifstream in(path_);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  try {
    const auto j = nlohmann::json::parse(text.str());
    if (j.at("format").get<int>() != kFormat || j.at("identity").get<std::string>() != identity_) return std::nullopt;
    UploadJournalState s;
    s.key = j.at("key").get<std::string>();
    s.upload_id = j.at("upload_id").get<std::string>();
    s.part_size = j.at("part_size").get<std::uint64_t>();
    s.created = j.at("created").get<std::int64_t>();
    for (const auto& p : j.at("parts")) {
      UploadJournalPart part{p.at("etag").get<std::string>(), p.at("sha256").get<std::string>()};
      const int number = p.at("number").get<int>();
      if (number < 1 || !is_valid_sha256_hex(part.sha256) || part.etag.empty()) return std::nullopt;
      s.parts[number] = std::move(part);
    }
    if (s.upload_id.empty() || s.part_size == 0) return std::nullopt;
    return s;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;  // garbage: start clean
  }
}

bool UploadJournal::save(const UploadJournalState& state) {
  if (path_.empty()) return false;
  nlohmann::ordered_json j;
  j["format"] = kFormat;
  j["identity"] = identity_;
  j["key"] = state.key;
  j["upload_id"] = state.upload_id;
  j["part_size"] = state.part_size;
  j["created"] = state.created;
  j["parts"] = nlohmann::json::array();
  for (const auto& [n, p] : state.parts) j["parts"].push_back({{"number", n}, {"etag", p.etag}, {"sha256", p.sha256}});
  const std::string text = j.dump();
  std::lock_guard lock(mutex_);
  try {
    make_directories(path_.parent_path());
    TempFile tmp(path_.parent_path(), path_.filename().string());
    tmp.write(text.data(), text.size());
    tmp.commit(path_, 0600);
    return true;
  } catch (const Error&) {
    return false;
  }
}

void UploadJournal::remove() noexcept {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove(path_, ec);
}

}  // namespace sacker
