#!/usr/bin/env bash
# The deploy pipeline end to end on the embedded default: a generated project deploys through
# `optimus serve`, every DAG is published with exactly the upstream sensors the generator
# expects, Apache Airflow 2 and 3 load the DAG folder without an import error, a changed job
# republishes itself and the jobs whose upstreams changed and nothing else, and replace-all
# removes the DAG of a deleted job.
#   deploy_e2etest.sh BIN_DIR EXAMPLES_DIR [JOBS]
set -uo pipefail
BIN=${1:?usage: deploy_e2etest.sh BIN_DIR EXAMPLES_DIR [JOBS]}
EXAMPLES=${2:?usage: deploy_e2etest.sh BIN_DIR EXAMPLES_DIR [JOBS]}
JOBS=${3:-1000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d)
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

http=$(free_port)
grpc=$(free_port)
"$BIN/optimus" serve --data-dir "$TMP/data" --set plugins.dirs="$EXAMPLES/plugins" \
  --set http.port="$http" --set grpc.port="$grpc" --set log.format=json \
  --set store.housekeeping_interval=1s --set store.outbox_retention=0s >"$TMP/serve.log" 2>&1 &
SERVE=$!
trap 'kill -TERM $SERVE 2>/dev/null; wait $SERVE 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$http/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$http/readyz" >/dev/null 2>&1 && pass "optimus serve is ready" || { fail "optimus serve never became ready"; cat "$TMP/serve.log"; exit 1; }

"$BIN/gen-project" --out "$TMP/project" --jobs "$JOBS" --seed 11 >/dev/null
deploy() { "$BIN/optimus" deploy -d "$TMP/project" --host "127.0.0.1:$grpc" --timeout 5m "$@"; }

# 1. The whole project.
if deploy >"$TMP/deploy1.out" 2>&1; then pass "deploy of $JOBS jobs exits 0"; else fail "deploy exits non-zero"; cat "$TMP/deploy1.out"; fi
grep -q "deployed $JOBS jobs in .*: $JOBS published, 0 unchanged, 0 deleted, 0 failed" "$TMP/deploy1.out" \
  && pass "every job published: $(tail -1 "$TMP/deploy1.out")" || { fail "not every job published"; tail -5 "$TMP/deploy1.out"; }
DAGS=$TMP/data/blob/sample-project/dags
python3 - "$TMP/project/manifest.json" "$DAGS" <<'PY' && pass "every DAG exists with exactly the expected upstream sensors" || fail "DAGs and sensors differ from the manifest"
import json, os, re, sys
manifest = json.load(open(sys.argv[1]))
root = sys.argv[2]
bad = 0
for job in manifest["jobs"]:
    path = os.path.join(root, job["namespace"], job["name"] + ".py")
    if not os.path.exists(path):
        print("missing", path); bad += 1; continue
    text = open(path).read()
    got = sorted(re.findall(r'upstream_job="([^"]+)"', text))
    want = sorted(set(job["upstream_jobs"]))
    if got != want:
        bad += 1
        if bad <= 5: print(job["name"], "sensors", got, "want", want)
print(len(manifest["jobs"]), "jobs checked,", bad, "wrong")
sys.exit(1 if bad else 0)
PY
[ -f "$DAGS/__lib.py" ] && pass "__lib.py published" || fail "__lib.py missing"

# Housekeeping (here every second, published rows kept 0 s; it ran all through the deploy): once
# the deploy is over, every service's outbox is empty and the deletions were counted.
outbox_rows() {
  python3 - "$TMP/data" <<'PY'
import glob, sqlite3, sys
total = 0
for path in glob.glob(sys.argv[1] + "/*.db"):
    if path.endswith("/bus.db"):
        continue
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    total += db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
print(total)
PY
}
pruned_rows() {
  curl -fsS "http://127.0.0.1:$http/metrics" |
    awk '/^optimus_store_pruned_rows_total\{/ && /table="outbox"/ {n += $2} END {print n + 0}'
}
outbox_empty() { [ "$(outbox_rows)" = 0 ]; }
for _ in $(seq 1 100); do outbox_empty && break; sleep 0.2; done
if outbox_empty && [ "$(pruned_rows)" -ge "$JOBS" ]; then
  pass "housekeeping emptied every outbox after publishing ($(pruned_rows) rows deleted)"
