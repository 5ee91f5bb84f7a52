#!/usr/bin/env bash
# dynalite (npm, a DynamoDB-compatible server in Node.js), in memory, on 127.0.0.1.
#   bash scripts/servers/dynalite.sh start DIR | stop DIR | selftest
# env: AWS_ENDPOINT_URL_DYNAMODB, DYNALITE_PORT and dummy AWS credentials/region.
# Installed by scripts/install-deps.sh under ${SACKER_TOOLS_DIR:-/opt/sacker-tools}. We run
# node on cli.js ourselves (npx would put npm and sh between us and the server's PID).
# dynalite checks only the SHAPE of SigV4 (Authorization + X-Amz-Date), not the signature, and
# has no TransactWriteItems/TransactGetItems.
SV_NAME=dynalite
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DYNALITE_CLI=$SACKER_TOOLS_DIR/node_modules/dynalite/cli.js
AK=sacker-test
SK=sacker-test-secret

sv_start() {
  local dir=$1 port pid
  need_cmd node curl ss
  need_file "$DYNALITE_CLI"
  port=$(free_port) || return 1
  # --host: the default is every interface. *TableMs 0: tables are ACTIVE at once (not 500 ms).
  start_detached "$dir/dynalite.log" "$dir/dynalite.pid" \
    node "$DYNALITE_CLI" --host 127.0.0.1 --port "$port" \
    --createTableMs 0 --deleteTableMs 0 --updateTableMs 0 || return 1
  pid=$(pidfile_pid "$dir/dynalite.pid")
  wait_for "curl -s --max-time 1 -o /dev/null http://127.0.0.1:$port/ && port_owned_by $port $pid" \
    "$SV_TIMEOUT" "$pid" || { show_log "$dir/dynalite.log"; return 1; }
  write_env "$dir" \
    "AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$port" \
    "AWS_ACCESS_KEY_ID=$AK" "AWS_SECRET_ACCESS_KEY=$SK" \
    "AWS_REGION=us-east-1" "AWS_DEFAULT_REGION=us-east-1" "AWS_EC2_METADATA_DISABLED=true" \
    "DYNALITE_PORT=$port"
  SV_ADDR=127.0.0.1:$port
}

sv_stop() { stop_pidfile "$1/dynalite.pid" 5; }

# ddb URL OPERATION JSON : one signed DynamoDB JSON call
ddb() {
  curl -s --max-time 5 --aws-sigv4 "aws:amz:us-east-1:dynamodb" --user "$AK:$SK" \
    -H 'Content-Type: application/x-amz-json-1.0' -H "X-Amz-Target: DynamoDB_20120810.$2" \
    -d "$3" "$1"
}

sv_check() {
  local url out
  url=$(env_get "$1" AWS_ENDPOINT_URL_DYNAMODB)
  out=$(ddb "$url" ListTables '{}')
  echo "ListTables: $out"
  [ "$out" = '{"TableNames":[]}' ] || return 1
  ddb "$url" CreateTable '{"TableName":"selftest","BillingMode":"PAY_PER_REQUEST",
    "AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],
    "KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}]}' >/dev/null
  local put='{"TableName":"selftest","Item":{"pk":{"S":"a"}},"ConditionExpression":"attribute_not_exists(pk)"}'
  out=$(ddb "$url" PutItem "$put")
  [ "$out" = '{}' ] || { echo "first conditional PutItem: $out"; return 1; }
  out=$(ddb "$url" PutItem "$put")
  echo "second conditional PutItem: ${out:0:80}"
  [[ "$out" == *ConditionalCheckFailedException* ]] || return 1
  # no Authorization header at all must be refused
  out=$(curl -s --max-time 5 -H 'Content-Type: application/x-amz-json-1.0' \
    -H 'X-Amz-Target: DynamoDB_20120810.ListTables' -d '{}' "$url")
  [[ "$out" == *MissingAuthenticationToken* ]] || { echo "unsigned request: $out"; return 1; }
}

sv_main "$@"
