#!/usr/bin/env bash
# The dashboards and alerts against real data: a real Prometheus scrapes every second while a
# whole deployment works, then every panel query of every dashboard must return series, and
# every metric an alert rule reads must exist. A panel that can never show data fails this test.
#   embedded:    `optimus serve` while tools/demo (the main job: deploys, run inputs, an
#                executor, the native scheduler, a replay) runs, plus a REST run input and a job
#                event;
#   distributed: the seven services as processes on PostgreSQL, Kafka and S3, each scraped on its
#                own (file discovery), while the distributed native-scheduling e2e runs a
#                200-job project with two dispatchers and two executors.
#   observability_e2etest.sh REPO_DIR [embedded | distributed BIN_DIR SCHEDULE_CHECK]
set -uo pipefail
ROOT=${1:?usage: observability_e2etest.sh REPO_DIR [embedded | distributed BIN_DIR SCHEDULE_CHECK]}
MODE=${2:-embedded}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/common.sh"
require_servers OPTIMUS_TEST_PROMTOOL
PROMETHEUS=$(dirname "$OPTIMUS_TEST_PROMTOOL")/prometheus
[ -x "$PROMETHEUS" ] || { fail "no prometheus next to $OPTIMUS_TEST_PROMTOOL"; summary; exit 1; }
TMP=$(mktemp -d)
pids=()
cleanup() {
  signal_children TERM 1 "${pids[@]}"
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT

export OPTIMUS_HTTP_PORT=$(free_port) OPTIMUS_GRPC_PORT=$(free_port)
prom_port=$(free_port)
mkdir -p "$TMP/targets"
if [ "$MODE" = distributed ]; then
  scrape="file_sd_configs: [{files: ['$TMP/targets/*.json'], refresh_interval: 1s}]"
else
  scrape="static_configs: [{targets: ['127.0.0.1:$OPTIMUS_HTTP_PORT']}]"
fi
cat >"$TMP/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
- job_name: optimus
  $scrape
YAML
"$PROMETHEUS" --config.file "$TMP/prometheus.yml" --storage.tsdb.path "$TMP/tsdb" \
  --web.listen-address "127.0.0.1:$prom_port" >"$TMP/prometheus.log" 2>&1 &
pids+=("$!")
PROM=http://127.0.0.1:$prom_port
wait_for 30 curl -fs -o /dev/null "$PROM/-/ready" || { fail "prometheus did not start: $(tail -3 "$TMP/prometheus.log")"; summary; exit 1; }

if [ "$MODE" = distributed ]; then
  BIN=${3:?distributed mode needs BIN_DIR}
  CHECK=${4:?distributed mode needs SCHEDULE_CHECK}
  if OPTIMUS_E2E_SCRAPE_DIR=$TMP/targets "$ROOT/e2e/scheduling/scheduling_e2etest.sh" "$BIN" "$CHECK" \
       "$ROOT/examples" 200 distributed >"$TMP/e2e.log" 2>&1; then
    pass "the distributed scheduling e2e ran with Prometheus scraping its $(ls "$TMP/targets" | wc -l) services: $(tail -1 "$TMP/e2e.log")"
  else
    fail "the distributed scheduling e2e failed: $(grep -E '^FAIL' "$TMP/e2e.log" | head -5)"
  fi
else
  (cd "$ROOT" && exec tools/demo) >"$TMP/demo.log" 2>&1 &
  demo=$!
  pids+=("$demo")
  # Once the sample project is deployed: a run input over REST and a job event, as Airflow sends.
  if wait_for 600 grep -q "An executor dials in" "$TMP/demo.log"; then
    api=http://127.0.0.1:$OPTIMUS_HTTP_PORT/api/v1beta1/project/sample-project
    curl -fsS -XPOST "$api/job/sample-project.sales_marts.daily_revenue/run_input" \
      -d '{"scheduled_at": "2024-03-07T02:00:00Z", "instance_name": "bq2bq", "instance_type": "TYPE_TASK"}' >/dev/null \
      || fail "REST run input"
    curl -fsS -XPOST "$api/namespace/sales/job/sample-project.sales_marts.daily_revenue/event" \
      -d '{"event": {"type": "TYPE_TASK_START", "value": {"task_id": "bq2bq", "status": "running", "scheduled_at": "2024-03-07T02:00:00Z", "event_time": 1709776800}}}' >/dev/null \
      || fail "a job event"
  else
    fail "the demo never reached its executor step: $(tail -20 "$TMP/demo.log")"
  fi
  if wait "$demo"; then pass "tools/demo ran with Prometheus scraping it"; else fail "tools/demo failed: $(tail -20 "$TMP/demo.log")"; fi
fi

# The span in which Prometheus scraped the deployment (first to last good scrape of any target):
# each query is evaluated over it, and passes when it has a series at some point (services of a
# distributed run come and go: one dispatcher is killed halfway).
span=$(curl -fsS "$PROM/api/v1/query" --data-urlencode 'query=min(min_over_time(timestamp(up == 1)[30m:1s]))' |
  python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")')
at=$(curl -fsS "$PROM/api/v1/query" --data-urlencode 'query=max(max_over_time(timestamp(up == 1)[30m:1s]))' |
  python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")')
[ -n "$at" ] && [ -n "$span" ] || { fail "Prometheus never scraped a server"; summary; exit 1; }
pass "Prometheus scraped $(curl -fsS "$PROM/api/v1/query" --data-urlencode 'query=count(count_over_time(up[30m]))' |
  python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)') target(s) for $(( ${at%.*} - ${span%.*} )) s"
python3 - "$ROOT" "$PROM" "$span" "$at" <<'PY' && pass "every dashboard panel query returns series, and every metric an alert reads exists" || fail "panels or alerts without data (above)"
import glob, json, os, re, sys, urllib.parse, urllib.request, yaml
root, prom, start, end = sys.argv[1:5]
def query(expr):
    url = prom + "/api/v1/query_range?" + urllib.parse.urlencode(
        {"query": expr, "start": start, "end": end, "step": "2"})
    with urllib.request.urlopen(url, timeout=30) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError(body)
    return body["data"]["result"]
bad = 0
panels = 0
for path in sorted(glob.glob(os.path.join(root, "helm/optimus/dashboards/*.json"))):
    dashboard = json.load(open(path))
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            panels += 1
            expr = re.sub(r"\$(namespace|service|instance)", ".*", target["expr"])
            try:
                result = query(expr)
            except Exception as e:
                print(f"  {os.path.basename(path)}: {panel['title']}: query fails: {e}")
                bad += 1
                continue
            if not result:
                print(f"  {os.path.basename(path)}: {panel['title']}: no series for {target['expr']}")
                bad += 1
print(f"  {panels} panel queries evaluated")
rules = yaml.safe_load(open(os.path.join(root, "helm/optimus/files/alerts.yaml")))
metrics = set()
for group in rules["groups"]:
    for rule in group["rules"]:
        metrics.update(m for m in re.findall(r"\b(optimus_[a-z_]+|up)\b(?=\{|\[|\))", rule["expr"]))
# Each alert's own expression must evaluate on this data too (it returns series only while
# firing, which a healthy run must not do for most of them).
firing = 0
for group in rules["groups"]:
    for rule in group["rules"]:
        try:
            firing += bool(query(rule["expr"]))
        except Exception as e:
            print(f"  alert {rule['alert']}: expression fails: {e}")
            bad += 1
print(f"  {sum(len(g['rules']) for g in rules['groups'])} alert expressions evaluated, {firing} fired at some point")
for name in sorted(metrics):
    if not query(f"count({name})"):
        print(f"  alert metric {name} has no series")
        bad += 1
print(f"  {len(metrics)} metrics the alerts read")
sys.exit(1 if bad else 0)
PY
summary
