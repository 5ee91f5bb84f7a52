// in-toto statements of versions and promotions, and the ledger id.
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "sacker/error.h"
#include "sign/dsse.h"
#include "sign/ledger_id.h"
#include "sign/statement.h"
#include "sign_test_keys.h"
#include "support/records.h"

using namespace sacker;
using namespace sacker::sign;
using nlohmann::json;
using sacker::test::error_of;

namespace {

const char* kLedger = "s3://ledger-bucket/prod";

VersionRecord record23() {
  VersionRecord r = test::sample_record("frontend", 23);
  r.version = 23;
  r.sha256 = std::string(64, 'a');
  r.created = 1767225600;  // 2026-01-01T00:00:00Z
  r.metadata = {{"git", "abc123"}, {"branch", "main"}};
  return r;
}

// `payload` parsed, edited, dumped again (canonical), for the strictness tests.
std::string edited(const std::string& payload, const std::function<void(json&)>& edit) {
  json j = json::parse(payload);
  edit(j);
  return j.dump();
}

}  // namespace

TEST(SignStatement, VersionStatementIsExactlyThis) {
  const std::string text = statement_json(version_statement(record23(), kLedger));
  EXPECT_EQ(text,
            "{\"_type\":\"https://in-toto.io/Statement/v1\","
            "\"predicate\":{\"basename\":\"build-23.jar\",\"created\":\"2026-01-01T00:00:00Z\","
            "\"ledger\":\"s3://ledger-bucket/prod\",\"metadata\":{\"branch\":\"main\",\"git\":\"abc123\"},"
            "\"mode\":420,\"package\":\"frontend\",\"sha256\":\"" +
                std::string(64, 'a') +
                "\",\"size\":123,\"version\":23},"
                "\"predicateType\":\"https://sacker.dev/version/v1\","
                "\"subject\":[{\"digest\":{\"sha256\":\"" +
                std::string(64, 'a') + "\"},\"name\":\"frontend@23\"}]}");
  const VersionStatement back = parse_version_statement(text);
  EXPECT_EQ(back, version_statement(record23(), kLedger));
  EXPECT_EQ(predicate_type_of(text), std::string(kVersionPredicate));
  // Empty metadata is an empty object, and the signatures of the record are not part of it.
  VersionRecord bare = record23();
  bare.metadata.clear();
  bare.signatures = {"{}"};
  const std::string bare_text = statement_json(version_statement(bare, kLedger));
  EXPECT_NE(bare_text.find("\"metadata\":{}"), std::string::npos) << bare_text;
  EXPECT_EQ(parse_version_statement(bare_text).record.signatures.size(), 0u);
}

TEST(SignStatement, PromotionStatementIsExactlyThis) {
  const Event first = test::tag_event(record23(), "live", 41);
  const std::string text = statement_json(promotion_statement(first, kLedger));
  EXPECT_EQ(text,
            "{\"_type\":\"https://in-toto.io/Statement/v1\","
            "\"predicate\":{\"generation\":41,\"ledger\":\"s3://ledger-bucket/prod\",\"package\":\"frontend\","
            "\"previous\":null,\"sha256\":\"" +
                std::string(64, 'a') +
                "\",\"tag\":\"live\",\"time\":\"2023-11-14T22:22:21Z\",\"version\":23},"
                "\"predicateType\":\"https://sacker.dev/promotion/v1\","
                "\"subject\":[{\"digest\":{\"sha256\":\"" +
                std::string(64, 'a') + "\"},\"name\":\"frontend@23\"}]}");
  EXPECT_EQ(parse_promotion_statement(text), promotion_statement(first, kLedger));
  const Event move = test::tag_event(record23(), "live", 42, 19);
  const PromotionStatement s = parse_promotion_statement(statement_json(promotion_statement(move, kLedger)));
  EXPECT_EQ(s.previous, std::optional<std::uint64_t>(19));
  EXPECT_EQ(s.generation, 42u);
  EXPECT_EQ(s.tag, "live");
  Event rollback = move;
  rollback.action = EventAction::Rollback;
  EXPECT_NO_THROW(promotion_statement(rollback, kLedger));
}

