#!/usr/bin/env bash
# Every executable starts from config, serves /healthz, /readyz and a /metrics that promtool
# accepts, and stops cleanly on SIGTERM; bad config stops it at start with one clear line.
#   services_e2etest.sh BIN_DIR
set -uo pipefail
BIN=${1:?usage: services_e2etest.sh BIN_DIR}
PROMTOOL=${OPTIMUS_TEST_PROMTOOL:-}
if [ -z "$PROMTOOL" ] || [ ! -x "$PROMTOOL" ]; then
  echo "OPTIMUS_TEST_PROMTOOL is not set: run tools/dev/promtool install and source tools/dev/env"
  exit 1
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Starts a program, waits for readiness, checks health and metrics, then SIGTERMs it.
check_running() {
  local label=$1; shift
  local http grpc log=$TMP/$label.log
  http=$(free_port); grpc=$(free_port)
  "$@" --set http.port="$http" --set grpc.port="$grpc" --set http.host=127.0.0.1 \
       --set grpc.host=127.0.0.1 >"$log" 2>&1 &
  local pid=$! ready=0
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$http/readyz" >/dev/null 2>&1; then ready=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ "$ready" = 1 ]; then pass "$label is ready"; else fail "$label never became ready"; cat "$log"; kill -9 "$pid" 2>/dev/null; return; fi
  curl -fsS "http://127.0.0.1:$http/healthz" | grep -q '"status":"ok"' && pass "$label /healthz ok" || fail "$label /healthz"
  curl -fsS "http://127.0.0.1:$http/metrics" >"$TMP/$label.metrics"
  if out=$("$PROMTOOL" check metrics <"$TMP/$label.metrics" 2>&1); then
    pass "$label /metrics accepted by promtool ($(grep -c '^optimus_' "$TMP/$label.metrics") samples)"
  else
    fail "$label /metrics rejected by promtool: $out"
  fi
  grep -q '^optimus_build_info{' "$TMP/$label.metrics" && pass "$label reports optimus_build_info" || fail "$label has no optimus_build_info"
  kill -TERM "$pid"
  local rc=0
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then fail "$label still running 15 s after SIGTERM"; kill -9 "$pid"; return; fi
  wait "$pid"; rc=$?
  [ "$rc" = 0 ] && pass "$label exits 0 after SIGTERM" || { fail "$label exit code $rc after SIGTERM"; tail -5 "$log"; }
}

# Runs a program that must refuse to start: exit code and exactly one line on stderr.
check_refuses() {
  local label=$1 want_rc=$2 want=$3; shift 3
  local err=$TMP/refuse.err rc
  timeout 30 "$@" >/dev/null 2>"$err"; rc=$?
  local lines; lines=$(grep -c '' "$err")
  if [ "$rc" = "$want_rc" ] && [ "$lines" = 1 ] && grep -qF -- "$want" "$err"; then
    pass "$label: exit $rc, '$(cat "$err")'"
  else
    fail "$label: exit $rc (want $want_rc), $lines lines (want 1), want '$want', got: $(cat "$err")"
  fi
}

for svc in ingest spec-store dependency-resolver compiler plugin-manager runtime-context dispatcher; do
  check_running "optimus-$svc" "$BIN/optimus-$svc" \
    --set db.uri="sqlite:$TMP/$svc.db" --set bus.uri="embedded:$TMP/bus.db" \
    --set blob.uri="file://$TMP/blob"
done
check_running "optimus-serve" "$BIN/optimus" serve --data-dir "$TMP/serve"

SVC=$BIN/optimus-spec-store
printf 'http:\n  port: 1\nbus:\n  uri: embedded:%s/x.db\n  kafak: {}\n' "$TMP" >"$TMP/bad.yaml"
check_refuses "unknown key" 2 "unknown config key 'bus.kafak' at $TMP/bad.yaml:5" \
  "$SVC" --config "$TMP/bad.yaml" --set db.uri=sqlite:x
check_refuses "wrong type" 2 "config key 'http.port' must be an integer, got 'eighty' (from \$OPTIMUS_HTTP_PORT)" \
  env OPTIMUS_HTTP_PORT=eighty "$SVC" --set db.uri=sqlite:x --set bus.uri=embedded:x
check_refuses "missing required key" 2 "config key 'db.uri' is required" \
  "$SVC" --set bus.uri=embedded:x
check_refuses "unreachable Kafka" 1 "cannot reach Kafka at 127.0.0.1:1" \
  "$SVC" --set db.uri="sqlite:$TMP/k.db" --set bus.uri=kafka://127.0.0.1:1
check_refuses "unreachable PostgreSQL" 1 "cannot reach PostgreSQL at \"postgresql://optimus@127.0.0.1:1/optimus" \
  "$SVC" --set db.uri=postgresql://optimus@127.0.0.1:1/optimus --set bus.uri="embedded:$TMP/p.db"
check_refuses "unknown flag" 2 "unknown flag '--prot'" "$SVC" --prot 1

# Every config key is documented.
DOC=$(dirname "$0")/../../docs/configuration.md
for key in $("$BIN/optimus" serve --help-config | grep -E '^[a-z_.]+ \(' | cut -d' ' -f1); do
  grep -qF "\`$key\`" "$DOC" && pass "docs/configuration.md documents $key" || fail "docs/configuration.md lacks $key"
done

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
