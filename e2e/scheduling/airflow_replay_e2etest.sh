#!/usr/bin/env bash
# Replays of a project on Airflow, against a real Airflow 2.10 or 3.3 (webserver or API server and
# scheduler from tools/dev/airflow's venvs, `airflow standalone` on SQLite; REST API v1 with basic
# auth, or v2 with a token from /auth/token): the DAG has run its latest interval
# only (catchup off); `optimus replay create` over three days clears that DAG run (Airflow runs
# it again) and creates the two Airflow never ran (run ids replayed__<logical date>), one at a
# time; the replay ends in success when Airflow says the runs succeeded. With downstream, a
# replay on Airflow is refused.
#   airflow_replay_e2etest.sh BIN_DIR EXAMPLES_DIR [2|3]
set -uo pipefail
BIN=${1:?usage: airflow_replay_e2etest.sh BIN_DIR EXAMPLES_DIR [2|3]}
EXAMPLES=${2:?usage: airflow_replay_e2etest.sh BIN_DIR EXAMPLES_DIR [2|3]}
MAJOR=${3:-2}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/common.sh"
VERSION=$([ "$MAJOR" = 3 ] && echo 3.3 || echo 2.10)
VENV=${OPTIMUS_DEV_HOME:-$HOME/.cache/optimus-dev}/airflow/$VERSION
"$HERE/../../tools/dev/airflow" install "$MAJOR" >/dev/null 2>&1 || { fail "cannot install Airflow $VERSION"; summary; exit 1; }
TMP=$(mktemp -d)
pids=()
cleanup() {
  signal_children TERM 1 "${pids[@]}"
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT

# Airflow: one DAG, daily at 02:00 since four days ago, that has run only its latest interval.
af_port=$(free_port)
start=$(date -u -d '4 days ago' +%F)
mkdir -p "$TMP/airflow/dags"
# Both versions with the timetable our compiled DAGs use: the logical date starts the interval.
if [ "$MAJOR" = 3 ]; then
  IMPORTS="from airflow.sdk import DAG, CronDataIntervalTimetable
from airflow.providers.standard.operators.bash import BashOperator"
else
  IMPORTS="from airflow import DAG
from airflow.timetables.interval import CronDataIntervalTimetable
from airflow.operators.bash import BashOperator"
fi
cat >"$TMP/airflow/dags/shop_daily.py" <<PY
from datetime import datetime
$IMPORTS
with DAG("shop_daily", start_date=datetime.fromisoformat("${start}T00:00:00+00:00"),
         schedule=CronDataIntervalTimetable("0 2 * * *", timezone="UTC"), catchup=False) as dag:
    BashOperator(task_id="load", bash_command="echo loading {{ ds }}")
PY
(
  cd "$TMP/airflow" || exit 1
  export PATH="$VENV/bin:$PATH" AIRFLOW_HOME="$TMP/airflow" AIRFLOW__CORE__DAGS_FOLDER="$TMP/airflow/dags" \
    AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__API__AUTH_BACKENDS=airflow.api.auth.backend.basic_auth \
    AIRFLOW__WEBSERVER__WEB_SERVER_PORT="$af_port" AIRFLOW__API__PORT="$af_port" \
    AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$af_port/execution/" \
    AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL=5 \
    AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL=5
  exec setsid airflow standalone >"$TMP/airflow.log" 2>&1
) &
pids+=("$!")
AF=http://127.0.0.1:$af_port
password() {
  if [ "$MAJOR" = 3 ]; then
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin"])' \
      "$TMP/airflow/simple_auth_manager_passwords.json.generated" 2>/dev/null
  else
    cat "$TMP/airflow/standalone_admin_password.txt" 2>/dev/null
  fi
}
auth() { echo "admin:$(password)"; }
runs() {
  if [ "$MAJOR" = 3 ]; then
    local token
    token=$(curl -fs -XPOST "$AF/auth/token" -H 'Content-Type: application/json' \
      -d "{\"username\": \"admin\", \"password\": \"$(password)\"}" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])' 2>/dev/null)
    curl -fs -H "Authorization: Bearer $token" "$AF/api/v2/dags/shop_daily/dagRuns?order_by=logical_date"
  else
    curl -fs -u "$(auth)" "$AF/api/v1/dags/shop_daily/dagRuns?order_by=execution_date"
  fi
}
latest_done() { runs 2>/dev/null | python3 2>/dev/null -c '
import json, sys
runs = json.load(sys.stdin)["dag_runs"]
sys.exit(0 if runs and all(r["state"] == "success" for r in runs) else 1)'; }
if wait_for 240 latest_done; then
  before=$(runs)
  pass "Airflow $VERSION at $AF ran shop_daily's latest interval: $(python3 -c 'import json,sys; print([r["dag_run_id"] for r in json.load(sys.stdin)["dag_runs"]])' <<<"$before")"
else
  fail "Airflow never ran the DAG"; tail -20 "$TMP/airflow.log"; summary; exit 1
fi

# The server, with the project on Airflow and a job of the same name.
http=$(free_port)
grpc=$(free_port)
HOST=127.0.0.1:$grpc
"$BIN/optimus" serve --data-dir "$TMP/data" --set plugins.dirs="$EXAMPLES/plugins" \
  --set http.port="$http" --set grpc.port="$grpc" --set log.format=json \
  --set scheduler.airflow_auth=nobody:wrong >"$TMP/serve.log" 2>&1 &
pids+=("$!")
wait_for 30 curl -fs -o /dev/null "http://127.0.0.1:$http/readyz" || { tail -20 "$TMP/serve.log"; exit 1; }
mkdir -p "$TMP/project/jobs/shop_daily/assets"
cat >"$TMP/project/optimus.yaml" <<YAML
version: 1
host: $HOST
project:
  name: af
  config:
    storage_path: file://dags
    scheduler_host: $AF
    scheduler_version: "$VERSION"
namespaces:
- name: ns
  config: {}
  job:
    path: jobs
YAML
cat >"$TMP/project/jobs/shop_daily/job.yaml" <<YAML
version: 3
name: shop_daily
owner: e2e@example.com
schedule:
  start_date: "$start"
  interval: "0 2 * * *"
task:
  name: shell
  window:
    size: 24h
YAML
echo 'echo hello' >"$TMP/project/jobs/shop_daily/assets/run.sh"
P=(-d "$TMP/project" --host "$HOST")
"$BIN/optimus" deploy "${P[@]}" >"$TMP/deploy.log" 2>&1 || fail "deploy: $(tail -3 "$TMP/deploy.log")"
# The project's own credentials, as Optimus keeps them; the server-wide ones above are wrong.
"$BIN/optimus" secret set SCHEDULER_AUTH "$(auth)" "${P[@]}" >/dev/null \
  && pass "the project's Airflow credentials are its SCHEDULER_AUTH secret" || fail "secret set SCHEDULER_AUTH"

# Three days of scheduled times: the last is the DAG run Airflow has, the others it never ran.
last=$(python3 -c 'import json,sys; r=json.load(sys.stdin)["dag_runs"][-1]; print(r["data_interval_end"].replace("+00:00", "Z").split(".")[0].rstrip("Z") + "Z")' <<<"$before")
from=$(date -u -d "${last%Z} UTC - 2 days" +%Y-%m-%dT%H:%M:%SZ)
expect_error() {  # WHAT PATTERN COMMAND...
  local what=$1 pattern=$2 out
  shift 2
  if out=$("$@" 2>&1); then fail "$what was accepted: $out"
  elif grep -q -- "$pattern" <<<"$out"; then pass "$what: $(grep -- "$pattern" <<<"$out" | head -1)"
  else fail "$what: unexpected error: $out"; fi
}
expect_error "a replay with downstream on Airflow" "are for native projects" \
  "$BIN/optimus" replay create shop_daily "$from" "$last" --with-downstream "${P[@]}"
if timeout 300 "$BIN/optimus" replay create shop_daily "$from" "$last" --wait "${P[@]}" \
  >"$TMP/replay.log" 2>&1; then
  pass "replay of shop_daily from $from to $last through Airflow: $(grep -c 'Z  success$' "$TMP/replay.log") runs succeeded"
else
  fail "replay through Airflow: $(tail -8 "$TMP/replay.log")"
fi
after=$(runs)
python3 - "$before" "$after" <<'PY' && pass "Airflow cleared its run and ran it again, and created and ran the two it never had" || fail "Airflow's DAG runs after the replay: $after"
import json, sys
before = {r["dag_run_id"]: r for r in json.loads(sys.argv[1])["dag_runs"]}
after = {r["dag_run_id"]: r for r in json.loads(sys.argv[2])["dag_runs"]}
created = sorted(i for i in after if i.startswith("replayed__"))
print("  created:", created)
ok = len(created) == 2 and all(after[i]["state"] == "success" for i in created)
for run_id, old in before.items():
    new = after[run_id]
    print(f"  {run_id}: ended {old['end_date']} -> {new['end_date']} ({new['state']})")
    ok &= new["state"] == "success" and new["end_date"] > old["end_date"]
sys.exit(0 if ok else 1)
PY
summary