TEST(SignStatement, StatementsAndEnvelopesAreDeterministic) {
  const PrivateKey key = test::rfc8032_key();
  const VersionRecord r = record23();
  EXPECT_EQ(statement_json(version_statement(r, kLedger)), statement_json(version_statement(r, kLedger)));
  EXPECT_EQ(sign_version(r, kLedger, key), sign_version(r, kLedger, key));
  const Event e = test::tag_event(r, "live", 7);
  EXPECT_EQ(sign_promotion(e, kLedger, key), sign_promotion(e, kLedger, key));
  // A different ledger, package or version gives a different statement.
  VersionRecord other = r;
  other.package = "backend";
  EXPECT_NE(sign_version(other, kLedger, key), sign_version(r, kLedger, key));
  EXPECT_NE(sign_version(r, "s3://other", key), sign_version(r, kLedger, key));
  const Envelope env = envelope_from_json(sign_version(r, kLedger, key));
  EXPECT_EQ(env.payload_type, kInTotoPayloadType);
  EXPECT_EQ(parse_version_statement(env.payload).record.version, 23u);
}

TEST(SignStatement, RefusesWhatCannotBeAStatement) {
  VersionRecord unassigned = record23();
  unassigned.version = 0;
  EXPECT_EQ(error_of([&] { version_statement(unassigned, kLedger); }).kind(), ErrorKind::Invalid);
  EXPECT_EQ(error_of([&] { version_statement(record23(), ""); }).kind(), ErrorKind::Invalid);
  EXPECT_EQ(error_of([&] { version_statement(record23(), "a b"); }).kind(), ErrorKind::Invalid);
  Event add = test::tag_event(record23(), "live", 3);
  add.action = EventAction::Add;
  EXPECT_EQ(error_of([&] { promotion_statement(add, kLedger); }).kind(), ErrorKind::Invalid);
  Event unnumbered = test::tag_event(record23(), "live", 0);
  EXPECT_EQ(error_of([&] { promotion_statement(unnumbered, kLedger); }).kind(), ErrorKind::Invalid);
  Event latest = test::tag_event(record23(), "latest", 3);
  EXPECT_EQ(error_of([&] { promotion_statement(latest, kLedger); }).kind(), ErrorKind::Invalid);
  Event no_sha = test::tag_event(record23(), "live", 3);
  no_sha.sha256.clear();
  EXPECT_EQ(error_of([&] { promotion_statement(no_sha, kLedger); }).kind(), ErrorKind::Invalid);
}

TEST(SignStatement, ParsingIsStrict) {
  const std::string v = statement_json(version_statement(record23(), kLedger));
  const std::string p = statement_json(promotion_statement(test::tag_event(record23(), "live", 5), kLedger));
  const std::vector<std::string> bad_versions = {
      "",
      "[]",
      p,  // another predicate type
      json::parse(v).dump(2),
      edited(v, [](json& j) { j["_type"] = "https://in-toto.io/Statement/v0.1"; }),
      edited(v, [](json& j) { j["extra"] = 1; }),
      edited(v, [](json& j) { j["predicate"]["extra"] = 1; }),
      edited(v, [](json& j) { j["predicate"].erase("ledger"); }),
      edited(v, [](json& j) { j["predicate"]["version"] = -23; }),
      edited(v, [](json& j) { j["predicate"]["version"] = "23"; }),
      edited(v, [](json& j) { j["predicate"]["version"] = 0; }),
      edited(v, [](json& j) { j["predicate"]["mode"] = 010000; }),
      edited(v, [](json& j) { j["predicate"]["created"] = 1767225600; }),
      edited(v, [](json& j) { j["predicate"]["created"] = "2026-01-01 00:00:00"; }),
      edited(v, [](json& j) { j["predicate"]["package"] = "../etc"; }),
      edited(v, [](json& j) { j["predicate"]["basename"] = "a/b"; }),
      edited(v, [](json& j) { j["predicate"]["sha256"] = "abc"; }),
      edited(v,
             [](json& j) {
               j["predicate"]["metadata"] = {{"k", 1}};
             }),
      edited(v, [](json& j) { j["predicate"]["ledger"] = "a b"; }),
      edited(v, [](json& j) { j["subject"][0]["name"] = "frontend@24"; }),
      edited(v, [](json& j) { j["subject"][0]["digest"]["sha256"] = std::string(64, 'b'); }),
      edited(v, [](json& j) { j["subject"][0]["digest"]["sha512"] = "x"; }),
      edited(v, [](json& j) { j["subject"].push_back(j["subject"][0]); }),
      edited(v, [](json& j) { j["subject"] = json::array(); }),
  };
  for (const auto& text : bad_versions) {
    Error e = error_of([&] { parse_version_statement(text); });
    EXPECT_EQ(e.kind(), ErrorKind::Invalid) << text;
    EXPECT_EQ(std::string(e.what()).rfind("malformed version statement: ", 0), 0u) << e.what();
  }
  const std::vector<std::string> bad_promotions = {
      v,
      edited(p, [](json& j) { j["predicate"]["generation"] = 0; }),
      edited(p, [](json& j) { j["predicate"]["previous"] = 0; }),
      edited(p, [](json& j) { j["predicate"]["previous"] = "3"; }),
      edited(p, [](json& j) { j["predicate"].erase("previous"); }),
      edited(p, [](json& j) { j["predicate"]["tag"] = "latest"; }),
      edited(p, [](json& j) { j["predicate"]["tag"] = "123"; }),
      edited(p, [](json& j) { j["predicate"]["time"] = "yesterday"; }),
      edited(p, [](json& j) { j["subject"][0]["name"] = "backend@23"; }),
  };
  for (const auto& text : bad_promotions) {
    Error e = error_of([&] { parse_promotion_statement(text); });
    EXPECT_EQ(e.kind(), ErrorKind::Invalid) << text;
    EXPECT_EQ(std::string(e.what()).rfind("malformed promotion statement: ", 0), 0u) << e.what();
  }
  EXPECT_EQ(predicate_type_of("not json"), std::nullopt);
  EXPECT_EQ(predicate_type_of("{\"_type\":\"x\"}"), std::nullopt);
}

