// kit/uri_options.h parse_host_list: the "user:password@h1:p1,h2" authority of the
// ZooKeeper, etcd and PostgreSQL URIs, credentials percent-decoded for all three.
#include <gtest/gtest.h>

#include <string>

#include "kit/uri_options.h"
#include "sacker/error.h"
#include "sacker/uri.h"

namespace sacker {
namespace {

TEST(HostList, PasswordPercentDecodedForEveryScheme) {
  for (const char* scheme : {"zk", "etcd", "postgres"}) {
    const Uri uri = parse_uri(std::string(scheme) + "://alice:p%40ss%3Aw@h1:2182,[::1],h3/x");
    const HostList list = parse_host_list(uri, 2181);
    EXPECT_EQ(list.user, "alice") << scheme;
    EXPECT_EQ(list.password, "p@ss:w") << scheme;
    ASSERT_EQ(list.hosts.size(), 3u) << scheme;
    EXPECT_EQ(list.hosts[0].host, "h1");
    EXPECT_EQ(list.hosts[0].port, 2182);
    EXPECT_EQ(list.hosts[1].host, "::1");
    EXPECT_EQ(list.hosts[1].port, 2181);
    EXPECT_EQ(list.hosts[2].host, "h3");
  }
}

TEST(HostList, BadAuthoritiesAreInvalid) {
  for (const char* bad : {"zk://a:b@/x", "zk://h1,,h2/x", "zk://h1:99999/x", "zk://a:p%4@h/x"}) {
    try {
      parse_host_list(parse_uri(bad), 2181);
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Invalid) << bad;
    }
  }
}

}  // namespace
}  // namespace sacker
