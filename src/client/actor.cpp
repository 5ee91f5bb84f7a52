// Who made a change: default_actor (sacker/client.h). Only names and ids are read
// from the environment, never a token: each CI's variables are named one by one.
#include <pwd.h>
#include <unistd.h>

#include <string_view>

#include "core/codec.h"
#include "sacker/client.h"

namespace sacker {

namespace {

constexpr std::size_t kMaxActor = 256;

std::size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xe) return 3;
  if ((lead >> 3) == 0x1e) return 4;
  return 0;
}

// Printable UTF-8 of at most 256 bytes: control characters (C0, DEL, C1) and
// bytes that are not UTF-8 become '?', cut at a character boundary.
std::string sanitized(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t n = utf8_length(lead);
    std::string_view ch = n && i + n <= text.size() ? text.substr(i, n) : std::string_view();
    if (ch.empty() || !codec::is_valid_utf8(ch)) {
      ch = "?";
      n = 1;
    } else if (lead < 0x20 || lead == 0x7f || (lead == 0xc2 && static_cast<unsigned char>(ch[1]) < 0xa0)) {
      ch = "?";  // C0, DEL, and C1 (U+0080..U+009F, encoded C2 80..C2 9F)
    }
    if (out.size() + ch.size() > kMaxActor) break;
    out += ch;
    i += n;
  }
  return out.empty() ? "unknown" : out;
}

std::string local_user(const EnvLookup& env) {
  for (const char* name : {"USER", "LOGNAME"})
    if (auto v = env(name); v && !v->empty()) return *v;
  if (const passwd* pw = ::getpwuid(::geteuid()); pw && pw->pw_name) return pw->pw_name;
  return "uid" + std::to_string(::geteuid());
}

std::string host_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || !*host) return "localhost";
  return host;
}

}  // namespace

std::string default_actor(const EnvLookup& env) {
  auto get = [&env](const char* name) {
    auto v = env(name);
    return v ? *v : std::string();
  };
  auto who = [](const std::string& user) { return user.empty() ? std::string("unknown") : user; };
  auto with = [](const char* label, const std::string& value) {
    return value.empty() ? std::string() : std::string(" ") + label + " " + value;
  };

  if (auto actor = get("SACKER_ACTOR"); !actor.empty()) return sanitized(actor);
  // GitHub Actions
  if (!get("GITHUB_ACTOR").empty() || !get("GITHUB_RUN_ID").empty()) {
    const std::string attempt = get("GITHUB_RUN_ATTEMPT");
    return sanitized("github:" + who(get("GITHUB_ACTOR")) + with("run", get("GITHUB_RUN_ID")) +
                     (attempt.empty() || attempt == "1" ? "" : with("attempt", attempt)));
  }
  // GitLab CI
  if (!get("GITLAB_USER_LOGIN").empty() || !get("GITLAB_CI").empty())
    return sanitized("gitlab:" + who(get("GITLAB_USER_LOGIN")) + with("job", get("CI_JOB_ID")));
  // Jenkins (BUILD_USER_ID comes from the build-user-vars plugin, when installed)
  if (!get("JENKINS_URL").empty() || !get("BUILD_TAG").empty() ||
      (!get("BUILD_NUMBER").empty() && !get("JOB_NAME").empty())) {
    const std::string user = get("BUILD_USER_ID").empty() ? "jenkins" : get("BUILD_USER_ID");
    const std::string build = !get("BUILD_TAG").empty()
                                  ? with("build", get("BUILD_TAG"))
                                  : with("job", get("JOB_NAME")) + with("build", get("BUILD_NUMBER"));
    return sanitized("jenkins:" + user + build);
  }
  // Buildkite
  if (!get("BUILDKITE_BUILD_NUMBER").empty() || !get("BUILDKITE").empty()) {
    const std::string user =
        get("BUILDKITE_BUILD_CREATOR").empty() ? get("BUILDKITE_BUILD_AUTHOR") : get("BUILDKITE_BUILD_CREATOR");
    return sanitized("buildkite:" + who(user) + with("build", get("BUILDKITE_BUILD_NUMBER")) +
                     with("job", get("BUILDKITE_JOB_ID")));
  }
  // CircleCI
  if (!get("CIRCLE_BUILD_NUM").empty() || !get("CIRCLECI").empty())
    return sanitized("circleci:" + who(get("CIRCLE_USERNAME")) + with("build", get("CIRCLE_BUILD_NUM")));
  return sanitized(local_user(env) + "@" + host_name());
}

}  // namespace sacker
