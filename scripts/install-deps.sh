#!/usr/bin/env bash
# Installs everything sacker's build, tests and benchmarks need on a Debian 12 machine.
# Run as root, no stdin needed. Idempotent: a second run only checks and exits quickly.
#
#   bash scripts/install-deps.sh                everything (build, test servers, tools, browser)
#   bash scripts/install-deps.sh --build-only   what building sacker needs, nothing else
#   bash scripts/install-deps.sh --browser-only what tests/browser needs (Chromium, playwright-core)
#
# Debian packages: build dependencies, the test servers (Ceph RadosGW, ZooKeeper, etcd,
# PostgreSQL, git daemon, an MIT Kerberos KDC) and the clients/tools used by tests and benchmarks.
# npm: dynalite (a DynamoDB-compatible server), Azurite (the Azure Storage emulator) and
# playwright-core (drives Chromium in tests/browser) into ${SACKER_TOOLS_DIR:-/opt/sacker-tools},
# never into the repository.
#
# Nothing may start at install time: the postinst scripts of etcd-server, ceph-*, radosgw,
# postgresql, krb5-kdc and krb5-admin-server call invoke-rc.d, which asks /usr/sbin/policy-rc.d.
# If that file is missing we put a temporary "exit 101" there for the duration of the install
# (and remove it afterwards). krb5-admin-server's postinst exits 1 when that start fails (and
# kadmind has no realm at install time), so for it the file is not optional.
# krb5-config asks debconf for a default realm and KDC host names; noninteractive needs no
# preseeding: it takes the empty defaults and installs Debian's stock /etc/krb5.conf (realm
# ATHENA.MIT.EDU, KDCs on the internet). Nothing of ours reads it: scripts/servers/kdc.sh
# writes its own krb5.conf and every user of the realm sets KRB5_CONFIG to it.
set -euo pipefail

TOOLS_DIR=${SACKER_TOOLS_DIR:-/opt/sacker-tools}
DYNALITE_VERSION=4.0.0
AZURITE_VERSION=3.35.0
PLAYWRIGHT_CORE_VERSION=1.64.1
POLICY_RC=/usr/sbin/policy-rc.d

start_ns=$(date +%s%N)
log() { echo "install-deps: $*"; }
die() { echo "install-deps: $*" >&2; exit 1; }

build_only=0
browser_only=0
case "${1:-}" in
  --build-only) build_only=1 ;;
  --browser-only) browser_only=1 ;;
  "") ;;
  *) die "usage: install-deps.sh [--build-only | --browser-only]" ;;
esac

[ "$(id -u)" = 0 ] || die "must run as root"

build_pkgs=(
  cmake ninja-build g++ pkg-config ccache
  libcurl4-openssl-dev libssl-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libsqlite3-dev libpugixml-dev libgit2-dev libzookeeper-mt-dev libpq-dev
  libsodium-dev                          # src/sign: Ed25519 verification (keys.cpp says why not OpenSSL)
  libcpp-httplib-dev                     # sacker serve (src/serve); a compiled library, not header-only
  googletest libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev               # scripts/ci-gates.sh: ASan/UBSan build and libFuzzer
  dpkg-dev                               # scripts/package.sh: cpack's dpkg-shlibdeps (the .deb's Depends)
  man-db                                 # tests/install: man -l renders sacker(1)
)
server_pkgs=(
  ceph-mon ceph-osd radosgw ceph-common  # real S3 (RadosGW on a memstore OSD)
  zookeeper default-jre-headless         # NOT zookeeperd: that one starts a daemon
  etcd-server
  postgresql-15
  git                                    # git daemon
  krb5-kdc krb5-admin-server             # a throw-away MIT Kerberos realm (kdc.sh: krb5kdc,
                                         # kdb5_util, kadmin.local; kadmind is never started)
)
tool_pkgs=(
  awscli rclone python3-botocore hyperfine curl jq
  azure-cli python3-azure                # az (bench/azure_bench.sh); Microsoft's Python SDK checks
                                         # our Azure signer (tests/integration/azure)
  minisign valgrind                      # sign_minisign_test.cpp's interop oracle; bench/verify_bench.sh
  krb5-user python3-gssapi               # kinit/klist/kvno; SPNEGO in the WebHDFS stand-in
  wrk                                    # HTTP load for the sacker serve benchmark
  iproute2 procps util-linux             # ss, ps, setsid/runuser used by scripts/servers
  zsh fish                               # tests/install: the zsh and fish completions, for real
  debootstrap                            # tests/install: the .deb installed into a fresh Debian root
)
# Node.js and npm (for dynalite and Azurite): the image ships Node 20 with its own npm. Only
# when node is missing do we take Debian's nodejs + npm (never both: they conflict).
node_pkgs=()
command -v node >/dev/null 2>&1 || node_pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || node_pkgs+=(npm)

# Browser tests (tests/browser/run.mjs): Debian's Chromium, driven by playwright-core over
# its DevTools pipe. chromium-driver is not needed (no WebDriver). A font, so that
# screenshots show text.
browser_pkgs=(chromium fonts-dejavu-core)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

if [ "$browser_only" = 1 ]; then
  wanted=("${browser_pkgs[@]}" "${node_pkgs[@]}")
else
  wanted=("${build_pkgs[@]}")
  [ "$build_only" = 1 ] || wanted+=("${server_pkgs[@]}" "${tool_pkgs[@]}" "${browser_pkgs[@]}" "${node_pkgs[@]}")
