#!/usr/bin/env bash
# The whole test suite: installs everything (build dependencies, test servers,
# tools), builds every backend, and runs ctest — unit, conformance (every backend
# against its real server, started on 127.0.0.1 by ctest fixtures), integration
# and end-to-end tests. Ends with ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -G Ninja
cmake --build build -j2
cd build
ctest -j2 --output-on-failure --no-tests=error --timeout 1200 "$@"
