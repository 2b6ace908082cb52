#!/usr/bin/env bash
# replicatord on a real loop-mounted ext4 filesystem, reporting to a test
# coordinator: a read-only remount raises READ_ONLY and a remount read-write
# clears it; the ext4 shutdown ioctl raises IO_ERROR (write probe) and
# KERNEL_ERROR (kernel log); a lease that is not renewed makes the agent
# demote the slot itself; bad input (unreadable config, unreachable
# coordinator) gives clear messages. Needs root; skips otherwise.
#
# Usage: agent_loop_mount_test.sh COORDINATOR REPLICATORD FS_SHUTDOWN
set -euo pipefail
COORDINATOR="$(realpath "$1")"
REPLICATORD="$(realpath "$2")"
FS_SHUTDOWN="$(realpath "$3")"
source "$(dirname "$0")/agent_lib.sh"
agent_skip_unless_possible

step() { echo "--- $*"; }

step "bad input: an unreadable config is refused with its path"
if "$REPLICATORD" --config=/nonexistent/agent.conf 2>"${TEST_TMPDIR:-/tmp}/bad.log"; then
  echo "FAIL: replicatord started without a config"; exit 1
fi
grep -q "cannot read config /nonexistent/agent.conf" "${TEST_TMPDIR:-/tmp}/bad.log"

agent_setup "$COORDINATOR" "$REPLICATORD" --promote_slot=s01 --lease_ms=1500 --ping_ms=200
grep -q "^replicatord it-host peer listening on 127.0.0.1:[0-9]" "$WORK/agent.out"
wait_for '^REGISTER it-host slots 1' 5

step "a configured filesystem that is not mounted is reported, not a crash"
wait_for "^RAISE [0-9]+ NOT_MOUNTED $WORK/not-mounted " 5

step "promotion with a lease, renewed on every report"
wait_for '^ACK promote-1 ok first' 10
wait_for '^LEASES 1' 5
grep -q "promoted s01" "$WORK/hooks.log"

step "mount -o remount,ro raises READ_ONLY; remount rw clears it"
remount_ro "$MNT"
wait_for "^RAISE [0-9]+ READ_ONLY $MNT " 5
mount -o remount,rw "$MNT"
wait_for "^CLEAR [0-9]+ READ_ONLY $MNT\$" 5

step "a coordinator that stops renewing: the agent demotes the slot itself"
kill -STOP "$COORD_PID"
for _ in $(seq 100); do
  grep -q "demoted s01 1" "$WORK/hooks.log" && break
  sleep 0.1
done
kill -CONT "$COORD_PID"
grep -q "demoted s01 1" "$WORK/hooks.log" || { echo "FAIL: no self-demotion"; cat "$WORK/agent.log"; exit 1; }
wait_for '^LEASES 0' 5
grep -q "expired without renewal" "$WORK/agent.log"

step "EXT4_IOC_SHUTDOWN raises IO_ERROR (write probe) and KERNEL_ERROR (kernel log)"
"$FS_SHUTDOWN" "$MNT"
wait_for "^RAISE [0-9]+ IO_ERROR $MNT " 5
if [[ -r /dev/kmsg ]]; then
  wait_for '^RAISE [0-9]+ KERNEL_ERROR du1 ' 5
fi

step "SIGTERM stops the agent cleanly"
kill "$AGENT_PID"
wait "$AGENT_PID"
AGENT_PID=""
grep -q "stopped" "$WORK/agent.log"

step "an unreachable coordinator: the agent keeps retrying and names the address"
"$REPLICATORD" --config="$WORK/agent.conf" --insecure_loopback_only --coordinator=127.0.0.1:1 \
  --data_dir="$WORK/data2" >/dev/null 2>"$WORK/unreachable.log" &
AGENT_PID=$!
sleep 1.5
kill -0 "$AGENT_PID"
grep -q "coordinator 127.0.0.1:1 unreachable" "$WORK/unreachable.log"
kill "$AGENT_PID"
wait "$AGENT_PID"
AGENT_PID=""

echo "PASS"
