#include "hdfs/webhdfs_client.h"

#include <fmt/core.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <utility>

#include "core/codec.h"
#include "sacker/log.h"
#include "sacker/names.h"

namespace sacker::hdfs {
namespace {

using nlohmann::json;
using Params = std::vector<std::pair<std::string, std::string>>;

struct ExceptionKind {
  const char* name;
  ErrorKind kind;
};
// Decided on the exception's name, never on its message (WebHDFS.html, "Error
// Responses", plus the HDFS exceptions a store meets).
constexpr ExceptionKind kExceptionKinds[] = {
    {"FileNotFoundException", ErrorKind::NotFound},
    {"AccessControlException", ErrorKind::Denied},
    {"SecurityException", ErrorKind::Denied},
    {"AuthorizationException", ErrorKind::Denied},
    {"InvalidToken", ErrorKind::Denied},
    {"SecretManager$InvalidToken", ErrorKind::Denied},
    {"DSQuotaExceededException", ErrorKind::Denied},
    {"NSQuotaExceededException", ErrorKind::Denied},
    {"FileAlreadyExistsException", ErrorKind::Conflict},
    {"AlreadyBeingCreatedException", ErrorKind::Conflict},
    {"StandbyException", ErrorKind::Unavailable},
    {"RetriableException", ErrorKind::Unavailable},
    {"SafeModeException", ErrorKind::Unavailable},
    {"IllegalArgumentException", ErrorKind::Invalid},
    {"InvalidPathException", ErrorKind::Invalid},
    {"UnsupportedOperationException", ErrorKind::Invalid},
    {"ParentNotDirectoryException", ErrorKind::Invalid},
    {"PathIsNotEmptyDirectoryException", ErrorKind::Invalid},
    {"EOFException", ErrorKind::Invalid},
};

bool token_exception(std::string_view name) { return name.find("Token") != std::string_view::npos; }

bool retryable_status(long status) { return status == 429 || (status >= 500 && status < 600); }

std::string enc(std::string_view s) { return codec::percent_encode(s); }

json parse_json(std::string_view text, const std::string& where) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw Error(ErrorKind::Unavailable, fmt::format("{}: the namenode's answer is not WebHDFS JSON", where));
  return j;
}

[[noreturn]] void bad_shape(const std::string& where, std::string_view what) {
  throw Error(ErrorKind::Unavailable, fmt::format("{}: unexpected WebHDFS answer: {}", where, what));
}

std::uint64_t unsigned_field(const json& o, const char* name, const std::string& where, bool required) {
  auto it = o.find(name);
  if (it == o.end()) {
    if (required) bad_shape(where, fmt::format("no \"{}\"", name));
    return 0;
  }
  if (!it->is_number_unsigned()) bad_shape(where, fmt::format("\"{}\" is not a non-negative integer", name));
  return it->get<std::uint64_t>();
}

FileStatus file_status_of(const json& o, const std::string& where) {
  if (!o.is_object()) bad_shape(where, "a FileStatus that is not an object");
  FileStatus s;
  auto suffix = o.find("pathSuffix");
  if (suffix != o.end()) {
    if (!suffix->is_string()) bad_shape(where, "\"pathSuffix\" is not a string");
    s.name = suffix->get<std::string>();
  }
  auto type = o.find("type");
  if (type == o.end() || !type->is_string()) bad_shape(where, "no \"type\"");
  s.directory = type->get<std::string>() == "DIRECTORY";
  s.length = unsigned_field(o, "length", where, true);
  const std::uint64_t mtime = unsigned_field(o, "modificationTime", where, true);
  if (mtime > static_cast<std::uint64_t>(INT64_MAX)) bad_shape(where, "\"modificationTime\" out of range");
  s.modified_ms = static_cast<std::int64_t>(mtime);
  s.file_id = unsigned_field(o, "fileId", where, false);
  return s;
}

void add_param(std::string& url, std::string_view name, std::string_view value) {
  url += '&';
  url += name;
  url += '=';
  url += enc(value);
}

std::string host_port(const HostPort& hp) {
  return hp.host.find(':') != std::string::npos ? fmt::format("[{}]:{}", hp.host, hp.port)
                                                : fmt::format("{}:{}", hp.host, hp.port);
}

}  // namespace

