#include "sign/statement.h"

#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "sacker/error.h"
#include "sacker/names.h"
#include "sign/ledger_id.h"

namespace sacker::sign {
namespace {

using nlohmann::json;

constexpr std::int64_t kMinTime = -62167219200;  // 0000-01-01T00:00:00Z, what format_utc/parse_utc cover
constexpr std::int64_t kMaxTime = 253402300799;  // 9999-12-31T23:59:59Z

// Reads one statement, each failure an Error(Invalid) prefixed with `what_`.
class Reader {
 public:
  Reader(std::string_view payload, std::string_view predicate_type, const char* what) : what_(what) {
    try {
      root_ = json::parse(payload);
    } catch (const json::exception&) {
      fail("not JSON");  // never nlohmann's message: it quotes the input
    }
    if (!root_.is_object()) fail("not a JSON object");
    exact_members(root_, {"_type", "predicate", "predicateType", "subject"}, "the statement");
    if (text(root_, "_type") != kStatementType) fail("'_type' is not " + std::string(kStatementType));
    if (text(root_, "predicateType") != predicate_type) fail("'predicateType' is not " + std::string(predicate_type));
    const json& subject = member(root_, "subject");
    if (!subject.is_array() || subject.size() != 1 || !subject[0].is_object()) fail("'subject' is not one subject");
    exact_members(subject[0], {"digest", "name"}, "the subject");
    subject_name_ = text(subject[0], "name");
    const json& digest = member(subject[0], "digest");
    if (!digest.is_object()) fail("the subject's 'digest' is not an object");
    exact_members(digest, {"sha256"}, "the subject's digest");
    subject_sha256_ = text(digest, "sha256");
    predicate_ = &member(root_, "predicate");
    if (!predicate_->is_object()) fail("'predicate' is not an object");
  }

  [[noreturn]] void fail(const std::string& why) const {
    throw Error(ErrorKind::Invalid, fmt::format("malformed {}: {}", what_, why));
  }
  const json& predicate() const { return *predicate_; }
  void exact_members(const json& object, std::initializer_list<const char*> names, const char* where) const {
    if (object.size() != names.size()) fail(fmt::format("{} does not have exactly the fields of its type", where));
    for (const char* name : names) member(object, name);
  }
  const json& member(const json& object, const char* name) const {
    auto it = object.find(name);
    if (it == object.end()) fail(fmt::format("no '{}'", name));
    return *it;
  }
  std::string text(const json& object, const char* name) const {
    const json& v = member(object, name);
    if (!v.is_string()) fail(fmt::format("'{}' is not a string", name));
    return v.get<std::string>();
  }
  std::uint64_t number(const json& object, const char* name) const {
    const json& v = member(object, name);
    if (!v.is_number_unsigned()) fail(fmt::format("'{}' is not a non-negative integer", name));
    return v.get<std::uint64_t>();
  }
  std::int64_t time(const json& object, const char* name) const {
    try {
      return parse_utc(text(object, name));
    } catch (const Error&) {
      fail(fmt::format("'{}' is not an RFC 3339 UTC time", name));
    }
  }
  std::string ledger() const {
    std::string id = text(predicate(), "ledger");
    try {
      validate_ledger_id(id);
    } catch (const Error&) {
      fail("'ledger' is not a ledger id");
    }
    return id;
  }
  // The subject must name what the predicate says.
  void check_subject(const std::string& package, std::uint64_t version, const std::string& sha256) const {
    if (subject_name_ != fmt::format("{}@{}", package, version) || subject_sha256_ != sha256)
      fail("the subject differs from the predicate");
  }
  // Names and numbers are validated; a failure is re-worded as this statement's.
  template <typename Fn>
  void validated(Fn&& fn) const {
    try {
      fn();
    } catch (const Error& e) {
      fail(e.what());
    }
  }

