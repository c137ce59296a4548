#!/usr/bin/env bash
# The execution plane on the embedded default, with tokens on: `optimus serve` and
# optimus-executor processes. A deployed job runs on demand and `optimus execution logs --follow`
# shows its output while it runs (the task waits for the test to see its first line); a plugin
# whose entrypoint does not exist fails with exit 127 and says so; catalog arguments are checked;
# an executor's credential opens nothing but the executor API; an executor SIGKILLed while it
# ships logs loses its lease and the run finishes on another executor as attempt 2; a revoked
# credential stops its executor.
#   execution_e2etest.sh BIN_DIR EXAMPLES_DIR
set -uo pipefail
BIN=${1:?usage: execution_e2etest.sh BIN_DIR EXAMPLES_DIR}
EXAMPLES=${2:?usage: execution_e2etest.sh BIN_DIR EXAMPLES_DIR}
TMP=$(mktemp -d)
. "$(dirname "$0")/../lib/common.sh"
pids=()
new_token() { "$BIN/optimus" token new "$@" | awk '/^token:/ {print $2} /^auth.tokens entry:/ {print $3}'; }
cleanup() {
  signal_children TERM 0 "${pids[@]}"
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT

{ read -r ADMIN; read -r admin_entry; } < <(new_token --admin)
{ read -r TOKEN; read -r token_entry; } < <(new_token -p ep)
http=$(free_port)
grpc=$(free_port)
HOST=127.0.0.1:$grpc
"$BIN/optimus" serve --data-dir "$TMP/data" --set plugins.dirs="$EXAMPLES/plugins,$TMP/plugins" \
  --set http.port="$http" --set grpc.port="$grpc" --set log.format=json \
  --set dispatcher.lease=6s --set dispatcher.heartbeat_interval=1s \
  --set auth.tokens="$admin_entry,$token_entry" >"$TMP/serve.log" 2>&1 &
pids+=("$!")

# A project with four jobs of the shell plugin and one of a plugin whose entrypoint is missing.
mkdir -p "$TMP/plugins" "$TMP/project"
cat >"$TMP/plugins/optimus-plugin-broken.yaml" <<'YAML'
version: 2
name: broken
description: An entrypoint that is not there
plugin_versions:
  default:
    image: example/broken
    tag: "1"
    entrypoint:
      shell: /bin/sh
      script: /opt/not-installed/run-task --now
YAML
cat >"$TMP/project/optimus.yaml" <<YAML
version: 1
host: $HOST
project:
  name: ep
  config:
    storage_path: file://dags
    scheduler_host: http://localhost:8080
    scheduler_version: "2.10"
namespaces:
- name: ns1
  config: {}
  job:
    path: jobs
YAML
job() {  # NAME PLUGIN SCRIPT
  mkdir -p "$TMP/project/jobs/$1/assets"
  cat >"$TMP/project/jobs/$1/job.yaml" <<YAML
version: 3
name: $1
owner: e2e@example.com
schedule:
  start_date: "2024-01-01"
  interval: "0 2 * * *"
task:
  name: $2
  config:
    GO_FILE: $TMP/go
    WINDOW: "{{.DSTART}}/{{.DEND}}"
  window:
    size: 24h
YAML
  printf '%s\n' "$3" >"$TMP/project/jobs/$1/assets/run.sh"
}
job live shell 'echo "first line $WINDOW"; n=0; while [ ! -e "$GO_FILE" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n+1)); done; echo "second line"'
job broken broken 'true'
job chatty shell 'i=0; while [ $i -lt 60 ]; do echo "line $i of attempt $EXECUTION_ATTEMPT"; i=$((i+1)); sleep 0.1; done'
cli() { local token=$1; shift; OPTIMUS_AUTH_BEARER_TOKEN="$token" "$BIN/optimus" "$@" -d "$TMP/project"; }

wait_for 15 curl -fsS "http://127.0.0.1:$http/readyz" -o /dev/null && pass "optimus serve is ready (with the dispatcher)" \
  || { fail "optimus serve never became ready"; tail -20 "$TMP/serve.log"; echo "$passed passed, $((failed)) failed"; exit 1; }
cli "$ADMIN" project register >/dev/null 2>&1 || fail "project register"
cli "$TOKEN" deploy >"$TMP/deploy.out" 2>&1 && grep -q "3 published" "$TMP/deploy.out" && pass "three jobs deployed" \
  || { fail "deploy"; cat "$TMP/deploy.out"; }

# Registration needs an admin's token; the project's token cannot make one.
cli "$TOKEN" executor token >"$TMP/token.bad" 2>&1 && fail "a project token made a registration token" \
  || pass "a project token cannot make registration tokens"
REG=$(cli "$ADMIN" executor token 2>/dev/null)
register() {  # NAME CREDENTIAL_FILE
  "$BIN/optimus-executor" register --host "$HOST" --registration-token "$REG" --name "$1" \
    --capacity 2 --credential-file "$2"
}
start_executor() {  # CREDENTIAL_FILE LOG
  "$BIN/optimus-executor" start --credential-file "$1" --work-dir "$TMP/work" --drain 1 >>"$2" 2>&1 &
  pids+=("$!")
  EXECUTOR=$!
}
register one "$TMP/one.json" >/dev/null && [ "$(stat -c %a "$TMP/one.json")" = 600 ] \
  && pass "executor one registered (credential file 0600)" || fail "executor registration"
"$BIN/optimus-executor" register --host "$HOST" --registration-token optreg_not-issued --name x \
  --credential-file "$TMP/x.json" >"$TMP/x.out" 2>&1
[ $? = 1 ] && grep -q "not one this server issued" "$TMP/x.out" && pass "an unknown registration token is refused" \
  || { fail "unknown registration token"; cat "$TMP/x.out"; }
start_executor "$TMP/one.json" "$TMP/one.log"
ONE=$EXECUTOR
CRED=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["credential"])' "$TMP/one.json")
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $CRED" "http://127.0.0.1:$http/api/v1beta1/project/ep/executions")
[ "$code" = 403 ] && pass "an executor credential is refused by the people's API (403)" || fail "executor credential on REST: $code"

