#!/usr/bin/env bash
# Native scheduling end to end on the embedded default: `optimus serve` and two optimus-executor
# processes run a generated 200-job project (scheduler: native) for its three days of windows;
# from the event log (optimus.job.runs), schedule_check proves that every job ran exactly once
# per window and none started before its upstreams' runs for its window succeeded. Then a
# replay of one day of a mid-layer job with its downstream runs it and its readers again, in
# dependency order. Bad input: a replay before the start date, of a deleted job, of the future;
# a task whose SQL is wrong fails with the database's message while the other runs go on.
#   scheduling_e2etest.sh BIN_DIR SCHEDULE_CHECK EXAMPLES_DIR [JOBS]
set -uo pipefail
BIN=${1:?usage: scheduling_e2etest.sh BIN_DIR SCHEDULE_CHECK EXAMPLES_DIR [JOBS]}
CHECK=${2:?usage: scheduling_e2etest.sh BIN_DIR SCHEDULE_CHECK EXAMPLES_DIR [JOBS]}
EXAMPLES=${3:?usage: scheduling_e2etest.sh BIN_DIR SCHEDULE_CHECK EXAMPLES_DIR [JOBS]}
JOBS=${4:-200}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
. "$HERE/../lib/common.sh"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT

http=$(free_port)
grpc=$(free_port)
HOST=127.0.0.1:$grpc
"$BIN/optimus" serve --data-dir "$TMP/data" --set plugins.dirs="$HERE/plugins,$EXAMPLES/plugins" \
  --set http.port="$http" --set grpc.port="$grpc" --set log.format=json \
  --set scheduler.tick_interval=100ms >"$TMP/serve.log" 2>&1 &
pids+=("$!")
wait_for 30 curl -fsS "http://127.0.0.1:$http/readyz" || { tail -20 "$TMP/serve.log"; exit 1; }

start=$(date -u -d '3 days ago' +%F)
"$BIN/gen-project" --out "$TMP/project" --jobs "$JOBS" --native "$start" >/dev/null
sed -i "s/^host: .*/host: $HOST/" "$TMP/project/optimus.yaml"
P=(-d "$TMP/project" --host "$HOST")
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

"$BIN/optimus" executor token --host "$HOST" 2>/dev/null >"$TMP/registration"
# gen-project's jobs use Airflow queues and pools (payments, payments_pool, ...): serve them all.
pools=$(cat "$TMP"/project/ns*/jobs/*/this.yaml "$TMP"/project/ns*/jobs/*/*/job.yaml 2>/dev/null |
  awk '/^ *(queue|pool): / {print $2}' | sort -u | paste -sd, -)
for n in 1 2; do
  "$BIN/optimus-executor" register --host "$HOST" --registration-token "$(cat "$TMP/registration")" \
    --name "e$n" --capacity 8 --label "pool=$pools" --credential-file "$TMP/e$n.json" >/dev/null
  "$BIN/optimus-executor" start --credential-file "$TMP/e$n.json" --work-dir "$TMP/work$n" \
    >"$TMP/e$n.log" 2>&1 &
  pids+=("$!")
done

# Done when every run due by $until succeeded.
done_by() {
  "$BIN/optimus" job runs --limit 10000 -o json "${P[@]}" | python3 -c '
import json, sys
until, want = sys.argv[1], int(sys.argv[2])
runs = json.load(sys.stdin).get("runs", [])
ok = sum(1 for r in runs if r["scheduledAt"] <= until and r["state"] == "succeeded")
sys.exit(0 if ok >= want else 1)' "$until" "$expected"
}
began=$(date +%s)
if wait_for 600 done_by; then
  pass "all $expected runs succeeded in $(($(date +%s) - began)) s"
else
  fail "runs did not all succeed in time: $("$BIN/optimus" job runs --limit 10000 "${P[@]}" | awk '$3 != "succeeded"' | head -5)"
