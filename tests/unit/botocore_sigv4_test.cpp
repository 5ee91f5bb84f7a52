// Second opinion on our SigV4 signer: a few hundred generated requests (fixed
// seed) signed by us and by Debian's python3-botocore (S3SigV4Auth, SigV4Auth,
// S3SigV4QueryAuth) through tests/unit/fixtures/botocore_sign.py, compared
// exactly. botocore gets each URL in canonical encoding; we often get a sloppier
// but equivalent spelling (unsorted query, raw reserved characters, lower-case
// hex), which our signer must canonicalise to the same signature.
// If /usr/bin/python3 cannot import botocore this test FAILS (install
// python3-botocore); it never skips.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "aws/sigv4.h"

namespace sacker::aws {
using namespace sacker::net;  // the HTTP layer the AWS code sits on
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class Gen {
 public:
  explicit Gen(unsigned seed) : rng_(seed) {}
  int between(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[static_cast<std::size_t>(between(0, static_cast<int>(v.size()) - 1))];
  }
  std::string chars(const std::string& alphabet, int lo, int hi) {
    std::string s;
    for (int n = between(lo, hi); n > 0; --n)
      s += alphabet[static_cast<std::size_t>(between(0, static_cast<int>(alphabet.size()) - 1))];
    return s;
  }
  std::mt19937& rng() { return rng_; }

 private:
  std::mt19937 rng_;
};

const std::string kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
const std::string kUpperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

// Pieces of object keys and query values: spaces, unicode and every character
// that RFC 3986 treats specially.
const std::vector<std::string> kPieces = {
    "a",
    "Z",
    "09",
    "-",
    "_",
    ".",
    "~",
    " ",
    "  ",
    "+",
    "=",
    "*",
    "(",
    ")",
    "!",
    "'",
    "$",
    "&",
    ",",
    ";",
    ":",
    "@",
    "%",
    "/",
    "#",
    "?",
    "[",
    "]",
    "\xC3\xA4",
    "\xE6\x97\xA5\xE6\x9C\xAC",
    "\xF0\x9F\x98\x80",
    "file.tar.gz",
    "dir/",
    "//",
    "v1.2.3",
    "%41",
    "~user",
    "a b (x)!",
};

std::string random_text(Gen& g, int lo, int hi) {
  std::string s;
  for (int n = g.between(lo, hi); n > 0; --n) s += g.pick(kPieces);
  return s;
}

// Minimal but equivalent percent-encoding: keeps sub-delimiters raw where they
// cannot change the meaning, and sometimes writes lower-case hex.
std::string sloppy_encode(Gen& g, const std::string& s, bool in_path) {
  static constexpr char kUpper[] = "0123456789ABCDEF";
  static constexpr char kLower[] = "0123456789abcdef";
  const bool lower = g.chance(0.5);
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    const bool raw_ok = std::isalnum(c) || std::string_view("-_.~!$'()*,;:@").find(ch) != std::string_view::npos ||
                        (in_path && (ch == '/' || ch == '=' || ch == '+' || ch == '&'));
    if (raw_ok && c < 0x80) {
      out += ch;
    } else {
      const char* hex = lower ? kLower : kUpper;
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

struct Case {
  json to_botocore;
  std::string our_url;
  HttpHeaders headers;
  std::string body;
  bool unsigned_payload = false;
  SigningParams params;
  std::string method;
  bool presign = false;
  long expires = 0;
};

std::vector<Case> generate(unsigned seed, int header_cases, int presign_cases) {
  Gen g(seed);
  const std::vector<std::string> regions = {"us-east-1",  "eu-west-1",     "ap-southeast-2",
                                            "cn-north-1", "us-gov-west-1", "eu-central-2"};
  const std::vector<std::string> s3_hosts = {"https://s3.us-west-2.amazonaws.com",
                                             "https://bucket-1.s3.amazonaws.com",
                                             "http://127.0.0.1:9000",
                                             "http://localhost:4566",
                                             "http://[::1]:9000",
                                             "https://S3.Example.COM:8443",
                                             "https://s3.example.com:443"};
  const std::vector<std::string> header_names = {
      "Content-Type",  "x-amz-meta-owner", "X-Amz-Meta-Build Id", "Range",      "If-None-Match", "x-amz-storage-class",
      "Cache-Control", "X-AMZ-ACL",        "content-md5",         "User-Agent", "Expect",        "x-amz-meta-empty"};
  const std::vector<std::string> header_values = {"application/octet-stream",
                                                  "  padded  ",
                                                  "a   b\tc",
                                                  "bytes=0-1048575",
                                                  "*",
                                                  "\"0123abcd\"",
                                                  "REDUCED_REDUNDANCY",
                                                  "public-read",
                                                  "rL0Y20zC+Fzt72VPzMSk2A==",
                                                  "sacker/0.1 (linux)",
                                                  "100-continue",
                                                  ""};
  const std::vector<std::string> query_names = {
      "list-type",    "prefix",   "delimiter", "max-keys",    "continuation-token",           "uploads",
      "partNumber",   "uploadId", "versionId", "start-after", "response-content-disposition", "x-id",
      "encoding-type"};
  std::vector<Case> cases;
  const int total = header_cases + presign_cases;
  for (int i = 0; i < total; ++i) {
    Case c;
    c.presign = i >= header_cases;
    const bool s3 = c.presign || g.chance(0.7);
    c.params.service = s3 ? "s3" : g.pick(std::vector<std::string>{"dynamodb", "sts", "execute-api"});
    c.params.region = g.pick(regions);
    c.params.credentials.access_key_id = "AKIA" + g.chars(kUpperAlnum, 16, 16);
    c.params.credentials.secret_access_key = g.chars(kB64, 40, 40);
    if (g.chance(0.4)) c.params.credentials.session_token = g.chars(kB64, 40, 300);
    const long long epoch = 1262304000LL + g.between(0, 631152000);
    c.params.time = std::chrono::system_clock::from_time_t(static_cast<std::time_t>(epoch));
    c.method = c.presign ? g.pick(std::vector<std::string>{"GET", "PUT"})
                         : g.pick(std::vector<std::string>{"GET", "PUT", "HEAD", "DELETE", "POST"});

    // Path.
    std::string canon_path, our_path;
    if (s3) {
      const std::string key = random_text(g, 1, 6);
      const std::string bucket = g.chance(0.5) ? "/my-bucket" : "";
      canon_path = bucket + "/" + uri_encode(key, true);
      our_path = g.chance(0.6) ? bucket + "/" + sloppy_encode(g, key, true) : canon_path;
    } else {
      canon_path = g.chance(0.6) ? "/" : "/2015-03-31/" + uri_encode(random_text(g, 1, 3), true);
      our_path = canon_path;
    }

    // Query: (name, value, valueless?)
    struct Param {
      std::string name, value;
      bool valueless;
    };
    std::vector<Param> params;
    std::vector<std::string> used;
    for (int n = g.between(0, 4); n > 0; --n) {
      std::string name = g.pick(query_names);
      if (c.presign && std::find(used.begin(), used.end(), name) != used.end()) continue;  // botocore folds duplicates
      used.push_back(name);
      if (name == "uploads")
        params.push_back({name, "", true});
      else
        params.push_back({name, random_text(g, 0, 3), false});
    }
    std::string canon_query, our_query;
    std::vector<std::size_t> order(params.size());
    for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
    for (std::size_t k = 0; k < params.size(); ++k) {
      const Param& p = params[k];
      canon_query += (k ? "&" : "") + uri_encode(p.name, false) + (p.valueless ? "" : "=" + uri_encode(p.value, false));
    }
    std::shuffle(order.begin(), order.end(), g.rng());
    for (std::size_t k = 0; k < order.size(); ++k) {
      const Param& p = params[order[k]];
      our_query += (k ? "&" : "") + sloppy_encode(g, p.name, false) +
                   (p.valueless ? "" : "=" + sloppy_encode(g, p.value, false));
    }
    if (g.chance(0.3)) our_query = canon_query;

    const std::string host =
        s3 ? g.pick(s3_hosts) : "https://" + c.params.service + "." + c.params.region + ".amazonaws.com";
    const std::string canon_url = host + canon_path + (canon_query.empty() ? "" : "?" + canon_query);
    c.our_url = host + our_path + (our_query.empty() ? "" : "?" + our_query);

    json boto_headers = json::array();
    if (!c.presign) {
      std::vector<std::string> names_used;
      for (int n = g.between(0, 5); n > 0; --n) {
        std::string name = g.pick(header_names);
        std::string lname = name;
        for (char& ch : lname) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (std::find(names_used.begin(), names_used.end(), lname) != names_used.end()) continue;
        names_used.push_back(lname);
        if (g.chance(0.3))
          for (char& ch : name) ch = static_cast<char>(g.chance(0.5) ? std::toupper(ch) : std::tolower(ch));
        const std::string value = g.pick(header_values);
        c.headers.emplace_back(name, value);
        boto_headers.push_back({name, value});
      }
      if (g.chance(0.6)) {
        c.body = random_text(g, 0, 20);
        if (g.chance(0.3)) c.body += std::string("\0\x01\xff", 3);
      }
      c.unsigned_payload = s3 && g.chance(0.3);
    } else {
      c.expires = g.chance(0.2) ? 604800 : g.between(1, 604800);
    }

    const std::string body_hex = hex_encode(c.body);
    c.to_botocore = {{"id", i},
                     {"kind", c.presign ? "query" : "header"},
                     {"service", c.params.service},
                     {"region", c.params.region},
                     {"method", c.method},
                     {"url", canon_url},
                     {"headers", boto_headers},
                     {"body_hex", body_hex},
                     {"unsigned", c.unsigned_payload},
                     {"access_key", c.params.credentials.access_key_id},
                     {"secret", c.params.credentials.secret_access_key},
                     {"token", c.params.credentials.session_token.empty() ? json(nullptr)
                                                                          : json(c.params.credentials.session_token)},
                     {"time", amz_date(c.params.time)},
                     {"expires", c.expires}};
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<std::string> sorted_query_items(const std::string& url, std::string* base) {
  const auto q = url.find('?');
  *base = url.substr(0, q);
  std::vector<std::string> items;
  if (q == std::string::npos) return items;
  std::stringstream ss(url.substr(q + 1));
  std::string item;
  while (std::getline(ss, item, '&')) items.push_back(item);
  std::sort(items.begin(), items.end());
  return items;
}

std::string run_botocore(const std::vector<Case>& cases, const fs::path& dir) {
  const fs::path in = dir / "cases.jsonl", out = dir / "signed.jsonl", err = dir / "stderr.txt";
  {
    std::ofstream f(in, std::ios::binary);
    for (const Case& c : cases) f << c.to_botocore.dump() << "\n";
  }
  const std::string script = std::string(SACKER_SOURCE_DIR) + "/tests/unit/fixtures/botocore_sign.py";
  const std::string cmd =
      "/usr/bin/python3 '" + script + "' < '" + in.string() + "' > '" + out.string() + "' 2> '" + err.string() + "'";
  const int rc = std::system(cmd.c_str());
  std::ifstream e(err);
  std::string err_text((std::istreambuf_iterator<char>(e)), std::istreambuf_iterator<char>());
  if (rc != 0)
    ADD_FAILURE() << "botocore signer failed (rc " << rc << "); is python3-botocore installed for /usr/bin/python3?\n"
                  << err_text;
  std::ifstream o(out);
  return std::string((std::istreambuf_iterator<char>(o)), std::istreambuf_iterator<char>());
}

TEST(SigV4Botocore, GeneratedRequestsMatchBotocore) {
  constexpr int kHeaderCases = 240, kPresignCases = 80;
  const std::vector<Case> cases = generate(20240601u, kHeaderCases, kPresignCases);
  const fs::path dir = fs::temp_directory_path() / ("sacker-botocore-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string output = run_botocore(cases, dir);

  std::map<int, json> answers;
  std::stringstream ss(output);
  std::string line;
  while (std::getline(ss, line))
    if (!line.empty()) {
      json j = json::parse(line);
      answers[j.at("id").get<int>()] = j;
    }
  ASSERT_EQ(answers.size(), cases.size()) << "botocore did not sign every case";

  int header_checked = 0, presign_checked = 0, unsigned_payloads = 0, tokens = 0, sloppy = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE("case " + std::to_string(i) + ": " + c.to_botocore.dump());
    const json& answer = answers[static_cast<int>(i)];
    tokens += !c.params.credentials.session_token.empty();
    sloppy += c.our_url != c.to_botocore["url"].get<std::string>();
    if (!c.presign) {
      HttpRequest r;
      r.method = c.method;
      r.url = c.our_url;
      r.headers = c.headers;
      const std::string hash = c.unsigned_payload ? std::string(kUnsignedPayload) : sha256_hex(c.body);
      unsigned_payloads += c.unsigned_payload;
      sign_request(r, hash, c.params);
      ASSERT_NE(find_header(r.headers, "authorization"), nullptr);
      EXPECT_EQ(*find_header(r.headers, "authorization"), answer.at("authorization").get<std::string>());
      ++header_checked;
    } else {
      const std::string ours = presign_url(c.method, c.our_url, std::chrono::seconds(c.expires), c.params);
      std::string our_base, their_base;
      const auto our_items = sorted_query_items(ours, &our_base);
      const auto their_items = sorted_query_items(answer.at("url").get<std::string>(), &their_base);
      EXPECT_EQ(our_base, their_base);
      EXPECT_EQ(our_items, their_items);
      ++presign_checked;
    }
  }
  EXPECT_EQ(header_checked, kHeaderCases);
  EXPECT_EQ(presign_checked, kPresignCases);
  // The generator really covers what it claims to.
  EXPECT_GT(unsigned_payloads, 20);
  EXPECT_GT(tokens, 60);
  EXPECT_GT(sloppy, 60);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace sacker::aws
