#include "azure/blob_client.h"

#include <fmt/core.h>
#include <openssl/evp.h>

#include <pugixml.hpp>

#include "core/codec.h"
#include "net/http_status.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker::azure {
namespace {

constexpr std::int64_t kMaxSasSeconds = 365LL * 24 * 3600;

struct ErrorDoc {
  std::string code, message;
};

ErrorDoc parse_error_doc(const std::string& body) {
  ErrorDoc d;
  pugi::xml_document doc;
  if (body.empty() || !doc.load_buffer(body.data(), body.size())) return d;
  auto root = doc.child("Error");
  d.code = root.child_value("Code");
  d.message = root.child_value("Message");
  // The service appends "\nRequestId:...\nTime:..." lines: keep the first.
  if (auto nl = d.message.find_first_of("\r\n"); nl != std::string::npos) d.message.resize(nl);
  return d;
}

std::uint64_t parse_size(const std::string* text) {
  if (!text) return 0;
  return codec::parse_decimal(codec::trim(*text)).value_or(0);
}

BlobProperties properties_from(const net::HttpResponse& r) {
  BlobProperties p;
  p.size = parse_size(r.header("Content-Length"));
  if (const auto* et = r.header("ETag")) p.etag = *et;
  if (const auto* lm = r.header("Last-Modified")) p.last_modified = codec::parse_http_date(*lm).value_or(0);
  return p;
}

}  // namespace

std::string content_md5(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr))
    throw Error(ErrorKind::Internal, "MD5 failed");
  return codec::base64_encode(std::string_view(reinterpret_cast<const char*>(md), len));
}

std::string error_code(const net::HttpResponse& r) {
  if (const auto* code = r.header("x-ms-error-code"); code && !code->empty()) return *code;
  return parse_error_doc(r.body).code;
}

ListPage parse_list_page(const std::string& body, const std::string& what) {
  auto malformed = [&](const char* why) {
    return Error(ErrorKind::Unavailable, fmt::format("{}: malformed List Blobs answer ({})", what, why));
  };
  pugi::xml_document doc;
  if (!doc.load_buffer(body.data(), body.size())) throw malformed("not XML");
  auto root = doc.child("EnumerationResults");
  if (!root) throw malformed("no EnumerationResults");
  ListPage page;
  for (auto b : root.child("Blobs").children("Blob")) {
    auto name = b.child("Name");
    if (std::string_view(name.attribute("Encoded").value()) == "true") continue;  // not a name we write
    ListedBlob e;
    e.name = name.child_value();
    auto props = b.child("Properties");
    auto size = codec::parse_decimal(props.child_value("Content-Length"));
    if (!size) throw malformed("a blob without a valid Content-Length");
    e.properties.size = *size;
    e.properties.etag = props.child_value("Etag");
    e.properties.last_modified = codec::parse_http_date(props.child_value("Last-Modified")).value_or(0);
    page.blobs.push_back(std::move(e));
  }
  page.next_marker = root.child_value("NextMarker");
  return page;
}

BlobClient::BlobClient(AzureAccount account, net::HttpOptions http)
    : account_(std::move(account)), pool_(std::make_unique<net::HttpClientPool>(std::move(http))) {}

BlobClient::~BlobClient() = default;

std::string BlobClient::display(const std::string& container, const std::string& blob) const {
  return "azure://" + account_.name + "/" + container + (blob.empty() ? "" : "/" + printable(blob));
}

std::string BlobClient::url(const std::string& container, const std::string& blob, const std::string& query) const {
  std::string out = account_.endpoint + "/" + container;
  if (!blob.empty()) out += "/" + codec::percent_encode(blob, "/");
  if (!query.empty()) out += "?" + query;
  return out;
}

std::string BlobClient::blob_url(const std::string& container, const std::string& blob) const {
  return url(container, blob, "");
}

