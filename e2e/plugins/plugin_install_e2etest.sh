#!/usr/bin/env bash
# Plugins installed declaratively at start (plugins.providers / plugins.plugins), from a real
# HTTP server that wants an Authorization header, from S3 (MinIO), from GCS (fake-gcs-server) and
# from a local archive; then a corrupt archive, a wrong checksum, an archive entry with ../ and an
# invalid plugin, each leaving the previous set serving with /readyz saying why; two "replicas"
# (`optimus plugin install` into two folders) end with the same digest; the server serves the set
# as one archive, and answers 304 to a client that has it.
#   plugin_install_e2etest.sh BIN_DIR EXAMPLES_DIR
set -uo pipefail
BIN=${1:?usage: plugin_install_e2etest.sh BIN_DIR EXAMPLES_DIR}
EXAMPLES=${2:?usage: plugin_install_e2etest.sh BIN_DIR EXAMPLES_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/common.sh"
require_servers OPTIMUS_TEST_S3_ENDPOINT OPTIMUS_TEST_S3_ACCESS_KEY OPTIMUS_TEST_S3_SECRET_KEY \
  OPTIMUS_TEST_S3_REGION OPTIMUS_TEST_GCS_ENDPOINT
TMP=$(mktemp -d)
pids=()
BUCKET=optimus-plugins-e2e-$RANDOM$RANDOM
cleanup() {
  signal_children TERM 1 "${pids[@]}"
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  s3_remove_bucket "$BUCKET"
  [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
P=$EXAMPLES/plugins

# The artifacts: bq2bq as a plain file over HTTP (with its sha256), predator in a .tar.gz on S3,
# pg2pg in a .zip on GCS, shell and sqlite2sqlite in a local .tar.gz.
mkdir -p "$TMP/web" "$TMP/local" "$TMP/stage"
cp "$P/optimus-plugin-bq2bq.yaml" "$TMP/web/bq2bq.yaml"
BQ_SHA=$(sha256sum "$TMP/web/bq2bq.yaml" | cut -d' ' -f1)
tar czf "$TMP/stage/hooks.tar.gz" -C "$P" optimus-plugin-predator.yaml
python3 - "$P/optimus-plugin-pg2pg.yaml" "$TMP/stage/sql.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[2], "w") as z:
    z.write(sys.argv[1], "plugins/optimus-plugin-pg2pg.yaml")
PY
tar czf "$TMP/local/team.tar.gz" -C "$P" optimus-plugin-shell.yaml optimus-plugin-sqlite2sqlite.yaml
# The broken ones.
printf 'not a tar' | gzip >"$TMP/web/corrupt.tar.gz"
python3 - "$P/optimus-plugin-shell.yaml" "$TMP/web/evil.tar.gz" <<'PY'
import sys, tarfile
with tarfile.open(sys.argv[2], "w:gz") as t:
    t.add(sys.argv[1], "../optimus-plugin-shell.yaml")
PY
printf 'version: 2\nname: broken\n' >"$TMP/web/invalid.yaml"

# A real HTTP server that wants "Authorization: Bearer <token>".
web_port=$(free_port)
export PLUGIN_REPO_AUTH="Bearer repo-$RANDOM"
python3 - "$TMP/web" "$web_port" "$PLUGIN_REPO_AUTH" >"$TMP/web.log" 2>&1 <<'PY' &
import http.server, os, sys
root, port, auth = sys.argv[1], int(sys.argv[2]), sys.argv[3]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.headers.get("Authorization") != auth:
            self.send_response(401); self.end_headers(); return
        path = os.path.join(root, self.path.split("/plugins/", 1)[-1])
        if not os.path.isfile(path):
            self.send_response(404); self.end_headers(); return
        data = open(path, "rb").read()
        self.send_response(200); self.send_header("Content-Length", str(len(data))); self.end_headers()
        self.wfile.write(data)
http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
PY
pids+=("$!")
wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $web_port))" 2>/dev/null || { fail "the HTTP repo did not start"; summary; exit 1; }

s3 PUT "$BUCKET" >/dev/null && s3 PUT "$BUCKET/releases/hooks.tar.gz" --data-binary "@$TMP/stage/hooks.tar.gz" \
  -H "x-amz-content-sha256: $(sha256sum "$TMP/stage/hooks.tar.gz" | cut -d" " -f1)" >/dev/null \
  || { fail "cannot upload to S3"; summary; exit 1; }
GCS=$OPTIMUS_TEST_GCS_ENDPOINT
curl -fsS -XPOST "$GCS/storage/v1/b?project=e2e" -H 'Content-Type: application/json' -d "{\"name\": \"$BUCKET\"}" >/dev/null &&
  curl -fsS -XPOST "$GCS/upload/storage/v1/b/$BUCKET/o?uploadType=media&name=releases/sql.zip" \
    --data-binary "@$TMP/stage/sql.zip" >/dev/null || { fail "cannot upload to GCS"; summary; exit 1; }

config() {  # FILE EXTRA_ARTIFACT_LINES: a server config with the four providers
  cat >"$1" <<YAML
plugins:
  install_dir: $TMP/installed
  dirs: [$TMP/no-local-plugins]
  providers:
  - {name: repo, type: https, url: "http://127.0.0.1:$web_port/plugins", auth_header_env: PLUGIN_REPO_AUTH}
  - {name: releases, type: s3, url: "s3://$BUCKET?endpoint=$OPTIMUS_TEST_S3_ENDPOINT&path_style=true&region=$OPTIMUS_TEST_S3_REGION"}
  - {name: team-gcs, type: gcs, url: "gs://$BUCKET?endpoint=$GCS"}
  - {name: disk, type: local, url: "$TMP/local"}
  plugins:
  - {provider: repo, path: bq2bq.yaml, sha256: $BQ_SHA}
  - {provider: releases, path: releases/hooks.tar.gz}
  - {provider: team-gcs, path: releases/sql.zip}
  - {provider: disk, path: team.tar.gz}
$2
YAML
}
http=$(free_port)
grpc=$(free_port)
serve() {  # CONFIG
  AWS_ACCESS_KEY_ID=$OPTIMUS_TEST_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$OPTIMUS_TEST_S3_SECRET_KEY \
    "$BIN/optimus" serve --config "$1" --data-dir "$TMP/data" --set http.port="$http" \
    --set grpc.port="$grpc" --set log.format=json >>"$TMP/serve.log" 2>&1 &
  server=$!
  pids+=("$server")
  wait_for 30 curl -fs -o /dev/null "http://127.0.0.1:$http/healthz"
}
stop() { kill -TERM "$server" 2>/dev/null; wait "$server" 2>/dev/null; }
plugins() { curl -fsS "http://127.0.0.1:$http/api/v1beta1/plugins" | python3 -c '
import json, sys
for p in sorted(json.load(sys.stdin)["plugins"], key=lambda p: p["name"]):
    print(p["name"], p["type"], p["version"], p["source"], p["sha256"][:12])'; }

mkdir -p "$TMP/no-local-plugins"
config "$TMP/good.yaml" ""
serve "$TMP/good.yaml"
if wait_for 20 curl -fs -o /dev/null "http://127.0.0.1:$http/readyz"; then
  pass "the server installed its plugins and is ready"
else
  fail "not ready: $(curl -s "http://127.0.0.1:$http/readyz")"; tail -5 "$TMP/serve.log"
fi
listed=$(plugins)
echo "$listed" | sed 's/^/  /'
want="bq2bq:repo:bq2bq.yaml predator:releases:releases/hooks.tar.gz pg2pg:team-gcs:releases/sql.zip shell:disk:team.tar.gz sqlite2sqlite:disk:team.tar.gz"
got=$(echo "$listed" | awk '{print $1 ":" $4}' | sort | tr '\n' ' ')
for w in $want; do
  grep -qF "$w" <<<"$got" || { fail "plugin list lacks $w: $got"; }
done
[ "$(echo "$listed" | wc -l)" = 5 ] && pass "plugin list: five plugins, each with the provider and path it came from" || fail "plugin list: $listed"
grep -q "^predator hook 0.4.0" <<<"$listed" && pass "predator is a hook of version 0.4.0" || fail "predator: $listed"
digest=$(curl -fsS -D "$TMP/h1" -o "$TMP/set.tar.gz" "http://127.0.0.1:$http/api/v1beta1/plugins/archive" && grep -i '^etag:' "$TMP/h1" | tr -d '\r' | cut -d' ' -f2)
[ "$(tar tzf "$TMP/set.tar.gz" | wc -l)" = 5 ] && pass "the plugin archive holds the five files" || fail "archive: $(tar tzf "$TMP/set.tar.gz")"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $digest" "http://127.0.0.1:$http/api/v1beta1/plugins/archive")
[ "$code" = 304 ] && pass "a client that has the set gets 304" || fail "If-None-Match: HTTP $code"
installed=$(readlink "$TMP/installed/current")

# The CLI: plugin list, then plugin sync into a project and job create with the synced plugins.
mkdir -p "$TMP/project"
cat >"$TMP/project/optimus.yaml" <<YAML
version: 1
host: 127.0.0.1:$grpc
project:
  name: plugins-e2e
  config: {storage_path: "file://dags", scheduler_host: "http://127.0.0.1:8080"}
namespaces:
- name: team
  config: {}
  job: {path: jobs}
YAML
cli() { "$BIN/optimus" "$@" -d "$TMP/project"; }
if cli plugin list >"$TMP/list.out" 2>&1 && grep -q "^predator  *hook  *0.4.0" "$TMP/list.out" && grep -q "5 plugins" "$TMP/list.out"; then
  pass "optimus plugin list: $(tail -1 "$TMP/list.out"), predator a hook at 0.4.0"
else
  fail "plugin list: $(cat "$TMP/list.out")"
fi
cli plugin list -o json | python3 -c 'import json,sys; sys.exit(0 if len(json.load(sys.stdin)["plugins"]) == 5 else 1)' \
  && pass "optimus plugin list -o json" || fail "plugin list -o json"
if cli plugin sync >"$TMP/sync1.out" 2>&1 && grep -q "5 added, 0 updated, 0 unchanged, 0 removed" "$TMP/sync1.out"; then
  pass "optimus plugin sync: $(tail -1 "$TMP/sync1.out")"
else
  fail "plugin sync: $(cat "$TMP/sync1.out")"
fi
cli plugin sync >"$TMP/sync2.out" 2>&1 && grep -q "up to date" "$TMP/sync2.out" && pass "a second sync: $(cat "$TMP/sync2.out")" \
  || fail "second sync: $(cat "$TMP/sync2.out")"
if ! cli job create --no-input --task bq2bq --name team.orders --owner e2e@example.com >"$TMP/create1.out" 2>&1 \
  && grep -q "PROJECT" "$TMP/create1.out" && grep -q "DATASET" "$TMP/create1.out"; then
  pass "job create with the synced bq2bq asks for its destination"
else
  fail "job create without answers: $(cat "$TMP/create1.out")"
fi
if cli job create --no-input --task bq2bq --name team.orders --owner e2e@example.com --answer PROJECT=acme-data \
  --answer DATASET=sales --answer TABLE=orders >"$TMP/create2.out" 2>&1 && [ -n "$(find "$TMP/project" -name query.sql)" ]; then
  pass "job create with the answers writes the job and its query.sql"
else
  fail "job create: $(cat "$TMP/create2.out")"
fi
cli job create --no-input --task bq2bq --name team.refunds --owner e2e@example.com --answer PROJECT=acme-data \
  --answer DATASET=sales --answer TABLE=refunds >/dev/null 2>&1
cli job addhook team.refunds --hook predator --no-input >/dev/null 2>&1 || fail "job addhook predator"
if cli project register >"$TMP/register.out" 2>&1 && cli deploy >"$TMP/deploy.out" 2>&1 && cli plugin list >"$TMP/list2.out" 2>&1 \
  && grep -qE "^bq2bq .* 2 \(default 2\)" "$TMP/list2.out" && grep -qE "^predator .* 1 \(default 1\)" "$TMP/list2.out"; then
  pass "after a deploy, plugin list counts the jobs on each plugin version: $(grep -E '^(bq2bq|predator) ' "$TMP/list2.out" | awk '{print $1": "$5" "$6" "$7}' | tr '\n' ';')"
else
  fail "job counts: $(cat "$TMP/register.out" "$TMP/deploy.out" "$TMP/list2.out" | tail -15)"
fi
stop

# Each broken artifact in turn: the previous set keeps serving, and /readyz says which and why.
bad_case() {  # WHAT WHY: serve with $TMP/bad.yaml, expect not ready naming WHY, the set unchanged
  serve "$TMP/bad.yaml"
  local ready
  wait_for 10 bash -c "curl -s 'http://127.0.0.1:$http/readyz' | grep -q plugins"
  ready=$(curl -s "http://127.0.0.1:$http/readyz")
  if grep -q "$2" <<<"$ready" && [ "$(readlink "$TMP/installed/current")" = "$installed" ] && [ "$(plugins | wc -l)" = 5 ]; then
    pass "$1: not ready ($2), the previous set serves"
  else
    fail "$1: readyz $ready; current $(readlink "$TMP/installed/current"); plugins $(plugins | wc -l)"
  fi
  stop
}
for case in "corrupt.tar.gz:not a readable archive" "evil.tar.gz:climbs out" "invalid.yaml:plugin_versions"; do
  config "$TMP/bad.yaml" "  - {provider: repo, path: ${case%%:*}}"
  bad_case "${case%%:*}" "${case#*:}"
done
config "$TMP/bad.yaml" ""
sed -i "s/sha256: $BQ_SHA/sha256: $(printf '%064d' 0)/" "$TMP/bad.yaml"
bad_case "a wrong sha256" "sha256 is $BQ_SHA"

# A release that drops the local artifact: sync removes exactly the two plugins it had written.
config "$TMP/smaller.yaml" ""
sed -i '/provider: disk, path: team.tar.gz/d' "$TMP/smaller.yaml"
serve "$TMP/smaller.yaml"
wait_for 20 curl -fs -o /dev/null "http://127.0.0.1:$http/readyz"
touch "$TMP/project/.plugins/optimus-plugin-mine.yaml"  # not the server's: left alone
if cli plugin sync >"$TMP/sync3.out" 2>&1 && grep -q "0 added, 0 updated, 3 unchanged, 2 removed" "$TMP/sync3.out" \
  && [ -e "$TMP/project/.plugins/optimus-plugin-mine.yaml" ] && [ ! -e "$TMP/project/.plugins/optimus-plugin-shell.yaml" ]; then
  pass "sync after a release without shell and sqlite2sqlite: $(tail -1 "$TMP/sync3.out")"
else
  fail "sync after a smaller release: $(cat "$TMP/sync3.out"; ls "$TMP/project/.plugins")"
fi
stop

# Two replicas (init containers) install the same config: the same digest.
a=$(PLUGIN_REPO_AUTH=$PLUGIN_REPO_AUTH AWS_ACCESS_KEY_ID=$OPTIMUS_TEST_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$OPTIMUS_TEST_S3_SECRET_KEY \
  "$BIN/optimus" plugin install -c "$TMP/good.yaml" --install-dir "$TMP/replica-a" 2>&1 | tail -1)
b=$(AWS_ACCESS_KEY_ID=$OPTIMUS_TEST_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$OPTIMUS_TEST_S3_SECRET_KEY \
  "$BIN/optimus" plugin install -c "$TMP/good.yaml" --install-dir "$TMP/replica-b" 2>&1 | tail -1)
if [ -n "$(readlink "$TMP/replica-a/current")" ] && [ "$(readlink "$TMP/replica-a/current")" = "$(readlink "$TMP/replica-b/current")" ]; then
  pass "two replicas installed the same set: $(basename "$(readlink "$TMP/replica-a/current")" | cut -c1-12)"
else
  fail "replicas differ: $a / $b"
fi
out=$(PLUGIN_REPO_AUTH="Bearer wrong" "$BIN/optimus" plugin install -c "$TMP/good.yaml" --install-dir "$TMP/replica-a" 2>&1); rc=$?
if [ "$rc" = 1 ] && grep -q "auth header was refused" <<<"$out" && grep -q "nothing changed" <<<"$out"; then
  pass "plugin install with a refused token exits 1 and changes nothing"
else
  fail "plugin install with a wrong token: rc $rc: $out"
fi
summary
