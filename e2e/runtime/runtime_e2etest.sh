#!/usr/bin/env bash
# Access control and the scheduler's side end to end on the embedded default: `optimus serve`
# with admin and project tokens; the CLI and REST are refused without a token, with an unknown
# one and with another project's, and record nothing then; every denial is counted; the
# published __lib.py and DAGs then run under pytest in the Airflow 2 and 3 venvs against the
# live server (callbacks -> run states -> upstream sensor decisions).
#   runtime_e2etest.sh BIN_DIR EXAMPLES_DIR
set -uo pipefail
BIN=${1:?usage: runtime_e2etest.sh BIN_DIR EXAMPLES_DIR}
EXAMPLES=${2:?usage: runtime_e2etest.sh BIN_DIR EXAMPLES_DIR}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d)
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
new_token() { "$BIN/optimus" token new "$@" | awk -v what="$1" '/^token:/ {print $2} /^auth.tokens entry:/ {print $3}'; }

# Tokens: the servers get only their hashes.
{ read -r ADMIN; read -r admin_entry; } < <(new_token --admin)
{ read -r TOKEN; read -r token_entry; } < <(new_token -p sample-project)
{ read -r OTHER; read -r other_entry; } < <(new_token -p other-project)
case "$admin_entry,$token_entry,$other_entry" in
  admin=sha256:*,project:sample-project=sha256:*,project:other-project=sha256:*) pass "optimus token new prints tokens and their auth.tokens entries" ;;
  *) fail "token entries: $admin_entry $token_entry $other_entry"; exit 1 ;;
esac
[ "$(printf '%s\n' "$TOKEN" | "$BIN/optimus" token hash -p sample-project)" = "$token_entry" ] \
  && pass "optimus token hash gives the same entry" || fail "optimus token hash"

http=$(free_port)
grpc=$(free_port)
"$BIN/optimus" serve --data-dir "$TMP/data" --set plugins.dirs="$EXAMPLES/plugins" \
  --set http.port="$http" --set grpc.port="$grpc" --set log.format=json \
  --set compiler.runtime_host="http://127.0.0.1:$http" \
  --set auth.tokens="$admin_entry,$token_entry,$other_entry" >"$TMP/serve.log" 2>&1 &
SERVE=$!
trap 'kill -TERM $SERVE 2>/dev/null; wait $SERVE 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$http/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$http/readyz" >/dev/null 2>&1 && pass "optimus serve is ready with auth.tokens" || { fail "optimus serve never became ready"; cat "$TMP/serve.log"; exit 1; }
! grep -qF -e "$ADMIN" -e "$TOKEN" "$TMP/serve.log" && pass "no token in the server log" || fail "a token is in the server log"

cp -r "$EXAMPLES/sample-project" "$TMP/project"
cli() { local token=$1; shift; OPTIMUS_AUTH_BEARER_TOKEN="$token" "$BIN/optimus" "$@" -d "$TMP/project" --host "127.0.0.1:$grpc"; }

# Creating a project needs the admin token; its own token may then deploy it.
cli "$TOKEN" project register >"$TMP/register1.out" 2>&1
[ $? != 0 ] && grep -q "needs an admin token" "$TMP/register1.out" && pass "a project token cannot create its project" \
  || { fail "project register with a project token"; cat "$TMP/register1.out"; }
cli "" deploy >"$TMP/deploy0.out" 2>&1
[ $? != 0 ] && grep -q "needs a token" "$TMP/deploy0.out" && pass "deploy without a token is refused" \
  || { fail "deploy without a token"; cat "$TMP/deploy0.out"; }
cli "$ADMIN" project register >"$TMP/register2.out" 2>&1 && pass "the admin token registers the project" \
  || { fail "project register with the admin token"; cat "$TMP/register2.out"; }
for _ in $(seq 1 50); do
  curl -fsS -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$http/api/v1beta1/project/sample-project" >/dev/null 2>&1 && break
  sleep 0.1
done
cli "$OTHER" deploy >"$TMP/deploy1.out" 2>&1
[ $? != 0 ] && grep -q 'cannot act on project "sample-project"' "$TMP/deploy1.out" && pass "another project's token cannot deploy it" \
  || { fail "deploy with another project's token"; cat "$TMP/deploy1.out"; }
