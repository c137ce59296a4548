#!/usr/bin/env bash
# The deploy pipeline in distributed mode: ingest, spec-store, plugin-manager,
# dependency-resolver and compiler as five processes on real Kafka (topics under a per-run
# prefix), PostgreSQL (a per-run database) and S3 (MinIO, a per-run prefix), all started by
# tools/dev. A generated project deploys; every DAG lands in S3 with the expected upstream
# sensors; a poison submission goes to the dead-letter topic and only its job fails; SIGKILL
# of the resolver and the compiler in the middle of a redeploy loses nothing; and SIGKILL of
# every service, one after another, in the middle of a larger deploy still ends with every DAG
# published once.
#   distributed_e2etest.sh BIN_DIR EXAMPLES_DIR [JOBS] [CHAOS_JOBS]
set -uo pipefail
BIN=${1:?usage: distributed_e2etest.sh BIN_DIR EXAMPLES_DIR [JOBS]}
EXAMPLES=${2:?usage: distributed_e2etest.sh BIN_DIR EXAMPLES_DIR [JOBS]}
JOBS=${3:-1000}
CHAOS_JOBS=${4:-5000}
. "$(dirname "$0")/../lib/common.sh"
require_servers "${DEV_SERVERS[@]}"
TMP=$(mktemp -d)
RUN=e2e$(date +%s)$RANDOM
pids=()
cleanup() {
  signal_children TERM 0 "${pids[@]}"
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  if [ -n "${OPTIMUS_E2E_KEEP:-}" ]; then  # for a post-mortem: the database and the logs stay
    echo "kept: database $RUN, files in $TMP"
    return
  fi
  psql "$OPTIMUS_TEST_PG_URI" -qc "DROP DATABASE IF EXISTS $RUN" >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT

psql "$OPTIMUS_TEST_PG_URI" -qc "CREATE DATABASE $RUN" >/dev/null || { fail "cannot create database $RUN"; exit 1; }
s3 PUT optimus-e2e >/dev/null 2>&1 || true  # the bucket may exist from an earlier run
export AWS_ACCESS_KEY_ID=$OPTIMUS_TEST_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$OPTIMUS_TEST_S3_SECRET_KEY
PG=${OPTIMUS_TEST_PG_URI%/*}/$RUN
# Tokens on: every process holds only their hashes, and the services call each other with the
# internal token (ingest asking dependency-resolver what a replace-all may delete).
ADMIN=opt_e2e-admin-$RUN-$RANDOM$RANDOM
OTHER=opt_e2e-other-$RUN-$RANDOM$RANDOM
AUTH=(-H "Authorization: Bearer $ADMIN")
export OPTIMUS_AUTH_BEARER_TOKEN=$ADMIN
TOKENS="admin=sha256:$(printf %s "$ADMIN" | sha256sum | cut -d' ' -f1),project:other=sha256:$(printf %s "$OTHER" | sha256sum | cut -d' ' -f1)"
COMMON=(--set "auth.tokens=$TOKENS" --set "auth.internal_token=e2e-internal-token-of-32-characters-$RUN"
        --set "bus.uri=kafka://$OPTIMUS_TEST_KAFKA_BROKERS?optimus.topic_prefix=$RUN."
        --set "db.uri=$PG"
        --set "blob.uri=s3://optimus-e2e/$RUN?endpoint=$OPTIMUS_TEST_S3_ENDPOINT&region=$OPTIMUS_TEST_S3_REGION&path_style=true"
        --set http.host=127.0.0.1 --set grpc.host=127.0.0.1 --set log.format=json
        --set "secrets.app_key=e2e-app-key-of-at-least-32-characters-$RUN")
start_service plugin-manager --set plugins.dirs="$EXAMPLES/plugins" || exit 1
start_service spec-store --set spec_store.change_events=true || exit 1
start_service dependency-resolver || exit 1
start_service compiler || exit 1
start_service ingest --set ingest.lineage_host="127.0.0.1:${GRPC[dependency-resolver]}" || exit 1
start_service runtime-context || exit 1
pass "six services ready on Kafka ($RUN.*), PostgreSQL ($RUN) and S3 (optimus-e2e/$RUN)"

"$BIN/gen-project" --out "$TMP/project" --jobs "$JOBS" --seed 5 >/dev/null
deploy() { "$BIN/optimus" deploy -d "$TMP/project" --host "127.0.0.1:${GRPC[ingest]}" --timeout 5m "$@"; }
if deploy >"$TMP/deploy1.out" 2>&1 && grep -q "$JOBS published, 0 unchanged, 0 deleted, 0 failed" "$TMP/deploy1.out"; then
  pass "distributed deploy: $(tail -1 "$TMP/deploy1.out")"
else
  fail "distributed deploy"; tail -5 "$TMP/deploy1.out"
fi
# Every DAG is in S3 with the sensors the generator expects.
check_dags() {  # [PROJECT MANIFEST]: every DAG of the project is in S3, nothing else
  s3_check_dags optimus-e2e "$RUN" "${1:-sample-project}" "${2:-$TMP/project/manifest.json}"
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

# A poison submission: a record on the submissions topic that is not a Submission but carries
# ingest's headers for a job of a live deployment. spec-store dead-letters it and reports that
# job failed; the rest of the deployment completes. (Through REST, in a project of its own.)
api=http://127.0.0.1:${HTTP[ingest]}/api/v1beta1
follow() {  # DEPLOYMENT_ID [CONDITION]: waits until the deployment is done (and CONDITION holds)
  for _ in $(seq 1 300); do
    curl -fsS "${AUTH[@]}" "$api/deployment/$1" >"$TMP/follow.json" 2>/dev/null &&
      python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["done"] and eval(sys.argv[2]) else 1)' "$TMP/follow.json" "${2:-True}" && return 0
    sleep 0.2
  done
  return 1
}
reg=$(curl -fsS "${AUTH[@]}" -XPOST "$api/project" -d '{"project": {"name": "poison", "config": {"scheduler_version": "2.10"}}}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["deploymentId"])')
follow "$reg" || fail "project registration through REST"
reg=$(curl -fsS "${AUTH[@]}" -XPOST "$api/project/poison/namespace" -d '{"namespace": {"name": "ns"}}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["deploymentId"])')
follow "$reg" && pass "project and namespace registered through REST" || fail "namespace registration through REST"
specs=$(python3 -c '
import json
print(json.dumps({"specs": [{"version": 1, "name": f"poison.job_{i}", "owner": "e2e@example.com",
    "startDate": "2024-01-01", "interval": "0 3 * * *", "taskName": "bq2bq", "windowSize": "24h",
    "config": [{"name": "PROJECT", "value": "poison"}, {"name": "DATASET", "value": "d"},
               {"name": "TABLE", "value": f"t{i}"}, {"name": "TOKEN", "value": "{{.secret.E2E_TOKEN}}"}],
    "assets": {"query.sql": f"select * from `poison.d.t{i - 1}`" if i else "select 1"}} for i in range(20)]}))')
did=$(curl -fsS "${AUTH[@]}" -XPOST "$api/project/poison/namespace/ns/jobs-upsert" -d "$specs" | python3 -c 'import json,sys; print(json.load(sys.stdin)["deploymentId"])')
KAFKA_HOME=${OPTIMUS_DEV_HOME:-$HOME/.cache/optimus-dev}/kafka
printf 'optimus_deployment_id:%s,optimus_job:poison.mangled\tpoison/ns\tthis is not a Submission\n' "$did" |
  java -Xmx128m -Dlog4j.configuration="file:$KAFKA_HOME/log4j-tools.properties" -cp "$KAFKA_HOME/libs/*" \
    kafka.tools.ConsoleProducer --bootstrap-server "$OPTIMUS_TEST_KAFKA_BROKERS" \
    --topic "$RUN.optimus.spec.submissions" --property parse.key=true --property parse.headers=true \
    >"$TMP/producer.log" 2>&1 || { fail "could not produce the poison record"; cat "$TMP/producer.log"; }
if follow "$did" 'd["failed"] == 1 and d["published"] == 20'; then
  python3 - "$TMP/follow.json" <<'PY' && pass "the poison record failed only its job; 20 published: $(grep -o '"error":"the submission[^"]*' "$TMP/follow.json" | cut -c10-120)" || fail "poison failure report"
import json, sys
d = json.load(open(sys.argv[1]))
bad = [c for c in d["changes"] if c["stage"] == "STAGE_FAILED"]
sys.exit(0 if len(bad) == 1 and bad[0]["job"] == "poison.mangled" and ".dlq" in bad[0]["error"] else 1)
PY
else
  fail "the deployment with a poison record did not complete as expected"; cat "$TMP/follow.json"; echo
fi

# Two ingest replicas share one consumer group, so each consumes the plugin records of only some
# partitions. A plugin published while both run must be known to both: a job naming it is
# accepted through either replica, whichever consumed its record.
if start_service ingest2 --set ingest.lineage_host="127.0.0.1:${GRPC[dependency-resolver]}"; then
  mkdir -p "$TMP/plugins-late"
  sed 's/^name: bq2bq$/name: bq2bq-late/' "$EXAMPLES/plugins/optimus-plugin-bq2bq.yaml" >"$TMP/plugins-late/optimus-plugin-bq2bq-late.yaml"
  kill -TERM "${PID[plugin-manager]}"; wait "${PID[plugin-manager]}" 2>/dev/null
  start_service plugin-manager --set plugins.dirs="$EXAMPLES/plugins,$TMP/plugins-late" || exit 1
  for _ in $(seq 1 150); do
    [ "$(psql "$PG" -Atc "SELECT count(*) FROM ingest.plugins WHERE name = 'bq2bq-late'" 2>/dev/null)" = 1 ] && break
    sleep 0.2
  done
  late_ok=0
  for replica in ingest ingest2; do
    late=$(python3 -c '
import json, sys
print(json.dumps({"specs": [{"version": 1, "name": "poison.late_" + sys.argv[1], "owner": "e2e@example.com",
    "startDate": "2024-01-01", "interval": "0 3 * * *", "taskName": "bq2bq-late", "windowSize": "24h",
    "config": [{"name": "PROJECT", "value": "poison"}, {"name": "DATASET", "value": "d"},
               {"name": "TABLE", "value": "late_" + sys.argv[1]}],
    "assets": {"query.sql": "select 1"}}]}))' "$replica")
    curl -sS "${AUTH[@]}" -XPOST "http://127.0.0.1:${HTTP[$replica]}/api/v1beta1/project/poison/namespace/ns/jobs-upsert" \
      -d "$late" >"$TMP/late-$replica.json" 2>&1
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d.get("successfulJobNames") and not d.get("failedJobNames") else 1)' \
      "$TMP/late-$replica.json" && late_ok=$((late_ok + 1))
  done
  if [ "$late_ok" = 2 ]; then
    pass "a plugin published while two ingest replicas run is accepted through both"
  else
    fail "a job naming a newly published plugin was refused by a replica"; cat "$TMP"/late-*.json; echo
  fi
  kill -TERM "${PID[ingest2]}"; wait "${PID[ingest2]}" 2>/dev/null
fi

# A secret set over REST on ingest reaches a job's run input from runtime-context (its own
# process, fed by Kafka), and is in the clear neither on Kafka nor in PostgreSQL.
token="e2e-secret-$RANDOM$RANDOM-it's"
curl -fsS "${AUTH[@]}" -XPOST "$api/project/poison/secret/e2e_token" \
  -d "{\"value\": \"$(printf '%s' "$token" | base64 -w0)\"}" >"$TMP/secret.json" 2>&1 || { fail "REST secret set"; cat "$TMP/secret.json"; }
rc=http://127.0.0.1:${HTTP[runtime-context]}/api/v1beta1/project/poison/job/poison.job_3/run_input
for _ in $(seq 1 100); do
  curl -fsS "${AUTH[@]}" -XPOST "$rc" -d '{"scheduled_at": "2024-03-07T02:00:00Z", "instance_type": "TYPE_TASK"}' \
    >"$TMP/run-input.json" 2>/dev/null &&
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["secrets"].get("TOKEN")==sys.argv[2] else 1)' "$TMP/run-input.json" "$token" && break
  sleep 0.2
done
kcat -b "$OPTIMUS_TEST_KAFKA_BROKERS" -C -t "$RUN.optimus.secrets" -o beginning -e -q -f '%s\n' >"$TMP/secrets-topic.bin" 2>/dev/null
if python3 - "$TMP/run-input.json" "$token" <<'PY' && [ -s "$TMP/secrets-topic.bin" ] && ! grep -qF "$token" "$TMP/secrets-topic.bin" &&
import json, sys
d = json.load(open(sys.argv[1]))
ok = (d["secrets"].get("TOKEN") == sys.argv[2] and "TOKEN" not in d["envs"]
      and d["envs"]["DEND"] and d["envs"]["JOB_DESTINATION"] == "bigquery://poison:d.t3"
      and d["envs"]["TABLE"] == "t3")
sys.exit(0 if ok else 1)
PY
   psql "$PG" -Atc "SELECT encode(sealed, 'escape') FROM ingest.secrets; SELECT encode(record, 'escape') FROM runtime_context.secrets" >"$TMP/secrets-rows.txt" 2>&1 &&
   [ "$(grep -c . "$TMP/secrets-rows.txt")" -ge 2 ] && ! grep -qF "$token" "$TMP/secrets-rows.txt"; then
  pass "a REST secret reaches poison.job_3's run input from runtime-context; sealed on Kafka and in PostgreSQL"
else
  fail "run input with a secret in distributed mode"; head -c 600 "$TMP/run-input.json"; echo; tail -3 "$TMP/runtime-context.log"
fi

# Another project's token gets no run input from runtime-context, and the refusal is counted.
code=$(curl -s -o "$TMP/denied.json" -w '%{http_code}' -H "Authorization: Bearer $OTHER" -XPOST "$rc" \
  -d '{"scheduled_at": "2024-03-07T02:00:00Z", "instance_type": "TYPE_TASK"}')
if [ "$code" = 403 ] && grep -q 'cannot act on project' "$TMP/denied.json" && ! grep -qF "$token" "$TMP/denied.json" &&
   curl -fsS "http://127.0.0.1:${HTTP[runtime-context]}/metrics" >"$TMP/rc-metrics.txt" &&
   grep -qF 'optimus_auth_denials_total{reason="project",route="POST /api/v1beta1/project/{project_name}/job/{job_name}/run_input"} 1' "$TMP/rc-metrics.txt"; then
  pass "runtime-context refuses another project's token with 403 and counts it"
else
  fail "another project's token on runtime-context: $code $(head -c 300 "$TMP/denied.json")"
fi

# Optimus-compatible change events, read back with a standard Kafka client (kcat) and decoded
# with protoc: one JOB_CREATE per stored job of the poison project (the mangled one was never
# stored).
kcat -b "$OPTIMUS_TEST_KAFKA_BROKERS" -C -t "$RUN.optimus.changes" -o beginning -e -q \
  -f '%p %o %k\n' >"$TMP/changes.txt" 2>"$TMP/kcat.log" || { fail "kcat could not read optimus.changes"; cat "$TMP/kcat.log"; }
n=$(grep -c ' poison/poison\.job_' "$TMP/changes.txt" || true)
u=$(grep ' poison/poison\.job_' "$TMP/changes.txt" | cut -d' ' -f3 | sort -u | wc -l)
read -r part offs _ < <(grep -m1 ' poison/poison\.job_' "$TMP/changes.txt")
kcat -b "$OPTIMUS_TEST_KAFKA_BROKERS" -C -t "$RUN.optimus.changes" -p "${part:-0}" -o "${offs:-0}" \
  -c 1 -e -q -f '%s' >"$TMP/change.bin" 2>>"$TMP/kcat.log"
PROTO=$(cd "$(dirname "$0")/../../proto" && pwd)
decoded=$(protoc --decode=gotocompany.optimus.integration.v1beta1.OptimusChangeEvent -I "$PROTO" \
  -I /usr/include "$PROTO/optimus/integration/v1beta1/event.proto" <"$TMP/change.bin" 2>&1)
if [ "$n" = 20 ] && [ "$u" = 20 ] && echo "$decoded" | grep -q 'event_type: EVENT_TYPE_JOB_CREATE' &&
   echo "$decoded" | grep -q 'project_name: "poison"' && echo "$decoded" | grep -q 'task_name: "bq2bq"'; then
  pass "20 OptimusChangeEvents on Kafka for the poison project, read by kcat and decoded by protoc"
else
  fail "change events: $n records ($u jobs) for poison; decoded: $(echo "$decoded" | head -5 | tr '\n' ' ')"
fi
"$BIN/optimus" dlq list optimus.spec.submissions.dlq --bus "kafka://$OPTIMUS_TEST_KAFKA_BROKERS?optimus.topic_prefix=$RUN." -o json >"$TMP/dlq.json" 2>"$TMP/dlq.err"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["records"]; sys.exit(0 if len(r)==1 and r[0]["group"]=="spec-store" and r[0]["key"]=="poison/ns" else 1)' "$TMP/dlq.json" \
  && pass "optimus dlq list shows it in optimus.spec.submissions.dlq, dead-lettered by spec-store" || { fail "dead-letter topic"; cat "$TMP/dlq.json" "$TMP/dlq.err"; }

# A run's events posted to runtime-context come out on Kafka in order, once each, in our schema
# (optimus.job.runs) and Optimus's (optimus.changes), read by kcat and decoded by protoc.
for t in TYPE_SENSOR_START TYPE_SENSOR_SUCCESS TYPE_TASK_START TYPE_TASK_SUCCESS TYPE_JOB_SUCCESS; do
  curl -fsS "${AUTH[@]}" -XPOST "http://127.0.0.1:${HTTP[runtime-context]}/api/v1beta1/project/poison/namespace/ns/job/poison.job_5/event" \
    -d "{\"event\": {\"type\": \"$t\", \"value\": {\"status\": \"running\", \"event_time\": 1709776800.0, \"task_id\": \"t\", \"scheduled_at\": \"2024-03-07T03:00:00Z\"}}}" \
    >/dev/null 2>&1 || fail "posting $t"
done
decode() {  # TOPIC MESSAGE FILE...: each record's payload of poison/poison.job_5, decoded, one line each
  local topic=$1 message=$2 file=$3 part offs key
  kcat -b "$OPTIMUS_TEST_KAFKA_BROKERS" -C -t "$RUN.$topic" -o beginning -e -q -f '%p %o %k\n' 2>/dev/null |
    while read -r part offs key; do
      [ "$key" = "poison/poison.job_5" ] || continue
      kcat -b "$OPTIMUS_TEST_KAFKA_BROKERS" -C -t "$RUN.$topic" -p "$part" -o "$offs" -c 1 -e -q -f '%s' 2>/dev/null |
        protoc --decode="$message" -I "$PROTO" -I /usr/include "$file" | grep -E '^(type|event_type):' | tr '\n' ' '
      echo
    done
}
for _ in $(seq 1 50); do
  runs=$(decode optimus.job.runs optimus.events.v1.JobRunEvent "$PROTO/optimus/events/v1/runs.proto" | paste -sd'|')
  [ "$(echo "$runs" | tr '|' '\n' | grep -c .)" -ge 5 ] && break
  sleep 0.2
done
changes=$(decode optimus.changes gotocompany.optimus.integration.v1beta1.OptimusChangeEvent "$PROTO/optimus/integration/v1beta1/event.proto" | grep -E 'WAIT_UPSTREAM|IN_PROGRESS|JOB_SUCCESS|JOB_FAILURE' | paste -sd'|')
want_runs='type: "sensor_start" |type: "sensor_success" |type: "task_start" |type: "task_success" |type: "job_success" '
want_changes='event_type: EVENT_TYPE_JOB_WAIT_UPSTREAM |event_type: EVENT_TYPE_JOB_IN_PROGRESS |event_type: EVENT_TYPE_JOB_SUCCESS '
if [ "$runs" = "$want_runs" ] && [ "$changes" = "$want_changes" ]; then
  pass "a run's 5 events are on Kafka in order, once each, as JobRunEvent and as OptimusChangeEvent (kcat + protoc)"
else
  fail "run events on Kafka: runs [$runs] changes [$changes]"
fi


# SIGKILL in the middle of a redeploy: every job is republished exactly once, nothing is lost.
for f in $(find "$TMP/project" -name query.sql | sort | head -100); do echo "-- v2" >>"$f"; done
deploy -o json >"$TMP/deploy2.json" 2>"$TMP/deploy2.err" &
cli=$!
sleep 0.3
kill -KILL "${PID[dependency-resolver]}" "${PID[compiler]}"
pass "SIGKILLed dependency-resolver and compiler mid-deploy"
sleep 1
start_service dependency-resolver || exit 1
start_service compiler || exit 1
wait "$cli"
python3 - "$TMP/deploy2.json" <<'PY' && pass "after restart the redeploy completes: 100 published, the rest unchanged, none failed" || { fail "redeploy after SIGKILL"; tail -c 3000 "$TMP/deploy2.json"; tail -c 1000 "$TMP/deploy2.err"; }
import json, sys
t = open(sys.argv[1]).read()
j = json.loads(t[t.index("{"):])
print("published", j["published"], "unchanged", j["unchanged"], "failed", len(j["failed"]))
sys.exit(0 if j["published"] >= 100 and not j["failed"] and all(d["done"] for d in j["deployments"]) else 1)
PY
check_dags && pass "still exactly one DAG per job in S3" || fail "S3 objects differ after the SIGKILL"
rows=$(psql "$PG" -tAc "SELECT count(*), count(DISTINCT job_key) FROM compiler.dags WHERE job_key LIKE 'sample-project/%'")
[ "$rows" = "$JOBS|$JOBS" ] && pass "the compiler records $JOBS DAGs, one per job" || fail "compiler rows: $rows"

# SIGKILL of every service, one after another, in the middle of a larger deploy; each restarts.
"$BIN/gen-project" --out "$TMP/chaos" --jobs "$CHAOS_JOBS" --seed 9 --project chaos >/dev/null
nsc=$(python3 -c 'import json,sys; print(len({j["namespace"] for j in json.load(open(sys.argv[1]))["jobs"]}))' "$TMP/chaos/manifest.json")
started=$(date +%s.%N)
"$BIN/optimus" deploy -d "$TMP/chaos" --host "127.0.0.1:${GRPC[ingest]}" --timeout 10m -o json >"$TMP/chaos.json" 2>"$TMP/chaos.err" &
cli=$!
# ingest once it has taken every namespace: a deploy call in flight would fail the CLI.
for _ in $(seq 1 600); do
  [ "$(grep 'deployment accepted' "$TMP/ingest.log" | grep -c '"chaos"')" -ge "$nsc" ] && break
  sleep 0.1
done
killed=()
for svc in ingest spec-store dependency-resolver compiler plugin-manager; do
  kill -0 "$cli" 2>/dev/null || break  # the deploy already finished
  kill -KILL "${PID[$svc]}"
  wait "${PID[$svc]}" 2>/dev/null
  killed+=("$svc@$(python3 -c "import sys; print(round(float(sys.argv[1]) - float(sys.argv[2]), 1))" "$(date +%s.%N)" "$started")s")
  case $svc in
    ingest) start_service ingest --set ingest.lineage_host="127.0.0.1:${GRPC[dependency-resolver]}" || exit 1 ;;
    plugin-manager) start_service plugin-manager --set plugins.dirs="$EXAMPLES/plugins" || exit 1 ;;
    spec-store) start_service spec-store --set spec_store.change_events=true || exit 1 ;;
    *) start_service "$svc" || exit 1 ;;
  esac
  sleep 1
done
[ "${#killed[@]}" = 5 ] && pass "SIGKILLed and restarted every service mid-deploy of $CHAOS_JOBS jobs: ${killed[*]}" \
  || fail "the deploy finished before every service was killed (killed: ${killed[*]:-none})"
wait "$cli"
took=$(python3 -c "import sys; print(round(float(sys.argv[1]) - float(sys.argv[2]), 1))" "$(date +%s.%N)" "$started")
python3 - "$TMP/chaos.json" "$CHAOS_JOBS" <<'PY' && pass "the $CHAOS_JOBS-job deploy completed in $took s: every job published, none failed" || { fail "deploy under SIGKILLs"; tail -c 3000 "$TMP/chaos.json"; tail -c 1000 "$TMP/chaos.err"; }
import json, sys
t = open(sys.argv[1]).read()
j = json.loads(t[t.index("{"):])
print("published", j["published"], "failed", len(j["failed"]), "deployments done", all(d["done"] for d in j["deployments"]))
sys.exit(0 if j["published"] == int(sys.argv[2]) and not j["failed"] and all(d["done"] for d in j["deployments"]) else 1)
PY
check_dags chaos "$TMP/chaos/manifest.json" && pass "exactly one DAG per job of chaos in S3" || fail "chaos S3 objects differ"
rows=$(psql "$PG" -tAc "SELECT count(*), count(DISTINCT job_key) FROM compiler.dags WHERE job_key LIKE 'chaos/%'")
[ "$rows" = "$CHAOS_JOBS|$CHAOS_JOBS" ] && pass "the compiler records $CHAOS_JOBS chaos DAGs, one per job" || fail "compiler rows for chaos: $rows"
bad=0
while read -r ns name ups; do
  got=$(s3 GET "optimus-e2e/$RUN/chaos/dags/$ns/$name.py" | grep -o 'upstream_job="[^"]*"' | cut -d'"' -f2 | sort -u | paste -sd, -)
  [ "$got" = "$ups" ] || { bad=$((bad + 1)); echo "$name: sensors [$got], want [$ups]"; }
done < <(python3 -c 'import json,sys,random; jobs=json.load(open(sys.argv[1]))["jobs"]; random.seed(3)
for j in random.sample(jobs, 60): print(j["namespace"], j["name"], ",".join(sorted(set(j["upstream_jobs"]))) or "")' "$TMP/chaos/manifest.json")
[ "$bad" = 0 ] && pass "60 sampled chaos DAGs have exactly their upstream sensors" || fail "$bad sampled chaos DAGs have wrong sensors"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