else
  fail "outboxes not tidied: $(outbox_rows) rows left, $(pruned_rows) deleted"
fi

# The lineage the server resolved, as `optimus job inspect` shows it.
read -r ijob iups < <(python3 -c 'import json,sys; j=[j for j in json.load(open(sys.argv[1]))["jobs"] if j["upstream_jobs"]][0]; print(j["name"], ",".join(sorted(set(j["upstream_jobs"]))))' "$TMP/project/manifest.json")
"$BIN/optimus" job inspect "$ijob" -d "$TMP/project" --host "127.0.0.1:$grpc" >"$TMP/inspect.out" 2>&1
got=$(grep -A50 '^upstreams' "$TMP/inspect.out" | sed -n '/^upstreams/,/^downstreams/p' | grep -o 'sample-project\.[a-z_0-9.]*  via' | sed 's/  via//' | sort | paste -sd, -)
[ "$got" = "$iups" ] && pass "optimus job inspect shows $ijob's upstreams" || { fail "job inspect upstreams [$got], want [$iups]"; cat "$TMP/inspect.out"; }
"$BIN/optimus" job inspect no.such.job -d "$TMP/project" --host "127.0.0.1:$grpc" >/dev/null 2>&1
[ $? = 1 ] && pass "job inspect of an unknown job exits 1" || fail "job inspect of an unknown job"
# The same over REST (Optimus's JobInspect and Validate paths).
ins_ns=$(python3 -c 'import json,sys; print([j for j in json.load(open(sys.argv[1]))["jobs"] if j["name"]==sys.argv[2]][0]["namespace"])' "$TMP/project/manifest.json" "$ijob")
api_ns="http://127.0.0.1:$http/api/v1beta1/project/sample-project/namespace/$ins_ns"
got=$(curl -fsS -XPOST "$api_ns/job/inspect" -d "{\"jobName\": \"$ijob\"}" |
  python3 -c 'import json,sys; print(",".join(sorted({d["name"] for d in json.load(sys.stdin)["upstreams"]["internalDependency"]})))')
[ "$got" = "$iups" ] && pass "REST job/inspect lists $ijob's upstreams" || fail "REST job/inspect upstreams [$got], want [$iups]"
curl -fsS -XPOST "$api_ns/job/validate" -d "{\"fromServer\": {\"jobNames\": [\"$ijob\"]}}" >"$TMP/validate.json" &&
curl -fsS -XPOST "$api_ns/job/validate" -d '{"fromOutside": {"jobs": [{"version": 1, "name": "bad.job", "owner": "o@x", "startDate": "2024-01-01", "interval": "0 3 * * *", "taskName": "no_such_plugin", "windowSize": "24h"}]}}' >"$TMP/validate-bad.json" &&
python3 - "$TMP/validate.json" "$TMP/validate-bad.json" "$ijob" <<'PY' && pass "REST job/validate passes $ijob stage by stage and fails an unknown plugin" || { fail "REST job/validate"; cat "$TMP/validate.json" "$TMP/validate-bad.json"; }
import json, sys
good = json.load(open(sys.argv[1]))["resultsByJobName"][sys.argv[3]]["results"]
bad = {r["name"]: r for r in json.load(open(sys.argv[2]))["resultsByJobName"]["bad.job"]["results"]}
ok = (all(r["success"] for r in good) and {"upstream validation", "cyclic validation"} <= {r["name"] for r in good}
      and not bad["plugin validation"]["success"] and "no_such_plugin" in bad["plugin validation"]["messages"][0]
      and bad["tenant validation"]["success"])
sys.exit(0 if ok else 1)
PY