if cli "$TOKEN" deploy >"$TMP/deploy2.out" 2>&1 && grep -q "9 published" "$TMP/deploy2.out"; then
  pass "the project's token deploys it: $(tail -1 "$TMP/deploy2.out")"
else
  fail "deploy with the project's token"; cat "$TMP/deploy2.out"
fi
DAGS=$TMP/data/blob/sample-project/dags

# Secrets: set with the project's token; another's can neither list nor read them in a run input.
cli "$TOKEN" secret set bq_service_account "sa-$RANDOM$RANDOM" >"$TMP/secret1.out" 2>&1 && pass "the project's token sets a secret" \
  || { fail "secret set"; cat "$TMP/secret1.out"; }
cli "$OTHER" secret list >"$TMP/secret2.out" 2>&1
[ $? != 0 ] && grep -q "cannot act on project" "$TMP/secret2.out" && pass "another project's token cannot list its secrets" \
  || { fail "secret list with another project's token"; cat "$TMP/secret2.out"; }
job=sample-project.sales_raw.orders
run_input() { OPTIMUS_AUTH_BEARER_TOKEN="$1" "$BIN/optimus" job run-input "$job" --project-name sample-project \
  --scheduled-at 2024-03-07T01:00:00Z --host "127.0.0.1:$grpc" --output-dir "$2" --timeout 5s; }
run_input "$OTHER" "$TMP/pod-other" >"$TMP/ri-other.out" 2>&1
[ $? != 0 ] && [ ! -e "$TMP/pod-other/in/.secret" ] && grep -q "cannot act on project" "$TMP/ri-other.out" \
  && pass "another project's token gets no run input (gRPC PERMISSION_DENIED)" || { fail "run input with another project's token"; cat "$TMP/ri-other.out"; }
for _ in $(seq 1 50); do
  run_input "$TOKEN" "$TMP/pod" >"$TMP/ri.out" 2>&1 && grep -q BQ_SERVICE_ACCOUNT "$TMP/pod/in/.secret" 2>/dev/null && break
  sleep 0.1
done
grep -q BQ_SERVICE_ACCOUNT "$TMP/pod/in/.secret" 2>/dev/null && pass "the project's token gets the run input with its secret" \
  || { fail "run input with the project's token"; cat "$TMP/ri.out"; }

