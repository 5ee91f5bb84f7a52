// S3Client's multipart upload calls (split from s3_client.cpp): create, upload a
// part, complete, abort, and the listings a resumed upload and `sacker uploads`
// use (ListParts, ListMultipartUploads).
#include <fmt/core.h>

#include <pugixml.hpp>

#include "aws/s3_client.h"
#include "core/codec.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker::aws {
namespace {

std::int64_t iso_seconds(const char* s) {
  try {
    return std::chrono::duration_cast<std::chrono::seconds>(parse_iso8601_utc(s).time_since_epoch()).count();
  } catch (const Error&) {
    return 0;
  }
}

Error malformed(const std::string& what, const char* call) {
  return Error(ErrorKind::Unavailable, fmt::format("{}: malformed {} answer", what, call));
}

}  // namespace

std::string S3Client::create_multipart(const std::string& bucket, const std::string& key,
                                       const net::HttpHeaders& headers) {
  net::HttpRequest req;
  req.method = "POST";
  req.url = url(bucket, key, make_query({{"uploads", ""}}));
  req.headers = headers;
  // A retry may leave an empty upload behind (abort-incomplete lifecycle rules clean those).
  req.idempotent = true;
  net::HttpResponse r = send(std::move(req), std::string(kEmptySha256));
  if (r.status != 200) fail(r, bucket, key);
  pugi::xml_document doc;
  std::string id;
  if (doc.load_buffer(r.body.data(), r.body.size()))
    id = doc.child("InitiateMultipartUploadResult").child_value("UploadId");
  if (id.empty())
    throw Error(ErrorKind::Unavailable,
                fmt::format("{}: CreateMultipartUpload answered without an UploadId", display(bucket, key)));
  return id;
}

std::string S3Client::upload_part(const std::string& bucket, const std::string& key, const std::string& upload_id,
                                  int part_number, const net::FileRange& body, const std::string& sha256_hex,
                                  const net::HttpHeaders& headers) {
  net::HttpRequest req;
  req.method = "PUT";
  req.url = url(bucket, key, make_query({{"partNumber", std::to_string(part_number)}, {"uploadId", upload_id}}));
  req.headers = headers;
  req.idempotent = true;
  req.body_file = body;
  net::HttpResponse r = send(std::move(req), sha256_hex);
  if (r.status != 200) fail(r, bucket, key);
  const auto* etag = r.header("ETag");
  if (!etag || etag->empty())
    throw Error(ErrorKind::Unavailable,
                fmt::format("{}: UploadPart {} answered without an ETag", display(bucket, key), part_number));
  return *etag;
}

S3PutResult S3Client::complete_multipart(const std::string& bucket, const std::string& key,
                                         const std::string& upload_id, const std::vector<S3CompletedPart>& parts,
                                         const net::HttpHeaders& headers) {
  std::string body = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
  for (const auto& p : parts) {
    body += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag>", p.number, codec::xml_escape(p.etag));
    if (!p.checksum_sha256.empty()) body += "<ChecksumSHA256>" + p.checksum_sha256 + "</ChecksumSHA256>";
    body += "</Part>";
  }
  body += "</CompleteMultipartUpload>";
  net::HttpRequest req;
  req.method = "POST";
  req.url = url(bucket, key, make_query({{"uploadId", upload_id}}));
  req.headers = headers;
  req.headers.emplace_back("Content-Type", "application/xml");
  req.idempotent = true;
  std::string payload = sha256_hex(body);
  req.body = std::move(body);
  net::HttpResponse r = send(std::move(req), payload);
  S3PutResult result;
  result.retried = r.attempts > 1;
  if (r.status == 200) {
    // S3 may answer 200 and report the error in the body.
    const std::string code = s3_error_code(r.body);
    if (!code.empty()) {
      net::HttpResponse as_error = r;
      as_error.status = code == "InternalError" || code == "SlowDown" ? 500 : 400;
      fail(as_error, bucket, key);
    }
    result.written = true;
    return result;
  }
  if (r.status == 412) return result;
  // Our own earlier attempt completed the upload, then the answer was lost.
  if (r.status == 404 && result.retried && s3_error_code(r.body) == "NoSuchUpload") {
    result.written = true;
    return result;
  }
  fail(r, bucket, key);
}

