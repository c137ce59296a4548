# What the shell e2e tests share; source it after `set -uo pipefail`:
#   . "$(dirname "$0")/../lib/common.sh"
# pass/fail counters (end with `summary`), free_port, wait_for, require_servers and s3.
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
# The closing line test runners read; exits non-zero when anything failed.
summary() { echo "$passed passed, $failed failed"; [ "$failed" = 0 ]; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Sends SIGNAL to each PID that is still a child of this script. A test keeps the PIDs of what
# it started, some of which it killed on purpose; PIDs wrap around quickly here (pid_max 32768),
# so such a PID may by now belong to another test's process, which a plain kill would stop.
# With GROUP=1 the child's whole process group gets it (children started with setsid).
signal_children() {  # SIGNAL GROUP PID...
  local sig=$1 group=$2 pid
  shift 2
  for pid in "$@"; do
    [ "$(ps -o ppid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$$" ] || continue
    if [ "$group" = 1 ]; then kill "-$sig" -- "-$pid" 2>/dev/null || kill "-$sig" "$pid" 2>/dev/null
    else kill "-$sig" "$pid" 2>/dev/null; fi
  done
  return 0
}
wait_for() {  # SECONDS COMMAND...: true once COMMAND succeeds
  local until=$((SECONDS + $1)); shift
  while [ $SECONDS -lt $until ]; do "$@" && return 0; sleep 0.1; done
  return 1
}
# Exits unless every variable named is set (by tools/dev/env): a failure under tools/test
# (OPTIMUS_REQUIRE_INFRA=1), a skip on a developer's machine.
require_servers() {
  local v
  for v in "$@"; do
    if [ -z "${!v:-}" ]; then
      if [ "${OPTIMUS_REQUIRE_INFRA:-}" = 1 ]; then
        echo "FAIL: $v is not set (tools/dev/up; eval \"\$(tools/dev/env)\")"; echo "0 passed, 1 failed"; exit 1
      fi
      echo "skip: $v is not set (tools/dev/up; eval \"\$(tools/dev/env)\")"; exit 0
    fi
  done
}
readonly DEV_SERVERS=(OPTIMUS_TEST_KAFKA_BROKERS OPTIMUS_TEST_PG_URI OPTIMUS_TEST_S3_ENDPOINT
                      OPTIMUS_TEST_S3_ACCESS_KEY OPTIMUS_TEST_S3_SECRET_KEY OPTIMUS_TEST_S3_REGION)
s3() {  # METHOD PATH [curl args...]: a SigV4-signed request to the dev S3 server
  local method=$1 path=$2; shift 2
  curl -fsS -X "$method" --aws-sigv4 "aws:amz:$OPTIMUS_TEST_S3_REGION:s3" \
    --user "$OPTIMUS_TEST_S3_ACCESS_KEY:$OPTIMUS_TEST_S3_SECRET_KEY" "$OPTIMUS_TEST_S3_ENDPOINT/$path" "$@"
}
s3_remove_bucket() {  # BUCKET: deletes every object of a dev S3 bucket, then the bucket
  local key
  for key in $(s3 GET "$1?list-type=2" 2>/dev/null | grep -o '<Key>[^<]*</Key>' | sed 's/<[^>]*>//g'); do
    s3 DELETE "$1/$key" >/dev/null 2>&1
  done
  s3 DELETE "$1" >/dev/null 2>&1
}
# BUCKET PREFIX PROJECT MANIFEST: the dev S3 server holds exactly one DAG per job of a generated
# project's manifest (gen-project's manifest.json) and its __lib.py under PREFIX/PROJECT/dags/,
# nothing else, none listed twice. Prints the counts.
s3_check_dags() {
  local bucket=$1 prefix=$2 project=$3 manifest=$4 token="" page=0 keys list
  keys=$(mktemp); list=$(mktemp)
  while :; do  # S3 lists 1,000 keys a page
    # (curl signs the query as written: parameters in sorted order)
    s3 GET "$bucket?${token:+continuation-token=$token&}list-type=2&max-keys=1000&prefix=$prefix%2F$project%2Fdags%2F" >"$list" || { rm -f "$keys" "$list"; return 1; }
    grep -o '<Key>[^<]*</Key>' "$list" | sed 's/<[^>]*>//g' >>"$keys"
    token=$(grep -o '<NextContinuationToken>[^<]*' "$list" | sed 's/.*>//' | python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read().strip(), safe=""))')
    page=$((page + 1))
    [ -n "$token" ] && [ "$page" -lt 100 ] || break
  done
  python3 - "$manifest" "$keys" "$prefix" "$project" <<'PY'
import json, sys
manifest = json.load(open(sys.argv[1]))
keys = open(sys.argv[2]).read().split()
prefix, project = sys.argv[3], sys.argv[4]
want = {f"{prefix}/{project}/dags/{j['namespace']}/{j['name']}.py" for j in manifest["jobs"]}
want.add(f"{prefix}/{project}/dags/__lib.py")
missing, extra = want - set(keys), set(keys) - want
print(len(keys), "objects;", len(missing), "missing;", len(extra), "extra;", len(keys) - len(set(keys)), "listed twice")
sys.exit(1 if missing or extra or len(keys) != len(set(keys)) else 0)
PY
  local rc=$?
  rm -f "$keys" "$list"
  return $rc
}
# BUCKET PREFIX: deletes every object under PREFIX/ of a dev S3 bucket, 1,000 a request.
s3_remove_prefix() {
  local bucket=$1 prefix=$2 body
  for _ in $(seq 1 1000); do
    body=$(s3 GET "$bucket?list-type=2&max-keys=1000&prefix=$prefix%2F" 2>/dev/null |
      python3 -c 'import re, sys
from xml.sax.saxutils import escape
keys = re.findall(r"<Key>([^<]*)</Key>", sys.stdin.read())
if keys: print("<Delete><Quiet>true</Quiet>" + "".join(f"<Object><Key>{k}</Key></Object>" for k in keys) + "</Delete>")')
    [ -n "$body" ] || return 0
    s3 POST "$bucket?delete" -H "Content-MD5: $(printf %s "$body" | openssl md5 -binary | base64)" \
      -H 'Content-Type: application/xml' --data-binary "$body" >/dev/null || return 1
  done
}
# NAME PORT: when OPTIMUS_E2E_SCRAPE_DIR is set (observability_e2etest's distributed run), lists a
# service's HTTP port there as a Prometheus file discovery target, labelled job=NAME.
scrape_register() {
  [ -n "${OPTIMUS_E2E_SCRAPE_DIR:-}" ] || return 0
  printf '[{"targets": ["127.0.0.1:%s"], "labels": {"job": "%s"}}]\n' "$2" "$1" \
    >"$OPTIMUS_E2E_SCRAPE_DIR/$1.json.tmp" && mv "$OPTIMUS_E2E_SCRAPE_DIR/$1.json.tmp" "$OPTIMUS_E2E_SCRAPE_DIR/$1.json"
}

# start_service NAME [FLAGS...]: starts optimus-NAME with ${COMMON[@]} and FLAGS (a trailing 2
# names a second replica: dispatcher2 runs optimus-dispatcher), logging to $TMP/NAME.log; adds
# its PID to pids, registers it for scraping and waits up to 30 s for /readyz. Its ports and PID
# are HTTP[NAME], GRPC[NAME] and PID[NAME]; a service started again keeps its ports, so that
# what talks to it finds it where it was.
start_service() {
  declare -gA HTTP GRPC PID
  local name=$1; shift
  HTTP[$name]=${HTTP[$name]:-$(free_port)}
  GRPC[$name]=${GRPC[$name]:-$(free_port)}
  "$BIN/optimus-${name%2}" "${COMMON[@]}" --set http.port="${HTTP[$name]}" \
    --set grpc.port="${GRPC[$name]}" "$@" >>"$TMP/$name.log" 2>&1 &
  PID[$name]=$!
  pids+=("$!")
  scrape_register "$name" "${HTTP[$name]}"
  local until=$((SECONDS + 30))
  while [ $SECONDS -lt $until ]; do
    curl -fs -o /dev/null "http://127.0.0.1:${HTTP[$name]}/readyz" && return 0
    kill -0 "${PID[$name]}" 2>/dev/null || break  # it exited: no use waiting
    sleep 0.1
  done
  fail "optimus-$name never became ready"; tail -5 "$TMP/$name.log"; return 1
}
