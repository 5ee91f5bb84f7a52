#!/usr/bin/env bash
# The .deb for real, in a fresh Debian root: `debootstrap --variant=minbase bookworm`
# (made once, kept as a tarball under the build dir; every run unpacks a fresh copy),
# then inside it, with nothing of the build present: `apt-get install ./sacker_*.deb`,
# the canary workflow (add, download latest, tag live, download live, bytes compared),
# `sacker doctor`, then `apt-get remove sacker`, after which no file `dpkg -L sacker`
# listed is left.
#   deb_chroot_test.sh BUILD_DIR SOURCE_DIR
# The mirror is the machine's own, read from its apt sources at run time. Needs root
# (debootstrap, chroot): exits 77 (ctest: skipped) without it.
set -euo pipefail
build=$(cd "$1" && pwd) source_dir=$2
fail() { echo "deb_chroot_test: $*" >&2; exit 1; }
log() { echo "deb_chroot_test: $*"; }
[ "$(id -u)" = 0 ] || { echo "deb_chroot_test: needs root (debootstrap, chroot): skipped"; exit 77; }
command -v debootstrap >/dev/null || fail "debootstrap is missing (scripts/install-deps.sh)"
suite=bookworm

# The first mirror of $suite in the apt sources (one-line .list or deb822 .sources).
mirror() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v s="$suite" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) while ($i !~ /\]$/) i++; if ($2 ~ /^\[/) i++;
                                     if ($(i + 1) == s) { print $i; exit } }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v s="$suite" 'BEGIN { RS = ""; FS = "\n" }
      { uri = ""; ok = 0; deb = 0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { split(substr($i, 6), u, " "); for (k in u) if (u[k] != "") { uri = u[k]; break } }
          if ($i ~ /^Suites:/) { n = split(substr($i, 8), w, " "); for (k = 1; k <= n; k++) if (w[k] == s) ok = 1 }
          if ($i ~ /^Types:/ && $i ~ /(^|[ ])deb([ ]|$)/) deb = 1
        }
        if (ok && deb && uri != "") { print uri; exit } }' "$f"
  done
}
url=$(mirror | head -n 1)
[ -n "$url" ] || fail "no '$suite' mirror in /etc/apt/sources.list or /etc/apt/sources.list.d/"

cache=$build/debian-root
tarball=$cache/$suite-minbase.tar
mkdir -p "$cache"
if [ ! -f "$tarball" ]; then
  made=$cache/made
  rm -rf "$made"
  start=$(date +%s)
  debootstrap --variant=minbase "$suite" "$made" "$url" >"$cache/debootstrap.log" 2>&1 ||
    { tail -n 20 "$cache/debootstrap.log" >&2; fail "debootstrap failed (log: $cache/debootstrap.log)"; }
  log "debootstrap --variant=minbase $suite took $(( $(date +%s) - start )) s (cached as $tarball)"
  tar -C "$made" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
  rm -rf "$made"
fi

deb=$(bash "$source_dir/scripts/package.sh" "$build" "$cache/packages" | grep '/sacker_[^/]*\.deb$')
[ -f "$deb" ] || fail "scripts/package.sh made no sacker_*.deb"

root=$(mktemp -d "$cache/root.XXXXXX")
cleanup() {
  if mountpoint -q "$root/proc"; then umount "$root/proc"; fi
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT
tar -C "$root" -xf "$tarball"
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc" 2>/dev/null || log "cannot mount /proc in the root (a container?); going on without it"
cp "$deb" "$root/tmp/"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }
apt_log=$cache/apt.log
in_root apt-get -q update >"$apt_log" 2>&1 || { tail -n 20 "$apt_log" >&2; fail "apt-get update in the root failed"; }
start=$(date +%s)
in_root apt-get install -y -q "./tmp/$(basename "$deb")" >>"$apt_log" 2>&1 ||
  { tail -n 30 "$apt_log" >&2; fail "apt-get install ./$(basename "$deb") failed"; }
log "apt-get install ./$(basename "$deb") took $(( $(date +%s) - start )) s"
rm "$root/tmp/$(basename "$deb")"
in_root dpkg -L sacker >"$cache/sacker.files"
grep -qx /usr/bin/sacker "$cache/sacker.files" || fail "dpkg -L sacker has no /usr/bin/sacker"
for f in /usr/share/doc/sacker/copyright /usr/share/man/man1/sacker.1.gz \
         /usr/share/bash-completion/completions/sacker /usr/share/zsh/vendor-completions/_sacker \
         /usr/share/fish/vendor_completions.d/sacker.fish; do
  grep -qx "$f" "$cache/sacker.files" || fail "the package does not install $f"
done
head -n 1 "$root/usr/share/doc/sacker/copyright" | grep -q '^Format: .*copyright-format/1.0/' ||
  fail "usr/share/doc/sacker/copyright is not in the debian/copyright format"

# The canary workflow, as a user would run it, with only the installed package.
cat >"$root/tmp/canary.sh" <<'CANARY'
set -eu
export HOME=/tmp/canary-home
mkdir -p "$HOME" && cd "$HOME"
head -c 300000 /dev/urandom >frontend-server.jar
[ "$(sacker add frontend-server frontend-server.jar)" = 1 ]
sacker download frontend-server latest -o staging.jar
cmp frontend-server.jar staging.jar
sacker tag frontend-server 1 live --comment "canary ok" >/dev/null
sacker download frontend-server live -o production.jar
cmp frontend-server.jar production.jar
[ "$(sacker info frontend-server live --json | tr ',' '\n' | grep -c "$(sha256sum frontend-server.jar | cut -c1-64)")" = 1 ]
sacker doctor >doctor.txt
grep -q '✔ can write' doctor.txt
echo canary ok
CANARY
out=$(in_root sh /tmp/canary.sh 2>&1) || fail "canary workflow in the root failed: $out"
[ "$(echo "$out" | tail -n 1)" = "canary ok" ] || fail "canary workflow: $out"
rm -rf "$root/tmp/canary.sh" "$root/tmp/canary-home"

in_root apt-get remove -y -q sacker >>"$apt_log" 2>&1 || { tail -n 20 "$apt_log" >&2; fail "apt-get remove sacker failed"; }
in_root dpkg -s sacker >/dev/null 2>&1 && fail "sacker is still installed after apt-get remove"
left=0
while read -r f; do
  [ -e "$root$f" ] || continue
  [ -d "$root$f" ] && [ -n "$(ls -A "$root$f")" ] && continue  # a shared directory that holds others' files
  echo "deb_chroot_test: left behind by apt-get remove: $f" >&2
  left=1
done <"$cache/sacker.files"
[ "$left" = 0 ] || fail "apt-get remove sacker left files behind"
log "installed, ran the canary workflow and removed sacker in a fresh $suite root: nothing left behind"
