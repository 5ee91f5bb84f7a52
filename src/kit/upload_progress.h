// Progress of one upload whose HTTP attempts may start over: libcurl reports the
// bytes sent in the current attempt (back to 0 on a retry), the bar only moves on.
// What the S3, Azure and WebHDFS stores each wrote by hand.
#pragma once

#include <cstdint>
#include <functional>

#include "sacker/store.h"

namespace sacker {

class UploadProgress {
 public:
  // Starts `progress` (may be null: then everything here does nothing) at `total` bytes.
  UploadProgress(Progress* progress, std::uint64_t total) : progress_(progress), total_(total) {
    if (progress_) progress_->start(total_);
  }
  // For net::HttpRequest::on_upload (empty without a Progress): reports only growth
  // past the most bytes any attempt has sent.
  std::function<void(std::uint64_t)> on_upload() {
    if (!progress_) return {};
    return [this](std::uint64_t sent) { reach(sent); };
  }
  // `bytes` have been sent in all (a counter the caller keeps, e.g. over parallel
  // parts): reports the growth past what was reported; never moves back.
  void reach(std::uint64_t bytes) {
    if (progress_ && bytes > reported_) progress_->advance(bytes - reported_), reported_ = bytes;
  }
  // The upload is complete: the rest up to `total`, then finish().
  void finish() {
    if (!progress_) return;
    if (total_ > reported_) progress_->advance(total_ - reported_), reported_ = total_;
    progress_->finish();
  }

 private:
  Progress* progress_;
  std::uint64_t total_;
  std::uint64_t reported_ = 0;
};

}  // namespace sacker
