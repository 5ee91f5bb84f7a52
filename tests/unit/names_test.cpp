#include "sacker/names.h"

#include <gtest/gtest.h>

#include "sacker/error.h"
#include "sacker/spec.h"

using namespace sacker;

namespace {

ErrorKind kind_of(void (*fn)(std::string_view), std::string_view arg) {
  try {
    fn(arg);
  } catch (const Error& e) {
    return e.kind();
  }
  return ErrorKind::Internal;  // "did not throw"
}

}  // namespace

TEST(Names, PackageNamesAcceptTheDocumentedAlphabet) {
  const std::string longest(128, 'x');
  for (const std::string& ok :
       {std::string("frontend-server"), std::string("a"), std::string("A.b_c-1"), std::string("0day"), longest})
    EXPECT_NO_THROW(validate_package_name(ok)) << ok;
}

TEST(Names, PackageNamesRejectEscapesAndJunk) {
  const std::string too_long(129, 'x');
  const std::string cases[] = {"",  "../x", "a/b",  ".hidden", "-flag", "a b",    "a\nb", std::string("a\0b", 3),
                               "ä", "a:b",  "a\\b", "..",      ".",     too_long, "a*",   "%2e%2e"};
  for (const auto& bad : cases) EXPECT_EQ(kind_of(validate_package_name, bad), ErrorKind::Invalid) << printable(bad);
}

TEST(Names, ErrorMessagesEscapeControlBytes) {
  try {
    validate_package_name("a\x1b[31mred");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find('\x1b'), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("\\x1b"), std::string::npos) << e.what();
  }
}

TEST(Names, TagsAreNeverAllDigits) {
  EXPECT_EQ(kind_of(validate_tag_name, "123"), ErrorKind::Invalid);
  EXPECT_NO_THROW(validate_tag_name("v123"));
  EXPECT_NO_THROW(validate_tag_name("live"));
}

TEST(Names, LatestIsReservedForUsers) {
  EXPECT_NO_THROW(validate_tag_name("latest"));
  EXPECT_EQ(kind_of(validate_user_tag, "latest"), ErrorKind::Invalid);
  EXPECT_NO_THROW(validate_user_tag("latest2"));
}

TEST(Names, BasenamesArePlainFileNames) {
  for (const char* ok : {"a.jar", "frontend server.tar.gz", "..a", "ä.bin"})
    EXPECT_NO_THROW(validate_basename(ok)) << ok;
  for (const char* bad : {"", ".", "..", "../x", "/etc/passwd", "a/b", "a\\b", "a\nb"})
    EXPECT_EQ(kind_of(validate_basename, bad), ErrorKind::Invalid) << bad;
}

// Found by fuzz_validate_record: such a record passed validation, then record_to_json
// (--json, export) threw nlohmann's type_error (exit 1) on the invalid UTF-8.
TEST(Names, BasenamesAndMetadataValuesAreUtf8) {
  for (const char* ok : {"caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x93\xa6", "\xf4\x8f\xbf\xbf"}) {
    EXPECT_NO_THROW(validate_basename(ok)) << ok;
    EXPECT_NO_THROW(validate_metadata_value(ok)) << ok;
  }
  // stray byte, truncated, overlong, surrogate, above U+10FFFF, bad continuation
  for (const char* bad :
       {"a\xff.b", "caf\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x28\xa1"}) {
    EXPECT_EQ(kind_of(validate_basename, bad), ErrorKind::Invalid) << bad;
    EXPECT_EQ(kind_of(validate_metadata_value, bad), ErrorKind::Invalid) << bad;
  }
}

TEST(Names, Sha256Hex) {
  EXPECT_TRUE(is_valid_sha256_hex(std::string(64, 'a')));
  EXPECT_FALSE(is_valid_sha256_hex(std::string(64, 'A')));
  EXPECT_FALSE(is_valid_sha256_hex(std::string(63, 'a')));
  EXPECT_FALSE(is_valid_sha256_hex(std::string(63, 'a') + "g"));
}

TEST(Spec, DigitsAreVersionsTagsAreTags) {
  EXPECT_EQ(parse_spec("23").kind, Spec::Kind::Version);
  EXPECT_EQ(parse_spec("23").version, 23u);
  EXPECT_EQ(parse_spec("latest").kind, Spec::Kind::Latest);
  EXPECT_EQ(parse_spec("live").kind, Spec::Kind::Tag);
  EXPECT_EQ(parse_spec("live").tag, "live");
  EXPECT_EQ(parse_spec("1700000000000").version, 1700000000000u);
}

TEST(Spec, RejectsBadSpecs) {
  for (const char* bad : {"", "0", "../x", "99999999999999999999999", "-1", "a/b"}) {
    try {
      parse_spec(bad);
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Invalid) << bad;
    }
  }
}

TEST(ExitCodes, AreTheDocumentedOnes) {
  EXPECT_EQ(exit_code(ErrorKind::Internal), 1);
  EXPECT_EQ(exit_code(ErrorKind::Invalid), 2);
  EXPECT_EQ(exit_code(ErrorKind::NotFound), 3);
  EXPECT_EQ(exit_code(ErrorKind::Conflict), 4);
  EXPECT_EQ(exit_code(ErrorKind::Integrity), 5);
  EXPECT_EQ(exit_code(ErrorKind::Denied), 6);
  EXPECT_EQ(exit_code(ErrorKind::Unavailable), 7);
  EXPECT_EQ(exit_code(ErrorKind::LocalIO), 8);
}

TEST(Printable, EscapesAndCutsAtTheLimit) {
  EXPECT_EQ(printable("a\nb\\c\x7f"), "a\\x0ab\\x5cc\\x7f");
  EXPECT_EQ(printable(std::string(80, 'x')), std::string(80, 'x'));
  EXPECT_EQ(printable(std::string(81, 'x')), std::string(80, 'x') + "...");
  EXPECT_EQ(printable("abcdef", 3), "abc...");
  EXPECT_EQ(printable("abc", 3), "abc");
}
