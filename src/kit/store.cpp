#include "sacker/store.h"

namespace sacker {

std::optional<std::string> Store::presigned_get_url(const std::string&, std::int64_t) { return std::nullopt; }
void Store::set_transfer_options(const TransferOptions&) {}
std::uint64_t Store::part_digest_size(std::uint64_t) { return 0; }
bool Store::put_digested_file(const std::filesystem::path& source, const FileDigest& digest, Progress* progress) {
  return put_file(digest.sha256, source, digest.size, progress);
}
std::vector<IncompleteUpload> Store::incomplete_uploads() { return {}; }
void Store::abort_upload(const IncompleteUpload&) {}

}  // namespace sacker