# REST: each refusal with its status; nothing recorded for a refused event.
api=http://127.0.0.1:$http/api/v1beta1
status() { curl -s -o "$TMP/body" -w '%{http_code}' "$@"; }
event='{"event":{"type":"TYPE_JOB_SUCCESS","value":{"status":"success","event_time":1710000000,"task_id":"bq2bq","scheduled_at":"2024-03-07T01:00:00Z"}}}'
ev_url="$api/project/sample-project/namespace/sales/job/$job/event"
runs_url="$api/project/sample-project/job/$job/run?start_date=2024-03-07T00:00:00Z&end_date=2024-03-07T23:00:00Z"
ri_url="$api/project/sample-project/job/$job/run_input"
check() {  # check WANT DESCRIPTION CURL_ARGS...
  local want=$1 what=$2; shift 2
  local got; got=$(status "$@")
  [ "$got" = "$want" ] && pass "$what: $got" || { fail "$what: got $got, want $want: $(head -c 300 "$TMP/body")"; }
}
check 401 "event without a token" -XPOST "$ev_url" -d "$event"
grep -q 'Authorization: Bearer' "$TMP/body" || fail "the 401 says how to send a token"
check 401 "event with a Basic header" -XPOST -H "Authorization: Basic dXNlcjpwdw==" "$ev_url" -d "$event"
check 403 "event with an unknown token" -XPOST -H "Authorization: Bearer opt_not-a-token" "$ev_url" -d "$event"
check 403 "event with another project's token" -XPOST -H "Authorization: Bearer $OTHER" "$ev_url" -d "$event"
check 403 "runs with another project's token" -H "Authorization: Bearer $OTHER" "$runs_url"
check 403 "run input with another project's token" -XPOST -H "Authorization: Bearer $OTHER" "$ri_url" -d '{"scheduledAt":"2024-03-07T01:00:00Z","instanceType":"TYPE_TASK","instanceName":"bq2bq"}'
check 403 "secrets with another project's token" -H "Authorization: Bearer $OTHER" "$api/project/sample-project/secret"
check 403 "every project's jobs with a project token" -H "Authorization: Bearer $TOKEN" "$api/jobs"
check 200 "the project's jobs with its token" -H "Authorization: Bearer $TOKEN" "$api/jobs?project_name=sample-project"
check 403 "listing projects with a project token" -H "Authorization: Bearer $TOKEN" "$api/project"
check 200 "listing projects with the admin token" -H "Authorization: Bearer $ADMIN" "$api/project"
check 200 "window maths with any token" -H "Authorization: Bearer $OTHER" "$api/window?scheduled_at=2024-03-07T02:00:00Z&size=24h"
check 200 "the version without a token" "$api/version"
check 200 "runs with the project's token" -H "Authorization: Bearer $TOKEN" "$runs_url"
grep -q '"state":"pending"' "$TMP/body" && pass "no refused event was recorded (the run is pending)" || fail "runs after refusals: $(cat "$TMP/body")"
# What Optimus's own DAG helper reads (ext/scheduler/airflow/__lib.py): api_response['message']
# and ['jobRuns'][i]['state'] of the runs, ['spec']['interval'] and ['spec']['schedulerState'].
python3 - "$TMP/body" <<'PY' && pass "job runs answer with message and jobRuns, as Optimus's sensor reads them" || fail "job runs for Optimus's sensor: $(cat "$TMP/body")"
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["message"] == "" and all(r["state"] for r in d["jobRuns"]) else 1)
PY
check 200 "a job's spec with the project's token" -H "Authorization: Bearer $TOKEN" "$api/project/sample-project/namespace/sales/job/$job"
python3 - "$TMP/body" <<'PY' && pass "the job answers spec.interval and spec.schedulerState, as Optimus's sensor reads them" || fail "job spec for Optimus's sensor: $(head -c 400 "$TMP/body")"
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["spec"]["schedulerState"] == "enabled" and d["spec"]["interval"] else 1)
PY
check 200 "run input with the project's token" -XPOST -H "Authorization: Bearer $TOKEN" "$ri_url" -d '{"scheduledAt":"2024-03-07T01:00:00Z","instanceType":"TYPE_TASK","instanceName":"bq2bq"}'
inst_url="$api/project/sample-project/job/$job/instance"
check 200 "the older …/instance path with the project's token" -XPOST -H "Authorization: Bearer $TOKEN" "$inst_url" -d '{"scheduledAt":"2024-03-07T01:00:00Z","instanceType":"TYPE_TASK","instanceName":"bq2bq"}'
python3 - "$TMP/body" <<'PY' && pass "…/instance answers Optimus v0.1's shape (instance.data ENV and FILE entries, context envs and files)" || fail "…/instance body: $(head -c 400 "$TMP/body")"
import json, sys
d = json.load(open(sys.argv[1]))
data = {e["name"]: e["type"] for e in d["instance"]["data"]}
ok = (d["job"]["name"] == "sample-project.sales_raw.orders" and d["namespace"]["name"] == "sales"
      and data.get("DSTART") == "ENV" and data.get("query.sql") == "FILE"
      and data.get("BQ_SERVICE_ACCOUNT") == "ENV" and d["context"]["envs"]["DEND"]
      and d["instance"]["name"] == "bq2bq" and d["instance"]["type"] == "TASK")