# `optimus job render` makes locally, byte for byte, the DAG the server published.
ins=$(python3 -c 'import json,sys; print([j for j in json.load(open(sys.argv[1]))["jobs"] if j["name"]==sys.argv[2]][0]["namespace"])' "$TMP/project/manifest.json" "$ijob")
"$BIN/optimus" job render "$ijob" -d "$TMP/project" --plugins "$EXAMPLES/plugins" --stdout >"$TMP/render.py" 2>"$TMP/render.err"
if cmp -s "$TMP/render.py" "$DAGS/$ins/$ijob.py"; then
  pass "optimus job render $ijob equals the published DAG"
else
  fail "job render differs from the published DAG"; cat "$TMP/render.err"; diff "$TMP/render.py" "$DAGS/$ins/$ijob.py" | head -20
fi

# Projects and namespaces: what the server holds, over the CLI and REST.
"$BIN/optimus" namespace list -d "$TMP/project" --host "127.0.0.1:$grpc" >"$TMP/ns.out" 2>&1
nns=$(grep -c 'server, local' "$TMP/ns.out")
[ "$nns" -ge 1 ] && [ "$nns" = "$(($(wc -l <"$TMP/ns.out") - 1))" ] && pass "namespace list: all $nns namespaces on the server and local" \
  || { fail "namespace list"; cat "$TMP/ns.out"; }
curl -fsS "http://127.0.0.1:$http/api/v1beta1/project/sample-project/namespace" | python3 -c 'import json,sys; n=json.load(sys.stdin)["namespaces"]; sys.exit(0 if len(n)==int(sys.argv[1]) else 1)' "$nns" \
  && pass "GET .../namespace lists the same $nns" || fail "REST namespace list"
# What a task pod's init container runs: the run input, written to in/ and sourced as the
# main container does. DSTART/DEND must be the window `optimus window` computes from the file.
jobdir=$(dirname "$(grep -rl "^name: $ijob\$" "$TMP/project" --include=job.yaml | head -1)")
"$BIN/optimus" job run-input "$ijob" --project-name sample-project --scheduled-at 2024-03-07T02:00:00Z \
  --host "127.0.0.1:$grpc" --output-dir "$TMP/pod" >"$TMP/run-input.out" 2>&1
"$BIN/optimus" window --job "$jobdir" --scheduled-at 2024-03-07T02:00:00Z --output json >"$TMP/window.json" 2>&1
got=$(bash -c 'set -a; . "$1/in/.env"; printf "%s %s" "$DSTART" "$DEND"' _ "$TMP/pod")
want=$(python3 -c 'import json,sys; w=json.load(open(sys.argv[1])); print(w["DSTART"], w["DEND"])' "$TMP/window.json" 2>/dev/null)
if [ -n "$got" ] && [ "$got" = "$want" ] && [ -s "$TMP/pod/in/query.sql" ] && ! grep -q '{{' "$TMP/pod/in/query.sql"; then
  pass "optimus job run-input writes $ijob's in/.env (DSTART/DEND $got, as optimus window says) and its rendered query"
else
  fail "job run-input: got [$got], want [$want]"; cat "$TMP/run-input.out"; head -c 400 "$TMP/window.json"
fi

# An Optimus JSON job through REST, followed to its published DAG.
rest=$(curl -fsS -XPOST "http://127.0.0.1:$http/api/v1beta1/project/sample-project/namespace/$ins/jobs-upsert" -d '{"specs": [{"version": 1, "name": "rest.job", "owner": "e2e@example.com", "startDate": "2024-01-01", "interval": "0 3 * * *", "taskName": "bq2bq", "config": [{"name": "PROJECT", "value": "sample-project"}, {"name": "DATASET", "value": "rest"}, {"name": "TABLE", "value": "job"}, {"name": "TOKEN", "value": "{{.secret.E2E_TOKEN}}"}], "windowSize": "24h", "assets": {"query.sql": "select 1"}}]}')
rid=$(echo "$rest" | python3 -c 'import json,sys; print(json.load(sys.stdin)["deploymentId"])' 2>/dev/null)
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$http/api/v1beta1/deployment/$rid" 2>/dev/null | grep -q '"done":true' && break
  sleep 0.1
done
[ -n "$rid" ] && [ -f "$DAGS/$ins/rest.job.py" ] && curl -fsS "http://127.0.0.1:$http/api/v1beta1/deployment/$rid" | grep -q '"published":1' \
  && pass "a REST jobs-upsert is followed to its published DAG" || { fail "REST jobs-upsert: $rest"; }
