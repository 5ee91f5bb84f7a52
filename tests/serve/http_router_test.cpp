// The pure half of the HTTP layer: target parsing (hostile paths), query parsing,
// Range decisions, headers and routing, without a socket.
#include <gtest/gtest.h>

#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/codec.h"
#include "serve/http_server.h"

namespace sacker::serve {
namespace {

using Segments = std::vector<std::string>;

TEST(ParseTarget, SplitsAndDecodesEachSegmentOnce) {
  Request r;
  ASSERT_EQ(parse_target("/api/v1/packages/b%2Bc%20d/versions/23?x=1&y=a+b%2B&z", r), std::nullopt);
  EXPECT_EQ(r.raw_path, "/api/v1/packages/b%2Bc%20d/versions/23");
  EXPECT_EQ(r.segments, (Segments{"api", "v1", "packages", "b+c d", "versions", "23"}));
  EXPECT_EQ(r.raw_query, "x=1&y=a+b%2B&z");
  ASSERT_EQ(r.query.size(), 3u);
  EXPECT_EQ(r.query_value("y"), "a b+");
  EXPECT_EQ(r.query_value("z"), "");
  EXPECT_EQ(r.query_value("nope"), std::nullopt);

  ASSERT_EQ(parse_target("/", r), std::nullopt);
  EXPECT_TRUE(r.segments.empty());
  ASSERT_EQ(parse_target("/a/", r), std::nullopt);
  EXPECT_EQ(r.segments, (Segments{"a", ""}));
  ASSERT_EQ(parse_target("/a//b", r), std::nullopt);
  EXPECT_EQ(r.segments, (Segments{"a", "", "b"}));
  // "%2525" is "%25" once decoded, never "%" (no double decoding).
  ASSERT_EQ(parse_target("/%2525", r), std::nullopt);
  EXPECT_EQ(r.segments, (Segments{"%25"}));
}

TEST(ParseTarget, RefusesHostilePaths) {
  for (const char* target : {
           "",               // nothing
           "*",              // asterisk form
           "http://evil/x",  // absolute form
           "a/b",            // relative
           "/a/../b",
           "/..",
           "/.",
           "/a/./b",
           "/a/%2e%2e/b",
           "/a/%2E%2E",
           "/a/.%2e/b",
           "/%2e",  // dot segments, encoded
           "/a%2Fb",
           "/a%2fb",  // a '/' inside a segment
           "/a%5Cb",  // '\'
           "/x%00y",
           "/x%0ay",
           "/x%0D%0Ay",
           "/x%7f",
           "/x%09",  // control bytes
           "/%",
           "/%4",
           "/%zz",
           "/%u0041",  // bad escapes (cpp-httplib decodes %u0041 to 'A')
           "/ok?q=%00",
           "/ok?q=%zz",
           "/ok?%00=1",  // query
       }) {
    Request r;
    EXPECT_NE(parse_target(target, r), std::nullopt) << target;
  }
  // Raw bytes that are not escapes are left to the handler (names are validated there).
  Request r;
  EXPECT_EQ(parse_target("/caf\xc3\xa9", r), std::nullopt);
}

TEST(PercentDecode, StrictEscapes) {
  EXPECT_EQ(codec::percent_decode("a%41%62+c", false, true), "aAb+c");
  EXPECT_EQ(codec::percent_decode("a%41%62+c", true, true), "aAb c");
  EXPECT_EQ(codec::percent_decode("%00", false, true), std::string(1, '\0'));
  EXPECT_EQ(codec::percent_decode("%", false, true), std::nullopt);
  EXPECT_EQ(codec::percent_decode("%1", false, true), std::nullopt);
  EXPECT_EQ(codec::percent_decode("%g0", false, true), std::nullopt);
  EXPECT_EQ(parse_query("a=1&&b"), (QueryPairs{{"a", "1"}, {"b", ""}}));
  EXPECT_EQ(parse_query("a=%3D%26&b=x=y"), (QueryPairs{{"a", "=&"}, {"b", "x=y"}}));
}

TEST(DecideRange, OneRangeClampedOthersIgnored) {
  using K = RangeDecision::Kind;
  struct Case {
    const char* header;
    std::uint64_t size;
    K kind;
    std::uint64_t offset = 0, length = 0;
  };
  const std::uint64_t big = std::numeric_limits<std::uint64_t>::max();
  for (const Case& c : std::vector<Case>{
           {"bytes=0-9", 100, K::Partial, 0, 10},
           {"bytes=90-200", 100, K::Partial, 90, 10},  // cpp-httplib: Content-Length 111
           {"bytes=99-", 100, K::Partial, 99, 1},
           {"bytes=0-", 100, K::Partial, 0, 100},
           {"bytes=-10", 100, K::Partial, 90, 10},
           {"bytes=-500", 100, K::Partial, 0, 100},
           {"bytes=0-99999999999999999999999", 100, K::Partial, 0, 100},  // saturates
           {"BYTES = 5-5 ", 100, K::Partial, 5, 1},
           {"bytes=100-", 100, K::Unsatisfiable},  // cpp-httplib: an empty 206
           {"bytes=200-", 100, K::Unsatisfiable},  // cpp-httplib: Content-Length 2^64-100
           {"bytes=-0", 100, K::Unsatisfiable},
           {"bytes=0-", 0, K::Unsatisfiable},
           {"bytes=-5", 0, K::Full},
           {"bytes=0-0,5-5", 100, K::Full},  // several ranges: ignored
           {"bytes=5-2", 100, K::Full},      // invalid: ignored
           {"items=0-1", 100, K::Full},
           {"bytes=a-b", 100, K::Full},
           {"bytes=", 100, K::Full},
           {"bytes=-", 100, K::Full},
           {"", 100, K::Full},
       }) {
    const auto d = decide_range(c.header, c.size);
    EXPECT_EQ(d.kind, c.kind) << c.header;
    if (c.kind == K::Partial) {
      EXPECT_EQ(d.offset, c.offset) << c.header;
      EXPECT_EQ(d.length, c.length) << c.header;
    }
  }
  const auto d = decide_range("bytes=18446744073709551614-", big);
  EXPECT_EQ(d.kind, K::Partial);
  EXPECT_EQ(d.length, 1u);
}

TEST(Headers, CaseInsensitiveAndNoInjection) {
  Headers h;
  h.add("ETag", "\"x\"");
  h.add("Vary", "a");
  h.add("vary", "b");
  EXPECT_EQ(h.get("etag"), "\"x\"");
  EXPECT_EQ(h.get("VARY"), "a");
  h.set("Vary", "c");
  EXPECT_EQ(h.fields().size(), 2u);
  EXPECT_EQ(h.get("vary"), "c");
  h.remove("ETAG");
  EXPECT_FALSE(h.has("ETag"));
  EXPECT_THROW(h.add("Location", "/x\r\nSet-Cookie: a=b"), std::invalid_argument);
  EXPECT_THROW(h.add("Location", "/x\n"), std::invalid_argument);
  EXPECT_THROW(h.add("Location", std::string("/x\0y", 4)), std::invalid_argument);
  EXPECT_THROW(h.add("Bad Name", "v"), std::invalid_argument);
  EXPECT_THROW(h.add("", "v"), std::invalid_argument);
}

struct Routed {
  Router router;
  std::string hit;
  Routed() {
    auto mark = [this](std::string name) {
      return [this, name](const Request& req, Response& res) {
        hit = name;
        for (const auto& [k, v] : req.params) hit += " " + k + "=" + v;
        res.set_body("ok", "text/plain");
      };
    };
    router.get("/", mark("root"));
    router.get("/packages/{name}", mark("package"));
    router.get("/packages/new", mark("new"));
    router.del("/packages/{name}", mark("delete"));
    router.get("/api/v1/packages/{name}/versions/{version}", mark("version"));
    router.post("/api/v1/packages/{name}/tags/{tag}", mark("tag"));
  }
  Response run(const std::string& method, const std::string& target) {
    hit.clear();
    Request req;
    req.method = method;
    req.target = target;
    EXPECT_EQ(parse_target(target, req), std::nullopt) << target;
    Response res;
    router.dispatch(req, res);
    return res;
  }
};

TEST(Router, LiteralBeatsParamWhateverTheOrder) {
  Routed t;
  EXPECT_EQ(t.run("GET", "/packages/new").status, 200);
  EXPECT_EQ(t.hit, "new");
  EXPECT_EQ(t.run("GET", "/packages/frontend").status, 200);
  EXPECT_EQ(t.hit, "package name=frontend");
  EXPECT_EQ(t.run("DELETE", "/packages/new").status, 200);  // only {name} has DELETE
  EXPECT_EQ(t.hit, "delete name=new");
  EXPECT_EQ(t.run("GET", "/").status, 200);
  EXPECT_EQ(t.hit, "root");
}

TEST(Router, CapturesDecodedSegments) {
  Routed t;
  EXPECT_EQ(t.run("GET", "/api/v1/packages/a.b%2Dc/versions/23").status, 200);
  EXPECT_EQ(t.hit, "version name=a.b-c version=23");
  EXPECT_EQ(t.run("GET", "/api/%761/packages/x/versions/1").status, 200);  // %76 is 'v'
  EXPECT_EQ(t.run("HEAD", "/api/v1/packages/x/versions/1").status, 200);   // HEAD runs GET
  EXPECT_EQ(t.hit, "version name=x version=1");
}

TEST(Router, NotFoundAndMethodNotAllowed) {
  Routed t;
  EXPECT_EQ(t.run("GET", "/packages").status, 404);
  EXPECT_EQ(t.run("GET", "/packages/").status, 404);  // {name} is never empty
  EXPECT_EQ(t.run("GET", "/packages//").status, 404);
  EXPECT_EQ(t.run("GET", "/api/v1/packages/x/versions/1/extra").status, 404);
  EXPECT_TRUE(t.hit.empty());
  auto res = t.run("PUT", "/packages/x");
  EXPECT_EQ(res.status, 405);
  EXPECT_EQ(res.headers.get("Allow"), "DELETE, GET, HEAD");
  res = t.run("GET", "/api/v1/packages/x/tags/live");
  EXPECT_EQ(res.status, 405);
  EXPECT_EQ(res.headers.get("Allow"), "POST");
}

TEST(Router, ErrorRenderer) {
  Routed t;
  t.router.set_error_renderer([](const Request& req, int status, std::string_view message, Response& res) {
    res.set_body("{\"status\":" + std::to_string(status) + ",\"error\":\"" + std::string(message) + "\",\"path\":\"" +
                     req.raw_path + "\"}",
                 "application/json");
  });
  const auto res = t.run("GET", "/nope");
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(res.body, "{\"status\":404,\"error\":\"no such page\",\"path\":\"/nope\"}");
  EXPECT_EQ(res.headers.get("Content-Type"), "application/json");
}

TEST(Router, RefusesBadOrClashingPatterns) {
  Router r;
  auto h = [](const Request&, Response&) {};
  r.get("/a/{x}", h);
  EXPECT_THROW(r.get("/a/{y}", h), std::invalid_argument);  // same shape
  EXPECT_NO_THROW(r.post("/a/{y}", h));
  EXPECT_NO_THROW(r.get("/a/b", h));
  for (const char* bad : {"", "a", "/a//b", "/a/", "/{x}/{x}", "/{a-b}", "/a/..", "/a%2F", "/{}"})
    EXPECT_THROW(r.get(bad, h), std::invalid_argument) << bad;
  EXPECT_THROW(r.add("GE T", "/x", h), std::invalid_argument);
}

}  // namespace
}  // namespace sacker::serve