std::string remote_exception(std::string_view body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return "";
  auto re = j.find("RemoteException");
  if (re == j.end() || !re->is_object()) return "";
  auto ex = re->find("exception");
  if (ex != re->end() && ex->is_string() && !ex->get<std::string>().empty()) return ex->get<std::string>();
  auto cls = re->find("javaClassName");
  if (cls == re->end() || !cls->is_string()) return "";
  const std::string name = cls->get<std::string>();
  return name.substr(name.rfind('.') == std::string::npos ? 0 : name.rfind('.') + 1);
}

Error remote_error(const std::string& where, std::string_view op, const std::string& path, long status,
                   std::string_view body, bool kerberos) {
  const std::string exception = remote_exception(body);
  const std::string head = fmt::format("{}: {} {}", where, op, printable(path));
  if (exception.empty()) {
    if (status == 401)
      return Error(ErrorKind::Denied,
                   kerberos ? fmt::format("{}: the namenode wants Kerberos and got no ticket (HTTP 401): kinit? "
                                          "(KRB5CCNAME names the credential cache)",
                                          head)
                            : fmt::format("{}: the namenode wants authentication (HTTP 401): use auth=kerberos or a "
                                          "delegation token (token_file= or $WEBHDFS_DELEGATION_TOKEN)",
                                          head));
    return Error(net::error_kind_for_status(status),
                 fmt::format("{}: HTTP {} without a RemoteException (is this a WebHDFS server?)", head, status));
  }
  ErrorKind kind = status >= 500   ? ErrorKind::Unavailable
                   : status == 401 ? ErrorKind::Denied
                   : status == 400 ? ErrorKind::Invalid
                                   : ErrorKind::Unavailable;
  for (const auto& e : kExceptionKinds)
    if (exception == e.name) kind = e.kind;
  std::string message;
  if (!token_exception(exception)) {
    json j = json::parse(body, nullptr, false);
    const auto& m = j["RemoteException"]["message"];
    if (m.is_string()) message = printable(m.get<std::string>().substr(0, 300));
  }
  return Error(kind, fmt::format("{}: {}{}{} (HTTP {})", head, printable(exception), message.empty() ? "" : ": ",
                                 message, status));
}

FileStatus parse_file_status(std::string_view text, const std::string& where) {
  json j = parse_json(text, where);
  auto it = j.find("FileStatus");
  return file_status_of(it == j.end() ? j : *it, where);
}

ListPage parse_list_page(std::string_view text, const std::string& where) {
  json j = parse_json(text, where);
  ListPage page;
  const json* statuses = nullptr;
  if (auto dl = j.find("DirectoryListing"); dl != j.end()) {  // LISTSTATUS_BATCH
    if (!dl->is_object()) bad_shape(where, "\"DirectoryListing\" is not an object");
    page.remaining = unsigned_field(*dl, "remainingEntries", where, true);
    auto partial = dl->find("partialListing");
    if (partial == dl->end() || !partial->is_object()) bad_shape(where, "no \"partialListing\"");
    statuses = &*partial;
  } else {
    statuses = &j;  // LISTSTATUS
  }
  auto fss = statuses->find("FileStatuses");
  if (fss == statuses->end() || !fss->is_object()) bad_shape(where, "no \"FileStatuses\"");
  auto list = fss->find("FileStatus");
  if (list == fss->end() || !list->is_array()) bad_shape(where, "\"FileStatus\" is not a list");
  for (const auto& o : *list) page.entries.push_back(file_status_of(o, where));
  return page;
}

bool parse_boolean(std::string_view text, const std::string& where) {
  json j = parse_json(text, where);
  auto b = j.find("boolean");
  if (b == j.end() || !b->is_boolean()) bad_shape(where, "no \"boolean\"");
  return b->get<bool>();
}

std::string webhdfs_url_path(std::string_view hdfs_path) {
  return "/webhdfs/v1" + codec::percent_encode(hdfs_path, "/");
}