fi
if "$CHECK" verify "embedded:$TMP/data/bus.db" "$TMP/project" "$until" >"$TMP/verify.log" 2>&1; then
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
tick=$("$BIN/optimus" job runs "$job" --limit 10000 -o json "${P[@]}" | python3 -c '
import json, sys
runs = sorted(r["scheduledAt"] for r in json.load(sys.stdin)["runs"] if r["scheduledAt"].startswith(sys.argv[1]))
print(runs[0] if runs else "")' "$day")
if timeout 300 "$BIN/optimus" replay create "$job" "$tick" --with-downstream --wait "${P[@]}" \
  >"$TMP/replay.log" 2>&1; then
  pass "replay of $job at $tick with its downstream: $(grep -c 'Z  success$' "$TMP/replay.log") runs succeeded again"
else
  fail "replay of $job at $tick: $(tail -5 "$TMP/replay.log")"
fi
if "$CHECK" replay "embedded:$TMP/data/bus.db" "$TMP/project" "$job" "$tick" >"$TMP/replay-check.log" 2>&1; then
  pass "event log after the replay: $(grep -c '^ok' "$TMP/replay-check.log") checks held"
else
  fail "event log after the replay: $(grep -v '^ok' "$TMP/replay-check.log" | head -8)"
fi
sed 's/^/  /' "$TMP/replay-check.log"

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
  "$BIN/optimus" replay create "$job" 2020-01-01 "${P[@]}"
expect_error "a replay of the future" "in the future" \
  "$BIN/optimus" replay create "$job" "$(date -u -d 'tomorrow' +%F)" "${P[@]}"
leaf=$(python3 -c '
import json, sys
jobs = json.load(open(sys.argv[1]))["jobs"]
read = {u for j in jobs for u in j["upstream_jobs"]}
print([j for j in jobs if j["name"] not in read][-1]["name"])' "$TMP/project/manifest.json")
ns=$(python3 -c 'import json,sys; print([j["namespace"] for j in json.load(open(sys.argv[1]))["jobs"] if j["name"] == sys.argv[2]][0])' "$TMP/project/manifest.json" "$leaf")
"$BIN/optimus" job delete "$leaf" -n "$ns" "${P[@]}" >"$TMP/delete.log" 2>&1 || cat "$TMP/delete.log"
wait_for 20 sh -c "\"$BIN/optimus\" replay create \"$leaf\" \"$day\" --dry-run ${P[*]} 2>&1 | grep -q 'never deployed, or deleted'"
expect_error "a replay of a deleted job" "never deployed, or deleted" \
  "$BIN/optimus" replay create "$leaf" "$day" "${P[@]}"

# A task whose SQL is wrong: the run fails with the database's message; the others go on.
W=$TMP/shop
cp -r "$EXAMPLES/native-project" "$W"
sed -i "s/start_date: \"[0-9-]*\"/start_date: \"$(date -u -d '1 day ago' +%F)\"/" "$W"/shop/jobs/*/job.yaml
sed -i "s|sqlite_dir: .*|sqlite_dir: $TMP/warehouse|; s/^host: .*/host: $HOST/" "$W/optimus.yaml"
sed -i 's/round(revenue \/ orders, 2)/round(revenue \/ no_such_column, 2)/' "$W/shop/jobs/store_summary/assets/query.sql"
"$BIN/optimus" deploy -d "$W" --host "$HOST" >"$TMP/shop-deploy.log" 2>&1 || fail "shop deploy: $(tail -2 "$TMP/shop-deploy.log")"
shop_done() {
  "$BIN/optimus" job runs --limit 100 -o json -d "$W" --host "$HOST" | python3 -c '
import json, sys
runs = json.load(sys.stdin).get("runs", [])
states = {(r["job"], r["state"]) for r in runs}
ok = all(r["state"] == "succeeded" for r in runs if r["job"] != "store_summary")
sys.exit(0 if runs and ok and ("store_summary", "failed") in states else 1)'
}
if wait_for 120 shop_done; then
  failed_id=$("$BIN/optimus" job runs store_summary --state failed -o json -d "$W" --host "$HOST" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["executionId"])')
  log=$("$BIN/optimus" execution logs "$failed_id" -d "$W" --host "$HOST" 2>&1)
  if grep -q "no such column: no_such_column" <<<"$log"; then
    pass "a wrong query fails its run with the database's message ($(grep -m1 'no such column' <<<"$log")); raw_orders and daily_revenue ran"
  else
    fail "the failed run's log does not say why: $log"
  fi
else
  fail "the shop project: $("$BIN/optimus" job runs --limit 10 -d "$W" --host "$HOST")"
fi

summary