sys.exit(0 if ok else 1)
PY
check 403 "the older …/instance path with another project's token" -XPOST -H "Authorization: Bearer $OTHER" "$inst_url" -d '{"scheduledAt":"2024-03-07T01:00:00Z"}'
# A deployment is read with a token of its project only; another project's token learns
# nothing of whether a project exists when it tries to register it.
did=$(curl -fsS -XPOST -H "Authorization: Bearer $TOKEN" "$api/project/sample-project/namespace" -d '{"namespace": {"name": "extra"}}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["deploymentId"])' 2>/dev/null)
[ -n "$did" ] && pass "the project's token registers a namespace over REST ($did)" || fail "REST namespace register with the project's token"
# Times outside 1970..2199 would wrap in nanoseconds (issue 20): refused, saying so.
check 400 "run input at 9999-01-01" -XPOST -H "Authorization: Bearer $TOKEN" "$ri_url" -d '{"scheduledAt":"9999-01-01T00:00:00Z","instanceType":"TYPE_TASK","instanceName":"bq2bq"}'
grep -q "scheduled_at 9999-01-01T00:00:00Z is outside the supported times" "$TMP/body" || fail "the refusal says why: $(cat "$TMP/body")"
check 400 "a window at 1500-01-01" -H "Authorization: Bearer $TOKEN" "$api/window?scheduled_at=1500-01-01T00:00:00Z&size=24h&version=2"
# Names are identifiers (issue 20): refused where they come in, with the reason.
check 400 "REST: a project named team/a" -XPOST -H "Authorization: Bearer $ADMIN" "$api/project" \
  -d '{"project": {"name": "team/a", "config": {"storage_path": "file://x", "scheduler": "native"}}}'
grep -q "invalid project name" "$TMP/body" || fail "the refusal names the problem: $(cat "$TMP/body")"
check 400 "REST: a namespace named .." -XPOST -H "Authorization: Bearer $TOKEN" "$api/project/sample-project/namespace" -d '{"namespace": {"name": ".."}}'
check 200 "REST: job specs, one named ../evil" -XPOST -H "Authorization: Bearer $TOKEN" "$api/project/sample-project/namespace/sales/jobs" \
  -d '{"specs": [{"version": 1, "name": "../evil", "owner": "o", "startDate": "2024-01-01", "interval": "0 2 * * *", "taskName": "bq2bq", "windowSize": "24h"}]}'
python3 - "$TMP/body" <<'PY' && pass "the job named ../evil is refused with its reason" || fail "job named ../evil: $(cat "$TMP/body")"
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["failedJobNames"] == ["../evil"] and "invalid job name" in d["log"] else 1)
PY
spec='{"version": 1, "name": "twice", "owner": "o", "startDate": "2024-01-01", "interval": "0 2 * * *", "taskName": "bq2bq", "windowSize": "24h"}'
check 400 "REST: job specs naming one job twice" -XPOST -H "Authorization: Bearer $TOKEN" "$api/project/sample-project/namespace/sales/jobs" -d "{\"specs\": [$spec, $spec]}"
grep -q 'job \\"twice\\" is in the request twice' "$TMP/body" && ! grep -qi "constraint" "$TMP/body" \
  && pass "the refusal names the job, not a database constraint" || fail "duplicate job: $(cat "$TMP/body")"
check 200 "its deployment with the project's token" -H "Authorization: Bearer $TOKEN" "$api/deployment/$did"
check 403 "its deployment with another project's token" -H "Authorization: Bearer $OTHER" "$api/deployment/$did"
check 401 "its deployment without a token" "$api/deployment/$did"
check 404 "an unknown deployment" -H "Authorization: Bearer $TOKEN" "$api/deployment/no-such-id"
check 403 "registering an existing project with another project's token" -XPOST -H "Authorization: Bearer $OTHER" "$api/project" -d '{"project": {"name": "sample-project"}}'
grep -q 'cannot act on project' "$TMP/body" || fail "the refusal names the token's project: $(cat "$TMP/body")"
check 403 "registering a new project with another project's token" -XPOST -H "Authorization: Bearer $OTHER" "$api/project" -d '{"project": {"name": "nobody-knows"}}'
grep -q 'cannot act on project' "$TMP/body" && pass "the same refusal whether the project exists or not" || fail "refusal for a new project: $(cat "$TMP/body")"
check 200 "/metrics without a token" "http://127.0.0.1:$http/metrics"
python3 - "$TMP/body" <<'PY' && pass "denials are counted by route and reason" || fail "denial metrics: $(grep optimus_auth_denials_total "$TMP/body" | head -20)"
import re, sys
text = open(sys.argv[1]).read()
count = {}
for line in text.splitlines():
    if not line.startswith("optimus_auth_denials_total{"):
        continue
    labels, value = line.rsplit(" ", 1)
    labels = dict(re.findall(r'(\w+)="([^"]*)"', labels))
    count[(labels["route"], labels["reason"])] = float(value)
