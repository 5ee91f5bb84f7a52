#!/usr/bin/env bash
# `sacker doctor` against real backends: the embedded default; S3 on RadosGW with
# the full user and with a PutObject-only CI user (the policy of
# examples/ci-aws-iam-policy.json); an unreachable ledger; a wrong secret, which
# must never appear in the output.
#   doctor_test.sh SACKER_BINARY SOURCE_DIR RGW_ENV_FILE
set -euo pipefail
sacker=$1 source_dir=$2 env_file=$3
tmp=$(mktemp -d /tmp/sacker-doctor-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "doctor_test: $*" >&2; exit 1; }
export HOME=$tmp/home XDG_DATA_HOME='' SACKER_CONFIG='' SACKER_LEDGER='' SACKER_STORE=''
mkdir -p "$HOME"

# doctor ARGS... : runs it; $out holds stdout and stderr, $rc the exit code.
doctor() {
  rc=0
  out=$("$sacker" "$@" 2>&1) || rc=$?
}
has() { grep -qF -- "$1" <<<"$out" || fail "no '$1' in the output of: $cmd"$'\n'"$out"; }
hasnt() { ! grep -qF -- "$1" <<<"$out" || fail "'$1' in the output of: $cmd"$'\n'"$out"; }
exits() { [ "$rc" = "$1" ] || fail "exit $rc, wanted $1: $cmd"$'\n'"$out"; }

# --- the embedded default (sqlite + file under ~/.local/share/sacker).
cmd="doctor (embedded default)"
doctor doctor
exits 0
for step in reachable "can list" "can read" "can write"; do
  [ "$(grep -cF "✔ $step:" <<<"$out")" = 2 ] || fail "wanted ✔ $step for ledger and store: $out"
done
has "added and removed version 1 of sacker-doctor-probe"
has "put and removed a 64-byte probe blob"
has "everything this client needs works"
[ -z "$(find "$HOME/.local/share/sacker/blobs" -type f)" ] || fail "the probe blob was left"
[ "$("$sacker" list)" = "" ] || fail "the probe version was left: $("$sacker" list)"
cmd="doctor --read-only"
doctor doctor --read-only
exits 0
has "– can write: skipped (--read-only)"
cmd="doctor --json"
doctor --json doctor
exits 0
[ "$(jq -r '.ok' <<<"$out")" = true ] || fail "--json: $out"
[ "$(jq -r '[.checks[] | select(.status == "ok")] | length' <<<"$out")" = 8 ] || fail "--json: $out"

# --- S3 on RadosGW, the full user.
while IFS='=' read -r key value; do
  [ -n "$key" ] && export "$key=$value"
done <"$env_file"
admin_key=$AWS_ACCESS_KEY_ID admin_secret=$AWS_SECRET_ACCESS_KEY
u=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
s3_ledger=s3://$RGW_BUCKET/doctor-$u/ledger/ s3_store=s3://$RGW_BUCKET/doctor-$u/blobs/
cmd="doctor on S3 (full user)"
doctor --ledger "$s3_ledger" --store "$s3_store" doctor
exits 0
[ "$(grep -cF '✔ credentials: from environment' <<<"$out")" = 2 ] || fail "credentials source: $out"
[ "$(grep -c '✔ clock: within [0-9]* s of the server' <<<"$out")" = 2 ] || fail "clock: $out"
has "✔ reachable: $AWS_ENDPOINT_URL_S3 answered"
has "added and removed version"
has "put and removed a 64-byte probe blob"
hasnt "$admin_secret"

# --- a PutObject-only CI user (examples/ci-aws-iam-policy.json on its own buckets).
ci_store=doctor-store-$u ci_ledger=doctor-ledger-$u
"$sacker" --store "s3://$ci_store" --ledger "s3://$ci_ledger" init >/dev/null
ci_key=CI$(tr a-z A-Z <<<"$u")DOCTOR ci_secret=ci-secret-$u-$u
radosgw-admin -c "$RGW_CEPH_CONF" user create --uid "ci-$u" --display-name "ci-$u" \
  --access-key "$ci_key" --secret-key "$ci_secret" >/dev/null
