#!/usr/bin/env bash
# The promote browser suite (suites/promote.mjs) against a real `sacker serve
# --allow-writes` on the embedded default in a fresh HOME:
#
#   bash tests/browser/promote_run.sh SACKER_BINARY OUT_DIR
#
# Fills the HOME (package "app", versions 1..3, live on 2; "lib" 1 tagged devel), makes a
# promote token and a read token, then runs the harness, which starts the server.
# The scenarios run the CLI in the same HOME ($SACKER_BIN) for the concurrent change,
# and read the secrets from $SACKER_BROWSER_TOKENS.
set -euo pipefail
sacker=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$out"
mkdir -p "$out"
home=$(mktemp -d /tmp/sacker-browser-promote.XXXXXX)
trap 'rm -rf "$home"' EXIT
export HOME=$home XDG_DATA_HOME= SACKER_CONFIG= SACKER_LEDGER= SACKER_STORE= SACKER_ACTOR=ci-builder
cd "$home"
for v in 1 2 3; do
  printf 'app build %s\n' "$v" >app.tar
  "$sacker" -q add app app.tar --meta commit=c0ffee$v >/dev/null
done
"$sacker" -q tag app 2 live --comment "first release"
printf 'lib\n' >lib.so
"$sacker" -q add lib lib.so >/dev/null
"$sacker" -q tag lib 1 devel
"$sacker" --json serve --new-token release-bot --scope promote >promote.json
"$sacker" --json serve --new-token viewer --scope read >read.json
python3 - <<'PY'
import json
lines = [json.load(open(f))["line"] for f in ("promote.json", "read.json")]
open("tokens", "w").write("\n".join(lines) + "\n")
json.dump({"promote": json.load(open("promote.json"))["secret"], "read": json.load(open("read.json"))["secret"]},
          open("secrets.json", "w"))
PY
chmod 600 tokens
export SACKER_BIN=$sacker SACKER_BROWSER_TOKENS=$home/secrets.json
node "$here/run.mjs" --suite promote --out "$out" -- \
  "$sacker" serve --listen 127.0.0.1:0 --allow-writes --tokens "$home/tokens"
