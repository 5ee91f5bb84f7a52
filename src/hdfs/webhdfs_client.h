// A WebHDFS REST client (Hadoop's "WebHDFS REST API", WebHDFS.html): the
// operations a blob store needs, the namenode -> datanode redirects done by hand,
// RemoteException errors, the three ways to authenticate, and namenode HA.
//
// Contract in brief:
// - Namenode requests go to the namenodes of the list, starting with the one that
//   answered last. A StandbyException, an unreachable namenode or a 5xx moves on
//   to the next; after a round over all of them the kit's Retry waits and starts
//   another round; when it gives up: Error(Unavailable) naming the last failure.
// - CREATE and OPEN are two steps done here, never by libcurl: the namenode
//   request carries no body (CREATE is a PUT with Content-Length: 0) and answers
//   307; the datanode request goes to the Location. Only namenode requests use
//   SPNEGO (HttpRequest::negotiate): a datanode never sees Kerberos credentials.
//   The Location must be https when we speak https (swebhdfs); delegation= is
//   added to it where the namenode did not put one. A datanode that fails (cannot
//   be reached, breaks the connection, answers 5xx or too few bytes) is retried
//   through the namenode with excludedatanodes=, as Hadoop's own client does.
// - Errors: the RemoteException's `exception` (else `javaClassName`) decides the
//   kind, then the status; `message` is only shown, never parsed. A 401 without
//   JSON under Kerberos is Error(Denied) with a hint to run kinit.
// - Thread-safe: calls may run on several threads at once (a connection pool).
// - Secrets: the token never appears in messages; the -v log shows delegation=
//   as REDACTED (net::redact_url).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kit/retry.h"
#include "kit/uri_options.h"
#include "net/http.h"
#include "sacker/error.h"

namespace sacker::hdfs {

enum class Auth {
  Simple,    // user.name= (and doas=), or delegation= when there is a token
  Kerberos,  // SPNEGO on the namenodes (or delegation= when there is a token)
};

struct WebHdfsConfig {
  bool tls = false;  // swebhdfs: https to namenodes and datanodes
  std::vector<HostPort> namenodes;
  Auth auth = Auth::Simple;
  std::string user;   // user.name= under simple auth; empty = none
  std::string doas;   // doas= (proxy user); empty = none
  std::string token;  // a delegation token (secret); replaces user.name and SPNEGO
  std::string ca_bundle;
  std::string display;  // the store's URI without secrets, for messages
  RetryPolicy retry;
};

struct FileStatus {
  std::string name;  // pathSuffix: the entry's name in a listing, "" from GETFILESTATUS
  bool directory = false;
  std::uint64_t length = 0;
  std::int64_t modified_ms = 0;  // modificationTime, ms since the epoch
  std::uint64_t file_id = 0;     // HDFS's inode id (0 if the namenode does not say)
};

// --- pure parts (tests/integration/webhdfs/webhdfs_client_unit_test.cpp) -----------

// The exception of a {"RemoteException": {...}} body: `exception`, else the last
// component of `javaClassName`; "" when the body is not one.
std::string remote_exception(std::string_view body);
// The error for a failed answer (`status`, `body`) to `op` on `path`.
Error remote_error(const std::string& where, std::string_view op, const std::string& path, long status,
                   std::string_view body, bool kerberos);
// One FileStatus object, or a {"FileStatus": {...}} document; a namenode answer
// of the wrong shape (hostile or broken) throws Error(Unavailable) naming `where`.
FileStatus parse_file_status(std::string_view json, const std::string& where);
struct ListPage {
  std::vector<FileStatus> entries;
  std::uint64_t remaining = 0;  // LISTSTATUS_BATCH's remainingEntries (0 for LISTSTATUS)
};
ListPage parse_list_page(std::string_view json, const std::string& where);
bool parse_boolean(std::string_view json, const std::string& where);
// "/webhdfs/v1" + the HDFS path with each segment percent-encoded.
std::string webhdfs_url_path(std::string_view hdfs_path);
// The datanode URL to use for a redirect: refuses (Error(Unavailable)) anything
// but http(s), and http when `tls`; appends delegation=token if `token` is set
// and the Location has no delegation parameter.
std::string datanode_url(std::string_view location, bool tls, const std::string& token, const std::string& where);

class WebHdfsClient {
 public:
  explicit WebHdfsClient(WebHdfsConfig config);
  ~WebHdfsClient();
  WebHdfsClient(const WebHdfsClient&) = delete;
  WebHdfsClient& operator=(const WebHdfsClient&) = delete;

  // GETFILESTATUS; nullopt for a FileNotFoundException.
  std::optional<FileStatus> status(const std::string& path);
  // Every entry of a directory, page by page (LISTSTATUS_BATCH with startAfter;
  // LISTSTATUS where the namenode does not know it). false if `dir` is absent.
  bool list(const std::string& dir, const std::function<void(const FileStatus&)>& each);
  // MKDIRS (permission 755).
  bool mkdirs(const std::string& path);
  // RENAME as FileSystem.rename: false, not an error, when the source is missing,
  // the destination exists or its parent is missing; an existing directory as the
  // destination means "move into it".
  bool rename(const std::string& from, const std::string& to);
  // DELETE, not recursive; false if there was nothing.
  bool remove(const std::string& path);
  // SETTIMES: the modification time, in ms since the epoch.
  void set_modified(const std::string& path, std::int64_t modified_ms);

  // CREATE (overwrite=false, permission 644) of a new file from `body`, named by
  // `fresh_path` at each attempt: a failed upload leaves a short file that HDFS
  // may keep leased for a while, so it is deleted (best effort) and the next
  // attempt writes another name. Returns the path written. `on_body` and
  // `on_upload` are passed to each attempt's request (see net::HttpRequest).
  std::string create_new(const std::function<std::string()>& fresh_path, const net::FileRange& body,
                         const std::function<void(std::uint64_t, const char*, std::size_t)>& on_body,
                         const std::function<void(std::uint64_t)>& on_upload);

  // OPEN: exactly `length` (> 0) bytes at `offset` into `out` (replaced), retried
  // as the top of this file says. Error(NotFound) if the file is absent,
  // Error(Invalid) for an offset past its end.
  void read(const std::string& path, std::uint64_t offset, std::uint64_t length, std::string& out);

  const std::string& display() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sacker::hdfs
