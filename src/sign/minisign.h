// minisign-format signatures (jedisct1.github.io/minisign), so a blob can be
// checked with the `minisign` tool where sacker is not installed:
//
//   minisign -Vm frontend.jar -p release.minisign.pub -x frontend.jar.minisig
//
// The sacker key is used as is (minisign keys are Ed25519 too); the minisign key
// number is our key id's 8 bytes. Signatures are the prehashed kind ("ED":
// Ed25519 over BLAKE2b-512 of the file), minisign's default since 0.8, plus the
// global signature over the signature and the trusted comment.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "sign/keys.h"

namespace sacker::sign {

// The text of a minisign public key file.
std::string minisign_public_key(const PublicKey& key);
// The text of a .minisig file for `blake2b512` (the 64-byte BLAKE2b-512 digest of
// the file). `trusted_comment` is signed too (one line: Error(Invalid) for a
// newline or control byte); the caller puts in it what it wants to show, e.g.
// "timestamp:1767225600\tfile:frontend.jar" (minisign's own form).
std::string minisign_signature(const PrivateKey& key, std::string_view blake2b512, std::string_view trusted_comment);
// BLAKE2b-512 of bytes / of a file (streamed).
std::string blake2b512(std::string_view bytes);
std::string blake2b512_file(const std::filesystem::path& path);

}  // namespace sacker::sign