std::string datanode_url(std::string_view location, bool tls, const std::string& token, const std::string& where) {
  net::UrlParts u;
  try {
    u = net::parse_url(location);
  } catch (const Error&) {
    throw Error(ErrorKind::Unavailable, fmt::format("{}: the namenode redirected to an unusable Location", where));
  }
  if (tls && u.scheme != "https")
    throw Error(ErrorKind::Unavailable,
                fmt::format("{}: the namenode redirected to a plain-http datanode ({}); over swebhdfs nothing is "
                            "sent in the clear",
                            where, u.host_header()));
  std::string url(location);
  if (token.empty()) return url;
  for (std::string_view q = u.query; !q.empty();) {
    const auto amp = q.find('&');
    const std::string_view item = q.substr(0, amp);
    if (codec::iequals(item.substr(0, item.find('=')), "delegation")) return url;
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
  }
  return url + (u.query.empty() ? "?" : "&") + "delegation=" + enc(token);
}

struct WebHdfsClient::Impl {
  WebHdfsConfig config;
  net::HttpClientPool pool;
  std::atomic<std::size_t> active{0};  // the namenode that answered last

  explicit Impl(WebHdfsConfig c) : config(std::move(c)), pool(options(config)) {}

  static net::HttpOptions options(const WebHdfsConfig& c) {
    net::HttpOptions o;
    o.ca_bundle = c.ca_bundle;
    o.retry.max_attempts = 1;  // every retry here is ours: failover first, then backoff
    return o;
  }

  bool kerberos() const { return config.auth == Auth::Kerberos && config.token.empty(); }
  std::string what(std::string_view op, const std::string& path) const {
    return fmt::format("{}: {} {}", config.display, op, printable(path));
  }

  std::string namenode_url(std::size_t i, std::string_view op, const std::string& path, const Params& params) const {
    std::string url = fmt::format("{}://{}{}?op={}", config.tls ? "https" : "http", host_port(config.namenodes[i]),
                                  webhdfs_url_path(path), op);
    if (!config.token.empty())
      add_param(url, "delegation", config.token);
    else if (config.auth == Auth::Simple && !config.user.empty())
      add_param(url, "user.name", config.user);
    if (!config.doas.empty()) add_param(url, "doas", config.doas);
    for (const auto& [k, v] : params) add_param(url, k, v);
    return url;
  }

  // One namenode request with failover and backoff (see the header). Every
  // namenode request of this client may be repeated: the callers of RENAME and
  // DELETE tell a repeated "false" from a real one.
  net::HttpResponse namenode(net::HttpClient& http, const char* method, std::string_view op, const std::string& path,
                             const Params& params = {}) {
    const std::size_t n = config.namenodes.size();
    Retry retry(config.retry, what(op, path));
    for (;;) {
      std::string last;
      const std::size_t first = active.load();
      for (std::size_t k = 0; k < n; ++k) {
        const std::size_t i = (first + k) % n;
        const std::string nn = host_port(config.namenodes[i]);
        net::HttpRequest r;
        r.method = method;
        r.url = namenode_url(i, op, path, params);
        r.idempotent = true;
        r.negotiate = kerberos();
        net::HttpResponse resp;
        try {
          resp = http.send(r);
        } catch (const Error& e) {
          if (e.kind() != ErrorKind::Unavailable) throw;
          last = e.what();
          continue;
        }
        if (resp.status == 403 && remote_exception(resp.body) == "StandbyException") {
          last = fmt::format("namenode {} is in standby", nn);
          if (n > 1) log_verbose(fmt::format("webhdfs: {}; trying the next namenode", last));
          continue;
        }
        if (retryable_status(resp.status)) {
          last = remote_error(what(op, path), op, path, resp.status, resp.body, kerberos()).what();
          continue;
        }
        active.store(i);
        return resp;
      }
      retry.failed(FailureCause::ServerTrouble, last);
    }
  }

  // The namenode's answer that must have status `want`; otherwise its error.
  net::HttpResponse expect(net::HttpResponse r, long want, std::string_view op, const std::string& path) const {
    if (r.status == want) return r;
    if (r.status >= 200 && r.status < 400)
      throw Error(ErrorKind::Unavailable,
                  fmt::format("{}: unexpected HTTP {} (wanted {})", what(op, path), r.status, want));
    throw remote_error(config.display, op, path, r.status, r.body, kerberos());
  }

