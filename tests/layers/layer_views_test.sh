#!/usr/bin/env bash
# Keeps the layering enforced (cmake/SackerLayers.cmake): for every layer L and every
# layer H above it, an #include of a header of H (one per source folder of H, and each
# public header H owns) must not resolve in L's include view, while the header is there
# in H's own view (so a refusal means the view, not a broken path). A lookup in an -I
# directory is a file test; the first upward include of each layer also goes through
# the compiler itself, which must stop with "No such file or directory".
#
# usage: layer_views_test.sh CXX VIEWS_DIR SOURCE_DIR LAYER:dir,dir:header,header ...
#        (the layers bottom to top, as SACKER_LAYERS lists them)
set -u
cxx=$1 views=$2 src=$3
shift 3
layers=("$@")
checked=0 failed=0 compiled=""

# The first header of folder `dir` (sorted), or nothing.
first_header() { find "$src/src/$1" -maxdepth 1 -name '*.h' -printf '%f\n' 2>/dev/null | sort | head -n 1; }

# Whether `#include "$2"` resolves with -I view $1: the preprocessor names the
# header when it cannot find it (and stops there).
resolves() {
  local err
  err=$(printf '#include "%s"\n' "$2" | "$cxx" -std=c++20 -E -o /dev/null -I "$views/$1" -x c++ - 2>&1 >/dev/null)
  ! grep -qF "$2: No such file or directory" <<<"$err"
}

for ((i = 0; i < ${#layers[@]}; ++i)); do
  low=${layers[i]%%:*}
  [[ -d $views/$low ]] || continue
  for ((j = i + 1; j < ${#layers[@]}; ++j)); do
    IFS=: read -r high dirs headers <<<"${layers[j]}"
    [[ -d $views/$high ]] || continue
    includes=()
    for dir in ${dirs//,/ }; do
      h=$(first_header "$dir")
      [[ -n $h ]] && includes+=("$dir/$h")
    done
    for h in ${headers//,/ }; do includes+=("sacker/$h"); done
    for inc in "${includes[@]}"; do
      checked=$((checked + 1))
      if [[ ! -e $views/$high/$inc ]]; then
        echo "FAIL: \"$inc\" does not resolve in its own layer's view ($views/$high)"
        failed=$((failed + 1))
      elif [[ -e $views/$low/$inc ]] || { [[ $compiled != "$low" ]] && compiled=$low && resolves "$low" "$inc"; }; then
        echo "FAIL: layer $low can include \"$inc\" of the higher layer $high ($views/$low)"
        failed=$((failed + 1))
      fi
    done
  done
done
echo "$checked upward includes checked, $failed not refused"
[[ $checked -gt 0 && $failed -eq 0 ]]
