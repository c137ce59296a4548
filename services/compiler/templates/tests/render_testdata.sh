#!/usr/bin/env bash
# Renders the DAG templates over testdata/context.json with Go's text/template (tests/gorender) into
# testdata/airflow<2|3>/<namespace>/<job>.py — the DAG folders tools/dev/airflow check-dags loads.
#   services/compiler/templates/tests/render_testdata.sh          rewrite the golden files
#   services/compiler/templates/tests/render_testdata.sh --check  exit 1 if any golden file is stale
# Golden updates are reviewed diffs: run without --check only after changing a template on purpose.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
check=0
[ "${1:-}" = --check ] && check=1
command -v go >/dev/null || { echo "render_testdata: go not found (Go renders the reference output)" >&2; exit 1; }
jobs=$(python3 -c 'import json,sys; print("\n".join(sorted(json.load(open(sys.argv[1]))["Jobs"])))' "$here/testdata/context.json")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
stale=0
for v in 2 3; do
  for job in $jobs; do
    out="$here/testdata/airflow$v/$job.py"
    go run "$here/tests/gorender/main.go" "$here/airflow$v/dag.py.tmpl" "$here/testdata/context.json" "$job" >"$tmp/out.py"
    if [ "$check" = 1 ]; then
      if ! cmp -s "$tmp/out.py" "$out"; then
        echo "render_testdata: stale: ${out#"$here"/}" >&2
        diff -u "$out" "$tmp/out.py" >&2 || true
        stale=1
      fi
    else
      mkdir -p "$(dirname "$out")"
      cp "$tmp/out.py" "$out"
      echo "render_testdata: wrote ${out#"$here"/}"
    fi
  done
  # The folder is a complete dags/ tree: __lib.py is the shared file itself.
  [ -L "$here/testdata/airflow$v/__lib.py" ] || ln -sfn ../../__lib.py "$here/testdata/airflow$v/__lib.py"
done
exit $stale