net::HttpResponse BlobClient::send(net::HttpRequest& request, std::uint64_t content_length) {
  if (!account_.has_credentials())
    throw Error(ErrorKind::Denied,
                fmt::format("{}: no Azure credentials: set AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_KEY "
                            "(with AZURE_STORAGE_ACCOUNT) or AZURE_STORAGE_SAS_TOKEN",
                            display("")));
  request.headers.emplace_back("x-ms-version", std::string(kApiVersion));
  if (account_.key) {
    request.sign = [key = *account_.key, content_length](net::HttpRequest& r) {
      sign_request(r, content_length, key, std::chrono::system_clock::now());
    };
  } else {
    request.url += (request.url.find('?') == std::string::npos ? "?" : "&") + account_.sas_token;
    request.sign = [](net::HttpRequest& r) {
      net::set_header(r.headers, "x-ms-date", codec::http_date(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now())));
    };
  }
  auto client = pool_->acquire();
  return client->send(request);
}

void BlobClient::fail(const net::HttpResponse& r, const std::string& container, const std::string& blob) const {
  const ErrorDoc doc = parse_error_doc(r.body);
  const std::string target = display(container, blob);
  std::string code = error_code(r);
  const std::string shown = code.empty() ? fmt::format("HTTP {}", r.status) : printable(code);
  std::string detail = shown;
  if (!doc.message.empty()) detail += ": " + printable(doc.message);
  if (r.status == 401 || r.status == 403)  // the message of a refused signature quotes what the service signed
    throw Error(ErrorKind::Denied, fmt::format("{}: access denied ({}; credentials from {})", target, shown,
                                               account_.source.empty() ? "nowhere" : account_.source));
  if (code == "ContainerNotFound")
    throw Error(ErrorKind::NotFound,
                fmt::format("{}: no such container (ContainerNotFound; `sacker init` creates it)", display(container)));
  if (r.status == 404) throw Error(ErrorKind::NotFound, fmt::format("{}: not found ({})", target, detail));
  if (code == "Md5Mismatch" || (code == "InvalidOperation" && doc.message.find("MD5") != std::string::npos))
    throw Error(
        ErrorKind::Integrity,
        fmt::format("{}: the service refused the bytes: they do not match their Content-MD5 ({})", target, shown));
  net::throw_for_status(r, {.target = target,
                            .detail = detail,
                            .endpoint = account_.endpoint,
                            .redirect_hint = "",
                            .busy = code == "ServerBusy" || code == "OperationTimedOut"});
}

std::optional<BlobProperties> BlobClient::properties(const std::string& container, const std::string& blob) {
  net::HttpRequest req;
  req.method = "HEAD";
  req.url = url(container, blob, "");
  req.idempotent = true;
  net::HttpResponse r = send(req, 0);
  if (r.status == 200) return properties_from(r);
  if (r.status == 404) return std::nullopt;  // the blob or its container: absent either way
  fail(r, container, blob);
}

PutResult BlobClient::put_result(const net::HttpResponse& r, const std::string& container,
                                 const std::string& blob) const {
  PutResult result;
  result.retried = r.attempts > 1;
  if (r.status == 201) {
    result.written = true;
    return result;
  }
  // If-None-Match: * on an existing blob: Put Blob answers 409 BlobAlreadyExists,
  // other operations 412 ConditionNotMet.
  const std::string code = error_code(r);
  if (r.status == 412 || (r.status == 409 && code == "BlobAlreadyExists")) return result;
  fail(r, container, blob);
}

PutResult BlobClient::put_blob(const std::string& container, const std::string& blob, std::string body,
                               const std::string& md5, const std::function<void(std::uint64_t)>& on_upload) {
  net::HttpRequest req;
  req.method = "PUT";
  req.url = url(container, blob, "");
  req.headers = {{"x-ms-blob-type", "BlockBlob"},
                 {"Content-Type", "application/octet-stream"},
                 {"Content-MD5", md5},
                 {"If-None-Match", "*"}};
  req.idempotent = true;  // content-addressed and conditional
  const std::uint64_t length = body.size();
  req.body = std::move(body);
  req.on_upload = on_upload;
  return put_result(send(req, length), container, blob);
}

