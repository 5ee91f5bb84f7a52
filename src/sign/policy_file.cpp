// TrustPolicy::parse / load: the trust file format (policy.h).
#include <fmt/core.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "sacker/error.h"
#include "sacker/names.h"
#include "sign/policy.h"
#include "sign/text_file.h"

namespace sacker::sign {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxTrustFileBytes = 1 << 20;
constexpr std::size_t kMaxKeyFileBytes = 64 * 1024;

class FileReader {
 public:
  FileReader(std::string_view origin, std::filesystem::path base_dir)
      : origin_(origin), base_dir_(std::move(base_dir)) {}

  [[noreturn]] void fail(const std::string& why) const {
    throw Error(ErrorKind::Invalid, fmt::format("trust file {}: {}", origin_, why));
  }

  void known_members(const json& object, std::initializer_list<const char*> names, const std::string& where) const {
    for (const auto& item : object.items()) {
      const std::string& key = item.key();  // (clang 14 cannot capture a structured binding)
      if (std::none_of(names.begin(), names.end(), [&](const char* n) { return key == n; })) {
        std::string known;
        for (const char* n : names) known += (known.empty() ? "" : ", ") + std::string(n);
        fail(fmt::format("{}: unknown field \"{}\" (known: {})", where, printable(key), known));
      }
    }
  }

  std::string name(const std::string& text, const char* what) const {
    try {
      validate_package_name(text);
    } catch (const Error&) {
      fail(fmt::format("{} '{}' is not a name ([A-Za-z0-9._-])", what, printable(text)));
    }
    return text;
  }

  TrustedKey key(const std::string& key_name, const json& j) const {
    const std::string where = fmt::format("key '{}'", key_name);
    if (!j.is_object()) fail(where + ": not an object");
    known_members(j, {"file", "public_key", "key_id", "retired"}, where);
    const bool inline_pem = j.contains("public_key"), file = j.contains("file");
    if (inline_pem == file) fail(where + ": needs exactly one of \"public_key\" (PEM text) and \"file\"");
    const json& source = inline_pem ? j["public_key"] : j["file"];
    if (!source.is_string()) fail(where + ": \"public_key\" and \"file\" are strings");
    std::string pem = source.get<std::string>();
    std::string what = fmt::format("trust file {}: {}", origin_, where);
    if (file) {
      std::filesystem::path path = source.get<std::string>();
      if (path.is_relative()) path = base_dir_ / path;
      pem = *read_text_file(path, "public key file", kMaxKeyFileBytes);
      what += " (" + path.string() + ")";
    }
    TrustedKey key{key_name, PublicKey::from_pem(pem, what), std::nullopt};
    if (j.contains("key_id") && (!j["key_id"].is_string() || j["key_id"].get<std::string>() != key.key.key_id()))
      fail(fmt::format("{}: \"key_id\" is not the id of its public key ({})", where, key.key.key_id()));
    if (j.contains("retired")) {
      try {
        if (!j["retired"].is_string()) throw Error(ErrorKind::Invalid, "");
        key.retired = parse_utc(j["retired"].get<std::string>());
      } catch (const Error&) {
        fail(where + ": \"retired\" is not an RFC 3339 UTC time (\"2026-01-01T00:00:00Z\")");
      }
    }
    return key;
  }

  SignerRule signers(const json& j, const std::map<std::string, std::string>& ids_by_name,
                     const std::string& where) const {
    SignerRule rule;
    const json* names = &j;
    if (j.is_object()) {
      known_members(j, {"keys", "threshold"}, where);
      if (!j.contains("keys")) fail(where + ": no \"keys\"");
      names = &j["keys"];
      if (j.contains("threshold")) {
        if (!j["threshold"].is_number_unsigned()) fail(where + ": \"threshold\" is not a positive integer");
        rule.threshold = j["threshold"].get<std::size_t>();
      }
    }
    if (!names->is_array() || names->empty()) fail(where + ": not a non-empty list of key names");
    for (const auto& n : *names) {
      auto it = n.is_string() ? ids_by_name.find(n.get<std::string>()) : ids_by_name.end();
      if (it == ids_by_name.end())
        fail(fmt::format("{}: '{}' is not a key of \"keys\"", where,
                         n.is_string() ? printable(n.get<std::string>()) : "?"));
      if (std::find(rule.key_ids.begin(), rule.key_ids.end(), it->second) == rule.key_ids.end())
        rule.key_ids.push_back(it->second);
    }
    if (rule.threshold == 0 || rule.threshold > rule.key_ids.size())
      fail(fmt::format("{}: \"threshold\" must be between 1 and the number of keys ({})", where, rule.key_ids.size()));
    return rule;
  }

