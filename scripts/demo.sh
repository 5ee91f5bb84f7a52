#!/usr/bin/env bash
# Quick start: installs the build dependencies, builds sacker, and runs the canary
# workflow of DESIGN.md on the embedded default (SQLite ledger + file store, no
# server) in a throw-away HOME, printing each command and what it answers.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if [ "$(id -u)" = 0 ]; then bash scripts/install-deps.sh --build-only; fi
cmake -S . -B build -G Ninja >/dev/null
cmake --build build -j2 --target sacker

demo=$(mktemp -d /tmp/sacker-demo.XXXXXX)
trap 'rm -rf "$demo"' EXIT
export HOME=$demo XDG_DATA_HOME= SACKER_CONFIG= SACKER_LEDGER= SACKER_STORE=
cd "$demo"
mkdir -p build staging production
sacker() { "$root/build/sacker" "$@"; }
run() { printf '\n$ %s\n' "$*"; "$@"; }

echo "frontend-server build 1" > build/frontend-server.jar
echo
echo "== the canary workflow, on the embedded default ($HOME/.local/share/sacker)"
run sacker add frontend-server build/frontend-server.jar --meta commit=1111111
run sacker download frontend-server latest -o staging/
run sacker tag frontend-server 1 live
run sacker download frontend-server live -o production/
echo "frontend-server build 2" > build/frontend-server.jar
run sacker add frontend-server build/frontend-server.jar --meta commit=2222222
run sacker download frontend-server latest -o staging/
run sacker download frontend-server live -o production/
run sacker tags frontend-server
run sacker info frontend-server live
run cat staging/frontend-server.jar production/frontend-server.jar

[ "$(cat staging/frontend-server.jar)" = "frontend-server build 2" ]
[ "$(cat production/frontend-server.jar)" = "frontend-server build 1" ]
echo
echo "demo: ok (latest moved to 2, live stayed on 1)"
