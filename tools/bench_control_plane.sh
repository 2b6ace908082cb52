#!/usr/bin/env bash
# Control-plane timings on the demo's sizes (20 users, 2,000 messages per
# store): the fault tests that measure them run REPS times each, one at a
# time, with SLOTKEEPER_FAULT_USERS/MESSAGES set, and their measured lines
# are collected with the median of each.
#
#   tools/bench_control_plane.sh [--reps 3] [--users 20] [--messages 2000]
#
# What each figure is (the tests print it; see their header comments):
#   failsafe renewal after coordinator loss  SIGKILL of slotmgrd -> the first
#                                            master lease renewed on failsafe
#                                            grants from the store's copies
#   self-fencing after partition             cut of a master's agent from the
#                                            coordinator -> its stand-in mail
#                                            server stopped by slotfence
#   replica caught up after agent restart    restart of a replica's agent ->
#                                            the replica holds every message
#                                            and is shown in sync
# The tests run with a 4 s lease, 500 ms heartbeats and 1.5 s failsafe
# silence (tests/e2e/control_plane.h); the figures scale with those.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
REPS=3
USERS=20
MESSAGES=2000
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) REPS="$2"; shift 2 ;;
    --users) USERS="$2"; shift 2 ;;
    --messages) MESSAGES="$2"; shift 2 ;;
    *) echo "bench_control_plane: unknown argument $1" >&2; exit 2 ;;
  esac
done
log() { printf '\033[1m[bench]\033[0m %s\n' "$*" >&2; }

OUT="$(mktemp)"
trap 'rm -f "$OUT"' EXIT
log "control plane: $REPS run(s) of 3 fault tests, $USERS users x $MESSAGES messages per store"
bazel test //tests/e2e:fault_coordinator_down_test //tests/e2e:fault_partition_test \
  //tests/e2e:fault_agent_restart_test \
  --runs_per_test="$REPS" --local_test_jobs=1 --nocache_test_results --test_output=all \
  --test_env=SLOTKEEPER_FAULT_USERS="$USERS" --test_env=SLOTKEEPER_FAULT_MESSAGES="$MESSAGES" \
  >"$OUT" 2>&1 || { tail -50 "$OUT" >&2; log "a fault test failed"; exit 1; }

for what in "failsafe renewal after coordinator loss" "self-fencing after partition" \
            "replica caught up after agent restart"; do
  grep -o "$what: [0-9]* ms.*" "$OUT" | sed 's/^/  /' >&2 || true
  vals="$(grep -o "$what: [0-9]* ms" "$OUT" | awk '{ print $(NF-1) }' | sort -n)"
  n="$(printf '%s\n' "$vals" | grep -c . || true)"
  if [ "$n" -eq 0 ]; then
    echo "$what: no measurement"
    continue
  fi
  median="$(printf '%s\n' "$vals" | sed -n "$(( (n + 1) / 2 ))p")"
  printf '%-42s median %s ms over %s runs (min %s, max %s)\n' "$what:" "$median" "$n" \
    "$(printf '%s\n' "$vals" | head -1)" "$(printf '%s\n' "$vals" | tail -1)"
done
