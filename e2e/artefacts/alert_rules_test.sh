#!/usr/bin/env bash
# The chart's alert rules: promtool accepts them, and each alert's unit tests pass (it fires on
# the series that should fire it and stays quiet otherwise); every alert has a runbook section;
# the dashboards' JSON is what tools/dashboards/generate.py writes.
#   alert_rules_test.sh CHART_DIR DOCS_DIR
set -uo pipefail
CHART=${1:?usage: alert_rules_test.sh CHART_DIR DOCS_DIR}
DOCS=${2:?usage: alert_rules_test.sh CHART_DIR DOCS_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/common.sh"
require_servers OPTIMUS_TEST_PROMTOOL
out=$("$OPTIMUS_TEST_PROMTOOL" check rules "$CHART/files/alerts.yaml" 2>&1) \
  && pass "promtool check rules: $(grep -o '[0-9]* rules found' <<<"$out")" || fail "promtool check rules: $out"
out=$("$OPTIMUS_TEST_PROMTOOL" test rules "$CHART/tests-rules/alerts_test.yaml" 2>&1) \
  && pass "promtool test rules: every alert fires and stays quiet as its tests say" || fail "promtool test rules: $out"
for alert in $(grep -o 'alert: [A-Za-z]*' "$CHART/files/alerts.yaml" | cut -d' ' -f2); do
  grep -q "^### $alert\$" "$DOCS/operations.md" || fail "$alert has no runbook section (### $alert) in docs/operations.md"
  grep -q "alertname: $alert\$" "$CHART/tests-rules/alerts_test.yaml" || fail "$alert has no promtool test"
done
pass "every alert has a runbook section and a test"
out=$(python3 "$CHART/../../tools/dashboards/generate.py" --check 2>&1) && pass "dashboards: $out" || fail "$out"
summary