# A run on demand, followed live: the task blocks until the follower has shown its first line.
cli "$TOKEN" job execute live --scheduled-at 2024-03-07T02:00:00Z >"$TMP/exec.out" 2>&1 || { fail "job execute"; cat "$TMP/exec.out"; }
ID=$(awk '/^execution/ {print $2}' "$TMP/exec.out")
cli "$TOKEN" execution logs "$ID" --follow >"$TMP/follow.out" 2>&1 &
FOLLOW=$!
if wait_for 30 grep -q "first line 2024-03-06T02:00:00Z/2024-03-07T02:00:00Z" "$TMP/follow.out"; then
  state=$(cli "$TOKEN" execution describe "$ID" | awk '$1 == "state" {print $2}')
  [ "$state" = running ] && pass "logs --follow shows the run's output while it runs (window rendered)" \
    || fail "the run is $state while its first line shows"
else
  fail "logs --follow never showed the first line"; cat "$TMP/follow.out"
fi
touch "$TMP/go"
wait "$FOLLOW"; rc=$?
[ $rc = 0 ] && grep -q "second line" "$TMP/follow.out" && grep -q -- "--- succeeded ---" "$TMP/follow.out" \
  && pass "logs --follow ends with the run and exits 0 for success" || { fail "follow rc=$rc"; cat "$TMP/follow.out"; }
cli "$TOKEN" execution describe "$ID" >"$TMP/describe.out"
grep -q "^state *succeeded" "$TMP/describe.out" && grep -q "^exit code *0" "$TMP/describe.out" \
  && pass "describe: succeeded, exit code 0" || { fail "describe"; cat "$TMP/describe.out"; }

# The run joined the job's run history: what upstream sensors ask of runtime-context.
history() {
  curl -fsS -H "Authorization: Bearer $TOKEN" \
    "http://127.0.0.1:$http/api/v1beta1/project/ep/job/live/run?start_date=2024-03-07T02:00:00Z&end_date=2024-03-07T02:00:00Z" \
    | grep -q '"state":"success"'
}
wait_for 15 history && pass "the run is in the job's run history as success (sensors see it)" \
  || fail "run history: $(curl -sS -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$http/api/v1beta1/project/ep/job/live/run?start_date=2024-03-07T02:00:00Z&end_date=2024-03-07T02:00:00Z")"

# A plugin entrypoint that does not exist: the run fails with 127 and the log says why.
cli "$TOKEN" job execute broken -f >"$TMP/broken.out" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "not found" "$TMP/broken.out" && grep -q "exited with 127 (command not found)" "$TMP/broken.out" \
  && pass "a missing entrypoint fails the run with 127, named in its log" || { fail "broken rc=$rc"; cat "$TMP/broken.out"; }
cli "$TOKEN" job execute no-such-job >"$TMP/nojob.out" 2>&1
[ $? = 1 ] && grep -q "no job no-such-job deployed in project ep" "$TMP/nojob.out" && pass "an unknown job is refused by name" \
  || { fail "unknown job"; cat "$TMP/nojob.out"; }

# Catalog tasks: admins define, the project's token runs with checked arguments.
cat >"$TMP/task.json" <<'JSON'
{"name": "greet", "description": "Says hello", "author": "e2e",
 "script": "echo \"hello $WHO ($TIMES times)\"",
 "arguments": [{"name": "who", "required": true}, {"name": "times", "defaultValue": "1"}]}
