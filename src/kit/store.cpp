#include "sacker/store.h"

namespace sacker {

std::optional<std::string> Store::presigned_get_url(const std::string&, std::int64_t) { return std::nullopt; }
void Store::set_transfer_options(const TransferOptions&) {}
std::vector<IncompleteUpload> Store::incomplete_uploads() { return {}; }
void Store::abort_upload(const IncompleteUpload&) {}

}  // namespace sacker
