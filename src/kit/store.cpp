#include "sacker/store.h"

namespace sacker {

std::optional<std::string> Store::presigned_get_url(const std::string&, std::int64_t) { return std::nullopt; }
std::vector<IncompleteUpload> Store::incomplete_uploads() { return {}; }
void Store::abort_upload(const IncompleteUpload&) {}

}  // namespace sacker
