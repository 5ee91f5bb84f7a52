// minisign-format signatures, checked by Debian's `minisign` (the interop oracle,
// installed by scripts/install-deps.sh).
#include <gtest/gtest.h>

#include <filesystem>

#include "core/codec.h"
#include "sacker/error.h"
#include "sign/minisign.h"
#include "sign_test_keys.h"
#include "support/process.h"
#include "support/records.h"
#include "support/test_env.h"

using namespace sacker;
using namespace sacker::sign;

namespace {

struct Signed {
  std::filesystem::path file, pub, sig;
};

Signed sign_file(const std::string& content, const PrivateKey& key, const std::string& comment) {
  auto dir = test::make_temp_dir("sign-minisign");
  Signed s{dir / "blob.bin", dir / "key.pub", dir / "blob.bin.minisig"};
  test::write_file(s.file, content);
  test::write_file(s.pub, minisign_public_key(key.public_key()));
  test::write_file(s.sig, minisign_signature(key, blake2b512_file(s.file), comment));
  return s;
}

test::ProcessResult minisign_verify(const Signed& s) {
  return test::run_process({"minisign", "-V", "-m", s.file.string(), "-p", s.pub.string(), "-x", s.sig.string()});
}

}  // namespace

TEST(SignMinisign, MinisignVerifiesOurSignatures) {
  const PrivateKey key = PrivateKey::generate();
  Signed s = sign_file(std::string(100000, 'x') + "payload", key, "timestamp:1767225600\tfile:blob.bin");
  auto r = minisign_verify(s);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("timestamp:1767225600"), std::string::npos) << r.out;
}

TEST(SignMinisign, MinisignRefusesATamperedFileCommentOrKey) {
  const PrivateKey key = PrivateKey::generate();
  Signed s = sign_file("release bytes", key, "file:blob.bin");
  test::write_file(s.file, "release bytez");
  EXPECT_NE(minisign_verify(s).exit_code, 0);

  s = sign_file("release bytes", key, "file:blob.bin");
  std::string sig = test::read_file(s.sig);
  sig.replace(sig.find("file:blob.bin"), 13, "file:evil.bin");
  test::write_file(s.sig, sig);
  EXPECT_NE(minisign_verify(s).exit_code, 0);

  s = sign_file("release bytes", key, "file:blob.bin");
  test::write_file(s.pub, minisign_public_key(PrivateKey::generate().public_key()));
  EXPECT_NE(minisign_verify(s).exit_code, 0);
}

TEST(SignMinisign, KeyNumberIsOurKeyId) {
  const PrivateKey key = test::rfc8032_key();
  const std::string text = minisign_public_key(key.public_key());
  const std::string b64 = text.substr(text.find('\n') + 1, text.rfind('\n') - text.find('\n') - 1);
  const auto raw = codec::base64_decode(b64);
  ASSERT_TRUE(raw);
  ASSERT_EQ(raw->size(), 42u);
  EXPECT_EQ(raw->substr(0, 2), "Ed");
  EXPECT_EQ(codec::hex_encode(raw->substr(2, 8)), test::kRfc8032KeyId);
  EXPECT_EQ(codec::hex_encode(raw->substr(10)), test::kRfc8032PublicHex);
  EXPECT_EQ(test::error_of([&] { minisign_signature(key, blake2b512("x"), "two\nlines"); }).kind(), ErrorKind::Invalid);
}