  std::string pattern(const json& j, std::size_t index) const {
    if (!j.is_string() || j.get<std::string>().empty() || j.get<std::string>().size() > kMaxNameLength)
      fail(fmt::format("packages[{}]: \"pattern\" is not a package name pattern", index));
    const std::string p = j.get<std::string>();
    for (char c : p)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-' && c != '*' && c != '?')
        fail(fmt::format("packages[{}]: pattern '{}' may hold name characters, '*' and '?' only", index, printable(p)));
    return p;
  }

  Level level(const json& j, std::size_t index) const {
    const std::string text = j.is_string() ? j.get<std::string>() : "";
    if (text == "strict") return Level::Strict;
    if (text == "audit") return Level::Audit;
    if (text == "skip") return Level::Skip;
    fail(fmt::format("packages[{}]: \"level\" is not strict, audit or skip", index));
  }

 private:
  std::string origin_;
  std::filesystem::path base_dir_;
};

}  // namespace

TrustPolicy TrustPolicy::parse(std::string_view text, const std::filesystem::path& base_dir, std::string_view origin) {
  const FileReader in(origin, base_dir);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    in.fail(fmt::format("not JSON (syntax error at byte {})", e.byte));
  } catch (const json::exception&) {
    in.fail("not JSON");
  }
  if (!j.is_object()) in.fail("not a JSON object");
  in.known_members(j, {"format", "keys", "revoked", "packages"}, "the file");
  if (j.contains("format") && j["format"] != 1) in.fail("\"format\" is not 1 (this sacker reads format 1)");

  TrustPolicy policy;
  std::map<std::string, std::string> ids_by_name;
  if (!j.contains("keys") || !j["keys"].is_object()) in.fail("\"keys\" is not an object of named public keys");
  for (const auto& [name, value] : j["keys"].items()) {
    TrustedKey key = in.key(in.name(name, "key name"), value);
    const std::string id = key.key.key_id();
    if (auto other = policy.keys_.find(id); other != policy.keys_.end())
      in.fail(fmt::format("keys '{}' and '{}' are the same public key", other->second.name, name));
    ids_by_name[name] = id;
    policy.keys_.emplace(id, std::move(key));
  }

  if (j.contains("revoked")) {
    if (!j["revoked"].is_array()) in.fail("\"revoked\" is not a list of key ids");
    for (const auto& r : j["revoked"]) {
      const std::string entry = r.is_string() ? r.get<std::string>() : "";
      if (auto named = ids_by_name.find(entry); named != ids_by_name.end())
        policy.revoked_.push_back(named->second);
      else if (is_key_id(entry))
        policy.revoked_.push_back(entry);
      else
        in.fail(fmt::format("\"revoked\": '{}' is neither a key id (16 hex digits) nor a key name", printable(entry)));
    }
    std::sort(policy.revoked_.begin(), policy.revoked_.end());
  }

  if (!j.contains("packages") || !j["packages"].is_array()) in.fail("\"packages\" is not a list of package rules");
  for (std::size_t i = 0; i < j["packages"].size(); ++i) {
    const json& p = j["packages"][i];
    const std::string where = fmt::format("packages[{}]", i);
    if (!p.is_object()) in.fail(where + ": not an object");
    in.known_members(p, {"pattern", "level", "versions", "promotions"}, where);
    PackageRule rule;
    rule.pattern = in.pattern(p.contains("pattern") ? p["pattern"] : json(), i);
    if (p.contains("level")) rule.level = in.level(p["level"], i);
    if (p.contains("versions"))
      rule.versions = in.signers(p["versions"], ids_by_name, where + ".versions");
    else if (rule.level != Level::Skip)
      in.fail(where + ": no \"versions\" (the keys trusted to sign versions)");
    if (p.contains("promotions")) {
      if (!p["promotions"].is_object()) in.fail(where + ": \"promotions\" is not an object of tag -> keys");
      for (const auto& [tag, keys] : p["promotions"].items()) {
        if (tag != "*") {
          try {
            validate_user_tag(tag);
          } catch (const Error&) {
            in.fail(fmt::format("{}.promotions: '{}' is not a tag name or \"*\"", where, printable(tag)));
          }
        }
        rule.promotions[tag] = in.signers(keys, ids_by_name, fmt::format("{}.promotions.{}", where, tag));
      }
    }
    policy.rules_.push_back(std::move(rule));
  }
  return policy;
}

TrustPolicy TrustPolicy::load(const std::filesystem::path& file) {
  const std::string text = *read_text_file(file, "trust file", kMaxTrustFileBytes);
  return parse(text, file.parent_path(), file.string());
}

}  // namespace sacker::sign