# A secret set with the CLI reaches the job's run input, in in/.secret only, and is nowhere in
# the clear on disk (tables, bus, logs, DAGs).
token="e2e-\$(not run) it's $RANDOM$RANDOM"
"$BIN/optimus" secret set e2e_token "$token" -d "$TMP/project" --host "127.0.0.1:$grpc" >"$TMP/secret.out" 2>&1
for _ in $(seq 1 50); do
  "$BIN/optimus" job run-input rest.job --project-name sample-project --scheduled-at 2024-03-07T02:00:00Z \
    --host "127.0.0.1:$grpc" --output-dir "$TMP/pod2" >"$TMP/run-input2.out" 2>&1 &&
    got=$(bash -c 'set -a; . "$1/in/.secret"; printf "%s" "$TOKEN"' _ "$TMP/pod2") && [ "$got" = "$token" ] && break
  sleep 0.1
done
if [ "$got" = "$token" ] && ! grep -q TOKEN "$TMP/pod2/in/.env" && ! grep -rqF "$token" "$TMP/data" "$TMP/serve.log"; then
  pass "a secret set with optimus secret reaches rest.job's in/.secret, and no file holds it in the clear"
else
  fail "secret in run input: got [$got]"; cat "$TMP/secret.out" "$TMP/run-input2.out"; grep -rlF "$token" "$TMP/data" | head -3
fi

# The DAG callbacks' events: recorded as runs that sensors read back; bad ones refused.
ev() {  # TYPE SCHEDULED_AT -> HTTP status
  curl -s -o "$TMP/event.out" -w '%{http_code}' -XPOST \
    "http://127.0.0.1:$http/api/v1beta1/project/sample-project/namespace/$ins/job/rest.job/event" \
    -d "{\"event\": {\"type\": \"$1\", \"value\": {\"status\": \"running\", \"event_time\": 1709780400.0, \"task_id\": \"bq2bq\", \"scheduled_at\": \"$2\"}}}"
}
codes="$(ev TYPE_SENSOR_START 2024-03-07T03:00:00Z) $(ev TYPE_TASK_START 2024-03-07T03:00:00Z) $(ev TYPE_JOB_SUCCESS 2024-03-07T03:00:00Z) $(ev TYPE_SENSOR_START 2024-03-08T03:00:00Z) $(ev TYPE_NOT_A_TYPE 2024-03-07T03:00:00Z)"
runs=$(curl -fsS "http://127.0.0.1:$http/api/v1beta1/project/sample-project/job/rest.job/run?start_date=2024-03-06T00:00:00Z&end_date=2024-03-08T23:00:00Z" 2>&1)
want='{"jobRuns":[{"scheduledAt":"2024-03-06T03:00:00Z","state":"pending"},{"scheduledAt":"2024-03-07T03:00:00Z","state":"success"},{"scheduledAt":"2024-03-08T03:00:00Z","state":"running"}],"message":""}'
if [ "$codes" = "200 200 200 200 400" ] && [ "$runs" = "$want" ]; then
  pass "scheduler events for rest.job are recorded as runs that GET .../run reports (pending, success, running); an unknown type is a 400"
else
  fail "job events: codes [$codes], runs $runs"; cat "$TMP/event.out"
fi

# Read back as Optimus reads jobs: the same JSON, with the lineage the server inferred.
curl -fsS "http://127.0.0.1:$http/api/v1beta1/project/sample-project/namespace/$ins/job/rest.job" >"$TMP/get.json" 2>&1
curl -fsS "http://127.0.0.1:$http/api/v1beta1/jobs?project_name=sample-project" >"$TMP/jobs.json" 2>&1
python3 - "$TMP/get.json" "$TMP/jobs.json" "$JOBS" <<'PY' && pass "GET .../job/rest.job and GET /api/v1beta1/jobs read the jobs back in Optimus's JSON" || { fail "REST job reads"; head -c 600 "$TMP/get.json"; }
import json, sys
spec = json.load(open(sys.argv[1]))["spec"]
listed = json.load(open(sys.argv[2]))["jobSpecificationResponses"]
ok = (spec["name"] == "rest.job" and spec["interval"] == "0 3 * * *" and spec["windowSize"] == "24h"
      and spec["assets"] == {"query.sql": "select 1"} and spec["destination"] == "bigquery://sample-project:rest.job"
      and len(listed) == int(sys.argv[3]) + 1 and any(r["job"]["name"] == "rest.job" for r in listed))