fi
missing=()
for p in "${wanted[@]}"; do
  installed "$p" || missing+=("$p")
done

apt_note="apt: nothing to do"
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${#missing[@]} Debian packages: ${missing[*]}"
  made_policy=0
  if [ ! -e "$POLICY_RC" ]; then
    printf '#!/bin/sh\n# temporary, from sacker scripts/install-deps.sh: start no service\nexit 101\n' \
      > "$POLICY_RC"
    chmod 755 "$POLICY_RC"
    made_policy=1
    trap 'rm -f "$POLICY_RC"' EXIT
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt_opts=(-q -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef
            -o Dpkg::Options::=--force-confold)
  # apt's long output goes to a log; it is shown only if something fails
  apt_log=$(mktemp /tmp/sacker-install-deps.XXXXXX.log)
  if ! apt-get "${apt_opts[@]}" update </dev/null >"$apt_log" 2>&1; then
    tail -n 40 "$apt_log" >&2; die "apt-get update failed (full log: $apt_log)"
  fi
  # Only the missing packages are named, so packages already present are not upgraded
  # (naming libpq-dev would e.g. upgrade the PostgreSQL that is already installed).
  if ! apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}" \
      </dev/null >>"$apt_log" 2>&1; then
    tail -n 40 "$apt_log" >&2; die "apt-get install failed (full log: $apt_log)"
  fi
  rm -f "$apt_log"
  if [ "$made_policy" = 1 ]; then rm -f "$POLICY_RC"; trap - EXIT; fi
  apt_note="apt: installed ${#missing[@]} missing packages and their dependencies"
fi

if [ "$build_only" = 1 ]; then
  elapsed_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
  printf 'install-deps: build dependencies ready in %d.%02d s (%s)\n' \
    $((elapsed_ms / 1000)) $((elapsed_ms % 1000 / 10)) "$apt_note"
  exit 0
fi

# --- npm tools, pinned, into $TOOLS_DIR (one package.json there, never in the repository)
npm_version() {  # the installed version of package $1, or nothing
  local pkg=$TOOLS_DIR/node_modules/$1/package.json
  [ -f "$pkg" ] && node -p "require('$pkg').version" 2>/dev/null
}
npm_pin() {  # npm_pin NAME VERSION: installs NAME@VERSION unless it is there; sets npm_note
  if [ "$(npm_version "$1" || true)" = "$2" ]; then
    npm_note+="${npm_note:+; }$1 $2: already there"
    return
  fi
  log "npm install $1@$2 into $TOOLS_DIR"
  mkdir -p "$TOOLS_DIR"
  [ -f "$TOOLS_DIR/package.json" ] ||
    printf '{\n  "name": "sacker-tools",\n  "private": true\n}\n' > "$TOOLS_DIR/package.json"
  # PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: playwright-core has no download step, but never
  # let a playwright package fetch a browser (no internet here; we use Debian's).
  (cd "$TOOLS_DIR" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error \
    --save-exact "$1@$2" </dev/null 2>&1 | { grep -v 'Unknown user config' || true; })
  [ "$(npm_version "$1" || true)" = "$2" ] || die "$1 did not install into $TOOLS_DIR"
  npm_note+="${npm_note:+; }$1 $2: installed"
}
npm_note=""

if [ "$browser_only" = 0 ]; then
  # dynalite 4.0.0 runs on Node 20 and needs no native build for in-memory use.
  npm_pin dynalite "$DYNALITE_VERSION"
  # Azurite 3.35.0: 3.36+ needs Node >= 21; npm only warns on an engines mismatch, so the pin
  # is what keeps us on a version that runs here.
  npm_pin azurite "$AZURITE_VERSION"
fi

# --- browser tests: playwright-core (a driver only, no browser inside), for Debian's Chromium.
# 1.64.1 drives Chromium 156 here (Node >= 20).
npm_pin playwright-core "$PLAYWRIGHT_CORE_VERSION"
[ -x /usr/bin/chromium ] || die "/usr/bin/chromium missing after install"

if [ "$browser_only" = 1 ]; then
  elapsed_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
  printf 'install-deps: browser test dependencies ready in %d.%02d s (%s; %s)\n' \
    $((elapsed_ms / 1000)) $((elapsed_ms % 1000 / 10)) "$apt_note" "$npm_note"
  exit 0
fi

# --- sanity: the binaries the server scripts need
for b in cmake g++ radosgw radosgw-admin ceph-mon ceph-osd ceph etcd java git curl node wrk \
         krb5kdc kdb5_util kadmin.local kinit; do
  command -v "$b" >/dev/null 2>&1 || die "$b still missing after install"
done
[ -f /usr/share/java/zookeeper.jar ] || die "ZooKeeper jar missing after install"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || die "PostgreSQL initdb missing after install"
# the WebHDFS stand-in runs on Debian's python3 (a python3 earlier in PATH lacks python3-gssapi)
/usr/bin/python3 -c 'import gssapi' 2>/dev/null || die "python3-gssapi missing after install"
/usr/bin/python3 -c 'import azure.storage.blob' 2>/dev/null || die "python3-azure missing after install"
[ -f "$TOOLS_DIR/node_modules/azurite/dist/src/blob/main.js" ] || die "Azurite missing after install"

elapsed_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
printf 'install-deps: done in %d.%02d s (%s; %s)\n' \
  $((elapsed_ms / 1000)) $((elapsed_ms % 1000 / 10)) "$apt_note" "$npm_note"
