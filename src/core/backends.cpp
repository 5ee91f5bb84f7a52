// The scheme table. Adding a backend: one file pair under ledger/ or store/, one
// line here, one option in CMakeLists.txt.
#include "sacker/backends.h"

#include <fmt/core.h>

#include "ledger/sqlite_ledger.h"
#include "sacker/error.h"
#include "sacker/names.h"
#include "store/chain_store.h"
#include "store/file_store.h"
#if SACKER_HAVE_S3
#include "ledger/s3_ledger.h"
#include "store/s3_store.h"
#endif
#if SACKER_HAVE_DYNAMO
#include "ledger/dynamo_ledger.h"
#endif
#if SACKER_HAVE_ZK
#include "ledger/zk_ledger.h"
#endif
#if SACKER_HAVE_GIT
#include "ledger/git_ledger.h"
#endif
#if SACKER_HAVE_POSTGRES
#include "ledger/postgres_ledger.h"
#endif
#if SACKER_HAVE_ETCD
#include "ledger/etcd_ledger.h"
#endif

namespace sacker {

const std::vector<LedgerBackend>& ledger_backends() {
  static const std::vector<LedgerBackend> table = {
    {"sqlite", "sqlite:///path/ledger.db", open_sqlite_ledger},
#if SACKER_HAVE_S3
    {"s3", "s3://bucket[/prefix]", open_s3_ledger},
#endif
#if SACKER_HAVE_DYNAMO
    {"dynamo", "dynamo://region/table-prefix", open_dynamo_ledger},
#endif
#if SACKER_HAVE_ZK
    {"zk", "zk://host:port[,host:port...]/chroot", open_zk_ledger},
#endif
#if SACKER_HAVE_GIT
    {"git", "git:///path/to/repo.git", open_git_ledger},
#endif
#if SACKER_HAVE_POSTGRES
    {"postgres", "postgres://user@host:port/db", open_postgres_ledger},
    {"postgresql", "postgresql://user@host:port/db", open_postgres_ledger},
#endif
#if SACKER_HAVE_ETCD
    {"etcd", "etcd://host:port[/prefix]", open_etcd_ledger},
#endif
  };
  return table;
}

const std::vector<StoreBackend>& store_backends() {
  static const std::vector<StoreBackend> table = {
    {"file", "file:///path/to/blobs", open_file_store},
#if SACKER_HAVE_S3
    {"s3", "s3://bucket[/prefix]", open_s3_store},
#endif
  };
  return table;
}

namespace {

template <typename Table>
std::string known_schemes(const Table& table) {
  std::string out;
  for (const auto& b : table) out += (out.empty() ? "" : ", ") + std::string(b.scheme) + "://";
  return out;
}

}  // namespace

std::unique_ptr<Ledger> open_ledger(std::string_view text) {
  Uri uri = parse_uri(text);
  for (const auto& b : ledger_backends())
    if (b.scheme == uri.scheme) return b.open(uri);
  throw Error(ErrorKind::Invalid,
              fmt::format("invalid ledger URI '{}': unknown scheme '{}' (known: {})", printable(redact_uri(text)),
                          printable(uri.scheme), known_schemes(ledger_backends())));
}

std::unique_ptr<Store> open_store(std::string_view text) {
  Uri uri = parse_uri(text);
  for (const auto& b : store_backends())
    if (b.scheme == uri.scheme) return b.open(uri);
  throw Error(ErrorKind::Invalid,
              fmt::format("invalid store URI '{}': unknown scheme '{}' (known: {})", printable(redact_uri(text)),
                          printable(uri.scheme), known_schemes(store_backends())));
}

std::unique_ptr<Store> open_store_chain(const std::vector<std::string>& uris) {
  std::vector<std::unique_ptr<Store>> stores;
  for (const auto& u : uris) stores.push_back(open_store(u));
  return make_chain_store(std::move(stores));
}

}  // namespace sacker
