# Shared by the benchmark scripts (sourced): the measurements they print side by side.
# Needs $work (a scratch directory) and $runs set by the caller.

instructions() {  # COMMAND...: instructions of one run (valgrind callgrind: stable on a noisy machine)
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$@" >/dev/null 2>"$work/cg.log" ||
    { cat "$work/cg.log" >&2; exit 1; }
  awk '/^summary:/ { print $2 }' "$work/cg.out"
  rm -f "$work/cg.out"
}

median_ms() {  # COMMAND...: median wall ms of $runs runs
  local i t0 t1 times=()
  for ((i = 0; i < runs; i++)); do
    t0=$(date +%s%N)
    "$@" >/dev/null
    t1=$(date +%s%N)
    times+=($(((t1 - t0) / 1000)))
  done
  printf '%s\n' "${times[@]}" | sort -n |
    awk '{ a[NR] = $1 } END { m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.2f", m / 1000 }'
}
