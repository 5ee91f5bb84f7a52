// The pure parts of the azure wire layer: the Shared Key string-to-sign against the
// examples of Microsoft's "Authorize with Shared Key" page, a few hundred generated
// requests and SAS tokens signed by us and by Microsoft's Python SDK (Debian's
// python3-azure, through fixtures/azure_sdk_sign.py) compared exactly, credentials
// from the environment as the Azure CLI reads them, and the List Blobs parser.
// If /usr/bin/python3 cannot import azure.storage.blob the SDK test FAILS (install
// python3-azure); it never skips.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "azure/azure_account.h"
#include "azure/blob_client.h"
#include "azure/shared_key.h"
#include "core/codec.h"
#include "sacker/error.h"
#include "support/process.h"
#include "support/records.h"

namespace sacker::azure {
namespace {

using nlohmann::json;
using std::chrono::system_clock;

// Azurite's well-known key: a real key, public by design.
const std::string kKey(kDevAccountKey);

system_clock::time_point at(std::int64_t unix_seconds) { return system_clock::from_time_t(unix_seconds); }

TEST(SharedKeyDocs, CanonicalizedResourceExamples) {
  // "Authorize with Shared Key", section "Shared Key format for 2009-09-19 and later".
  EXPECT_EQ(canonicalized_resource("myaccount",
                                   "http://myaccount.blob.core.windows.net/mycontainer?restype=container"
                                   "&comp=metadata"),
            "/myaccount/mycontainer\ncomp:metadata\nrestype:container");
  EXPECT_EQ(canonicalized_resource("myaccount",
                                   "http://myaccount.blob.core.windows.net/mycontainer?restype=container&comp=list"
                                   "&include=snapshots&include=metadata&include=uncommittedblobs"),
            "/myaccount/mycontainer\ncomp:list\ninclude:metadata,snapshots,uncommittedblobs\nrestype:container");
  EXPECT_EQ(canonicalized_resource("myaccount", "https://myaccount-secondary.blob.core.windows.net/mycontainer/myblob"),
            "/myaccount/mycontainer/myblob");
  // The emulator's path-style URL: the account appears twice.
  EXPECT_EQ(canonicalized_resource("devstoreaccount1", "http://127.0.0.1:10000/devstoreaccount1/c/sha256/ab"),
            "/devstoreaccount1/devstoreaccount1/c/sha256/ab");
  // Query names are lower-cased, values decoded; the path stays as sent.
  EXPECT_EQ(canonicalized_resource("a", "https://a.blob.core.windows.net/c/x%20y?Comp=list&prefix=p%2Fq%20r"),
            "/a/c/x%20y\ncomp:list\nprefix:p/q r");
}

TEST(SharedKeyDocs, StringToSignExample) {
  // The page's example for a Get Container Metadata request (version 2015-02-21).
  net::HttpHeaders headers = {{"x-ms-date", "Fri, 26 Jun 2015 23:39:12 GMT"}, {"x-ms-version", "2015-02-21"}};
  EXPECT_EQ(string_to_sign("GET",
                           "http://myaccount.blob.core.windows.net/mycontainer?restype=container&comp=metadata"
                           "&timeout=20",
                           headers, 0, "myaccount"),
            "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Fri, 26 Jun 2015 23:39:12 GMT\nx-ms-version:2015-02-21\n"
            "/myaccount/mycontainer\ncomp:metadata\nrestype:container\ntimeout:20");
}

TEST(SharedKey, StandardHeadersGoInTheirSlotsAndZeroLengthIsEmpty) {
  net::HttpHeaders headers = {{"Content-Type", "application/octet-stream"},
                              {"Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg=="},
                              {"If-None-Match", "*"},
                              {"X-MS-Blob-Type", "  BlockBlob "},
                              {"x-ms-meta-a", "one   two"},
                              {"x-ms-meta-a", "three"},
                              {"x-ms-meta-b_c", "u"},
                              {"x-ms-meta-b-c", "d"},
                              {"x-ms-date", "Sun, 11 Oct 2009 21:49:13 GMT"}};
  EXPECT_EQ(string_to_sign("PUT", "https://a.blob.core.windows.net/c/b", headers, 0, "a"),
            "PUT\n\n\n\n1B2M2Y8AsgTpgAmY7PhCfg==\napplication/octet-stream\n\n\n\n*\n\n\n"
            "x-ms-blob-type:BlockBlob\nx-ms-date:Sun, 11 Oct 2009 21:49:13 GMT\nx-ms-meta-a:one two,three\n"
            "x-ms-meta-b-c:d\nx-ms-meta-b_c:u\n/a/c/b");
  EXPECT_NE(string_to_sign("PUT", "https://a.blob.core.windows.net/c/b", headers, 11, "a").find("\n\n\n11\n"),
            std::string::npos);
}

TEST(SharedKey, SignRequestIsDeterministicAndReplacesAnEarlierSignature) {
  SharedKey key = make_shared_key("devstoreaccount1", kKey, "test");
  net::HttpRequest r;
  r.method = "GET";
  r.url = "http://127.0.0.1:10000/devstoreaccount1/c/b";
  const std::string text = sign_request(r, 0, key, at(1255297753));
  EXPECT_EQ(*net::find_header(r.headers, "x-ms-date"), "Sun, 11 Oct 2009 21:49:13 GMT");
  EXPECT_EQ(*net::find_header(r.headers, "x-ms-version"), std::string(kApiVersion));
  const std::string auth = *net::find_header(r.headers, "Authorization");
  EXPECT_EQ(auth, "SharedKey devstoreaccount1:" + signature(key, text));
  sign_request(r, 0, key, at(1255297753));
  int authorizations = 0;
  for (const auto& [n, v] : r.headers) authorizations += codec::iequals(n, "Authorization");
  EXPECT_EQ(authorizations, 1);
  EXPECT_EQ(*net::find_header(r.headers, "Authorization"), auth);
}

TEST(SharedKey, SasTimes) { EXPECT_EQ(iso8601_seconds(at(1700000000)), "2023-11-14T22:13:20Z"); }

TEST(SharedKey, ABadKeyIsInvalidAndNotQuoted) {
  try {
    make_shared_key("a", "not*base64*secret", "AZURE_STORAGE_KEY");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Invalid);
    EXPECT_NE(std::string(e.what()).find("AZURE_STORAGE_KEY"), std::string::npos);
    EXPECT_EQ(std::string(e.what()).find("secret"), std::string::npos) << e.what();
  }
}

TEST(Sas, BlobSasHasTheDocumentedFieldsAndSignsWhatItSays) {
  SharedKey key = make_shared_key("myaccount", kKey, "test");
  BlobSasParams p;
  p.container = "c";
  p.blob = "pre fix/ab";
  p.expiry = at(1700000000);
  p.protocol = "https";
  std::string text;
  const std::string q = blob_sas_query(key, p, &text);
  EXPECT_EQ(text, "r\n\n2023-11-14T22:13:20Z\n/blob/myaccount/c/pre fix/ab\n\n\nhttps\n2021-08-06\nb\n\n\n\n\n\n\n");
  EXPECT_EQ(q, "sv=2021-08-06&se=2023-11-14T22%3A13%3A20Z&sr=b&sp=r&spr=https&sig=" +
                   codec::percent_encode(signature(key, text)));
  EXPECT_EQ(net::redact_url("https://myaccount.blob.core.windows.net/c/b?" + q).find(signature(key, text)),
            std::string::npos)
      << "logs never show a SAS signature";
}

// --- a second opinion: Microsoft's Python SDK ------------------------------------------

// Runs the SDK on every case (one process), one answer per case.
std::vector<json> sdk_sign(const std::vector<json>& cases) {
  std::string input;
  for (const auto& c : cases) input += c.dump() + "\n";
  auto r = test::run_process(
      {"/usr/bin/python3", std::string(SACKER_SOURCE_DIR) + "/tests/integration/azure/fixtures/azure_sdk_sign.py"}, {},
      input);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<json> out;
  std::size_t start = 0;
  while (start < r.out.size()) {
    auto nl = r.out.find('\n', start);
    out.push_back(json::parse(r.out.substr(start, nl - start)));
    start = nl == std::string::npos ? r.out.size() : nl + 1;
  }
  return out;
}

std::map<std::string, std::string> query_map(const std::string& q) {
  std::map<std::string, std::string> out;
  std::size_t start = 0;
  while (start <= q.size()) {
    auto amp = q.find('&', start);
    std::string item = q.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    auto eq = item.find('=');
    out[item.substr(0, eq)] = codec::percent_decode(item.substr(eq + 1)).value_or("?");
    if (amp == std::string::npos) break;
    start = amp + 1;
  }
  return out;
}

TEST(SharedKeySdk, GeneratedRequestsSignLikeMicrosoftsSdk) {
  std::mt19937 rng(20211206);
  auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
  const std::string alnum = "abcdefghijklmnopqrstuvwxyz0123456789";
  auto word = [&](int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += alnum[rng() % alnum.size()];
    return s;
  };
  std::vector<json> cases;
  std::vector<std::string> ours;
  for (int id = 0; id < 300; ++id) {
    const bool dev = rng() % 2;
    const std::string account = dev ? "devstoreaccount1" : "acct" + word(6);
    const std::string endpoint =
        dev ? "http://127.0.0.1:10000/devstoreaccount1" : "https://" + account + ".blob.core.windows.net";
    std::string blob = pick({"sha256/", "", "a b/", "ü/", "x+y/", "(1)/"}) + word(8);
    std::string url = endpoint + "/" + word(5) + "/" + codec::percent_encode(blob, "/");
    std::vector<std::string> params;
    for (int k = static_cast<int>(rng() % 4); k > 0; --k)
      params.push_back(pick({"comp", "restype", "blockid", "marker", "prefix", "timeout", "maxresults"}) + "=" +
                       codec::percent_encode(pick({"list", "block", "container", "a b", "x/y:z", word(10) + "=="})));
    std::sort(params.begin(), params.end());
    params.erase(std::unique(params.begin(), params.end(),
                             [](const std::string& a, const std::string& b) {
                               return a.substr(0, a.find('=')) == b.substr(0, b.find('='));
                             }),
                 params.end());
    for (std::size_t i = 0; i < params.size(); ++i) url += (i ? "&" : "?") + params[i];
    net::HttpHeaders headers;
    for (int k = static_cast<int>(rng() % 4); k > 0; --k)
      headers.emplace_back(
          pick({"Content-Type", "Content-MD5", "If-Match", "If-None-Match", "Content-Encoding", "Content-Language",
                "If-Modified-Since", "If-Unmodified-Since"}),
          pick({"*", "\"0x8D\"", "application/xml", "gzip", word(12), "Tue, 14 Nov 2023 22:13:20 GMT"}));
    for (int k = static_cast<int>(rng() % 4); k > 0; --k)
      headers.emplace_back(pick({"x-ms-blob-type", "x-ms-meta-sacker_reused", "x-ms-meta-b-c", "x-ms-range",
                                 "x-ms-delete-snapshots", "x-ms-client-request-id"}),
                           pick({"BlockBlob", "bytes=0-99", "include", word(7), "1700000000"}));
    std::sort(headers.begin(), headers.end());  // one value per name (the SDK keeps a dict)
    headers.erase(std::unique(headers.begin(), headers.end(),
                              [](const auto& a, const auto& b) { return codec::iequals(a.first, b.first); }),
                  headers.end());
    const std::string method = pick({"GET", "PUT", "HEAD", "DELETE"});
    const std::uint64_t length = method == "PUT" ? rng() % 3 * 1000 : 0;
    net::HttpRequest r;
    r.method = method;
    r.url = url;
    r.headers = headers;
    sign_request(r, length, make_shared_key(account, kKey, "test"), at(1600000000 + id * 7919));
    ours.push_back(*net::find_header(r.headers, "Authorization"));
    json h = json::array();
    for (const auto& [n, v] : r.headers)
      if (!codec::iequals(n, "Authorization")) h.push_back({n, v});
    if (method == "PUT") h.push_back({"Content-Length", std::to_string(length)});
    cases.push_back({{"id", id},
                     {"kind", "shared_key"},
                     {"account", account},
                     {"key", kKey},
                     {"method", method},
                     {"url", url},
                     {"headers", h}});
  }
  std::vector<std::string> sas_sigs;
  for (int id = 300; id < 400; ++id) {
    BlobSasParams p;
    p.container = word(6);
    p.blob = pick({"", "pre/", "a b/"}) + word(64);
    p.expiry = at(1700000000 + id * 3600);
    if (rng() % 2) p.start = at(1690000000 + id);
    p.protocol = pick({"", "https", "https,http"});
    p.permissions = pick({"r", "rw", "racwd"});
    const std::string account = "acct" + word(5);
    auto q = query_map(blob_sas_query(make_shared_key(account, kKey, "test"), p));
    sas_sigs.push_back(q["sig"]);
    json c = {{"id", id},
              {"kind", "sas"},
              {"account", account},
              {"key", kKey},
              {"container", p.container},
              {"blob", p.blob},
              {"permission", p.permissions},
              {"expiry", iso8601_seconds(p.expiry)},
              {"version", std::string(kApiVersion)}};
    c["start"] = p.start ? json(iso8601_seconds(*p.start)) : json(nullptr);
    c["protocol"] = p.protocol.empty() ? json(nullptr) : json(p.protocol);
    cases.push_back(c);
  }
  auto answers = sdk_sign(cases);
  ASSERT_EQ(answers.size(), cases.size());
  int mismatches = 0;
  for (const auto& a : answers) {
    const int id = a["id"];
    if (id < 300) {
      if (a["authorization"] != ours[static_cast<std::size_t>(id)] && ++mismatches < 5)
        ADD_FAILURE() << "case " << cases[static_cast<std::size_t>(id)].dump() << "\nSDK:  " << a["authorization"]
                      << "\nours: " << ours[static_cast<std::size_t>(id)];
    } else {
      auto theirs = query_map(a["query"].get<std::string>());
      if (theirs["sig"] != sas_sigs[static_cast<std::size_t>(id - 300)] && ++mismatches < 5)
        ADD_FAILURE() << "SAS case " << cases[static_cast<std::size_t>(id)].dump() << "\nSDK: " << a["query"];
    }
  }
  EXPECT_EQ(mismatches, 0);
}

// --- credentials -------------------------------------------------------------------------

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

using test::kind_of;

TEST(AzureAccount, ConnectionStrings) {
  auto a = resolve_account(
      "myacct", std::nullopt,
      env_of({{"AZURE_STORAGE_CONNECTION_STRING", "DefaultEndpointsProtocol=https;AccountName=myacct;AccountKey=" +
                                                      kKey + ";EndpointSuffix=core.chinacloudapi.cn"}}));
  EXPECT_EQ(a.endpoint, "https://myacct.blob.core.chinacloudapi.cn");
  ASSERT_TRUE(a.key);
  EXPECT_EQ(a.key->key, *codec::base64_decode(kKey));
  EXPECT_EQ(a.source, "AZURE_STORAGE_CONNECTION_STRING");

  a = resolve_account("devstoreaccount1", std::nullopt,
                      env_of({{"AZURE_STORAGE_CONNECTION_STRING",
                               "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + kKey +
                                   ";BlobEndpoint=http://127.0.0.1:4567/devstoreaccount1/;"}}));
  EXPECT_EQ(a.endpoint, "http://127.0.0.1:4567/devstoreaccount1");

  a = resolve_account("devstoreaccount1", std::nullopt,
                      env_of({{"AZURE_STORAGE_CONNECTION_STRING", "UseDevelopmentStorage=true"}}));
  EXPECT_EQ(a.endpoint, "http://127.0.0.1:10000/devstoreaccount1");
  EXPECT_TRUE(a.key);

  a = resolve_account("myacct", std::nullopt,
                      env_of({{"AZURE_STORAGE_CONNECTION_STRING",
                               "BlobEndpoint=https://myacct.blob.core.windows.net;SharedAccessSignature=sv=2021-08-06&"
                               "sig=abc"}}));
  EXPECT_FALSE(a.key);
  EXPECT_EQ(a.sas_token, "sv=2021-08-06&sig=abc");

  std::string message;
  EXPECT_EQ(kind_of(
                [] {
                  resolve_account(
                      "other", std::nullopt,
                      env_of({{"AZURE_STORAGE_CONNECTION_STRING", "AccountName=myacct;AccountKey=" + kKey}}));
                },
                &message),
            ErrorKind::Invalid);
  EXPECT_NE(message.find("'myacct'"), std::string::npos) << message;
  EXPECT_EQ(message.find(kKey), std::string::npos);
  EXPECT_EQ(kind_of(
                [] {
                  resolve_account(
                      "myacct", std::nullopt,
                      env_of({{"AZURE_STORAGE_CONNECTION_STRING", "AccountName=myacct;AccountKey=%%%secret"}}));
                },
                &message),
            ErrorKind::Invalid);
  EXPECT_EQ(message.find("secret"), std::string::npos) << message;
  EXPECT_EQ(kind_of([] {
              resolve_account("myacct", std::nullopt, env_of({{"AZURE_STORAGE_CONNECTION_STRING", "AccountName"}}));
            }),
            ErrorKind::Invalid);
  EXPECT_EQ(
      kind_of([] {
        resolve_account("myacct", std::nullopt, env_of({{"AZURE_STORAGE_CONNECTION_STRING", "AccountName=myacct"}}));
      }),
      ErrorKind::Invalid)
      << "neither a key nor a SAS";
}

TEST(AzureAccount, KeyAndSasVariablesAndTheEndpointOption) {
  auto a = resolve_account("myacct", std::nullopt, env_of({{"AZURE_STORAGE_KEY", kKey}}));
  EXPECT_TRUE(a.key);
  EXPECT_EQ(a.endpoint, "https://myacct.blob.core.windows.net");
  EXPECT_EQ(kind_of([] {
              resolve_account("myacct", std::nullopt,
                              env_of({{"AZURE_STORAGE_KEY", kKey}, {"AZURE_STORAGE_ACCOUNT", "someoneelse"}}));
            }),
            ErrorKind::Invalid)
      << "a key must never be sent to another account";
  a = resolve_account("myacct", std::string("http://127.0.0.1:9/myacct/"),
                      env_of({{"AZURE_STORAGE_SAS_TOKEN", "?sv=1&sig=x"}, {"AZURE_STORAGE_ACCOUNT", "myacct"}}));
  EXPECT_EQ(a.sas_token, "sv=1&sig=x");
  EXPECT_EQ(a.endpoint, "http://127.0.0.1:9/myacct");
  // The connection string wins over the other variables, as in the Azure CLI.
  a = resolve_account("devstoreaccount1", std::nullopt,
                      env_of({{"AZURE_STORAGE_CONNECTION_STRING", "UseDevelopmentStorage=true"},
                              {"AZURE_STORAGE_SAS_TOKEN", "sv=1&sig=x"}}));
  EXPECT_TRUE(a.key);
  EXPECT_FALSE(resolve_account("myacct", std::nullopt, env_of({})).has_credentials());
  for (const char* bad : {"ftp://x", "http://h/p?sv=1", "http://user:pw@h/p", "nohost"})
    EXPECT_EQ(kind_of([&] { resolve_account("myacct", std::string(bad), env_of({})); }), ErrorKind::Invalid) << bad;
}

TEST(ListBlobs, ParsesAPageAndRefusesGarbage) {
  const std::string body =
      "<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults ServiceEndpoint=\"http://x/\" "
      "ContainerName=\"c\"><Prefix>p/</Prefix><Blobs><Blob><Name>p/abc</Name><Properties>"
      "<Last-Modified>Tue, 14 Nov 2023 22:13:20 GMT</Last-Modified><Etag>0x8DBE5</Etag>"
      "<Content-Length>42</Content-Length></Properties></Blob><BlobPrefix><Name>p/dir/</Name></BlobPrefix>"
      "<Blob><Name Encoded=\"true\">%EF%BF%BF</Name><Properties><Content-Length>1</Content-Length></Properties>"
      "</Blob></Blobs><NextMarker>2!abc</NextMarker></EnumerationResults>";
  auto page = parse_list_page(body, "azure://a/c/p/");
  ASSERT_EQ(page.blobs.size(), 1u);
  EXPECT_EQ(page.blobs[0].name, "p/abc");
  EXPECT_EQ(page.blobs[0].properties.size, 42u);
  EXPECT_EQ(page.blobs[0].properties.last_modified, 1700000000);
  EXPECT_EQ(page.blobs[0].properties.etag, "0x8DBE5");
  EXPECT_EQ(page.next_marker, "2!abc");
  for (const char* bad : {"", "<x/>",
                          "<EnumerationResults><Blobs><Blob><Name>n</Name></Blob></Blobs>"
                          "</EnumerationResults>"})
    EXPECT_EQ(kind_of([&] { parse_list_page(bad, "w"); }), ErrorKind::Unavailable) << bad;
}

TEST(ContentMd5, OfTheEmptyBodyAndOfAKnownOne) {
  EXPECT_EQ(content_md5(""), "1B2M2Y8AsgTpgAmY7PhCfg==");
  EXPECT_EQ(content_md5("The quick brown fox jumps over the lazy dog"), "nhB9nTcrtoJr2B01QqQZ1g==");
}

}  // namespace
}  // namespace sacker::azure
