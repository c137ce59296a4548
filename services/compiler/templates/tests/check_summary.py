"""Compares check-dags' JSON summary (stdin) with an expected one: python check_summary.py EXPECTED.json"""

import difflib
import json
import sys


def main():
    with open(sys.argv[1]) as f:
        expected = json.load(f)
    actual = json.load(sys.stdin)
    if actual == expected:
        print("check_summary: DAGs, tasks and wiring as expected (%d DAGs)" % len(actual), file=sys.stderr)
        return 0
    want = json.dumps(expected, indent=2, sort_keys=True).splitlines()
    got = json.dumps(actual, indent=2, sort_keys=True).splitlines()
    print("check_summary: summary differs from %s:" % sys.argv[1], file=sys.stderr)
    for line in difflib.unified_diff(want, got, "expected", "actual", lineterm=""):
        print(line, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
