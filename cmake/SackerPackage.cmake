# CPack: `cpack -G DEB` (run by scripts/package.sh) makes two Debian packages from
# the install rules (cmake/SackerInstall.cmake):
#   sacker      the command, its man page and bash completion (component runtime)
#   sacker-dev  the static libraries, headers and CMake package (component development)
# The version is the project's; sacker's runtime dependencies come from
# dpkg-shlibdeps (Debian's dpkg-dev) on the installed binary.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sacker)
set(CPACK_PACKAGE_VENDOR "sacker")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "build artifacts: package -> version -> sha256 in a ledger, blobs in a store")
set(CPACK_PACKAGE_DESCRIPTION
    "sacker records package name -> version -> sha256 of a blob, puts tags on versions and keeps the\n"
    "records in a ledger and the bytes in a store; backends are chosen by URI (SQLite and a local\n"
    "directory by default, S3, DynamoDB, ZooKeeper, etcd, PostgreSQL, git).")
string(JOIN "" CPACK_PACKAGE_DESCRIPTION ${CPACK_PACKAGE_DESCRIPTION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime development)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "sacker maintainers <sacker@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME sacker)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME sacker-dev)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION libdevel)
# What find_package(sacker) finds through the config's find_dependency() calls.
set(dev_depends libfmt-dev nlohmann-json3-dev libssl-dev libsqlite3-dev libsodium-dev pkg-config)
if(TARGET sacker_wire)
  list(APPEND dev_depends libcurl4-openssl-dev libpugixml-dev)
endif()
if(TARGET sacker_backend_zk)
  list(APPEND dev_depends libzookeeper-mt-dev)
endif()
if(TARGET sacker_backend_git)
  list(APPEND dev_depends libgit2-dev pkg-config)
endif()
if(TARGET sacker_backend_postgres)
  list(APPEND dev_depends libpq-dev)
endif()
list(JOIN dev_depends ", " CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS)
include(CPack)