event = "POST /api/v1beta1/project/{project_name}/namespace/{namespace_name}/job/{job_name}/event"
want = {
    (event, "missing"): 2,
    (event, "unknown"): 1,
    (event, "project"): 1,
    ("optimus.core.v1.JobRunService/JobRunInput", "project"): 1,
    ("optimus.core.v1.DeploymentService/RegisterProject", "admin"): 1,
    ("optimus.core.v1.SecretService/ListSecrets", "project"): 1,
    ("GET /api/v1beta1/project", "admin"): 1,
    ("GET /api/v1beta1/jobs", "project"): 1,
}
bad = {k: (count.get(k), v) for k, v in want.items() if count.get(k, 0) < v}
print("denials:", {"%s %s" % k: v for k, v in count.items()})
sys.exit(1 if bad else 0)
PY

# A task pod's view of v1, v2 and v3 windows: jobs of each version deployed, then for several
# scheduled times `optimus job run-input` writes in/.env and in/.secret, sourced as the pod's
# main container does. The expected values are Optimus's documented examples (reference §4.3),
# worked out by hand, not by our window code.
mkdir -p "$TMP/project/windows/jobs"
cat >>"$TMP/project/optimus.yaml" <<'YAML'
- name: windows
  config: {}
  job:
    path: windows/jobs
YAML
window_job() {  # name version window-yaml
  mkdir -p "$TMP/project/windows/jobs/$1/assets"
  printf 'select 1 as x\n' >"$TMP/project/windows/jobs/$1/assets/query.sql"
  cat >"$TMP/project/windows/jobs/$1/job.yaml" <<YAML
version: $2
name: sample-project.windows.$1
owner: e2e@example.com
schedule: {start_date: "2023-01-01", interval: "0 2 * * *"}
task:
  name: bq2bq
  config: {PROJECT: sample-project, DATASET: windows, TABLE: $1, KEY: "{{.secret.BQ_SERVICE_ACCOUNT}}"}
  window: $3
YAML
}
window_job v1_daily 1 '{size: 24h, offset: "0", truncate_to: d}'
window_job v1_weekly 1 '{size: 168h, offset: "0", truncate_to: w}'
window_job v1_monthly 1 '{size: 720h, offset: "0", truncate_to: M}'
window_job v2_daily 2 '{size: 24h, offset: -24h, truncate_to: d}'
window_job v2_monthly 2 '{size: 1M, offset: -1M, truncate_to: M}'
window_job v3_jakarta 3 '{size: 1d, shift_by: -1d, truncate_to: h, location: Asia/Jakarta}'
window_job v3_monthly 3 '{size: 1M}'
if cli "$TOKEN" deploy -N windows >"$TMP/deploy-windows.out" 2>&1 && grep -q "7 published" "$TMP/deploy-windows.out"; then
  pass "v1, v2 and v3 window jobs deployed"
else
  fail "deploy of the window jobs"; cat "$TMP/deploy-windows.out"
fi
# job | scheduled at | DSTART | DEND
cases=(
  "v1_daily|2023-03-07T02:00:00Z|2023-03-06T00:00:00Z|2023-03-07T00:00:00Z"
  "v1_weekly|2023-03-08T02:00:00Z|2023-03-05T00:00:00Z|2023-03-12T00:00:00Z"
  "v1_monthly|2023-03-07T02:00:00Z|2023-03-01T00:00:00Z|2023-03-31T00:00:00Z"
  "v2_daily|2023-03-07T02:00:00Z|2023-03-05T00:00:00Z|2023-03-06T00:00:00Z"
  "v2_monthly|2023-03-07T02:00:00Z|2023-01-01T00:00:00Z|2023-02-01T00:00:00Z"
  "v3_jakarta|2023-12-01T03:00:00Z|2023-11-29T10:00:00+07:00|2023-11-30T10:00:00+07:00"
  "v3_monthly|2023-03-07T02:00:00Z|2023-02-01T00:00:00Z|2023-03-01T00:00:00Z"
)
bad=0
mkdir -p "$TMP/pods"
for c in "${cases[@]}"; do
  IFS='|' read -r wjob at want_start want_end <<<"$c"
  out=$TMP/pods/$wjob-$at
  for _ in $(seq 1 50); do  # runtime-context knows a job a moment after its deploy
    OPTIMUS_AUTH_BEARER_TOKEN="$TOKEN" "$BIN/optimus" job run-input "sample-project.windows.$wjob" --project-name sample-project \
      --scheduled-at "$at" --host "127.0.0.1:$grpc" --output-dir "$out" --timeout 5s >"$out.log" 2>&1 && break
    sleep 0.1
  done
  got=$(bash -c 'set -a; . "$1/in/.env"; . "$1/in/.secret"; printf "%s|%s|%s" "$DSTART" "$DEND" "${KEY:+secret}"' _ "$out" 2>/dev/null)
  if [ "$got" != "$want_start|$want_end|secret" ]; then
    bad=$((bad + 1)); echo "  $wjob at $at: got [$got], want [$want_start|$want_end|secret]"; cat "$out.log"
  fi
