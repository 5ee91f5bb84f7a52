// Small local text files of the signing code (trust files, public keys, the
// trust state): read whole, bounded, with errors that name the file.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace sacker::sign {

// The contents of `path`, at most `max_bytes` (Error(Invalid) if longer), or
// nullopt if it does not exist and `must_exist` is false. Other failures throw
// Error with the errno's kind: "<what> <path>: <why>".
std::optional<std::string> read_text_file(const std::filesystem::path& path, std::string_view what,
                                          std::size_t max_bytes, bool must_exist = true);

}  // namespace sacker::sign
