// git:///path/repo.git (and remotes libgit2 can push to) — the git ledger.
// The backend class lives in the .cpp; this header only declares its factory,
// registered in src/core/backends.cpp.
#pragma once

#include <memory>

#include "sacker/ledger.h"
#include "sacker/uri.h"

namespace sacker {

std::unique_ptr<Ledger> open_git_ledger(const Uri& uri);

}  // namespace sacker