sys.exit(0 if ok else 1)
PY
curl -fsS -XDELETE "http://127.0.0.1:$http/api/v1beta1/project/sample-project/namespace/$ins/job/rest.job" >/dev/null \
  && for _ in $(seq 1 100); do [ -e "$DAGS/$ins/rest.job.py" ] || break; sleep 0.1; done
[ ! -e "$DAGS/$ins/rest.job.py" ] && pass "a REST delete removes its DAG" || fail "REST delete left the DAG"

# 2. Apache Airflow loads the folder (both template families).
check_airflow() {
  local version=$1 python=$2
  if [ -z "$python" ] || [ ! -x "$python" ]; then
    if [ "${OPTIMUS_REQUIRE_INFRA:-}" = 1 ]; then fail "Airflow $version is not installed (tools/dev/airflow install)"; else echo "skip: Airflow $version not installed"; fi
    return
  fi
  if "$ROOT/tools/dev/airflow" check-dags "$DAGS" --version "$version" >"$TMP/airflow$version.out" 2>&1; then
    local n
    n=$(python3 -c 'import json,sys; t=open(sys.argv[1]).read(); s=t[t.index("{"):]; print(len(json.loads(s[:s.rindex("}")+1])))' "$TMP/airflow$version.out" 2>/dev/null || echo "?")
    pass "Airflow $version loads the DAG folder with no import error ($n DAGs; $(grep -iE 'took|seconds' "$TMP/airflow$version.out" | tail -1))"
  else
    fail "Airflow $version reports import errors"; tail -20 "$TMP/airflow$version.out"
  fi
}
check_airflow 2 "${OPTIMUS_TEST_AIRFLOW2_PYTHON:-}"
sed -i 's/scheduler_version: .*/scheduler_version: "3.1"/' "$TMP/project/optimus.yaml"
grep -q 'scheduler_version: "3.1"' "$TMP/project/optimus.yaml" || sed -i 's/^  config:$/  config:\n    scheduler_version: "3.1"/' "$TMP/project/optimus.yaml"
deploy >"$TMP/deploy2.out" 2>&1
sleep 1  # the project change recompiles in the background of the (unchanged) deployment
if grep -q "Generated by Optimus for Airflow 3" "$DAGS/$(ls "$DAGS" | grep -v __lib | head -1)"/*.py 2>/dev/null; then
  pass "a new scheduler_version recompiles the project's DAGs for Airflow 3"
else
  fail "DAGs were not recompiled for Airflow 3"
fi
check_airflow 3 "${OPTIMUS_TEST_AIRFLOW3_PYTHON:-}"

# 3. One job writes another table: it and its readers are republished, nothing else.
find "$DAGS" -name '*.py' -exec sha256sum {} + | sort -k2 >"$TMP/before.sums"
read -r changed readers < <(python3 - "$TMP/project/manifest.json" <<'PY'
import json, sys
jobs = json.load(open(sys.argv[1]))["jobs"]
# A job whose readers reach it only through their SQL (a static dependency would keep the edge).
for j in jobs:
    readers = [k["name"] for k in jobs if j["name"] in k["upstream_jobs"]]
    only_sql = all(j["name"] in k["sources"] and k["upstream_jobs"].count(j["name"]) == 1
                   for k in jobs if j["name"] in k["upstream_jobs"])
    if 1 <= len(readers) <= 5 and only_sql:
        print(j["name"], ",".join(sorted(readers))); break
PY
)
spec=$(grep -rl "^name: $changed\$" "$TMP/project" --include=job.yaml | head -1)
sed -i 's/^    TABLE: \(.*\)$/    TABLE: \1_v2/' "$spec"
deploy >"$TMP/deploy3.out" 2>&1
find "$DAGS" -name '*.py' -exec sha256sum {} + | sort -k2 >"$TMP/after.sums"
got=$(diff "$TMP/before.sums" "$TMP/after.sums" | grep '^>' | awk '{print $3}' | xargs -n1 basename | sed 's/\.py$//' | sort | paste -sd, -)
want=$(echo "$changed,$readers" | tr ',' '\n' | sort | paste -sd, -)
[ "$got" = "$want" ] && pass "changing $changed republished it and its $(echo "$readers" | tr ',' '\n' | wc -l) readers, nothing else" \
  || fail "republished [$got], want [$want]"
grep -q "downstream jobs recompiled" "$TMP/deploy3.out" && pass "the CLI names the recompiled downstream jobs: $(grep 'recompiled because' "$TMP/deploy3.out" | cut -c1-100)" \
  || { fail "the CLI does not show recompiled jobs"; cat "$TMP/deploy3.out"; }

# 4. replace-all: a job removed from the folder loses its DAG.
read -r victim_ns victim < <(python3 - "$TMP/project/manifest.json" <<'PY'
import json, sys
jobs = json.load(open(sys.argv[1]))["jobs"]
used = {u for k in jobs for u in k["upstream_jobs"]}
top = [j for j in jobs if j["name"] not in used]
print(top[-1]["namespace"], top[-1]["name"])  # a job nobody reads
PY
)
victim_dir=$(dirname "$(grep -rl "^name: $victim\$" "$TMP/project" --include=job.yaml | head -1)")
rm -rf "$victim_dir"
"$BIN/optimus" job replace-all -d "$TMP/project" -N "$victim_ns" --host "127.0.0.1:$grpc" >"$TMP/deploy4.out" 2>&1
if [ ! -e "$DAGS/$victim_ns/$victim.py" ] && grep -q ", 1 deleted" "$TMP/deploy4.out"; then
  pass "replace-all deleted $victim and its DAG"
else
  fail "replace-all did not delete $victim"; cat "$TMP/deploy4.out"
fi

# 5. A job that others read is not deleted unless forced.
read -r used_ns used_job < <(python3 - "$TMP/project/manifest.json" "$changed" <<'PY'
import json, sys
jobs = json.load(open(sys.argv[1]))["jobs"]
changed = sys.argv[2]
for j in jobs:
    if j["name"] != changed and any(j["name"] in k["sources"] for k in jobs):
        print(j["namespace"], j["name"]); break
PY
)
if "$BIN/optimus" job delete "$used_job" -n "$used_ns" -d "$TMP/project" --host "127.0.0.1:$grpc" >"$TMP/delete1.out" 2>&1; then
  fail "job delete of a job others read exits 0"; cat "$TMP/delete1.out"
elif grep -q "not deleted: still read by" "$TMP/delete1.out" && [ -e "$DAGS/$used_ns/$used_job.py" ]; then
  pass "deleting $used_job, which others read, is refused and its DAG kept"
else
  fail "refused delete"; cat "$TMP/delete1.out"
fi
if "$BIN/optimus" job delete "$used_job" -n "$used_ns" --force -d "$TMP/project" --host "127.0.0.1:$grpc" >"$TMP/delete2.out" 2>&1 \
   && [ ! -e "$DAGS/$used_ns/$used_job.py" ]; then
  pass "with --force it is deleted"
else
  fail "forced delete"; cat "$TMP/delete2.out"
fi

# 6. An Airflow version the compiler has no template for is refused before anything changes.
sed -i 's/scheduler_version: .*/scheduler_version: "4.0"/' "$TMP/project/optimus.yaml"
deploy >"$TMP/deploy6.out" 2>&1
rc=$?
if [ "$rc" = 2 ] && grep -q 'scheduler_version "4.0" is not an Airflow 2.x or 3.x version' "$TMP/deploy6.out"; then
  pass "scheduler_version 4.0 is refused with a clear message"
else
  fail "scheduler_version 4.0 (exit $rc)"; cat "$TMP/deploy6.out"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
