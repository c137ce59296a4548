#!/usr/bin/env bash
# The execution plane distributed: optimus-dispatcher on real PostgreSQL (a per-run database),
# Kafka (topics under a per-run prefix) and S3 (logs under a per-run prefix), with three
# optimus-executor processes. COUNT runs of a small shell task arrive as requests on
# optimus.executions.requests (some twice); in the middle one executor and the dispatcher are
# SIGKILLed and started again. Every execution must end exactly once, succeeded; the killed
# executor's runs must start again elsewhere once their leases expire; no execution may ever run
# twice at the same time (each run holds an exclusive lock file named by its execution id, and a
# run that cannot take it fails and is recorded); and the events on Kafka must match the
# database.
#   distributed_execution_e2etest.sh BIN_DIR EXECUTIONS_CHECK [COUNT]
set -uo pipefail
BIN=${1:?usage: distributed_execution_e2etest.sh BIN_DIR EXECUTIONS_CHECK [COUNT]}
CHECK=${2:?usage: distributed_execution_e2etest.sh BIN_DIR EXECUTIONS_CHECK [COUNT]}
COUNT=${3:-2000}
. "$(dirname "$0")/../lib/common.sh"
require_servers "${DEV_SERVERS[@]}"
TMP=$(mktemp -d)
RUN=ex$(date +%s)$RANDOM
pids=()
cleanup() {
  signal_children TERM 0 "${pids[@]}"
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  if [ -n "${OPTIMUS_E2E_KEEP:-}" ]; then echo "kept: database $RUN, files in $TMP"; return; fi
  psql "$OPTIMUS_TEST_PG_URI" -qc "DROP DATABASE IF EXISTS $RUN" >/dev/null 2>&1
  "$(dirname "$0")/../../tools/dev/kafka" delete-topics "$RUN." >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT

psql "$OPTIMUS_TEST_PG_URI" -qc "CREATE DATABASE $RUN" >/dev/null || { fail "cannot create database $RUN"; exit 1; }
s3 PUT optimus-e2e >/dev/null 2>&1 || true
export AWS_ACCESS_KEY_ID=$OPTIMUS_TEST_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$OPTIMUS_TEST_S3_SECRET_KEY
PG=${OPTIMUS_TEST_PG_URI%/*}/$RUN
BUS="kafka://$OPTIMUS_TEST_KAFKA_BROKERS?optimus.topic_prefix=$RUN."
ADMIN=opt_e2e-admin-$RUN-$RANDOM$RANDOM
HTTP=$(free_port)
GRPC=$(free_port)
start_dispatcher() {
  "$BIN/optimus-dispatcher" --set "auth.tokens=admin=sha256:$(printf %s "$ADMIN" | sha256sum | cut -d' ' -f1)" \
    --set "bus.uri=$BUS" --set "db.uri=$PG" \
    --set "blob.uri=s3://optimus-e2e/$RUN?endpoint=$OPTIMUS_TEST_S3_ENDPOINT&region=$OPTIMUS_TEST_S3_REGION&path_style=true" \
    --set http.host=127.0.0.1 --set grpc.host=127.0.0.1 --set http.port="$HTTP" --set grpc.port="$GRPC" \
    --set log.format=json --set dispatcher.lease=5s --set dispatcher.heartbeat_interval=1s \
    >>"$TMP/dispatcher.log" 2>&1 &
  DISPATCHER=$!
  pids+=("$!")
  wait_for 30 curl -fsS "http://127.0.0.1:$HTTP/readyz" -o /dev/null
}
start_dispatcher && pass "optimus-dispatcher ready on PostgreSQL ($RUN), Kafka ($RUN.*) and S3" \
  || { fail "optimus-dispatcher never became ready"; tail -5 "$TMP/dispatcher.log"; echo "$passed passed, $failed failed"; exit 1; }
api() { curl -fsS -H "Authorization: Bearer $ADMIN" "$@"; }

# The task: holds an exclusive lock named by its execution id while it runs.
mkdir -p "$TMP/locks"
python3 - "$TMP/locks" >"$TMP/task.json" <<'PY'
import json, sys
locks = sys.argv[1]
script = (f'exec 9>"{locks}/$EXECUTION_ID.lock"\n'
          f'if ! flock -n 9; then echo "$EXECUTION_ID $EXECUTION_ATTEMPT" >>"{locks}/collisions"; exit 99; fi\n'
          f'echo "$EXECUTION_ID $EXECUTION_ATTEMPT" >>"{locks}/ran"\n'
          'echo "running $EXECUTION_ID"\n'
          'sleep 0.05\n')
print(json.dumps({"task": {"name": "lockstep", "description": "holds its lock a moment",
                           "script": script}}))
PY
api -X POST "http://127.0.0.1:$HTTP/api/v1beta1/catalog/tasks" -d @"$TMP/task.json" >/dev/null \
  && pass "catalog task lockstep created over REST" || fail "task create"
REG=$(api -X POST "http://127.0.0.1:$HTTP/api/v1beta1/executors/registration_tokens" -d '{}' \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
declare -A EXEC
for n in 1 2 3; do
  "$BIN/optimus-executor" register --host "127.0.0.1:$GRPC" --registration-token "$REG" --name "ex$n" \
    --capacity 4 --credential-file "$TMP/ex$n.json" >/dev/null || fail "register ex$n"
done
start_executor() {
  "$BIN/optimus-executor" start --credential-file "$TMP/ex$1.json" --work-dir "$TMP/work$1" --log-format json \
    >>"$TMP/ex$1.log" 2>&1 &
  EXEC[$1]=$!
  pids+=("$!")
}
for n in 1 2 3; do start_executor $n; done
pass "three executors registered and started"

"$CHECK" produce "$BUS" e2e lockstep "$COUNT" 200 >"$TMP/produce.out" 2>&1 && pass "$(sed 's/^ok: //' "$TMP/produce.out")" \
  || { fail "produce"; cat "$TMP/produce.out"; }
count() { psql "$PG" -Atc "SELECT count(*) FROM dispatcher.executions WHERE $1" 2>/dev/null || echo 0; }
started=$SECONDS
wait_for 120 sh -c "[ \$(psql '$PG' -Atc \"SELECT count(*) FROM dispatcher.executions WHERE state = 'succeeded'\" 2>/dev/null || echo 0) -ge $((COUNT / 4)) ]" \
  || fail "a quarter of the runs never succeeded"
kill -KILL "${EXEC[2]}" "$DISPATCHER"
pass "SIGKILL of executor ex2 and the dispatcher with $(count "state = 'succeeded'") of $COUNT done"
sleep 1
start_dispatcher && pass "the dispatcher is back" || fail "the dispatcher did not come back"
sleep 2
start_executor 2
terminal="state IN ('succeeded', 'failed', 'cancelled', 'timed_out')"
wait_for 300 sh -c "[ \$(psql '$PG' -Atc \"SELECT count(*) FROM dispatcher.executions WHERE $terminal\" 2>/dev/null || echo 0) -ge $COUNT ]"
echo "  ($((SECONDS - started)) s for $COUNT runs)"
[ "$(count "$terminal")" = "$COUNT" ] && [ "$(count "true")" = "$COUNT" ] \
  && pass "$COUNT executions, every one ended" || fail "$(count "$terminal") of $(count "true") executions ended"
[ "$(count "state = 'succeeded'")" = "$COUNT" ] && pass "every execution succeeded" \
  || { fail "not all succeeded"; psql "$PG" -Atc "SELECT state, count(*), min(message) FROM dispatcher.executions GROUP BY state"; }
[ ! -s "$TMP/locks/collisions" ] && pass "no execution ever ran twice at the same time (its lock was always free)" \
  || { fail "$(wc -l <"$TMP/locks/collisions") runs found their execution's lock taken"; head -3 "$TMP/locks/collisions"; }
again=$(count "attempt > 1")
[ "$again" -gt 0 ] && pass "$again runs of the killed executor started again elsewhere after their leases expired" \
  || fail "no run was taken over from the killed executor"
[ "$(sort -u "$TMP/locks/ran" | cut -d' ' -f1 | sort -u | wc -l)" = "$COUNT" ] && pass "every execution's task ran" \
  || fail "$(cut -d' ' -f1 "$TMP/locks/ran" | sort -u | wc -l) executions ran"
# Logs of one run are in S3 and readable over REST.
one=$(psql "$PG" -Atc "SELECT id FROM dispatcher.executions LIMIT 1")
api "http://127.0.0.1:$HTTP/api/v1beta1/project/e2e/executions/$one/logs" | grep -q "running $one" \
  && pass "a run's log is read back from S3" || fail "logs of $one"
"$CHECK" verify "$BUS" "$PG" "$COUNT" >"$TMP/verify.out" 2>&1
while read -r line; do
  case "$line" in ok:*) pass "${line#ok: }" ;; FAIL:*) fail "${line#FAIL: }" ;; *) echo "$line" ;; esac
done <"$TMP/verify.out"
grep -q . "$TMP/verify.out" || fail "executions_check verify printed nothing"
summary
