// The pure parts of the WebHDFS client (src/hdfs/webhdfs_client.h): error kinds are
// decided on the RemoteException's class (never its message), the JSON shapes of the
// WebHDFS document, and the datanode URL a redirect may lead to.
#include <gtest/gtest.h>

#include <string>

#include "hdfs/webhdfs_client.h"
#include "sacker/error.h"

namespace sacker::hdfs {
namespace {

std::string remote(const std::string& exception, const std::string& message = "m") {
  return R"({"RemoteException":{"exception":")" + exception + R"(","javaClassName":"org.apache.hadoop.x.)" + exception +
         R"(","message":")" + message + R"("}})";
}

TEST(WebHdfsErrors, TheExceptionClassDecidesNotTheStatusOrMessage) {
  EXPECT_EQ(remote_exception(remote("StandbyException")), "StandbyException");
  EXPECT_EQ(remote_exception(R"({"RemoteException":{"javaClassName":"org.apache.hadoop.ipc.StandbyException"}})"),
            "StandbyException");
  EXPECT_EQ(remote_exception("<html>401</html>"), "");
  // Both are 403s; only the class tells them apart.
  EXPECT_EQ(remote_error("w", "OPEN", "/p", 403, remote("AccessControlException"), false).kind(), ErrorKind::Denied);
  EXPECT_EQ(remote_error("w", "OPEN", "/p", 403, remote("StandbyException"), false).kind(), ErrorKind::Unavailable);
  EXPECT_EQ(remote_error("w", "OPEN", "/p", 403, remote("FileAlreadyExistsException"), false).kind(),
            ErrorKind::Conflict);
  EXPECT_EQ(remote_error("w", "OPEN", "/p", 403, remote("EOFException"), false).kind(), ErrorKind::Invalid);
  EXPECT_EQ(remote_error("w", "OPEN", "/p", 404, remote("FileNotFoundException"), false).kind(), ErrorKind::NotFound);
  // A message that names another exception changes nothing.
  EXPECT_EQ(remote_error("w", "OPEN", "/p", 403, remote("AccessControlException", "StandbyException"), false).kind(),
            ErrorKind::Denied);
}

TEST(WebHdfsErrors, A401WithoutJsonUnderKerberosHintsAtKinit) {
  const Error e =
      remote_error("webhdfs://nn", "GETFILESTATUS", "/p", 401, "<html>Authentication required</html>", true);
  EXPECT_EQ(e.kind(), ErrorKind::Denied);
  EXPECT_NE(std::string(e.what()).find("kinit?"), std::string::npos) << e.what();
}

TEST(WebHdfsErrors, TokenMessagesAreNotRepeated) {
  const Error e = remote_error("w", "OPEN", "/p", 403, remote("InvalidToken", "token SECRET123 is expired"), false);
  EXPECT_EQ(e.kind(), ErrorKind::Denied);
  EXPECT_EQ(std::string(e.what()).find("SECRET123"), std::string::npos) << e.what();
}

TEST(WebHdfsJson, FileStatusAndListingPages) {
  const auto s = parse_file_status(
      R"({"FileStatus":{"pathSuffix":"","type":"FILE","length":12,"modificationTime":1700000000123,"fileId":16390}})",
      "w");
  EXPECT_FALSE(s.directory);
  EXPECT_EQ(s.length, 12u);
  EXPECT_EQ(s.modified_ms, 1700000000123);
  EXPECT_EQ(s.file_id, 16390u);
  const auto page = parse_list_page(
      R"({"DirectoryListing":{"partialListing":{"FileStatuses":{"FileStatus":[)"
      R"({"pathSuffix":"a","type":"FILE","length":1,"modificationTime":1},)"
      R"({"pathSuffix":"tmp","type":"DIRECTORY","length":0,"modificationTime":2}]}},"remainingEntries":3}})",
      "w");
  ASSERT_EQ(page.entries.size(), 2u);
  EXPECT_EQ(page.entries[1].name, "tmp");
  EXPECT_TRUE(page.entries[1].directory);
  EXPECT_EQ(page.remaining, 3u);
  EXPECT_EQ(parse_list_page(R"({"FileStatuses":{"FileStatus":[]}})", "w").entries.size(), 0u);  // LISTSTATUS
  EXPECT_TRUE(parse_boolean(R"({"boolean":true})", "w"));
  EXPECT_FALSE(parse_boolean(R"({"boolean":false})", "w"));
  for (const char* bad : {"[]", "{}", R"({"boolean":"true"})", "not json"})
    EXPECT_THROW(parse_boolean(bad, "w"), Error) << bad;
  EXPECT_THROW(parse_file_status(R"({"FileStatus":{"type":"FILE","length":-1,"modificationTime":1}})", "w"), Error);
}

TEST(WebHdfsUrls, PathsAreEncodedAndRedirectsChecked) {
  EXPECT_EQ(webhdfs_url_path("/user/a b/x%y"), "/webhdfs/v1/user/a%20b/x%25y");
  EXPECT_EQ(datanode_url("http://dn:9864/webhdfs/v1/x?op=OPEN", false, "", "w"), "http://dn:9864/webhdfs/v1/x?op=OPEN");
  EXPECT_EQ(datanode_url("http://dn:9864/webhdfs/v1/x?op=OPEN", false, "T0K", "w"),
            "http://dn:9864/webhdfs/v1/x?op=OPEN&delegation=T0K");
  EXPECT_EQ(datanode_url("http://dn:9864/webhdfs/v1/x?op=OPEN&delegation=NN", false, "T0K", "w"),
            "http://dn:9864/webhdfs/v1/x?op=OPEN&delegation=NN");
  // Over swebhdfs nothing goes in the clear; only http(s) is followed.
  EXPECT_THROW(datanode_url("http://dn:9864/webhdfs/v1/x?op=OPEN", true, "", "w"), Error);
  EXPECT_THROW(datanode_url("hdfs://nn:8020/x", false, "", "w"), Error);
}

}  // namespace
}  // namespace sacker::hdfs
