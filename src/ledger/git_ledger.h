// git:///path/repo.git (and remotes libgit2 can push to) — the git ledger.
// The backend class lives in the .cpp; this header only declares its factory,
// registered in the scheme table (src/client/registry.cpp).
#pragma once

#include <memory>

#include "sacker/ledger.h"
#include "sacker/uri.h"

namespace sacker {

std::unique_ptr<Ledger> open_git_ledger(const Uri& uri);
inline constexpr LedgerScheme kGitLedgerScheme{"git", "git:///path/to/repo.git", open_git_ledger};

}  // namespace sacker
