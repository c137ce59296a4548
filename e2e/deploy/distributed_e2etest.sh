#!/usr/bin/env bash
# The deploy pipeline in distributed mode: ingest, spec-store, plugin-manager,
# dependency-resolver and compiler as five processes on real Kafka (topics under a per-run
# prefix), PostgreSQL (a per-run database) and S3 (MinIO, a per-run prefix), all started by
# tools/dev. A generated project deploys; every DAG lands in S3 with the expected upstream
# sensors; SIGKILL of the resolver and the compiler in the middle of a redeploy loses nothing.
#   distributed_e2etest.sh BIN_DIR EXAMPLES_DIR [JOBS]
set -uo pipefail
BIN=${1:?usage: distributed_e2etest.sh BIN_DIR EXAMPLES_DIR [JOBS]}
EXAMPLES=${2:?usage: distributed_e2etest.sh BIN_DIR EXAMPLES_DIR [JOBS]}
JOBS=${3:-500}
[ "$JOBS" -le 900 ] || { echo "usage: at most 900 jobs (one S3 list page)"; exit 2; }
for v in OPTIMUS_TEST_KAFKA_BROKERS OPTIMUS_TEST_PG_URI OPTIMUS_TEST_S3_ENDPOINT OPTIMUS_TEST_S3_ACCESS_KEY \
         OPTIMUS_TEST_S3_SECRET_KEY OPTIMUS_TEST_S3_REGION; do
  if [ -z "${!v:-}" ]; then
    if [ "${OPTIMUS_REQUIRE_INFRA:-}" = 1 ]; then echo "FAIL: $v is not set (tools/dev/up; eval \"\$(tools/dev/env)\")"; echo "0 passed, 1 failed"; exit 1; fi
    echo "skip: $v is not set (tools/dev/up; eval \"\$(tools/dev/env)\")"; exit 0
  fi
