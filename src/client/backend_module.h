// Backends loaded on demand: the sacker command links the embedded default (sqlite,
// file, mem) and loads every other backend family from a module the first time one
// of its schemes is opened, so a command pays only for the libraries it uses
// (libgit2, libzookeeper, libpq, libcurl and their dependencies cost most of the
// start-up when linked in). The families (cmake/SackerBackends.cmake): `wire` (s3,
// dynamo, etcd, azure, webhdfs: everything on libcurl), and one each for git, zk and
// postgres.
//
// The contract between the command and a module, both from one build:
//   - the module is sacker-<family>.so, found in <dir of the sacker binary>/<the
//     install's relative path from bindir to libdir/sacker/modules>, else (the build
//     tree) <dir of the sacker binary>/modules;
//   - it exports one C symbol, sacker_module_v1, returning its entry: a BackendModule,
//     or for another kind of module (serve's HTTP engine) a struct that also starts
//     with `const char* abi; const char* name;`;
//   - its `abi` equals the command's SACKER_MODULE_ABI (project version + a stamp
//     made once per build tree), else it is refused: a module of another build
//     could disagree on every type it shares with the command;
//   - it holds only its backends, their wire clients and its own libraries: core, kit
//     and the client are the command's (the command links their archives whole and
//     exports its symbols), so there is one copy of every global (log level, temp-file
//     cleanup) and of every type;
//   - no function it defines has the name of one the command defines (the command's
//     would win, the dynamic linker binds to the first definition it finds).
// The library (sacker::sacker, the tests) links every backend in instead.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "client/doctor.h"
#include "sacker/ledger.h"
#include "sacker/store.h"

namespace sacker {

struct BackendModule {
  const char* abi;                // SACKER_MODULE_ABI of the build
  const char* family;             // "git"
  const LedgerScheme* ledgers;    // ends with an entry whose scheme is nullptr
  const StoreScheme* stores;      // ends with an entry whose scheme is nullptr
  // The wire module's doctor steps (client/doctor_aws.cpp); nullptr elsewhere.
  std::optional<AwsProbe> (*aws_probe)(const std::string& role, const std::string& uri, std::int64_t now);
  std::optional<DoctorCheck> (*aws_list_probe)(const std::string& uri);
};

inline constexpr const char* kModuleEntrySymbol = "sacker_module_v1";

// The entry of module sacker-<name>.so, loaded once per process (never unloaded).
// Throws Error(Internal) naming the file and why when it is missing, cannot be loaded
// or belongs to another build; `what` says what it is for ("the git backends").
const void* load_module(const char* name, const char* what);

// The module of a backend family.
const BackendModule& backend_module(const char* family);

// The scheme tables' entries for a module's schemes (generated trampolines call these).
std::unique_ptr<Ledger> open_module_ledger(const char* family, const char* scheme, const Uri& uri);
std::unique_ptr<Store> open_module_store(const char* family, const char* scheme, const Uri& uri);

}  // namespace sacker