done
[ "$bad" = 0 ] && pass "a task pod sources the right DSTART/DEND for ${#cases[@]} v1/v2/v3 windows (UTC and Asia/Jakarta), secret included" \
  || fail "$bad of ${#cases[@]} windows wrong in the run input"

# The published __lib.py and DAGs against this server, in both Airflow venvs.
for v in 2 3; do
  if OPTIMUS_LIVE_HTTP="http://127.0.0.1:$http" OPTIMUS_LIVE_DAGS="$DAGS" OPTIMUS_E2E_TOKEN="$TOKEN" OPTIMUS_E2E_YEAR=$((2022 + v)) \
    OPTIMUS_E2E_OTHER_TOKEN="$OTHER" OPTIMUS_E2E_ADMIN_TOKEN="$ADMIN" \
    "$ROOT/tools/dev/airflow" python "$v" -m pytest -q -p no:cacheprovider "$ROOT/e2e/runtime/test_live_lib.py" "$ROOT/e2e/runtime/test_optimus_helper_contract.py" >"$TMP/pytest$v.out" 2>&1; then
    pass "Airflow $v: $(tail -1 "$TMP/pytest$v.out")"
  else
    fail "Airflow $v: the live __lib.py tests"; tail -40 "$TMP/pytest$v.out"
  fi
done

# Slow clients (issue 20): 500 connections that send nothing and 50 that send their headers a
# byte at a time, with no token, while probes and an authenticated REST call are timed.
if out=$(python3 - "$http" "$TOKEN" "$job" <<'PY'
import http.client, socket, sys, threading, time
port, token, job = int(sys.argv[1]), sys.argv[2], sys.argv[3]
idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(500)]
slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(50)]
done = threading.Event()
def trickle():
    header = b"GET /api/v1beta1/project/sample-project/job HTTP/1.1\r\nHost: x\r\nX-Slow: "
    i = 0
    while not done.is_set():
        b = header[i:i + 1] or b"x"
        for s in slow:
            try: s.send(b)
            except OSError: pass
        i += 1
        time.sleep(0.05)
threading.Thread(target=trickle, daemon=True).start()
time.sleep(0.5)
worst = {}
for path, headers in [("/readyz", {}), ("/healthz", {}), ("/metrics", {}),
                      ("/api/v1beta1/version", {}),
                      ("/api/v1beta1/project/sample-project/namespace/sales/job/" + job,
                       {"Authorization": "Bearer " + token})]:
    for _ in range(10):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        t = time.monotonic()
        c.request("GET", path, headers=headers)
        r = c.getresponse(); r.read()
        ms = (time.monotonic() - t) * 1000
        if r.status != 200: sys.exit(f"{path}: HTTP {r.status}")
        worst[path] = max(worst.get(path, 0), ms)
        c.close()
done.set()
print(", ".join(f"{p.split('/')[-1]} {ms:.1f} ms" for p, ms in worst.items()))
sys.exit(0 if worst["/readyz"] < 100 else 1)
PY
); then
  pass "with 500 idle and 50 slow-header connections, the slowest of 10 answers each: $out"
else
  fail "probes under slow clients: $out"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
