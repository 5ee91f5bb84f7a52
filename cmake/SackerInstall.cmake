# `cmake --install build [--prefix P]`: the sacker command, the library (every
# static layer and backend target, exported as sacker::), the public headers, a
# CMake package (find_package(sacker) -> sacker::sacker), the man page and the
# bash completion, in the GNU places under the prefix.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# `make install` and cpack's preinstall do not build the whole tree (tests, benchmarks)
# first: scripts/package.sh builds what the install rules need (sacker, sacker_man).
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

set(SACKER_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/sacker)

# The library targets the facade links: every layer below serve (serve is not part of
# the library's API and has no public header).
get_property(sacker_library_targets GLOBAL PROPERTY SACKER_LIBRARY_TARGETS)
# The command's on-demand scheme table is not the library's either (sacker::sacker links
# every backend in: sacker_facade, src/CMakeLists.txt).
list(REMOVE_ITEM sacker_library_targets sacker_serve sacker_serve_core sacker_serve_on_demand sacker_backends_on_demand)
set_target_properties(sacker_facade PROPERTIES EXPORT_NAME sacker)

install(TARGETS sacker RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
# The backend modules the command loads on demand (client/backend_module.h): the path
# from bindir to here is compiled into it. Not directly under <libdir>/sacker: CPack
# would then add ldconfig maintainer scripts, which modules do not need and which keep
# a removed package in dpkg's config-files state.
if(SACKER_MODULE_TARGETS)
  install(TARGETS ${SACKER_MODULE_TARGETS} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/sacker/modules COMPONENT runtime)
endif()
install(TARGETS ${sacker_library_targets} sacker_facade EXPORT sacker-targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/sacker DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  COMPONENT development FILES_MATCHING PATTERN "*.h")
install(EXPORT sacker-targets NAMESPACE sacker:: DESTINATION ${SACKER_CMAKE_DIR} COMPONENT development)

# The find_dependency() lines: what the static libraries link, per enabled backend.
set(deps "find_dependency(fmt 9 CONFIG)\nfind_dependency(nlohmann_json 3.11 CONFIG)\n"
         "find_dependency(OpenSSL 3)\nfind_dependency(Threads)\n"
         # sacker_sign verifies with libsodium (src/sign/keys.cpp), found as the build finds it.
         "find_dependency(PkgConfig)\npkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium>=1.0.18)\n")
if(TARGET sacker_wire)
  string(APPEND deps "find_dependency(CURL 7.88)\nfind_dependency(pugixml 1.13 CONFIG)\n")
endif()
get_property(backend_finds GLOBAL PROPERTY SACKER_BACKEND_FINDS)
foreach(line IN LISTS backend_finds)
  string(APPEND deps "find_dependency(${line})\n")
endforeach()
string(JOIN "" SACKER_FIND_DEPENDENCIES ${deps})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/sacker-config.cmake.in
  ${CMAKE_BINARY_DIR}/sacker-config.cmake INSTALL_DESTINATION ${SACKER_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/sacker-config-version.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/sacker-config.cmake ${CMAKE_BINARY_DIR}/sacker-config-version.cmake
  ${PROJECT_SOURCE_DIR}/cmake/FindZooKeeper.cmake ${PROJECT_SOURCE_DIR}/cmake/FindLibgit2.cmake
  DESTINATION ${SACKER_CMAKE_DIR} COMPONENT development)

# Compressed, as Debian installs man pages (man and `man -l` read either).
install(FILES ${CMAKE_BINARY_DIR}/sacker.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT runtime)
# bash-completion loads completions/<command> on demand.
install(FILES ${PROJECT_SOURCE_DIR}/packaging/bash-completion/sacker
  DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions COMPONENT runtime)
# zsh: Debian's zsh reads /usr/share/zsh/vendor-completions (packages) and
# /usr/local/share/zsh/site-functions (local installs); the prefix is known only at
# install time (cpack installs into /usr), so the directory is chosen then.
install(CODE [[
  if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    set(sacker_zsh_dir vendor-completions)
  else()
    set(sacker_zsh_dir site-functions)
  endif()
]] COMPONENT runtime)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/zsh-completion/_sacker
  DESTINATION "${CMAKE_INSTALL_DATADIR}/zsh/\${sacker_zsh_dir}" COMPONENT runtime)
# fish reads <datadir>/fish/vendor_completions.d of every XDG data dir.
install(FILES ${PROJECT_SOURCE_DIR}/packaging/fish-completion/sacker.fish
  DESTINATION ${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d COMPONENT runtime)
# debian/copyright (machine-readable format), where Debian keeps it.
install(FILES ${PROJECT_SOURCE_DIR}/packaging/debian/copyright
  DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/sacker COMPONENT runtime)
