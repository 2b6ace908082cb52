#!/usr/bin/env bash
# Checks the alerting rules with Prometheus's own tool: their syntax and
# expressions (promtool check rules), then a few alerts on literal series
# (promtool test rules slotkeeper.rules_test.yml). promtool comes with
# Debian's `prometheus` package (tools/dev deps).
set -euo pipefail
dir="$(dirname "$(readlink -f "${TEST_SRCDIR:-.}/slotkeeper/tools/prometheus/slotkeeper.rules.yml" 2>/dev/null ||
                  readlink -f tools/prometheus/slotkeeper.rules.yml)")"
if ! command -v promtool >/dev/null; then
  echo "FAIL: promtool not found (apt-get install prometheus, or tools/dev deps)"
  exit 1
fi
# Copies beside each other: the test file names the rules by relative path.
work="${TEST_TMPDIR:-$(mktemp -d)}/rules"
mkdir -p "$work"
cp "$dir/slotkeeper.rules.yml" "$dir/slotkeeper.rules_test.yml" "$work/"
cd "$work"
promtool check rules slotkeeper.rules.yml
promtool test rules slotkeeper.rules_test.yml
