#!/usr/bin/env bash
# gen-project is deterministic for a seed, writes what it promises, and refuses bad flags.
#   gen_project_test.sh PATH_TO_GEN_PROJECT
set -uo pipefail
GEN=${1:?usage: gen_project_test.sh GEN_PROJECT_BINARY}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
passed=0 failed=0
check() { if eval "$2"; then passed=$((passed + 1)); echo "ok: $1"; else failed=$((failed + 1)); echo "FAIL: $1"; fi; }

"$GEN" --out "$TMP/a" --jobs 300 --seed 42 >/dev/null
"$GEN" --out "$TMP/b" --jobs 300 --seed 42 >/dev/null
"$GEN" --out "$TMP/c" --jobs 300 --seed 43 >/dev/null
check "same seed, same bytes" "diff -r '$TMP/a' '$TMP/b' >/dev/null"
check "another seed, other files" "! diff -r '$TMP/a' '$TMP/c' >/dev/null"
check "300 job.yaml files" "[ \$(find '$TMP/a' -name job.yaml | wc -l) = 300 ]"
check "every job has assets/query.sql" "[ \$(find '$TMP/a' -path '*/assets/query.sql' | wc -l) = 300 ]"
check "optimus.yaml and preset.yaml" "[ -f '$TMP/a/optimus.yaml' ] && [ -f '$TMP/a/preset.yaml' ]"
check "namespace this.yaml files" "[ -f '$TMP/a/ns1/jobs/this.yaml' ] && [ -f '$TMP/a/ns2/jobs/this.yaml' ]"
check "some @ignoreupstream" "grep -rq '@ignoreupstream' '$TMP/a' --include=query.sql"
check "some CTEs" "grep -rq '^WITH base AS' '$TMP/a' --include=query.sql"
check "legacy window versions too" "grep -rqE '^version: (1|2)' '$TMP/a' --include=job.yaml"
check "manifest agrees with the files" "python3 - '$TMP/a' <<'PY'
import json, os, sys
root = sys.argv[1]
m = json.load(open(os.path.join(root, 'manifest.json')))
names = {j['name'] for j in m['jobs']}
assert len(m['jobs']) == 300 and len(names) == 300
for j in m['jobs']:
    assert all(u in names for u in j['upstream_jobs']), j
    assert all(u not in names for u in j['unresolved']), j
PY"
check "refuses a non-empty --out" "! '$GEN' --out '$TMP/a' --jobs 1 2>/dev/null"
check "refuses --jobs 0" "! '$GEN' --out '$TMP/z' --jobs 0 2>/dev/null"
check "names the unknown flag" "('$GEN' --out '$TMP/y' --jbos 1 2>&1 || true) | grep -q 'unknown flag --jbos'"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
