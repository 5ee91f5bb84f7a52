# The layers of the library and the rule that they only point down.
#
#   core < kit < net < wire < backends < client < serve < cli
#
#   core      src/core     errors, names, specs, URIs, records, config, codecs, sha256, files
#             src/sign     signing (needs only core): Ed25519 keys, DSSE envelopes, statements,
#                          trust policy, trust state; its own target, sacker_sign
#   kit       src/kit      the backend kit: retry, URI options, invariant errors and
#                          read-back checks, the thread pool; the ledger/store contracts
#   net       src/net      HTTP on libcurl
#   wire      src/aws ...  wire clients of services (SigV4, credentials, S3, DynamoDB ...)
#   backends  src/ledger   one file pair per backend (+ its own wire client pairs)
#             src/store
#   client    src/client   the facade (sacker/client.h) and the scheme table
#   serve     src/serve    the web front end
#   cli       src/cli      the sacker command; errors become exit codes here
#
# Enforced by the build: a target of layer L compiles against an include view
# (build/layers/L) that holds only the source folders and public headers of L and
# the layers below, so an #include of a higher layer's header does not compile.
# A relative "../" include would bypass the views; the configure step refuses those.

set(SACKER_LAYERS core kit net wire backends client serve cli)
set(SACKER_LAYER_DIRS_core core sign)
set(SACKER_LAYER_DIRS_kit kit)
set(SACKER_LAYER_DIRS_net net)
set(SACKER_LAYER_DIRS_wire aws azure hdfs)
set(SACKER_LAYER_DIRS_backends ledger store)
set(SACKER_LAYER_DIRS_client client)
set(SACKER_LAYER_DIRS_serve serve)
set(SACKER_LAYER_DIRS_cli cli)
# Public headers (include/sacker/) by the layer that owns them.
set(SACKER_LAYER_HEADERS_core error.h names.h record.h uri.h config.h spec.h log.h sha256.h)
set(SACKER_LAYER_HEADERS_kit ledger.h store.h)
set(SACKER_LAYER_HEADERS_client backends.h client.h)

# Extra compile options for every library target (the fuzz build adds sanitizers).
set(SACKER_LIBRARY_COMPILE_OPTIONS "" CACHE INTERNAL "")

function(_sacker_layer_view LAYER OUT)
  set(view ${CMAKE_BINARY_DIR}/layers/${LAYER})
  set(signature "")
  foreach(layer IN LISTS SACKER_LAYERS)
    string(APPEND signature "${layer}:${SACKER_LAYER_DIRS_${layer}}:${SACKER_LAYER_HEADERS_${layer}};")
  endforeach()
  set(old "")
  if(EXISTS ${view}/.done)
    file(READ ${view}/.done old)
  endif()
  if(NOT old STREQUAL "${PROJECT_SOURCE_DIR}|${signature}")
    file(REMOVE_RECURSE ${view})
    file(MAKE_DIRECTORY ${view}/sacker)
    foreach(layer IN LISTS SACKER_LAYERS)
      foreach(dir IN LISTS SACKER_LAYER_DIRS_${layer})
        file(CREATE_LINK ${PROJECT_SOURCE_DIR}/src/${dir} ${view}/${dir} SYMBOLIC)
      endforeach()
      foreach(header IN LISTS SACKER_LAYER_HEADERS_${layer})
        file(CREATE_LINK ${PROJECT_SOURCE_DIR}/include/sacker/${header} ${view}/sacker/${header} SYMBOLIC)
      endforeach()
      if(layer STREQUAL LAYER)
        break()
      endif()
    endforeach()
    file(WRITE ${view}/.done "${PROJECT_SOURCE_DIR}|${signature}")
  endif()
  set(${OUT} ${view} PARENT_SCOPE)
endfunction()

# sacker_library(TARGET LAYER SOURCES... [LIBS ...] [PUBLIC_LIBS ...])
# A static library of one layer, compiled against that layer's include view.
function(sacker_library TARGET LAYER)
  cmake_parse_arguments(L "" "" "SOURCES;LIBS;PUBLIC_LIBS" ${ARGN})
  list(FIND SACKER_LAYERS ${LAYER} index)
  if(index LESS 0)
    message(FATAL_ERROR "sacker_library(${TARGET}): unknown layer '${LAYER}'")
  endif()
  _sacker_layer_view(${LAYER} view)
  list(TRANSFORM L_SOURCES PREPEND ${PROJECT_SOURCE_DIR}/src/)
  add_library(${TARGET} STATIC ${L_SOURCES})
  target_include_directories(${TARGET} PUBLIC $<BUILD_INTERFACE:${view}> $<INSTALL_INTERFACE:include>)
  target_link_libraries(${TARGET} PUBLIC ${L_PUBLIC_LIBS} PRIVATE ${L_LIBS})
  target_compile_options(${TARGET} PRIVATE -Wall -Wextra ${SACKER_LIBRARY_COMPILE_OPTIONS})
  set_property(TARGET ${TARGET} PROPERTY SACKER_LAYER ${LAYER})
  set_property(GLOBAL APPEND PROPERTY SACKER_LIBRARY_TARGETS ${TARGET})
endfunction()

# The include view of LAYER for targets outside src/ (tests, benchmarks, fuzzers).
function(sacker_layer_include_dir LAYER OUT)
  _sacker_layer_view(${LAYER} view)
  set(${OUT} ${view} PARENT_SCOPE)
endfunction()

# Refuses `#include "../..."` anywhere under src/: it would reach past the views.
function(sacker_check_relative_includes)
  file(GLOB_RECURSE files ${PROJECT_SOURCE_DIR}/src/*.h ${PROJECT_SOURCE_DIR}/src/*.cpp)
  foreach(f IN LISTS files)
    file(STRINGS ${f} bad REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<][.][.]/")
    if(bad)
      message(FATAL_ERROR "${f}: relative include '${bad}' reaches past the layer views (cmake/SackerLayers.cmake)")
    endif()
  endforeach()
endfunction()
