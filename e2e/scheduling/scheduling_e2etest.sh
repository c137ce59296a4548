#!/usr/bin/env bash
# Native scheduling end to end: `optimus serve` (embedded), or in distributed mode the seven
# services as processes on PostgreSQL, Kafka and S3 with two dispatcher replicas (the one holding
# the scheduler's lease is SIGKILLed halfway and the other takes over), and two optimus-executor
# processes run a generated 200-job project (scheduler: native) for its three days of windows;
# from the event log (optimus.job.runs), schedule_check proves that every job ran exactly once
# per window and none started before its upstreams' runs for its window succeeded. Then a
# replay of one day of a mid-layer job with its downstream runs it and its readers again, in
# dependency order, and runtime-context answers the job's run input over REST as for Airflow.
# The shop example's StarThinker recipe runs its three tasks in order. Bad
# input: a replay before the start date, of a deleted job, of the future; a recipe naming an
# unknown plugin; a task whose SQL is wrong fails with the database's message while the other
# runs go on.
#   scheduling_e2etest.sh BIN_DIR SCHEDULE_CHECK EXAMPLES_DIR [JOBS] [embedded|distributed]
set -uo pipefail
BIN=${1:?usage: scheduling_e2etest.sh BIN_DIR SCHEDULE_CHECK EXAMPLES_DIR [JOBS]}
CHECK=${2:?usage: scheduling_e2etest.sh BIN_DIR SCHEDULE_CHECK EXAMPLES_DIR [JOBS]}
EXAMPLES=${3:?usage: scheduling_e2etest.sh BIN_DIR SCHEDULE_CHECK EXAMPLES_DIR [JOBS]}
JOBS=${4:-200}
MODE=${5:-embedded}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/common.sh"
[ "$MODE" = embedded ] || require_servers "${DEV_SERVERS[@]}"
TMP=$(mktemp -d)
RUN=sched$(date +%s)$RANDOM
pids=()
cleanup() {
  signal_children TERM 0 "${pids[@]}"
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  if [ "$MODE" = distributed ]; then
    psql "$OPTIMUS_TEST_PG_URI" -qc "DROP DATABASE IF EXISTS $RUN" >/dev/null 2>&1
    "$HERE/../../tools/dev/kafka" delete-topics "$RUN." >/dev/null 2>&1
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

PLUGINS="$HERE/plugins,$EXAMPLES/plugins"
if [ "$MODE" = embedded ]; then
  http=$(free_port)
  grpc=$(free_port)
  INGEST=127.0.0.1:$grpc
  DISPATCH=$INGEST
  BUS=embedded:$TMP/data/bus.db
  "$BIN/optimus" serve --data-dir "$TMP/data" --set plugins.dirs="$PLUGINS" \
    --set http.port="$http" --set grpc.port="$grpc" --set log.format=json \
    --set scheduler.tick_interval=100ms >"$TMP/serve.log" 2>&1 &
  pids+=("$!")
  wait_for 30 curl -fs -o /dev/null "http://127.0.0.1:$http/readyz" || { tail -20 "$TMP/serve.log"; exit 1; }
else
  psql "$OPTIMUS_TEST_PG_URI" -qc "CREATE DATABASE $RUN" >/dev/null || { fail "cannot create database $RUN"; exit 1; }
  s3 PUT optimus-e2e >/dev/null 2>&1 || true
  BUS="kafka://$OPTIMUS_TEST_KAFKA_BROKERS?optimus.topic_prefix=$RUN."
  COMMON=(--set "bus.uri=$BUS" --set "db.uri=${OPTIMUS_TEST_PG_URI%/*}/$RUN"
          --set "blob.uri=s3://optimus-e2e/$RUN?endpoint=$OPTIMUS_TEST_S3_ENDPOINT&region=$OPTIMUS_TEST_S3_REGION&path_style=true"
          --set http.host=127.0.0.1 --set grpc.host=127.0.0.1 --set log.format=json
          --set "secrets.app_key=e2e-app-key-of-at-least-32-characters-$RUN")
  export AWS_ACCESS_KEY_ID=$OPTIMUS_TEST_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$OPTIMUS_TEST_S3_SECRET_KEY
  start_service plugin-manager --set plugins.dirs="$PLUGINS" || exit 1
  start_service spec-store || exit 1
  start_service dependency-resolver || exit 1
  start_service compiler || exit 1
  start_service ingest --set ingest.lineage_host="127.0.0.1:${GRPC[dependency-resolver]}" || exit 1
  start_service runtime-context || exit 1
  DISPATCHER_FLAGS=(--set "dispatcher.runtime_host=127.0.0.1:${GRPC[runtime-context]}"
                    --set scheduler.tick_interval=100ms --set scheduler.lease=3s)
  start_service dispatcher "${DISPATCHER_FLAGS[@]}" || exit 1
  wait_for 10 grep -q "this replica runs the native scheduler" "$TMP/dispatcher.log"
  start_service dispatcher2 "${DISPATCHER_FLAGS[@]}" || exit 1
  pass "seven services and a second dispatcher ready on Kafka ($RUN.*), PostgreSQL ($RUN) and S3"
  INGEST=127.0.0.1:${GRPC[ingest]}
  DISPATCH=127.0.0.1:${GRPC[dispatcher2]}  # the one that stays up
fi

start=$(date -u -d '3 days ago' +%F)
"$BIN/gen-project" --out "$TMP/project" --jobs "$JOBS" --native "$start" >/dev/null
sed -i "s/^host: .*/host: $INGEST/" "$TMP/project/optimus.yaml"
P=(-d "$TMP/project" --host "$INGEST")    # deploys and registrations: ingest
D=(-d "$TMP/project" --host "$DISPATCH")  # runs, replays, executors: the dispatcher
# The jobs' config reads a secret: registered with the project before any run needs it.
"$BIN/optimus" project register "${P[@]}" >/dev/null
"$BIN/optimus" secret set BQ_SERVICE_ACCOUNT '{"type": "service_account"}' "${P[@]}" >/dev/null
until=$(date -u +%Y-%m-%dT%H:%M:%SZ)
expected=$("$CHECK" expected "$TMP/project" "$until")
if "$BIN/optimus" deploy "${P[@]}" >"$TMP/deploy.log" 2>&1; then
  pass "deployed $JOBS native jobs starting $start ($expected runs due by $until)"
else
  fail "deploy: $(tail -3 "$TMP/deploy.log")"
fi

"$BIN/optimus" executor token --host "$DISPATCH" 2>/dev/null >"$TMP/registration"
# gen-project's jobs use Airflow queues and pools (payments, payments_pool, ...): serve them all.
pools=$(cat "$TMP"/project/ns*/jobs/*/this.yaml "$TMP"/project/ns*/jobs/*/*/job.yaml 2>/dev/null |
  awk '/^ *(queue|pool): / {print $2}' | sort -u | paste -sd, -)
for n in 1 2; do
  "$BIN/optimus-executor" register --host "$DISPATCH" --registration-token "$(cat "$TMP/registration")" \
    --name "e$n" --capacity 8 --label "pool=$pools" --credential-file "$TMP/e$n.json" >/dev/null
  "$BIN/optimus-executor" start --credential-file "$TMP/e$n.json" --work-dir "$TMP/work$n" \
    >"$TMP/e$n.log" 2>&1 &
  pids+=("$!")
done

# Done when every run due by $until succeeded.
done_by() {
  "$BIN/optimus" job runs --limit 10000 -o json "${D[@]}" | python3 -c '
import json, sys
until, want = sys.argv[1], int(sys.argv[2])
runs = json.load(sys.stdin).get("runs", [])
ok = sum(1 for r in runs if r["scheduledAt"] <= until and r["state"] == "succeeded")
sys.exit(0 if ok >= want else 1)' "$until" "$expected"
}
began=$(date +%s)
if [ "$MODE" = distributed ]; then
  # Halfway, the dispatcher that runs the scheduler dies; the other one takes its lease over.
  half() {
    "$BIN/optimus" job runs --limit 10000 -o json "${D[@]}" | python3 -c '
import json, sys
runs = json.load(sys.stdin).get("runs", [])
sys.exit(0 if sum(r["state"] == "succeeded" for r in runs) * 2 >= int(sys.argv[1]) else 1)' "$expected"
  }
  wait_for 300 half
  kill -KILL "${PID[dispatcher]}"
  if wait_for 30 grep -q "this replica runs the native scheduler" "$TMP/dispatcher2.log"; then
    pass "SIGKILL of the active scheduler's dispatcher halfway: the other replica took its lease"
  else
    fail "the second dispatcher never took the scheduler's lease"
  fi
fi
if wait_for 600 done_by; then
  pass "all $expected runs succeeded in $(($(date +%s) - began)) s"
else
  fail "runs did not all succeed in time: $("$BIN/optimus" job runs --limit 10000 "${D[@]}" | awk '$3 != "succeeded"' | head -5)"
fi
if "$CHECK" verify "$BUS" "$TMP/project" "$until" >"$TMP/verify.log" 2>&1; then
  pass "event log: $(grep -c '^ok' "$TMP/verify.log") checks held"
else
  fail "event log: $(grep -v '^ok' "$TMP/verify.log" | head -8)"
fi
sed 's/^/  /' "$TMP/verify.log"

# A mid-layer job with readers downstream, replayed for one day.
read -r job tick < <(python3 - "$TMP/project/manifest.json" "$start" <<'PY'
import json, sys
jobs = json.load(open(sys.argv[1]))["jobs"]
readers = {}
for j in jobs:
    for u in j["upstream_jobs"]:
        readers.setdefault(u, []).append(j["name"])
mid = sorted((j for j in jobs if j["layer"] == 3 and readers.get(j["name"])),
             key=lambda j: -len(readers[j["name"]]))
print(mid[0]["name"], sys.argv[2])
PY
)
day=$(date -u -d "$start + 1 day" +%F)
tick=$("$BIN/optimus" job runs "$job" --limit 10000 -o json "${D[@]}" | python3 -c '
import json, sys
runs = sorted(r["scheduledAt"] for r in json.load(sys.stdin)["runs"] if r["scheduledAt"].startswith(sys.argv[1]))
print(runs[0] if runs else "")' "$day")
if timeout 300 "$BIN/optimus" replay create "$job" "$tick" --with-downstream --wait "${D[@]}" \
  >"$TMP/replay.log" 2>&1; then
  pass "replay of $job at $tick with its downstream: $(grep -c 'Z  success$' "$TMP/replay.log") runs succeeded again"
else
  fail "replay of $job at $tick: $(tail -5 "$TMP/replay.log")"
fi
if "$CHECK" replay "$BUS" "$TMP/project" "$job" "$tick" >"$TMP/replay-check.log" 2>&1; then
  pass "event log after the replay: $(grep -c '^ok' "$TMP/replay-check.log") checks held"
else
  fail "event log after the replay: $(grep -v '^ok' "$TMP/replay-check.log" | head -8)"
fi
sed 's/^/  /' "$TMP/replay-check.log"

# Airflow's side of the runtime on the same deployment: a task's run input over REST, with the
# replayed window's dates, and the task's start event.
if [ "$MODE" = embedded ]; then rt=$http; else rt=${HTTP[runtime-context]}; fi
read -r project ns < <(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["project"], next(j["namespace"] for j in m["jobs"] if j["name"] == sys.argv[2]))' "$TMP/project/manifest.json" "$job")
api=http://127.0.0.1:$rt/api/v1beta1/project/$project
if curl -fsS -XPOST "$api/job/$job/run_input" -d "{\"scheduled_at\": \"$tick\", \"instance_name\": \"bq2bq\", \"instance_type\": \"TYPE_TASK\"}" >"$TMP/run-input.json" 2>&1 &&
   python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["envs"]; sys.exit(0 if e.get("DSTART") and e.get("DEND") else 1)' "$TMP/run-input.json" &&
   curl -fsS -XPOST "$api/namespace/$ns/job/$job/event" -d "{\"event\": {\"type\": \"TYPE_TASK_START\", \"value\": {\"task_id\": \"bq2bq\", \"status\": \"running\", \"scheduled_at\": \"$tick\", \"event_time\": $(date +%s)}}}" >/dev/null; then
  pass "runtime-context answers $job's run input over REST (DSTART $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["envs"]["DSTART"])' "$TMP/run-input.json")) and takes its event"
else
  fail "REST run input or event for $job: $(head -c 300 "$TMP/run-input.json")"
fi

# Bad replays: each a clear error.
expect_error() {  # WHAT PATTERN COMMAND...
  local what=$1 pattern=$2
  shift 2
  local out
  if out=$("$@" 2>&1); then
    fail "$what was accepted: $out"
  elif grep -q -- "$pattern" <<<"$out"; then
    pass "$what: $(grep -- "$pattern" <<<"$out" | head -1)"
  else
    fail "$what: unexpected error: $out"
  fi
}
expect_error "a replay before the start date" "before the start date" \
  "$BIN/optimus" replay create "$job" 2020-01-01 "${D[@]}"
expect_error "a replay of the future" "in the future" \
  "$BIN/optimus" replay create "$job" "$(date -u -d 'tomorrow' +%F)" "${D[@]}"
leaf=$(python3 -c '
import json, sys
jobs = json.load(open(sys.argv[1]))["jobs"]
read = {u for j in jobs for u in j["upstream_jobs"]}
print([j for j in jobs if j["name"] not in read][-1]["name"])' "$TMP/project/manifest.json")
ns=$(python3 -c 'import json,sys; print([j["namespace"] for j in json.load(open(sys.argv[1]))["jobs"] if j["name"] == sys.argv[2]][0])' "$TMP/project/manifest.json" "$leaf")
"$BIN/optimus" job delete "$leaf" -n "$ns" "${P[@]}" >"$TMP/delete.log" 2>&1 || cat "$TMP/delete.log"
# (Distributed: the killed dispatcher's share of the resolutions topic moves to the other one
# when Kafka's session timeout ends.)
wait_for 90 sh -c "\"$BIN/optimus\" replay create \"$leaf\" \"$day\" --dry-run ${D[*]} 2>&1 | grep -q 'never deployed, or deleted'"
expect_error "a replay of a deleted job" "never deployed, or deleted" \
  "$BIN/optimus" replay create "$leaf" "$day" "${D[@]}"

# A task whose SQL is wrong: the run fails with the database's message; the others go on.
W=$TMP/shop
cp -r "$EXAMPLES/native-project" "$W"
sed -i "s/start_date: \"[0-9-]*\"/start_date: \"$(date -u -d '1 day ago' +%F)\"/" "$W"/shop/jobs/*/job.yaml
sed -i "s/\"start_date\": \"[0-9-]*\"/\"start_date\": \"$(date -u -d '1 day ago' +%F)\"/" "$W"/shop/jobs/*/recipe.json
sed -i "s|sqlite_dir: .*|sqlite_dir: $TMP/warehouse|; s/^host: .*/host: $INGEST/" "$W/optimus.yaml"
sed -i 's/round(revenue \/ orders, 2)/round(revenue \/ no_such_column, 2)/' "$W/shop/jobs/store_summary/assets/query.sql"
"$BIN/optimus" deploy -d "$W" --host "$INGEST" >"$TMP/shop-deploy.log" 2>&1 || fail "shop deploy: $(tail -2 "$TMP/shop-deploy.log")"
shop_done() {
  "$BIN/optimus" job runs --limit 100 -o json -d "$W" --host "$DISPATCH" | python3 -c '
import json, sys
runs = json.load(sys.stdin).get("runs", [])
states = {(r["job"], r["state"]) for r in runs}
ok = all(r["state"] == "succeeded" for r in runs if r["job"] != "store_summary")
sys.exit(0 if runs and ok and ("store_summary", "failed") in states else 1)'
}
if wait_for 120 shop_done; then
  failed_id=$("$BIN/optimus" job runs store_summary --state failed -o json -d "$W" --host "$DISPATCH" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["executionId"])')
  log=$("$BIN/optimus" execution logs "$failed_id" -d "$W" --host "$DISPATCH" 2>&1)
  if grep -q "no such column: no_such_column" <<<"$log"; then
    pass "a wrong query fails its run with the database's message ($(grep -m1 'no such column' <<<"$log")); raw_orders and daily_revenue ran"
  else
    fail "the failed run's log does not say why: $log"
  fi
else
  fail "the shop project: $("$BIN/optimus" job runs --limit 10 -d "$W" --host "$DISPATCH")"
fi

# The shop's StarThinker recipe (stock_report/recipe.json): one run, its three tasks in order,
# each in its own section of the run's log, the later ones reading what the earlier ones wrote.
recipe_id=$("$BIN/optimus" job runs stock_report --state succeeded -o json -d "$W" --host "$DISPATCH" |
  python3 -c 'import json,sys; r=json.load(sys.stdin)["runs"]; print(r[0]["executionId"] if r else "")')
recipe_log=$("$BIN/optimus" execution logs "$recipe_id" -d "$W" --host "$DISPATCH" 2>&1)
order=$(grep -o '^--- task [a-z0-9_]* ---' <<<"$recipe_log" | awk '{print $3}' | paste -sd' ' -)
report=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*), min(products) FROM stock_report").fetchone())' "$TMP/warehouse/reports.db" 2>&1)
if [ "$order" = "sqlite2sqlite_1 sqlite2sqlite_2 sqlite2sqlite_3" ] && [ "$report" = "(1, 5)" ]; then
  pass "a three-task recipe ran natively in order ($order) and its last task wrote the report"
else
  fail "the recipe's run: tasks [$order], report $report: $recipe_log"
fi
# A recipe naming a plugin the server does not have: the deploy says which file, line and task.
R=$TMP/bad-recipe
cp -r "$W" "$R"
python3 - "$R/shop/jobs/stock_report/recipe.json" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
i = text.index('"sqlite2sqlite"', text.index('"sqlite2sqlite"') + 1)
open(path, "w").write(text[:i] + '"sqlite_to_nowhere"' + text[i + len('"sqlite2sqlite"'):])
PY
expect_error "a recipe naming an unknown plugin" 'recipe.json:[0-9]*:[0-9]*.*recipe\[1\].name.*unknown task plugin "sqlite_to_nowhere"' \
  "$BIN/optimus" job validate -d "$R" --plugins "$EXAMPLES/plugins"
expect_error "the deploy of a recipe naming an unknown plugin" 'unknown task plugin "sqlite_to_nowhere"' \
  "$BIN/optimus" deploy -d "$R" --host "$INGEST"

summary
