// The S3 store's resumable multipart upload (issue 10), split from s3_store.cpp.
//
// Every part is hashed once from one sequential read (its sha256 and the whole
// blob's), signed with its own sha256 (x-amz-content-sha256: RGW and AWS check the
// bytes against it) and sent with x-amz-checksum-sha256 on an upload created with
// x-amz-checksum-algorithm SHA256 (AWS checks and keeps it; RadosGW 16 accepts
// and ignores both, tested, so there the signed payload hash is the check).
// After each part the local journal (kit/upload_journal.h) records its ETag and
// sha256. An interrupted upload is never aborted (SIGKILL cannot be caught, and
// Ctrl-C or a lost network must not throw away what was sent): the next `add` of
// the same file continues it. Resuming:
// - the journal's upload is reconciled with ListParts where allowed (a part the
//   server does not have with that ETag is sent again; NoSuchUpload: start clean);
//   PutObject-only credentials (403 on ListParts) go by the journal alone;
// - every kept part is re-read and re-hashed, and kept only if it hashes to the
//   journal's sha256;
// - an upload that turns out to be gone (NoSuchUpload on a part or on Complete)
//   starts clean once.
// The upload is aborted (and the journal removed) only when it must never be
// completed: the file cannot be read as the blob (shorter, an I/O error) or no
// longer hashes to its sha256, or the blob appeared meanwhile (412 on Complete).
#pragma once

#include <cstdint>
#include <string>

#include "aws/s3_client.h"
#include "sacker/store.h"

namespace sacker {

struct S3UploadJob {
  std::string bucket;
  std::string key;
  std::string store;  // the store's URI for messages and the journal's identity
  std::string sha256;
  std::string path;
  std::uint64_t size = 0;
  std::uint64_t part_size = 0;
  std::size_t concurrency = 1;
  net::HttpHeaders create_headers;  // Content-Type, x-amz-acl...
};

// Uploads the job's file; true if this call completed the upload, false on 412
// (the blob was stored by someone else first).
bool s3_resumable_multipart_upload(aws::S3Client& client, const S3UploadJob& job, Progress* progress);

}  // namespace sacker