TEST(SignLedgerId, CanonicalisesUris) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"sqlite:///var/lib/sacker/ledger.db", "sqlite:///var/lib/sacker/ledger.db"},
      {"sqlite:////var//lib/./sacker/ledger.db", "sqlite:///var/lib/sacker/ledger.db"},
      {"s3://Ledger-Bucket", "s3://ledger-bucket"},
      {"s3://ledger-bucket/", "s3://ledger-bucket"},
      {"s3://ledger-bucket/prod/?page_size=7", "s3://ledger-bucket/prod"},
      {"s3://b/p?versions_dir=generations&page_size=7", "s3://b/p?versions_dir=generations"},
      {"postgres://bob:hunter2@DB:5432/x?schema=s1&sslmode=require&password=pw", "postgres://db:5432/x?schema=s1"},
      {"zk://h2:2181,h1:2181,h2:2181/sacker", "zk://h1:2181,h2:2181/sacker"},
      {"etcd://[::1]:2379/pfx?tls=1&ca=/x.pem", "etcd://[::1]:2379/pfx"},
      {"dynamo://us-east-1/sacker", "dynamo://us-east-1/sacker"},
      {"mem://t1", "mem://t1"},
      {"file:///a%20b/c", "file:///a%20b/c"},
      {"git:///srv/cache.git?remote=https://user:token@git.example.com/ledger.git&branch=prod",
       "https://git.example.com/ledger.git?branch=prod"},
      {"git:///home/ci/.cache/x.git?remote=git@github.com:acme/ledger.git", "git:github.com:acme/ledger.git"},
      {"git://host/repo.git?cache=/tmp/c.git", "git://host/repo.git"},
  };
  for (const auto& [uri, id] : cases) {
    EXPECT_EQ(canonical_ledger_id(uri), id) << uri;
    if (id.find("://") != std::string::npos) EXPECT_EQ(canonical_ledger_id(id), id) << "idempotent: " << id;
    EXPECT_NO_THROW(validate_ledger_id(canonical_ledger_id(uri)));
  }
  // The same ledger seen by CI and production with different local caches.
  EXPECT_EQ(canonical_ledger_id("git:///ci/cache.git?remote=https://g/l.git"),
            canonical_ledger_id("git:///srv/other.git?remote=https://g/l.git"));
  // Different ledgers stay different.
  EXPECT_NE(canonical_ledger_id("postgres://db/x?schema=a"), canonical_ledger_id("postgres://db/x?schema=b"));
  EXPECT_NE(canonical_ledger_id("s3://b/p1"), canonical_ledger_id("s3://b/p2"));
  EXPECT_NE(canonical_ledger_id("s3://b/p"), canonical_ledger_id("sqlite:///b/p"));
  EXPECT_EQ(error_of([] { canonical_ledger_id("not a uri"); }).kind(), ErrorKind::Invalid);
  Error e = error_of([] { canonical_ledger_id("postgres://bob:hunter2@db/x%zz"); });
  EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
}

TEST(SignLedgerId, ExplicitIdWinsAndIsValidated) {
  EXPECT_EQ(ledger_id("s3://b/p", "acme-artifacts"), "acme-artifacts");
  EXPECT_EQ(ledger_id("s3://b/p/"), "s3://b/p");
  for (const std::string bad :
       {std::string("a b"), std::string("a\nb"), std::string(513, 'x'), std::string("caf\xc3\xa9")})
    EXPECT_EQ(error_of([&] { ledger_id("s3://b", bad); }).kind(), ErrorKind::Invalid) << bad;
}
