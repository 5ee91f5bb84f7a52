// Unit tests of the pure core: URIs, records, config resolution, durations.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "sacker/config.h"
#include "sacker/error.h"
#include "sacker/record.h"
#include "sacker/spec.h"
#include "sacker/uri.h"
#include "support/records.h"
#include "support/test_env.h"

using namespace sacker;

namespace {

using test::kind_of;

EnvLookup fake_env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

}  // namespace

TEST(Uri, SplitsSchemeAuthorityPathAndQuery) {
  auto u = parse_uri("S3://my-bucket/some/prefix?region=eu-west-1&flag");
  EXPECT_EQ(u.scheme, "s3");
  EXPECT_EQ(u.authority, "my-bucket");
  EXPECT_EQ(u.path, "/some/prefix");
  EXPECT_EQ(u.query.at("region"), "eu-west-1");
  EXPECT_EQ(u.query.at("flag"), "");
  auto f = parse_uri("sqlite:///var/lib/sacker/ledger.db");
  EXPECT_EQ(f.authority, "");
  EXPECT_EQ(f.path, "/var/lib/sacker/ledger.db");
  auto z = parse_uri("zk://h1:2181,h2:2181/sacker");
  EXPECT_EQ(z.authority, "h1:2181,h2:2181");
  EXPECT_EQ(parse_uri("file:///a%20b").path, "/a b");
}

TEST(Uri, RejectsMalformedUris) {
  for (const char* bad : {"", "nothing", "://x", "sqlite:/x", "file:///a%zz", "file:///a%2", "s3://b\x01",
                          "sqlite:///tmp/a%00b.db", "s3://b/p?x=%00"})
    EXPECT_EQ(kind_of([&] { parse_uri(bad); }), ErrorKind::Invalid) << bad;
}

TEST(Uri, RedactsPasswordsAndSecretQueryValues) {
  EXPECT_EQ(redact_uri("postgres://bob:hunter2@db:5432/x"), "postgres://***@db:5432/x");
  EXPECT_EQ(redact_uri("s3://b/p?X-Amz-Signature=abc&region=us"), "s3://b/p?X-Amz-Signature=***&region=us");
  EXPECT_EQ(redact_uri("zk://h:1/x"), "zk://h:1/x");
  // The name as parse_uri decodes it decides (fuzz_uri's invariant): "pass%77ord" is "password".
  EXPECT_EQ(redact_uri("postgres://h/db?pass%77ord=hunter2&%74oken=t&a%zz=1"),
            "postgres://h/db?pass%77ord=***&%74oken=***&a%zz=1");
  try {
    parse_uri("postgres://bob:hunter2@db/x%zz");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
  }
}

TEST(Uri, SplitsAuthority) {
  auto a = split_authority("bob:pw@host:5432");
  EXPECT_EQ(a.user, "bob");
  EXPECT_EQ(a.password, "pw");
  EXPECT_EQ(a.host, "host");
  EXPECT_EQ(a.port, "5432");
  auto v6 = split_authority("[::1]:80");
  EXPECT_EQ(v6.host, "[::1]");
  EXPECT_EQ(v6.port, "80");
}

TEST(Record, JsonRoundTrip) {
  VersionRecord r{"frontend-server",     23,   std::string(64, 'a'), 12345,
                  "frontend server.jar", 0755, 1763925000,           {{"commit", "abc"}, {"note", "caf\xc3\xa9"}}};
  EXPECT_EQ(record_from_json(record_to_json(r)), r);
  EXPECT_NE(record_to_json(r).find("\"created\":\"2025-11-23T19:10:00Z\""), std::string::npos) << record_to_json(r);
}

// Found by fuzz_record: "0026-11-23T19:30:00Z" was accepted but written back as
// "26-11-23T19:30:00Z", which sacker could not read (export/import broke).
TEST(Record, TimesRoundTripInFourDigitYears) {
  EXPECT_EQ(format_utc(parse_utc("0026-11-23T19:30:00Z")), "0026-11-23T19:30:00Z");
  EXPECT_EQ(format_utc(parse_utc("0000-01-01T00:00:00Z")), "0000-01-01T00:00:00Z");
  EXPECT_EQ(format_utc(parse_utc("9999-12-31T23:59:59Z")), "9999-12-31T23:59:59Z");
  EXPECT_EQ(parse_utc("2026-11-23T19:30:00Z"), 1795462200);
  // sscanf's leniency: signs, spaces and fields out of range would not read back.
  for (const char* bad : {"+999-01-01T00:00:00Z", " 999-01-01T00:00:00Z", "2024-13-01T00:00:00Z",
                          "2024-02-30T00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01T00:+1:00Z"})
    EXPECT_EQ(kind_of([&] { parse_utc(bad); }), ErrorKind::Invalid) << bad;
  VersionRecord r{"p", 1, std::string(64, 'a'), 0, "b", 0644, -62000000000, {}};  // year 0005
  EXPECT_EQ(record_from_json(record_to_json(r)), r);
  const std::int64_t out_of_range[] = {-62167219201, 253402300800, INT64_MIN, INT64_MAX};
  for (std::int64_t created : out_of_range) {
    r.created = created;  // format_utc cannot write these as RFC 3339
    EXPECT_EQ(kind_of([&] { validate_record(r); }), ErrorKind::Invalid) << created;
    const std::string json = "{\"package\":\"p\",\"version\":1,\"sha256\":\"" + std::string(64, 'a') +
                             "\",\"basename\":\"b\",\"created\":" + std::to_string(created) + "}";
    EXPECT_EQ(kind_of([&] { record_from_json(json); }), ErrorKind::Invalid) << json;
  }
}