void S3Client::abort_upload(const std::string& bucket, const std::string& key, const std::string& upload_id) {
  net::HttpRequest req;
  req.method = "DELETE";
  req.url = url(bucket, key, make_query({{"uploadId", upload_id}}));
  req.idempotent = true;
  net::HttpResponse r = send(std::move(req), std::string(kEmptySha256));
  if (r.status == 204 || r.status == 200) return;
  if (r.status == 404 && s3_error_code(r.body) == "NoSuchUpload") return;  // gone already
  fail(r, bucket, key);
}

void S3Client::abort_multipart(const std::string& bucket, const std::string& key,
                               const std::string& upload_id) noexcept {
  try {
    abort_upload(bucket, key, upload_id);
  } catch (...) {
  }
}

std::optional<std::vector<S3Part>> S3Client::list_parts(const std::string& bucket, const std::string& key,
                                                        const std::string& upload_id) {
  std::vector<S3Part> parts;
  std::string marker;
  while (true) {
    std::vector<std::pair<std::string, std::string>> params = {{"uploadId", upload_id}};
    if (!marker.empty()) params.emplace_back("part-number-marker", marker);
    net::HttpRequest req;
    req.method = "GET";
    req.url = url(bucket, key, make_query(std::move(params)));
    req.idempotent = true;
    net::HttpResponse r = send(std::move(req), std::string(kEmptySha256));
    // RadosGW 16 answers NoSuchKey for an aborted upload, AWS NoSuchUpload.
    if (r.status == 404 && s3_error_code(r.body) != "NoSuchBucket") return std::nullopt;
    if (r.status != 200) fail(r, bucket, key);
    pugi::xml_document doc;
    if (!doc.load_buffer(r.body.data(), r.body.size())) throw malformed(display(bucket, key), "ListParts");
    auto root = doc.child("ListPartsResult");
    if (!root) throw malformed(display(bucket, key), "ListParts");
    for (auto p : root.children("Part")) {
      S3Part part;
      part.number = static_cast<int>(codec::parse_decimal(p.child_value("PartNumber")).value_or(0));
      part.etag = p.child_value("ETag");
      part.size = codec::parse_decimal(p.child_value("Size")).value_or(0);
      part.checksum_sha256 = p.child_value("ChecksumSHA256");
      parts.push_back(std::move(part));
    }
    const std::string next = root.child_value("NextPartNumberMarker");
    if (std::string(root.child_value("IsTruncated")) != "true") return parts;
    if (next.empty() || next == marker) throw malformed(display(bucket, key), "ListParts (no progress)");
    marker = next;
  }
}

std::vector<S3MultipartUpload> S3Client::list_multipart_uploads(const std::string& bucket, const std::string& prefix) {
  std::vector<S3MultipartUpload> out;
  std::string key_marker, id_marker;
  while (true) {
    std::vector<std::pair<std::string, std::string>> params = {{"uploads", ""}};
    if (!prefix.empty()) params.emplace_back("prefix", prefix);
    if (!key_marker.empty()) params.emplace_back("key-marker", key_marker);
    if (!id_marker.empty()) params.emplace_back("upload-id-marker", id_marker);
    net::HttpRequest req;
    req.method = "GET";
    req.url = url(bucket, "", make_query(std::move(params)));
    req.idempotent = true;
    net::HttpResponse r = send(std::move(req), std::string(kEmptySha256));
    if (r.status != 200) fail(r, bucket, prefix);
    pugi::xml_document doc;
    if (!doc.load_buffer(r.body.data(), r.body.size()))
      throw malformed(display(bucket, prefix), "ListMultipartUploads");
    auto root = doc.child("ListMultipartUploadsResult");
    if (!root) throw malformed(display(bucket, prefix), "ListMultipartUploads");
    for (auto u : root.children("Upload"))
      out.push_back({u.child_value("Key"), u.child_value("UploadId"), iso_seconds(u.child_value("Initiated"))});
    if (std::string(root.child_value("IsTruncated")) != "true") return out;
    std::string nk = root.child_value("NextKeyMarker"), ni = root.child_value("NextUploadIdMarker");
    if (nk.empty() || (nk == key_marker && ni == id_marker))
      throw malformed(display(bucket, prefix), "ListMultipartUploads (no progress)");
    key_marker = std::move(nk);
    id_marker = std::move(ni);
  }
}

}  // namespace sacker::aws