 private:
  const char* what_;
  json root_;
  const json* predicate_ = nullptr;
  std::string subject_name_, subject_sha256_;
};

std::string statement_text(std::string_view predicate_type, const std::string& package, std::uint64_t version,
                           const std::string& sha256, json predicate) {
  json subject = json::array({{{"name", fmt::format("{}@{}", package, version)}, {"digest", {{"sha256", sha256}}}}});
  return json{{"_type", kStatementType},
              {"subject", std::move(subject)},
              {"predicateType", predicate_type},
              {"predicate", std::move(predicate)}}
      .dump();
}

void validate_promotion(const PromotionStatement& s) {
  validate_ledger_id(s.ledger);
  validate_package_name(s.package);
  validate_user_tag(s.tag);
  validate_sha256_hex(s.sha256, "promotion: 'sha256'");
  if (s.version == 0) throw Error(ErrorKind::Invalid, "promotion: 'version' is not a positive integer");
  if (s.previous && *s.previous == 0) throw Error(ErrorKind::Invalid, "promotion: 'previous' is not a version");
  if (s.generation == 0) throw Error(ErrorKind::Invalid, "promotion: 'generation' is not a positive integer");
  if (s.time < kMinTime || s.time > kMaxTime)
    throw Error(ErrorKind::Invalid, "promotion: 'time' is not a time in the years 0000..9999");
}

}  // namespace

VersionStatement version_statement(const VersionRecord& record, std::string_view ledger) {
  VersionStatement s{std::string(ledger), record};
  s.record.signatures.clear();
  validate_ledger_id(s.ledger);
  validate_record(s.record);
  return s;
}

PromotionStatement promotion_statement(const Event& event, std::string_view ledger) {
  if (event.action != EventAction::Tag && event.action != EventAction::Rollback)
    throw Error(ErrorKind::Invalid, fmt::format("cannot sign a '{}' event as a promotion", action_name(event.action)));
  if (event.seq == 0) throw Error(ErrorKind::Invalid, "cannot sign a promotion before the ledger numbers its event");
  PromotionStatement s{std::string(ledger), event.package,  event.tag, event.version,
                       event.sha256,        event.previous, event.seq, event.time};
  validate_promotion(s);
  return s;
}

std::string statement_json(const VersionStatement& s) {
  const VersionRecord& r = s.record;
  json predicate{{"package", r.package},
                 {"version", r.version},
                 {"sha256", r.sha256},
                 {"size", r.size},
                 {"basename", r.basename},
                 {"mode", r.mode},
                 {"created", format_utc(r.created)},
                 {"metadata", r.metadata.empty() ? json::object() : json(r.metadata)},
                 {"ledger", s.ledger}};
  return statement_text(kVersionPredicate, r.package, r.version, r.sha256, std::move(predicate));
}

std::string statement_json(const PromotionStatement& s) {
  json predicate{{"package", s.package},
                 {"tag", s.tag},
                 {"version", s.version},
                 {"sha256", s.sha256},
                 {"previous", s.previous ? json(*s.previous) : json(nullptr)},
                 {"generation", s.generation},
                 {"time", format_utc(s.time)},
                 {"ledger", s.ledger}};
  return statement_text(kPromotionPredicate, s.package, s.version, s.sha256, std::move(predicate));
}

VersionStatement parse_version_statement(std::string_view payload) {
  Reader in(payload, kVersionPredicate, "version statement");
  const json& p = in.predicate();
  in.exact_members(p, {"basename", "created", "ledger", "metadata", "mode", "package", "sha256", "size", "version"},
                   "the predicate");
  VersionStatement s;
  s.ledger = in.ledger();
  VersionRecord& r = s.record;
  r.package = in.text(p, "package");
  r.version = in.number(p, "version");
  r.sha256 = in.text(p, "sha256");
  r.size = in.number(p, "size");
  r.basename = in.text(p, "basename");
  const std::uint64_t mode = in.number(p, "mode");
  if (mode > 07777) in.fail("'mode' is not a file mode");
  r.mode = static_cast<std::uint32_t>(mode);
  r.created = in.time(p, "created");
  const json& metadata = in.member(p, "metadata");
  if (!metadata.is_object()) in.fail("'metadata' is not an object");
  for (const auto& [key, value] : metadata.items()) {
    if (!value.is_string()) in.fail("'metadata' has a value that is not a string");
    r.metadata[key] = value.get<std::string>();
  }
  in.validated([&] { validate_record(r); });
  in.check_subject(r.package, r.version, r.sha256);
  if (statement_json(s) != payload) in.fail("not in canonical form (compact, keys sorted)");
  return s;
}

PromotionStatement parse_promotion_statement(std::string_view payload) {
  Reader in(payload, kPromotionPredicate, "promotion statement");
  const json& p = in.predicate();
  in.exact_members(p, {"generation", "ledger", "package", "previous", "sha256", "tag", "time", "version"},
                   "the predicate");
  PromotionStatement s;
  s.ledger = in.ledger();
  s.package = in.text(p, "package");
  s.tag = in.text(p, "tag");
  s.version = in.number(p, "version");
  s.sha256 = in.text(p, "sha256");
  if (!in.member(p, "previous").is_null()) s.previous = in.number(p, "previous");
  s.generation = in.number(p, "generation");
  s.time = in.time(p, "time");
  in.validated([&] { validate_promotion(s); });
  in.check_subject(s.package, s.version, s.sha256);
  if (statement_json(s) != payload) in.fail("not in canonical form (compact, keys sorted)");
  return s;
}

std::optional<std::string> predicate_type_of(std::string_view payload) {
  try {
    json j = json::parse(payload);
    if (j.is_object() && j.value("_type", "") == kStatementType && j.contains("predicateType") &&
        j["predicateType"].is_string())
      return j["predicateType"].get<std::string>();
  } catch (const json::exception&) {
  }
  return std::nullopt;
}

std::string sign_version(const VersionRecord& record, std::string_view ledger, const PrivateKey& key) {
  return envelope_to_json(sign_envelope(kInTotoPayloadType, statement_json(version_statement(record, ledger)), key));
}

std::string sign_promotion(const Event& event, std::string_view ledger, const PrivateKey& key) {
  return envelope_to_json(sign_envelope(kInTotoPayloadType, statement_json(promotion_statement(event, ledger)), key));
}

}  // namespace sacker::sign
