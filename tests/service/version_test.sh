#!/usr/bin/env bash
# Every binary a release installs answers --version with one line, exit 0:
#   NAME VERSION (commit unknown (unstamped build))          default builds
#   NAME VERSION (commit 1a2b3c4d, built 2026-12-02)         --config=release
# with VERSION the repository's VERSION file, and --help with a "Usage: NAME"
# line and exit 0 (help2man reads both for the man pages).
#   version_test.sh VERSION_FILE BINARY...
set -uo pipefail
version="$(head -n1 "$1" | tr -d '[:space:]')"
shift
failures=0
for binary in "$@"; do
  name="$(basename "$binary")"
  line="$("$binary" --version 2>&1)"
  rc=$?
  expected="^$name $version \\(commit (unknown \\(unstamped build\\)|[0-9a-f]{7,40}(-dirty)?, built [0-9]{4}-[0-9]{2}-[0-9]{2})\\)\$"
  if [ "$rc" -ne 0 ] || ! [[ "$line" =~ $expected ]]; then
    echo "FAIL: $name --version: exit $rc, printed \"$line\""
    failures=$((failures + 1))
  else
    echo "ok: $line"
  fi
  help="$("$binary" --help 2>&1)"
  rc=$?
  if [ "$rc" -ne 0 ] || ! grep -q "Usage: $name" <<<"$help"; then
    echo "FAIL: $name --help: exit $rc, no \"Usage: $name\" line"
    failures=$((failures + 1))
  fi
done
[ "$#" -eq 7 ] || { echo "FAIL: expected the 7 binaries, got $#"; failures=$((failures + 1)); }
[ "$failures" -eq 0 ] && echo PASS
exit "$((failures > 0))"