void BlobClient::put_block(const std::string& container, const std::string& blob, const std::string& block_id,
                           std::string& body, const std::string& md5) {
  net::HttpRequest req;
  req.method = "PUT";
  req.url = url(container, blob, "comp=block&blockid=" + codec::percent_encode(block_id));
  req.headers = {{"Content-MD5", md5}};
  req.idempotent = true;  // the same id with the same bytes
  const std::uint64_t length = body.size();
  req.body = std::move(body);
  net::HttpResponse r;
  try {
    r = send(req, length);
  } catch (...) {
    body = std::move(req.body);
    throw;
  }
  body = std::move(req.body);
  if (r.status != 201) fail(r, container, blob);
}

PutResult BlobClient::put_block_list(const std::string& container, const std::string& blob,
                                     const std::vector<std::string>& block_ids) {
  std::string xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>";
  for (const auto& id : block_ids) xml += "<Latest>" + codec::xml_escape(id) + "</Latest>";
  xml += "</BlockList>";
  net::HttpRequest req;
  req.method = "PUT";
  req.url = url(container, blob, "comp=blocklist");
  req.headers = {{"Content-Type", "application/xml"},
                 {"Content-MD5", content_md5(xml)},
                 {"x-ms-blob-content-type", "application/octet-stream"},
                 {"If-None-Match", "*"}};
  req.idempotent = true;
  const std::uint64_t length = xml.size();
  req.body = std::move(xml);
  net::HttpResponse r = send(req, length);
  if (r.status == 400 && error_code(r) == "InvalidBlockList")
    throw Error(ErrorKind::Conflict,
                fmt::format("{}: the service no longer has our uncommitted blocks (InvalidBlockList)",
                            display(container, blob)));
  return put_result(r, container, blob);
}

std::optional<RangeAnswer> BlobClient::get_range(const std::string& container, const std::string& blob,
                                                 std::uint64_t first, std::uint64_t last, const std::string& if_match,
                                                 const std::function<void(const char*, std::size_t)>& write,
                                                 const std::function<void()>& restart) {
  net::HttpRequest req;
  req.method = "GET";
  req.url = url(container, blob, "");
  req.headers = {{"x-ms-range", fmt::format("bytes={}-{}", first, last)}};
  if (!if_match.empty()) req.headers.emplace_back("If-Match", if_match);
  req.idempotent = true;
  req.sink = net::ResponseSink{write, restart};
  net::HttpResponse r = send(req, 0);
  RangeAnswer a;
  a.properties = properties_from(r);
  if (r.status == 206 || r.status == 200) {
    a.partial = r.status == 206;
    if (a.partial) {
      net::ContentRange cr = net::content_range(r);
      if (!cr.first || !cr.last || !cr.total)
        throw Error(ErrorKind::Unavailable, fmt::format("{}: a ranged Get Blob answered 206 without a usable "
                                                        "Content-Range",
                                                        display(container, blob)));
      a.first = *cr.first;
      a.last = *cr.last;
      a.properties.size = *cr.total;
    } else {
      a.last = a.properties.size ? a.properties.size - 1 : 0;
    }
    return a;
  }
  if (r.status == 416) {
    a.unsatisfiable = true;
    a.properties.size = net::content_range(r).total.value_or(0);
    return a;
  }
  if (r.status == 404 && error_code(r) != "ContainerNotFound") return std::nullopt;
  if (r.status == 412)
    throw Error(ErrorKind::Conflict, fmt::format("{}: the blob changed (its ETag is no longer {})",
                                                 display(container, blob), printable(if_match)));
  fail(r, container, blob);
}

bool BlobClient::set_metadata(const std::string& container, const std::string& blob, const net::HttpHeaders& metadata) {
  net::HttpRequest req;
  req.method = "PUT";
  req.url = url(container, blob, "comp=metadata");
  req.headers = metadata;
  req.idempotent = true;
  net::HttpResponse r = send(req, 0);
  if (r.status == 200) return true;
  if (r.status == 404 && error_code(r) != "ContainerNotFound") return false;
  fail(r, container, blob);
}

