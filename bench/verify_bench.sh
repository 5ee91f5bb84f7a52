#!/usr/bin/env bash
# The cost of signature verification on `sacker download` of an up-to-date file
# (issue 11: "well under a millisecond beyond today"): the cron-every-minute case,
# where the destination already holds the blob and no byte moves.
#
#   bash bench/verify_bench.sh [-b BUILD_DIR] [-r RUNS] [-s SIZE_BYTES]
#
# One embedded-default ledger in a temp HOME; version 1 of "app" (SIZE bytes, default
# 1 MiB) signed by a CI key, tagged live with a promotion signed by a release key.
# Compared, side by side in one run:
#   plain   sacker download app live -o dest             (no trust policy: today)
#   strict  the same with --trust (strict: one version and one promotion signature
#           checked, the trust file and its two PEM keys parsed, the trust state read)
#   minisign -Vm dest  (the alternative a user would pick to check a signed file)
# Prints callgrind instruction counts (one run each) and the median wall and CPU
# (user+sys) time of RUNS runs (default 20), the difference and the ratio. On a loaded
# machine wall time is noise; instructions are the stable number. Needs valgrind and minisign
# (scripts/install-deps.sh installs both).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=build runs=20 size=1048576
while getopts "b:r:s:" opt; do
  case $opt in
    b) build=$OPTARG ;;
    r) runs=$OPTARG ;;
    s) size=$OPTARG ;;
    *) echo "usage: $0 [-b BUILD_DIR] [-r RUNS] [-s SIZE_BYTES]" >&2; exit 2 ;;
  esac
done
sacker=$root/$build/sacker
[[ -x $sacker ]] || { echo "verify_bench: $sacker missing: build first" >&2; exit 2; }

work=$(mktemp -d /tmp/sacker-verify-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
export HOME=$work XDG_DATA_HOME=$work/data XDG_STATE_HOME=$work/state
unset SACKER_CONFIG SACKER_LEDGER SACKER_STORE SACKER_SIGNING_KEY SACKER_KEY_PASSPHRASE
cd "$work"
"$sacker" -q key gen ci >/dev/null
"$sacker" -q key gen release >/dev/null
head -c "$size" /dev/urandom >app.bin
"$sacker" add app app.bin --sign ci.key >/dev/null
"$sacker" tag app 1 live --sign release.key >/dev/null
cat >trust.json <<'EOF'
{"keys": {"ci": {"file": "ci.pub"}, "release": {"file": "release.pub"}},
 "packages": [{"pattern": "*", "level": "strict", "versions": ["ci"], "promotions": {"live": ["release"]}}]}
EOF
"$sacker" -q download app live -o dest --trust trust.json   # in place, and the generation remembered
# The run after a download hashes the file once (its ctime is too recent to remember it
# by: client/known_sha.h) and remembers it; measured are the runs after that one.
"$sacker" -q download app live -o dest

plain=("$sacker" -q download app live -o dest)
strict=("$sacker" -q download app live -o dest --trust trust.json)

# A minisign signature of the same file, for the comparison.
minisign_cmd=()
if command -v minisign >/dev/null; then
  minisign -G -W -p ms.pub -s ms.key >/dev/null 2>&1
  minisign -S -s ms.key -m dest >/dev/null 2>&1
  minisign_cmd=(minisign -Vq -p ms.pub -m dest)
fi

# instructions (callgrind) from lib.sh; median_ms here also reports CPU time.
source "$root/bench/lib.sh"

median_ms() {  # "wall cpu": median wall and median CPU (user+sys) milliseconds of $runs runs of "$@"
  python3 - "$runs" "$@" <<'EOF'
import os, statistics, subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2:]
wall, cpu = [], []
for _ in range(runs):
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    wall.append((time.perf_counter() - t) * 1000)
    cpu.append((usage.ru_utime + usage.ru_stime) * 1000)
    if status != 0:
        sys.exit(f"verify_bench: {' '.join(cmd)} failed")
print(f"{statistics.median(wall):.3f} {statistics.median(cpu):.3f}")
EOF
}

ir_plain=$(instructions "${plain[@]}")
ir_strict=$(instructions "${strict[@]}")
# Interleaved, so that machine load hits both alike.
ms_plain=$(median_ms "${plain[@]}")
ms_strict=$(median_ms "${strict[@]}")
ms_plain2=$(median_ms "${plain[@]}")
ms_strict2=$(median_ms "${strict[@]}")
ms_minisign=-
[[ ${#minisign_cmd[@]} -gt 0 ]] && ms_minisign=$(median_ms "${minisign_cmd[@]}")

python3 - "$ir_plain" "$ir_strict" "$ms_plain" "$ms_strict" "$ms_plain2" "$ms_strict2" "$ms_minisign" "$runs" "$size" <<'EOF'
import sys
ir_p, ir_s = int(sys.argv[1]), int(sys.argv[2])
pair = lambda a, b: [min(float(x), float(y)) for x, y in zip(a.split(), b.split())]
(wall_p, cpu_p), (wall_s, cpu_s) = pair(sys.argv[3], sys.argv[5]), pair(sys.argv[4], sys.argv[6])
mini, runs, size = sys.argv[7], sys.argv[8], int(sys.argv[9])
print(f"download of an up-to-date {size} byte file; medians of {runs} runs (the lower of two interleaved rounds)")
print(f"{'':10} {'instructions':>14} {'wall ms':>9} {'cpu ms':>9}")
print(f"{'plain':10} {ir_p:>14,} {wall_p:>9.3f} {cpu_p:>9.3f}")
print(f"{'strict':10} {ir_s:>14,} {wall_s:>9.3f} {cpu_s:>9.3f}")
print(f"{'delta':10} {ir_s - ir_p:>14,} {wall_s - wall_p:>9.3f} {cpu_s - cpu_p:>9.3f}"
      f"   (strict/plain: {ir_s / ir_p:.3f}x instructions, {wall_s / wall_p:.3f}x wall, {cpu_s / cpu_p:.3f}x cpu)")
if mini != "-":
    w, c = (float(x) for x in mini.split())
    print(f"{'minisign':10} {'':>14} {w:>9.3f} {c:>9.3f}   (minisign -V of the same file, for comparison)")
EOF
