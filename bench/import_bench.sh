#!/usr/bin/env bash
# `sacker import` into an empty embedded SQLite ledger (issue 7, point 8: 100k lines took
# 76 s when every record was its own transaction, one fsync each).
#
#   bash bench/import_bench.sh [-b BUILD_DIR] [-n LINES] [-p PACKAGES] [-e] [-r REPS]
#
# The stream: PACKAGES packages (default 100), each with its versions and then one tag
# line ("live" on its newest version), LINES lines in all (default 100000). By default
# an export from before history: version and tag lines only (import then writes one
# "import" event per version and tag, so 100k lines become ~100k records + ~100k
# events). With -e, every version line is followed by its "add" event line, as today's
# `sacker export` writes it (LINES/2 versions).
# Prints wall seconds (median of REPS runs, default 1, each into a fresh ledger), lines
# per second and the fsync/fdatasync calls of one run (tests/libsync_count_preload.so if
# the build has it), then checks the ledger holds what was imported.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=build lines=100000 packages=100 events=0 reps=1
while getopts "b:n:p:er:" opt; do
  case $opt in
    b) build=$OPTARG ;;
    n) lines=$OPTARG ;;
    p) packages=$OPTARG ;;
    e) events=1 ;;
    r) reps=$OPTARG ;;
    *) echo "usage: $0 [-b BUILD_DIR] [-n LINES] [-p PACKAGES] [-e] [-r REPS]" >&2; exit 2 ;;
  esac
done
sacker=$root/$build/sacker
preload=$root/$build/tests/libsync_count_preload.so
[[ -x $sacker ]] || { echo "import_bench: $sacker missing: build first" >&2; exit 2; }

work=$(mktemp -d /tmp/sacker-import-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
stream=$work/ledger.jsonl

python3 - "$stream" "$lines" "$packages" "$events" <<'EOF'
import hashlib, sys
path, lines, packages, events = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
per_package = lines // packages - 1          # lines per package, less its tag line
versions = per_package // 2 if events else per_package
with open(path, "w") as out:
    for p in range(packages):
        pkg = f"pkg{p:04d}"
        for v in range(1, versions + 1):
            sha = hashlib.sha256(f"{pkg} {v}".encode()).hexdigest()
            out.write(f'{{"type":"version","package":"{pkg}","version":{v},"sha256":"{sha}","size":{v * 1024},'
                      f'"basename":"{pkg}.tar.gz","mode":420,"created":"2026-01-01T00:00:00Z",'
                      f'"metadata":{{"build":"{v}"}}}}\n')
            if events:
                out.write(f'{{"type":"event","seq":{v},"time":"2026-01-01T00:00:00Z","actor":"ci@build",'
                          f'"action":"add","package":"{pkg}","version":{v},"sha256":"{sha}"}}\n')
        seq = versions + 1 if events else 0
        out.write(f'{{"type":"tag","package":"{pkg}","tag":"live","version":{versions},"seq":{seq}}}\n')
EOF
n=$(wc -l <"$stream")

times=()
syncs=-
for ((r = 1; r <= reps; r++)); do
  home=$work/home-$r
  mkdir -p "$home"
  env_run=(env HOME="$home" XDG_DATA_HOME= SACKER_CONFIG= SACKER_LEDGER= SACKER_STORE=)
  if ((r == 1)) && [[ -f $preload ]]; then
    env_run+=(LD_PRELOAD="$preload" SACKER_COUNT_SYNCS="$work/syncs")
  fi
  start=$(date +%s.%N)
  "${env_run[@]}" "$sacker" import "$stream" >"$work/out" 2>"$work/err" || {
    echo "import_bench: import failed: $(cat "$work/err")" >&2
    exit 1
  }
  end=$(date +%s.%N)
  times+=("$(echo "$end - $start" | bc -l)")
  [[ -f $work/syncs ]] && syncs=$(cat "$work/syncs")
  # What went in comes out: the last package's versions and its tag.
  got=$(env HOME="$home" XDG_DATA_HOME= SACKER_CONFIG= SACKER_LEDGER= SACKER_STORE= \
    "$sacker" --json versions "$(printf 'pkg%04d' $((packages - 1)))" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["versions"]))')
  want=$(( (lines / packages - 1) / (events + 1) ))
  [[ $got == "$want" ]] || { echo "import_bench: the ledger holds $got versions of the last package, want $want" >&2; exit 1; }
  rm -rf "$home"
done

median=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
kind=$([[ $events == 1 ]] && echo "versions + add events + tags" || echo "versions + tags, no event lines")
printf 'import: %d lines (%s, %d packages) into an empty SQLite ledger: %.2f s median of %d, %.0f lines/s, %s fsync/fdatasync calls\n' \
  "$n" "$kind" "$packages" "$median" "$reps" "$(echo "$n / $median" | bc -l)" "$syncs"
echo "sacker: $("$sacker" --version 2>/dev/null | head -1)"