TEST(Record, HostileJsonIsRefusedNamingTheField) {
  std::string sha(64, 'a');
  auto with = [&](const std::string& field, const std::string& value) {
    std::map<std::string, std::string> f = {{"package", "\"p\""},  {"version", "1"},  {"sha256", "\"" + sha + "\""},
                                            {"basename", "\"b\""}, {"mode", "420"},   {"size", "1"},
                                            {"created", "0"},      {"metadata", "{}"}};
    f[field] = value;
    std::string j = "{";
    for (const auto& [k, v] : f) j += (j.size() > 1 ? "," : "") + ("\"" + k + "\":" + v);
    return j + "}";
  };
  EXPECT_NO_THROW(record_from_json(with("mode", "420")));
  const std::pair<std::string, std::string> cases[] = {{"basename", "\"../x\""},
                                                       {"basename", "\"/etc/passwd\""},
                                                       {"basename", "\"\""},
                                                       {"package", "\"a/b\""},
                                                       {"sha256", "\"abc\""},
                                                       {"sha256", "\"" + std::string(64, 'G') + "\""},
                                                       {"mode", "99999"},
                                                       {"mode", "-1"},
                                                       {"version", "0"},
                                                       {"version", "\"1\""},
                                                       {"metadata", "{\"k\":1}"},
                                                       {"metadata", "{\"bad key\":\"v\"}"},
                                                       {"created", "\"yesterday\""}};
  for (const auto& [field, value] : cases) {
    try {
      record_from_json(with(field, value));
      ADD_FAILURE() << field << "=" << value;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Invalid);
      EXPECT_NE(std::string(e.what()).find("malformed record") != std::string::npos ||
                    std::string(e.what()).find("invalid") != std::string::npos,
                false)
          << e.what();
    }
  }
  EXPECT_EQ(kind_of([] { record_from_json("[1,2]"); }), ErrorKind::Invalid);
  EXPECT_EQ(kind_of([] { record_from_json("{"); }), ErrorKind::Invalid);
}

TEST(Config, DefaultIsSqliteAndFilesUnderTheDataDirectory) {
  auto c = resolve_config({}, fake_env({{"HOME", "/nonexistent-home"}}));
  EXPECT_EQ(c.ledger, "sqlite:///nonexistent-home/.local/share/sacker/ledger.db");
  EXPECT_EQ(c.stores, std::vector<std::string>{"file:///nonexistent-home/.local/share/sacker/blobs"});
  auto x = resolve_config({}, fake_env({{"HOME", "/h"}, {"XDG_DATA_HOME", "/xdg"}}));
  EXPECT_EQ(x.ledger, "sqlite:///xdg/sacker/ledger.db");
}

TEST(Config, PrecedenceFlagsEnvFileDefault) {
  auto dir = test::make_temp_dir("sacker-config");
  test::write_file(dir / "c.json", R"({"ledger": "s3://file-ledger", "store": ["file:///cache", "s3://remote"]})");
  std::string file = (dir / "c.json").string();
  auto from_file = resolve_config({}, fake_env({{"HOME", "/h"}, {"SACKER_CONFIG", file}}));
  EXPECT_EQ(from_file.ledger, "s3://file-ledger");
  EXPECT_EQ(from_file.stores, (std::vector<std::string>{"file:///cache", "s3://remote"}));
  auto from_env = resolve_config(
      {},
      fake_env({{"HOME", "/h"}, {"SACKER_CONFIG", file}, {"SACKER_LEDGER", "zk://e/x"}, {"SACKER_STORE", "s3://e"}}));
  EXPECT_EQ(from_env.ledger, "zk://e/x");
  EXPECT_EQ(from_env.stores, std::vector<std::string>{"s3://e"});
  auto from_flags = resolve_config({std::string("etcd://f"), std::string("file:///f"), file},
                                   fake_env({{"SACKER_LEDGER", "zk://e/x"}}));
  EXPECT_EQ(from_flags.ledger, "etcd://f");
  EXPECT_EQ(from_flags.stores, std::vector<std::string>{"file:///f"});
  std::filesystem::remove_all(dir);
}

TEST(Config, MalformedOrMissingExplicitConfigIsAnError) {
  auto dir = test::make_temp_dir("sacker-config");
  for (const char* bad :
       {"{", "[]", R"({"ledger": 5})", R"({"store": []})", R"({"store": [1]})", R"({"extra": "x"})"}) {
    test::write_file(dir / "bad.json", bad);
    EXPECT_EQ(kind_of([&] {
                resolve_config({std::nullopt, std::nullopt, (dir / "bad.json").string()}, fake_env({}));
              }),
              ErrorKind::Invalid)
        << bad;
  }
  EXPECT_EQ(kind_of([&] {
              resolve_config({}, fake_env({{"SACKER_CONFIG", (dir / "none.json").string()}}));
            }),
            ErrorKind::NotFound);
  // A missing ~/.sacker.json is fine.
  EXPECT_NO_THROW(resolve_config({}, fake_env({{"HOME", dir.string()}})));
  std::filesystem::remove_all(dir);
}

TEST(Duration, UnitsAndErrors) {
  EXPECT_EQ(parse_duration_seconds("90"), 90);
  EXPECT_EQ(parse_duration_seconds("90s"), 90);
  EXPECT_EQ(parse_duration_seconds("15m"), 900);
  EXPECT_EQ(parse_duration_seconds("24h"), 86400);
  EXPECT_EQ(parse_duration_seconds("7d"), 604800);
  for (const char* bad : {"", "h", "-1h", "1w", "1.5h", "99999999999999999999"})
    EXPECT_EQ(kind_of([&] { parse_duration_seconds(bad); }), ErrorKind::Invalid) << bad;
}
