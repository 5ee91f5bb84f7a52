// The local journal of a resumable multipart upload (issue 10): which parts of an
// upload of one file to one store are on the server, so that an `add` interrupted
// by SIGKILL, Ctrl-C or a lost network continues the same upload instead of
// starting over. It works without any listing permission on the server (the
// PutObject-only CI user): the journal alone says which parts were sent, and the
// store re-reads and re-hashes every kept part against the journal before it
// trusts it.
//
// Where: $XDG_STATE_HOME/sacker/uploads/ (else ~/.local/state/sacker/uploads/), one
// file per (store, blob sha256, source device, inode, size, mtime in ns), named by
// the sha256 of that identity. A file whose content differs (a new mtime, another
// inode) has another identity and therefore no journal.
// Writes replace the file atomically (temp, fsync, rename); a journal that cannot
// be written (read-only home) only costs the resume, never the upload.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace sacker {

struct UploadJournalPart {
  std::string etag;    // as UploadPart answered it
  std::string sha256;  // hex of the part's bytes
};

struct UploadJournalState {
  std::string key;
  std::string upload_id;
  std::uint64_t part_size = 0;
  std::map<int, UploadJournalPart> parts;  // by part number (1-based)
  std::int64_t created = 0;                // Unix seconds
};

class UploadJournal {
 public:
  // `dir` empty: default_directory(). Reads the source's identity with stat.
  UploadJournal(const std::string& store, const std::string& sha256, const std::filesystem::path& source,
                std::uint64_t size, std::filesystem::path dir = {});

  // $XDG_STATE_HOME/sacker/uploads or $HOME/.local/state/sacker/uploads; empty if
  // neither variable is set.
  static std::filesystem::path default_directory();

  // The journal of this identity; nullopt if there is none, it is unreadable or
  // garbage, or it names another identity.
  std::optional<UploadJournalState> load() const;
  // Replaces the journal (thread-safe). Best effort: false if it cannot be written.
  bool save(const UploadJournalState& state);
  void remove() noexcept;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::string identity_;  // the canonical identity string (also stored in the file)
  std::filesystem::path path_;
  std::mutex mutex_;
};

}  // namespace sacker