done
TMP=$(mktemp -d)
RUN=e2e$(date +%s)$RANDOM
passed=0
failed=0
pids=()
pass() { passed=$((passed + 1)); echo "ok: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
s3() {  # METHOD PATH [curl args...]: a SigV4-signed request to the dev S3 server
  local method=$1 path=$2; shift 2
  curl -fsS -X "$method" --aws-sigv4 "aws:amz:$OPTIMUS_TEST_S3_REGION:s3" \
    --user "$OPTIMUS_TEST_S3_ACCESS_KEY:$OPTIMUS_TEST_S3_SECRET_KEY" "$OPTIMUS_TEST_S3_ENDPOINT/$path" "$@"
}
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  psql "$OPTIMUS_TEST_PG_URI" -qc "DROP DATABASE IF EXISTS $RUN" >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT

psql "$OPTIMUS_TEST_PG_URI" -qc "CREATE DATABASE $RUN" >/dev/null || { fail "cannot create database $RUN"; exit 1; }
s3 PUT optimus-e2e >/dev/null 2>&1 || true  # the bucket may exist from an earlier run
export AWS_ACCESS_KEY_ID=$OPTIMUS_TEST_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$OPTIMUS_TEST_S3_SECRET_KEY
PG=${OPTIMUS_TEST_PG_URI%/*}/$RUN
COMMON=(--set "bus.uri=kafka://$OPTIMUS_TEST_KAFKA_BROKERS?optimus.topic_prefix=$RUN."
        --set "db.uri=$PG"
        --set "blob.uri=s3://optimus-e2e/$RUN?endpoint=$OPTIMUS_TEST_S3_ENDPOINT&region=$OPTIMUS_TEST_S3_REGION&path_style=true"
        --set http.host=127.0.0.1 --set grpc.host=127.0.0.1 --set log.format=json)
declare -A HTTP GRPC PID
start() {  # service [extra flags]
  local name=$1; shift
  HTTP[$name]=${HTTP[$name]:-$(free_port)}
  GRPC[$name]=${GRPC[$name]:-$(free_port)}
  "$BIN/optimus-$name" "${COMMON[@]}" --set http.port="${HTTP[$name]}" --set grpc.port="${GRPC[$name]}" "$@" \
    >>"$TMP/$name.log" 2>&1 &
  PID[$name]=$!
  pids+=("$!")
  for _ in $(seq 1 150); do
    curl -fsS "http://127.0.0.1:${HTTP[$name]}/readyz" >/dev/null 2>&1 && return 0
    kill -0 "${PID[$name]}" 2>/dev/null || break
    sleep 0.1
  done
  fail "optimus-$name never became ready"; tail -5 "$TMP/$name.log"; return 1
}
start plugin-manager --set plugins.dirs="$EXAMPLES/plugins" || exit 1
start spec-store || exit 1
start dependency-resolver || exit 1
start compiler || exit 1
start ingest --set ingest.lineage_host="127.0.0.1:${GRPC[dependency-resolver]}" || exit 1
pass "five services ready on Kafka ($RUN.*), PostgreSQL ($RUN) and S3 (optimus-e2e/$RUN)"

"$BIN/gen-project" --out "$TMP/project" --jobs "$JOBS" --seed 5 >/dev/null
deploy() { "$BIN/optimus" deploy -d "$TMP/project" --host "127.0.0.1:${GRPC[ingest]}" --timeout 5m "$@"; }
if deploy >"$TMP/deploy1.out" 2>&1 && grep -q "$JOBS published, 0 unchanged, 0 deleted, 0 failed" "$TMP/deploy1.out"; then
  pass "distributed deploy: $(tail -1 "$TMP/deploy1.out")"
else
  fail "distributed deploy"; tail -5 "$TMP/deploy1.out"
fi
# Every DAG is in S3 with the sensors the generator expects.
check_dags() {
  # One page of up to 1,000 keys: this test deploys fewer jobs than that.
  s3 GET "optimus-e2e?list-type=2&max-keys=1000&prefix=$RUN%2Fsample-project%2Fdags%2F" >"$TMP/list.xml" || return 1
  python3 - "$TMP/project/manifest.json" "$TMP/list.xml" "$RUN" <<'PY'
import json, re, sys
manifest = json.load(open(sys.argv[1]))
keys = set(re.findall(r"<Key>([^<]+)</Key>", open(sys.argv[2]).read()))
run = sys.argv[3]
want = {f"{run}/sample-project/dags/{j['namespace']}/{j['name']}.py" for j in manifest["jobs"]}
want.add(f"{run}/sample-project/dags/__lib.py")
missing, extra = want - keys, keys - want
print(len(keys), "objects;", len(missing), "missing;", len(extra), "extra")
sys.exit(1 if missing or extra else 0)
PY
}
check_dags && pass "every DAG and __lib.py is in S3, nothing else" || fail "S3 objects differ from the project"
sample=$(python3 -c 'import json,sys; j=[j for j in json.load(open(sys.argv[1]))["jobs"] if j["upstream_jobs"]][0]; print(j["namespace"], j["name"], ",".join(sorted(set(j["upstream_jobs"]))))' "$TMP/project/manifest.json")
read -r ns name ups <<<"$sample"
got=$(s3 GET "optimus-e2e/$RUN/sample-project/dags/$ns/$name.py" | grep -o 'upstream_job="[^"]*"' | cut -d'"' -f2 | sort | paste -sd, -)
[ "$got" = "$ups" ] && pass "$name waits for exactly $ups" || fail "$name sensors [$got], want [$ups]"

# The CLI asks ingest, which passes lineage questions on to the resolver.
inspect=$("$BIN/optimus" job inspect "$name" -d "$TMP/project" --host "127.0.0.1:${GRPC[ingest]}" -o json 2>&1)
got=$(echo "$inspect" | python3 -c 'import json,sys; print(",".join(sorted({u["job"] for u in json.load(sys.stdin)["upstreams"]})))' 2>/dev/null)
[ "$got" = "$ups" ] && pass "optimus job inspect through ingest lists the same upstreams" || { fail "job inspect: [$got]"; echo "$inspect" | head -5; }

# SIGKILL in the middle of a redeploy: every job is republished exactly once, nothing is lost.
for f in $(find "$TMP/project" -name query.sql | sort | head -100); do echo "-- v2" >>"$f"; done
deploy -o json >"$TMP/deploy2.json" 2>&1 &
cli=$!
sleep 0.3
kill -KILL "${PID[dependency-resolver]}" "${PID[compiler]}"
pass "SIGKILLed dependency-resolver and compiler mid-deploy"
sleep 1
start dependency-resolver || exit 1
start compiler || exit 1
wait "$cli"
python3 - "$TMP/deploy2.json" <<'PY' && pass "after restart the redeploy completes: 100 published, the rest unchanged, none failed" || { fail "redeploy after SIGKILL"; cat "$TMP/deploy2.json" | tail -20; }
import json, sys
t = open(sys.argv[1]).read()
j = json.loads(t[t.index("{"):])
print("published", j["published"], "unchanged", j["unchanged"], "failed", len(j["failed"]))
sys.exit(0 if j["published"] >= 100 and not j["failed"] and all(d["done"] for d in j["deployments"]) else 1)
PY
check_dags && pass "still exactly one DAG per job in S3" || fail "S3 objects differ after the SIGKILL"
rows=$(psql "$PG" -tAc "SELECT count(*), count(DISTINCT job_key) FROM compiler.dags")
[ "$rows" = "$JOBS|$JOBS" ] && pass "the compiler records $JOBS DAGs, one per job" || fail "compiler rows: $rows"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
