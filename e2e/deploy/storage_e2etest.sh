#!/usr/bin/env bash
# Each project's DAGs where its storage_path says, as Optimus publishes them
# (<storage_path>/dags/__lib.py and <storage_path>/dags/<namespace>/<job>.py): one project on a
# local folder (file://), one on S3 (MinIO, credentials from its STORAGE secret: the server has
# none), one on GCS (fake-gcs-server through its JSON API). Moving a project's storage_path
# republishes its DAGs in the new place and removes them from the old one.
#   storage_e2etest.sh BIN_DIR EXAMPLES_DIR
set -uo pipefail
BIN=${1:?usage: storage_e2etest.sh BIN_DIR EXAMPLES_DIR}
EXAMPLES=${2:?usage: storage_e2etest.sh BIN_DIR EXAMPLES_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/common.sh"
require_servers OPTIMUS_TEST_S3_ENDPOINT OPTIMUS_TEST_S3_ACCESS_KEY OPTIMUS_TEST_S3_SECRET_KEY \
  OPTIMUS_TEST_S3_REGION OPTIMUS_TEST_GCS_ENDPOINT
TMP=$(mktemp -d)
pids=()
suffix=$RANDOM$RANDOM
S3_BUCKET=optimus-storage-e2e-$suffix
GCS_BUCKET=optimus-storage-e2e-$suffix
cleanup() {
  signal_children TERM 1 "${pids[@]}"
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  s3_remove_bucket "$S3_BUCKET"
  [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT

s3 PUT "$S3_BUCKET" >/dev/null || { fail "cannot create the S3 bucket"; summary; exit 1; }
GCS=$OPTIMUS_TEST_GCS_ENDPOINT
curl -fsS -XPOST "$GCS/storage/v1/b?project=e2e" -H 'Content-Type: application/json' \
  -d "{\"name\": \"$GCS_BUCKET\"}" >/dev/null || { fail "cannot create the GCS bucket"; summary; exit 1; }
gcs_get() { curl -fsS "$GCS/storage/v1/b/$GCS_BUCKET/o/$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1")?alt=media"; }

http=$(free_port)
grpc=$(free_port)
HOST=127.0.0.1:$grpc
# No S3 credentials in the server's environment: the S3 project brings its own.
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY STORAGE_EMULATOR_HOST="$GCS" \
  "$BIN/optimus" serve --data-dir "$TMP/data" --set plugins.dirs="$EXAMPLES/plugins" \
  --set http.port="$http" --set grpc.port="$grpc" --set log.format=json >"$TMP/serve.log" 2>&1 &
pids+=("$!")
wait_for 30 curl -fs -o /dev/null "http://127.0.0.1:$http/readyz" || { tail -20 "$TMP/serve.log"; exit 1; }

project() {  # NAME STORAGE_PATH: writes the project folder (one namespace, two jobs)
  local dir="$TMP/$1" job
  mkdir -p "$dir"
  cat >"$dir/optimus.yaml" <<YAML
version: 1
host: $HOST
project:
  name: $1
  config:
    storage_path: "$2"
    scheduler_host: http://127.0.0.1:8080
    scheduler_version: "2.10"
namespaces:
- name: team
  config: {}
  job:
    path: jobs
YAML
  for job in orders customers; do
    mkdir -p "$dir/jobs/$job/assets"
    cat >"$dir/jobs/$job/job.yaml" <<YAML
version: 3
name: $1.$job
owner: e2e@example.com
schedule:
  start_date: "2024-01-01"
  interval: "0 2 * * *"
task:
  name: shell
  window:
    size: 24h
YAML
    echo "echo $job" >"$dir/jobs/$job/assets/run.sh"
  done
}
cli() { local p=$1; shift; "$BIN/optimus" "$@" -d "$TMP/$p" --host "$HOST"; }

S3_PATH="s3://$S3_BUCKET/team-s3?endpoint=$OPTIMUS_TEST_S3_ENDPOINT&path_style=true&region=$OPTIMUS_TEST_S3_REGION"
project files "file://$TMP/airflow-a"
project s3p "$S3_PATH"
project gcs "gs://$GCS_BUCKET/composer"
for p in files s3p gcs; do cli "$p" project register >"$TMP/register-$p.log" 2>&1 || fail "register $p: $(tail -3 "$TMP/register-$p.log")"; done
cli s3p secret set STORAGE "{\"access_key_id\": \"$OPTIMUS_TEST_S3_ACCESS_KEY\", \"secret_access_key\": \"$OPTIMUS_TEST_S3_SECRET_KEY\"}" \
  >"$TMP/secret.log" 2>&1 && pass "the S3 project's credentials are its STORAGE secret" || fail "secret set STORAGE: $(cat "$TMP/secret.log")"
for p in files s3p gcs; do
  if cli "$p" deploy >"$TMP/deploy-$p.log" 2>&1 && grep -q "2 published" "$TMP/deploy-$p.log"; then
    pass "$p deploys: $(grep -o 'deployed.*' "$TMP/deploy-$p.log" | head -1)"
  else
    fail "$p deploy: $(tail -5 "$TMP/deploy-$p.log")"
  fi
done

has_dags() {  # WHERE: the DAGs and __lib.py of a project are readable there
  case "$1" in
    file:*) local d=${1#file://}; [ -s "$d/dags/__lib.py" ] && grep -q 'dag_id="files.orders"' "$d/dags/team/files.orders.py" 2>/dev/null ;;
    s3:*) s3 GET "$S3_BUCKET/team-s3/dags/__lib.py" >/dev/null 2>&1 && s3 GET "$S3_BUCKET/team-s3/dags/team/s3p.orders.py" 2>/dev/null | grep -q 'dag_id="s3p.orders"' ;;
    gs:*) local prefix=${1#gs://$GCS_BUCKET/}; gcs_get "$prefix/dags/__lib.py" >/dev/null 2>&1 && gcs_get "$prefix/dags/team/$2.orders.py" 2>/dev/null | grep -q "dag_id=\"$2.orders\"" ;;
  esac
}
has_dags "file://$TMP/airflow-a" && pass "file://: DAGs and __lib.py in $TMP/airflow-a/dags" || fail "file://: $(find "$TMP/airflow-a" 2>&1 | head)"
has_dags s3: && pass "s3://: DAGs and __lib.py under s3://$S3_BUCKET/team-s3/dags" || fail "s3://: $(s3 GET "$S3_BUCKET?list-type=2" 2>&1 | head -c 600)"
has_dags "gs://$GCS_BUCKET/composer" gcs && pass "gs://: DAGs and __lib.py under gs://$GCS_BUCKET/composer/dags" \
  || fail "gs://: $(curl -s "$GCS/storage/v1/b/$GCS_BUCKET/o" | head -c 600)"
ls "$TMP/data" >/dev/null
if find "$TMP/data" -path '*dags/team/*.py' 2>/dev/null | grep -q .; then
  fail "DAGs also landed in the server's own store: $(find "$TMP/data" -path '*dags/team/*.py' | head -3)"
else
  pass "nothing of the three projects in the server's own store"
fi

# Moving storage paths: the file project to another folder, the S3 project to GCS.
project files "file://$TMP/airflow-b"
project s3p "gs://$GCS_BUCKET/moved"
for p in files s3p; do cli "$p" project register >"$TMP/move-$p.log" 2>&1 || fail "re-register $p: $(tail -3 "$TMP/move-$p.log")"; done
if wait_for 30 has_dags "file://$TMP/airflow-b"; then
  pass "file:// moved: the DAGs are in airflow-b"
else
  fail "file:// move: $(find "$TMP/airflow-b" 2>&1 | head -5)"
fi
[ ! -e "$TMP/airflow-a/dags/team/files.orders.py" ] && pass "and gone from airflow-a" || fail "the old file DAG is still there"
if wait_for 30 has_dags "gs://$GCS_BUCKET/moved" s3p; then
  pass "s3:// to gs:// moved: the DAGs are under gs://$GCS_BUCKET/moved/dags"
else
  fail "s3 to gcs move: $(curl -s "$GCS/storage/v1/b/$GCS_BUCKET/o" | head -c 600)"
fi
wait_for 10 bash -c "! s3 GET '$S3_BUCKET/team-s3/dags/team/s3p.orders.py' >/dev/null 2>&1" 2>/dev/null
if s3 GET "$S3_BUCKET/team-s3/dags/team/s3p.orders.py" >/dev/null 2>&1; then
  fail "the old S3 DAG is still there"
else
  pass "and gone from S3"
fi
# A deleted job leaves the project's storage.
rm -rf "$TMP/gcs/jobs/customers"
cli gcs deploy >"$TMP/deploy-gcs2.log" 2>&1 || fail "gcs redeploy: $(tail -3 "$TMP/deploy-gcs2.log")"
if wait_for 10 bash -c "! curl -fs '$GCS/storage/v1/b/$GCS_BUCKET/o/composer%2Fdags%2Fteam%2Fgcs.customers.py' >/dev/null"; then
  pass "a deleted job's DAG leaves GCS"
else
  fail "gcs.customers.py is still in GCS"
fi
summary