  std::string redirect(net::HttpClient& http, const char* method, std::string_view op, const std::string& path,
                       Params params, const std::string& excluded) {
    if (!excluded.empty()) params.emplace_back("excludedatanodes", excluded);
    auto r = expect(namenode(http, method, op, path, params), 307, op, path);
    const std::string* location = r.header("Location");
    if (!location || location->empty())
      throw Error(ErrorKind::Unavailable, fmt::format("{}: a redirect without a Location", what(op, path)));
    return datanode_url(*location, config.tls, config.token, what(op, path));
  }

  static void exclude(std::string& excluded, const std::string& url) {
    try {
      const net::UrlParts u = net::parse_url(url);
      const std::string dn = fmt::format("{}:{}", u.host, u.port);
      if (excluded.find(dn) == std::string::npos) excluded += (excluded.empty() ? "" : ",") + dn;
    } catch (const Error&) {
    }
  }

  void discard(net::HttpClient& http, const std::string& path) noexcept {
    try {
      namenode(http, "DELETE", "DELETE", path, {{"recursive", "false"}});
    } catch (const Error& e) {
      log_verbose(fmt::format("webhdfs: could not delete the partial file {}: {}", printable(path), e.what()));
    }
  }
};

WebHdfsClient::WebHdfsClient(WebHdfsConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {
  if (impl_->config.namenodes.empty()) throw Error(ErrorKind::Invalid, "webhdfs: no namenode");
}
WebHdfsClient::~WebHdfsClient() = default;

const std::string& WebHdfsClient::display() const { return impl_->config.display; }

std::optional<FileStatus> WebHdfsClient::status(const std::string& path) {
  auto http = impl_->pool.acquire();
  auto r = impl_->namenode(*http, "GET", "GETFILESTATUS", path);
  if (r.status == 404 && remote_exception(r.body) == "FileNotFoundException") return std::nullopt;
  r = impl_->expect(std::move(r), 200, "GETFILESTATUS", path);
  return parse_file_status(r.body, impl_->what("GETFILESTATUS", path));
}

bool WebHdfsClient::list(const std::string& dir, const std::function<void(const FileStatus&)>& each) {
  auto http = impl_->pool.acquire();
  std::string after;
  for (bool first = true;; first = false) {
    Params params;
    if (!after.empty()) params.emplace_back("startAfter", after);
    auto r = impl_->namenode(*http, "GET", "LISTSTATUS_BATCH", dir, params);
    const std::string exception = r.status == 200 ? "" : remote_exception(r.body);
    if (exception == "FileNotFoundException") return false;
    if (first && r.status == 400 &&
        (exception == "IllegalArgumentException" || exception == "UnsupportedOperationException")) {
      // An older namenode (LISTSTATUS_BATCH came with Hadoop 2.8): one LISTSTATUS.
      r = impl_->namenode(*http, "GET", "LISTSTATUS", dir);
      if (r.status == 404 && remote_exception(r.body) == "FileNotFoundException") return false;
      r = impl_->expect(std::move(r), 200, "LISTSTATUS", dir);
      for (const auto& s : parse_list_page(r.body, impl_->what("LISTSTATUS", dir)).entries) each(s);
      return true;
    }
    r = impl_->expect(std::move(r), 200, "LISTSTATUS_BATCH", dir);
    const ListPage page = parse_list_page(r.body, impl_->what("LISTSTATUS_BATCH", dir));
    for (const auto& s : page.entries) each(s);
    if (page.remaining == 0) return true;
    // The next page starts after the last name; a page that does not move forward
    // would loop for ever.
    if (page.entries.empty() || page.entries.back().name <= after)
      bad_shape(impl_->what("LISTSTATUS_BATCH", dir), "a listing page that does not advance");
    after = page.entries.back().name;
  }
}

bool WebHdfsClient::mkdirs(const std::string& path) {
  auto http = impl_->pool.acquire();
  auto r = impl_->expect(impl_->namenode(*http, "PUT", "MKDIRS", path, {{"permission", "755"}}), 200, "MKDIRS", path);
  return parse_boolean(r.body, impl_->what("MKDIRS", path));
}

bool WebHdfsClient::rename(const std::string& from, const std::string& to) {
  auto http = impl_->pool.acquire();
  auto r = impl_->expect(impl_->namenode(*http, "PUT", "RENAME", from, {{"destination", to}}), 200, "RENAME", from);
  return parse_boolean(r.body, impl_->what("RENAME", from));
}

bool WebHdfsClient::remove(const std::string& path) {
  auto http = impl_->pool.acquire();
  auto r =
      impl_->expect(impl_->namenode(*http, "DELETE", "DELETE", path, {{"recursive", "false"}}), 200, "DELETE", path);
  return parse_boolean(r.body, impl_->what("DELETE", path));
}

void WebHdfsClient::set_modified(const std::string& path, std::int64_t modified_ms) {
  auto http = impl_->pool.acquire();
  impl_->expect(impl_->namenode(*http, "PUT", "SETTIMES", path,
                                {{"modificationtime", std::to_string(modified_ms)}, {"accesstime", "-1"}}),
                200, "SETTIMES", path);
}

std::string WebHdfsClient::create_new(const std::function<std::string()>& fresh_path, const net::FileRange& body,
                                      const std::function<void(std::uint64_t, const char*, std::size_t)>& on_body,
                                      const std::function<void(std::uint64_t)>& on_upload) {
  auto http = impl_->pool.acquire();
  std::string excluded;
  Retry retry(impl_->config.retry, fmt::format("{}: CREATE", impl_->config.display));
  for (;;) {
    const std::string path = fresh_path();
    const std::string url =
        impl_->redirect(*http, "PUT", "CREATE", path, {{"overwrite", "false"}, {"permission", "644"}}, excluded);
    net::HttpRequest put;
    put.method = "PUT";
    put.url = url;
    put.headers = {{"Content-Type", "application/octet-stream"}};
    put.body_file = body;
    put.on_body = on_body;
    put.on_upload = on_upload;
    put.max_attempts = 1;  // retried here, under a new name
    net::HttpResponse r;
    try {
      r = http->send(put);
    } catch (const Error& e) {
      impl_->discard(*http, path);  // whatever reached the datanode
      if (e.kind() != ErrorKind::Unavailable) throw;
      Impl::exclude(excluded, url);
      retry.failed(FailureCause::ServerTrouble, e.what());
      continue;
    }
    if (r.status == 201 || r.status == 200) return path;
    if (!retryable_status(r.status))
      throw remote_error(impl_->config.display, "CREATE (datanode)", path, r.status, r.body, false);
    Impl::exclude(excluded, url);
    impl_->discard(*http, path);
    retry.failed(FailureCause::ServerTrouble, fmt::format("the datanode answered HTTP {}", r.status));
  }
}

void WebHdfsClient::read(const std::string& path, std::uint64_t offset, std::uint64_t length, std::string& out) {
  auto http = impl_->pool.acquire();
  std::string excluded;
  Retry retry(impl_->config.retry, impl_->what("OPEN", path));
  for (;;) {
    const std::string url = impl_->redirect(
        *http, "GET", "OPEN", path, {{"offset", std::to_string(offset)}, {"length", std::to_string(length)}}, excluded);
    net::HttpRequest get;
    get.url = url;
    get.idempotent = true;
    get.max_attempts = 1;  // retried here, through the namenode
    get.sink = net::ResponseSink{[&out](const char* d, std::size_t n) { out.append(d, n); }, [&out] { out.clear(); }};
    out.clear();
    std::string failure;
    net::HttpResponse r;
    try {
      r = http->send(get);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::Unavailable) throw;
      failure = e.what();
    }
    if (failure.empty()) {
      if (r.status == 200 && out.size() == length) return;
      if (r.status != 200 && !retryable_status(r.status))
        throw remote_error(impl_->config.display, "OPEN (datanode)", path, r.status, r.body, false);
      failure = r.status == 200 ? fmt::format("the datanode sent {} of {} bytes", out.size(), length)
                                : fmt::format("the datanode answered HTTP {}", r.status);
    }
    out.clear();
    Impl::exclude(excluded, url);
    retry.failed(FailureCause::ServerTrouble, failure);
  }
}

}  // namespace sacker::hdfs
