#!/usr/bin/env bash
# Detection latency of replicatord: from `mount -o remount,ro` on a
# loop-mounted ext4 filesystem to the READ_ONLY condition arriving at a
# coordinator, over N trials (default 50). Prints p50, p99 and max in ms.
# A benchmark, not a test: run it by hand as root, e.g.
#
#   bazel build //replicator:replicatord //tests/agent_integration:all
#   tests/agent_integration/agent_latency_bench.sh \
#     bazel-bin/tests/agent_integration/agent_test_coordinator \
#     bazel-bin/replicator/replicatord 50
#
# The start time is taken just before the remount command (so the remount
# itself is counted); the arrival time is the coordinator's receipt of the
# report (same host, same clock).
set -euo pipefail
COORDINATOR="$(realpath "$1")"
REPLICATORD="$(realpath "$2")"
TRIALS="${3:-50}"
source "$(dirname "$0")/agent_lib.sh"
agent_skip_unless_possible
agent_setup "$COORDINATOR" "$REPLICATORD"

latencies=()
for ((i = 1; i <= TRIALS; i++)); do
  remount_ro "$MNT"
  start_ms=$REMOUNT_START_MS
  line="$(wait_for "^RAISE [0-9]+ READ_ONLY $MNT " 5 | tail -n 1)"
  arrived_ms="$(awk '{print $2}' <<<"$line")"
  latencies+=($((arrived_ms - start_ms)))
  mount -o remount,rw "$MNT"
  wait_for "^CLEAR [0-9]+ READ_ONLY $MNT\$" 5 >/dev/null
  # Start the next trial from a clean log so each RAISE line is new.
  : >"$WORK/coordinator.log"
  sleep 0.2
done

sorted="$(printf '%s\n' "${latencies[@]}" | sort -n)"
pick() { # percentile p (nearest rank)
  local p="$1" n="${#latencies[@]}" rank
  rank=$(((p * n + 99) / 100))
  ((rank < 1)) && rank=1
  sed -n "${rank}p" <<<"$sorted"
}
echo "trials: $TRIALS"
echo "p50_ms: $(pick 50)"
echo "p99_ms: $(pick 99)"
echo "max_ms: $(tail -n 1 <<<"$sorted")"
echo "min_ms: $(head -n 1 <<<"$sorted")"
