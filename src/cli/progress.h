// A terminal progress bar on stderr. make_progress returns nullptr when stderr
// is not a terminal or output is quiet, so pipes and logs never see it.
#pragma once

#include <memory>
#include <string>

#include "sacker/store.h"

namespace sacker::cli {

std::unique_ptr<Progress> make_progress(const std::string& label, bool quiet);

}  // namespace sacker::cli
