// The S3 store's resumable multipart upload (issue 10), split from s3_store.cpp.
//
// Every part is signed with its own sha256 (x-amz-content-sha256: RGW and AWS check
// the bytes against it) and sent with x-amz-checksum-sha256 on an upload created
// with x-amz-checksum-algorithm SHA256 (AWS checks and keeps it; RadosGW 16
// accepts and ignores the latter, tested, so there the signed payload hash is the
// check). The part digests and the whole blob's sha256 come from one read: the
// caller's (the job's part_sha256, hashed with the key: the file is then read once
// more, to send it, and a part changed since is refused by the server) or else
// this upload's own sequential read, which hashes each part and the whole.
// After each part the local journal (kit/upload_journal.h) records its ETag and
// sha256. An interrupted upload is never aborted (SIGKILL cannot be caught, and
// Ctrl-C or a lost network must not throw away what was sent): the next `add` of
// the same file continues it. Resuming:
// - the journal's upload is reconciled with ListParts where allowed (a part the
//   server does not have with that ETag is sent again; NoSuchUpload: start clean);
//   PutObject-only credentials (403 on ListParts) go by the journal alone;
// - every kept part is re-read and re-hashed (or, with the job's part digests,
//   hashed already), and kept only if it hashes to the journal's sha256;
// - an upload that turns out to be gone (NoSuchUpload on a part or on Complete)
//   starts clean once.
// The upload is aborted (and the journal removed) only when it must never be
// completed: the file cannot be read as the blob (shorter, an I/O error) or no
// longer hashes to its sha256 (here, or at the server against the job's part
// digests), or the blob appeared meanwhile (412 on Complete).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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
  // The sha256 of every part, from the read that hashed the file to `sha256`
  // (FileDigest); empty: the upload hashes the parts and the whole itself.
  std::vector<std::string> part_sha256;
};

// Uploads the job's file; true if this call completed the upload, false on 412
// (the blob was stored by someone else first).
bool s3_resumable_multipart_upload(aws::S3Client& client, const S3UploadJob& job, Progress* progress);

}  // namespace sacker
