// Backend URIs: scheme://authority/path?query. Parsing is pure; each backend
// interprets authority and path itself (bucket, host list, region, ...).
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace sacker {

struct Uri {
  std::string text;                          // as given
  std::string scheme;                        // lower-case, e.g. "sqlite", "s3", "zk"
  std::string authority;                     // between "//" and the next '/', '?' (may be empty: "sqlite:///x")
  std::string path;                          // from the '/' after the authority up to '?', percent-decoded
  std::map<std::string, std::string> query;  // decoded; "a" without '=' maps to ""
};

// Throws Error(Invalid) "invalid URI 'x': <why>" for a missing scheme, a missing
// "//", bad percent escapes or control bytes.
Uri parse_uri(std::string_view text);

// The URI for messages and logs: the userinfo of the authority (user and password:
// a token is often passed as the user name) becomes "***", as does every query
// value whose name looks secret (pass, pwd, secret, token, key, signature,
// credential, auth); a query value that is itself a URI (raw or percent-encoded)
// or a scp-like "user@host:path" is redacted the same way.
std::string redact_uri(std::string_view text);

// Splits "user:password@host:port" into its parts; missing parts are empty.
struct Authority {
  std::string user, password, host, port;
};
Authority split_authority(std::string_view authority);

}  // namespace sacker