bool BlobClient::remove(const std::string& container, const std::string& blob, const std::string& if_match) {
  net::HttpRequest req;
  req.method = "DELETE";
  req.url = url(container, blob, "");
  req.headers = {{"x-ms-delete-snapshots", "include"}};
  if (!if_match.empty()) req.headers.emplace_back("If-Match", if_match);
  req.idempotent = true;
  net::HttpResponse r = send(req, 0);
  if (r.status == 202) return true;
  // A retried delete whose first attempt succeeded finds nothing: it still removed it.
  if (r.status == 404 && error_code(r) != "ContainerNotFound") return r.attempts > 1;
  fail(r, container, blob);
}

BlobClient::ConditionalDelete BlobClient::remove_if_unmodified_since(const std::string& container,
                                                                     const std::string& blob, std::int64_t not_after,
                                                                     const std::string& if_match) {
  net::HttpRequest req;
  req.method = "DELETE";
  req.url = url(container, blob, "");
  req.headers = {{"x-ms-delete-snapshots", "include"},
                 {"If-Unmodified-Since",
                  codec::http_date(not_after)}};
  if (!if_match.empty()) req.headers.emplace_back("If-Match", if_match);
  req.idempotent = true;
  net::HttpResponse r = send(req, 0);
  if (r.status == 202) return ConditionalDelete::Removed;
  if (r.status == 412) return ConditionalDelete::Kept;  // modified after not_after
  // A retried delete whose first attempt succeeded finds nothing: it still removed it.
  if (r.status == 404 && error_code(r) != "ContainerNotFound")
    return r.attempts > 1 ? ConditionalDelete::Removed : ConditionalDelete::Absent;
  fail(r, container, blob);
}

ListPage BlobClient::list_page(const std::string& container, const std::string& prefix, const std::string& delimiter,
                               const std::string& marker) {
  std::string query = "comp=list";
  if (!delimiter.empty()) query += "&delimiter=" + codec::percent_encode(delimiter);
  if (!marker.empty()) query += "&marker=" + codec::percent_encode(marker);
  query += "&maxresults=5000";
  if (!prefix.empty()) query += "&prefix=" + codec::percent_encode(prefix);
  query += "&restype=container";
  net::HttpRequest req;
  req.method = "GET";
  req.url = url(container, "", query);
  req.idempotent = true;
  net::HttpResponse r = send(req, 0);
  if (r.status != 200) fail(r, container, prefix);
  return parse_list_page(r.body, display(container, prefix));
}

void BlobClient::create_container(const std::string& container) {
  {
    net::HttpRequest req;
    req.method = "HEAD";
    req.url = url(container, "", "restype=container");
    req.idempotent = true;
    net::HttpResponse r = send(req, 0);
    if (r.status == 200) return;
    if (r.status != 404) fail(r, container, "");
  }
  net::HttpRequest req;
  req.method = "PUT";
  req.url = url(container, "", "restype=container");
  req.idempotent = true;
  net::HttpResponse r = send(req, 0);
  if (r.status == 201 || (r.status == 409 && error_code(r) == "ContainerAlreadyExists")) return;
  fail(r, container, "");
}

std::string BlobClient::read_sas_url(const std::string& container, const std::string& blob,
                                     std::chrono::seconds expires, std::chrono::system_clock::time_point now) const {
  if (!account_.key)
    throw Error(ErrorKind::Invalid,
                fmt::format("{}: a download URL is signed with the account key (AccountKey or AZURE_STORAGE_KEY); "
                            "the credentials from {} have none, and a SAS token cannot sign another",
                            display(container, blob), account_.source.empty() ? "nowhere" : account_.source));
  if (expires.count() < 1 || expires.count() > kMaxSasSeconds)
    throw Error(ErrorKind::Invalid, "url: --expires must be from 1 second to 365 days for an azure:// store");
  BlobSasParams p;
  p.container = container;
  p.blob = blob;
  p.expiry = now + expires;
  if (net::parse_url(account_.endpoint).scheme == "https") p.protocol = "https";
  return blob_url(container, blob) + "?" + blob_sas_query(*account_.key, p);
}

}  // namespace sacker::azure