for bucket in "$ci_store" "$ci_ledger"; do
  policy=$(jq -c --arg b "$bucket" --arg store "$ci_store" --arg ledger "$ci_ledger" --arg p "arn:aws:iam:::user/ci-$u" '
    .Statement |= (map(.Resource |= ([.] | flatten | map(sub("my-store-bucket"; $store) | sub("my-ledger-bucket"; $ledger))))
      | map(select(.Resource[0] | startswith("arn:aws:s3:::" + $b + "/"))) | map(. + {Principal: {AWS: [$p]}})
      | . + [{Sid: "DenyEverythingElse", Effect: "Deny", Principal: {AWS: [$p]},
              NotAction: ["s3:PutObject", "s3:AbortMultipartUpload"],
              Resource: ["arn:aws:s3:::" + $b, "arn:aws:s3:::" + $b + "/*"]}])' \
    "$source_dir/examples/ci-aws-iam-policy.json")
  /usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" s3api put-bucket-policy --bucket "$bucket" --policy "$policy" ||
    fail "put-bucket-policy $bucket"
done
export AWS_ACCESS_KEY_ID=$ci_key AWS_SECRET_ACCESS_KEY=$ci_secret
cmd="doctor as the PutObject-only user"
doctor --ledger "s3://$ci_ledger" --store "s3://$ci_store" doctor
exits 0
has "this is a PutObject-only client: add works, reads are denied (expected)"
has "✔ can write: put a 64-byte probe blob"
has "– can write: not probed: a PutObject-only client"
[ "$(grep -c '^  – can \(list\|read\): .*access denied.* (expected)$' <<<"$out")" = 4 ] || fail "expected denials: $out"
hasnt "$ci_secret"
printf 'ci build\n' >"$tmp/app.jar"
"$sacker" --ledger "s3://$ci_ledger" --store "s3://$ci_store" add app "$tmp/app.jar" >/dev/null ||
  fail "add with the PutObject-only user failed, which doctor said works"

# --- a wrong secret: denied, the fix names the secret key, and the secret never shows.
wrong=wrong-secret-$u-do-not-print
export AWS_ACCESS_KEY_ID=$admin_key AWS_SECRET_ACCESS_KEY=$wrong
cmd="doctor with a wrong secret"
doctor --ledger "$s3_ledger" --store "$s3_store" doctor
exits 6
has "SignatureDoesNotMatch"
has "fix: the secret key does not belong to the access key id"
hasnt "$wrong"
doctor --json --ledger "$s3_ledger" --store "$s3_store" doctor
exits 6
hasnt "$wrong"
[ "$(jq -r '.ok' <<<"$(head -n 1 <<<"$out")")" = false ] || fail "--json with a wrong secret: $out"
export AWS_SECRET_ACCESS_KEY=$admin_secret

# --- an unreachable ledger (a port nothing listens on): exit 7, with the fix.
cmd="doctor with an unreachable ledger"
AWS_ENDPOINT_URL_S3=http://127.0.0.1:1 doctor --ledger "$s3_ledger" --store "file://$tmp/blobs" doctor
exits 7
has "✘ reachable:"
has "fix: start the server or correct the endpoint"
[ "$(grep -cF '✔ can write: put and removed' <<<"$out")" = 1 ] || fail "the store should still be checked: $out"
cmd="doctor with an unreachable etcd ledger"
doctor --ledger "etcd://127.0.0.1:1/sacker" --store "file://$tmp/blobs" doctor
exits 7
has "✘ reachable:"
has "fix: start the server or correct the ledger URI's host and port"
echo "doctor_test: embedded, S3 full and PutObject-only, wrong secret, unreachable: as expected"