JSON
cli "$TOKEN" task create --file "$TMP/task.json" >/dev/null 2>&1 && fail "a project token created a catalog task" \
  || pass "a project token cannot create catalog tasks"
cli "$ADMIN" task create --file "$TMP/task.json" >/dev/null 2>&1 && pass "the admin creates a catalog task" || fail "task create"
cli "$TOKEN" task execute greet --arg colour=red >"$TMP/args.out" 2>&1
[ $? = 1 ] && grep -q "missing required argument who; unknown argument colour (it takes: who, times)" "$TMP/args.out" \
  && pass "missing and unknown catalog arguments are refused, naming them" || { fail "catalog args"; cat "$TMP/args.out"; }
cli "$TOKEN" task execute greet --arg who=world -f >"$TMP/greet.out" 2>&1 && grep -q "hello world (1 times)" "$TMP/greet.out" \
  && pass "a catalog task runs with its arguments and defaults" || { fail "task execute"; cat "$TMP/greet.out"; }

# An executor SIGKILLed while it ships a run's logs: another executor runs it again, attempt 2.
cli "$TOKEN" job execute chatty >"$TMP/chatty.out" 2>&1
CHATTY=$(awk '/^execution/ {print $2}' "$TMP/chatty.out")
chatty_logged() { cli "$TOKEN" execution logs "$CHATTY" 2>/dev/null | grep -q 'line 5 of attempt 1'; }
wait_for 20 chatty_logged || fail "chatty never logged"
kill -KILL "$ONE"
pass "executor one SIGKILLed mid-run"
register two "$TMP/two.json" >/dev/null || fail "register two"
start_executor "$TMP/two.json" "$TMP/two.log"
done_state() { cli "$TOKEN" execution describe "$CHATTY" | grep -Eq "^state *(succeeded|failed|timed_out|cancelled)"; }
if wait_for 60 done_state; then
  cli "$TOKEN" execution describe "$CHATTY" >"$TMP/chatty.describe"
  # Attempt 2 normally; 3 when a loaded machine delayed the new executor's heartbeats too.
  FINAL=$(awk '$1 == "attempt" {print $2}' "$TMP/chatty.describe")
  grep -q "^state *succeeded" "$TMP/chatty.describe" && [ "${FINAL:-1}" -ge 2 ] \
    && pass "the killed executor's run finished elsewhere as attempt $FINAL" || { fail "chatty"; cat "$TMP/chatty.describe"; }
else
  fail "chatty never finished"
fi
cli "$TOKEN" execution logs "$CHATTY" --attempt 1 >"$TMP/attempt1.log" 2>&1
cli "$TOKEN" execution logs "$CHATTY" >"$TMP/attempt2.log" 2>&1
grep -q "line 5 of attempt 1" "$TMP/attempt1.log" && ! grep -q "succeeded" "$TMP/attempt1.log" \
  && grep -q "line 59 of attempt ${FINAL:-2}" "$TMP/attempt2.log" \
  && pass "attempt 1's log keeps what was shipped before the kill; the last attempt's is whole" \
  || { fail "attempt logs"; tail -n 3 "$TMP/attempt1.log" "$TMP/attempt2.log"; }

# Revoked: the first executor's credential opens nothing any more.
ONE_ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["executor_id"])' "$TMP/one.json")
cli "$ADMIN" executor revoke "$ONE_ID" >/dev/null 2>&1 || fail "executor revoke"
"$BIN/optimus-executor" start --credential-file "$TMP/one.json" --work-dir "$TMP/work1" >"$TMP/one-again.log" 2>&1 &
again=$!
if wait_for 20 sh -c "! kill -0 $again 2>/dev/null"; then
  wait "$again"; rc=$?
  [ $rc = 1 ] && grep -q "revoked" "$TMP/one-again.log" && pass "a revoked executor is refused and stops (exit 1)" \
    || { fail "revoked executor rc=$rc"; tail -3 "$TMP/one-again.log"; }
else
  kill "$again"; fail "a revoked executor kept running"
fi
cli "$TOKEN" executor list >"$TMP/executors.out" 2>&1
grep -q "revoked" "$TMP/executors.out" && grep -Eq "two +(idle|running)" "$TMP/executors.out" \
  && pass "executor list shows one revoked, two active" || { fail "executor list"; cat "$TMP/executors.out"; }

# What SREs see.
curl -fsS "http://127.0.0.1:$http/metrics" >"$TMP/metrics.txt"
grep -q 'optimus_dispatcher_lease_expiries_total{outcome="requeued"}' "$TMP/metrics.txt" \
  && grep -q 'optimus_dispatcher_claims_total' "$TMP/metrics.txt" \
  && grep -q 'optimus_dispatcher_run_duration_seconds_bucket' "$TMP/metrics.txt" \
  && pass "dispatcher metrics: claims, lease expiries, run durations" || fail "dispatcher metrics"
summary
