#!/usr/bin/env bash
# optimus serve SIGKILLed in the middle of a deploy (issue 20, part 11): the CLI says it lost
# the server instead of waiting out its --timeout; after a restart on the same data, a redeploy
# reports success only once every DAG exists ("unchanged" means the DAG of that version is
# published), and nothing is lost.
#   crash_redeploy_e2etest.sh BIN_DIR EXAMPLES_DIR [JOBS]
set -uo pipefail
BIN=${1:?usage: crash_redeploy_e2etest.sh BIN_DIR EXAMPLES_DIR [JOBS]}
EXAMPLES=${2:?usage: crash_redeploy_e2etest.sh BIN_DIR EXAMPLES_DIR [JOBS]}
JOBS=${3:-3000}
. "$(dirname "$0")/../lib/common.sh"
TMP=$(mktemp -d)
passed=0
failed=0
SERVE=
trap 'kill -TERM $SERVE 2>/dev/null; wait $SERVE 2>/dev/null; rm -rf "$TMP"' EXIT

http=$(free_port)
grpc=$(free_port)
serve() {
  "$BIN/optimus" serve --data-dir "$TMP/data" --set plugins.dirs="$EXAMPLES/plugins" \
    --set http.port="$http" --set grpc.port="$grpc" --set log.format=json >>"$TMP/serve.log" 2>&1 &
  SERVE=$!
  wait_for 30 curl -fs -o /dev/null "http://127.0.0.1:$http/readyz"
}
serve || { fail "optimus serve never became ready"; tail -20 "$TMP/serve.log"; exit 1; }
"$BIN/gen-project" --out "$TMP/project" --jobs "$JOBS" --seed 12 >/dev/null
deploy() { "$BIN/optimus" deploy -d "$TMP/project" --host "127.0.0.1:$grpc" --timeout 5m "$@"; }
DAGS=$TMP/data/blob/sample-project/dags
dags() { find "$DAGS" -name '*.py' ! -name '__lib*' 2>/dev/null | wc -l; }

# Killed once the deploy is under way: some jobs stored, few DAGs written.
start=$SECONDS
deploy >"$TMP/deploy1.out" 2>&1 &
cli=$!
wait_for 60 bash -c "[ \$(find '$DAGS' -name '*.py' 2>/dev/null | wc -l) -ge 20 ]"
kill -KILL "$SERVE"
wait "$SERVE" 2>/dev/null
killed_with=$(dags)
pass "optimus serve SIGKILLed mid-deploy with $killed_with of $JOBS DAGs written"
wait "$cli"
rc=$?
took=$((SECONDS - start))
if [ "$rc" != 0 ] && grep -q "lost the server" "$TMP/deploy1.out" && [ "$took" -lt 120 ]; then
  pass "the CLI exits $rc after ${took} s, saying it lost the server (its --timeout is 5m)"
else
  fail "the CLI with its server gone: exit $rc after ${took} s: $(tail -3 "$TMP/deploy1.out")"
fi

# Restarted on the same data: the redeploy ends only when every DAG is there.
serve || { fail "optimus serve did not restart"; tail -20 "$TMP/serve.log"; exit 1; }
if deploy >"$TMP/deploy2.out" 2>&1; then
  now=$(dags)
  if [ "$now" = "$JOBS" ]; then
    pass "the redeploy exits 0 with all $JOBS DAGs written: $(tail -1 "$TMP/deploy2.out")"
  else
    fail "the redeploy exited 0 with $now of $JOBS DAGs written: $(tail -1 "$TMP/deploy2.out")"
  fi
else
  fail "the redeploy after the restart: $(tail -5 "$TMP/deploy2.out")"
fi
deploy >"$TMP/deploy3.out" 2>&1 && grep -q "0 published, $JOBS unchanged" "$TMP/deploy3.out" \
  && pass "deployed again: every job unchanged" || fail "third deploy: $(tail -2 "$TMP/deploy3.out")"
summary
