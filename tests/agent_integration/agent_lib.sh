# Shared set-up for the agent's loop-mount test and latency benchmark:
# a loop-mounted ext4 image, the test coordinator and a real replicatord.
# Source it, then call agent_setup COORDINATOR_BIN AGENT_BIN [coordinator flags...].
# Everything it creates is removed by agent_cleanup (installed as an EXIT trap).

agent_skip_unless_possible() {
  if [[ "$(id -u)" != 0 ]]; then
    echo "SKIP: needs root to loop-mount an ext4 image (running as uid $(id -u))"
    exit 0
  fi
  for tool in losetup mkfs.ext4 mount umount truncate; do
    if ! command -v "$tool" >/dev/null; then
      echo "SKIP: $tool is not installed"
      exit 0
    fi
  done
}

WORK=""
LOOP=""
MNT=""
COORD_PID=""
AGENT_PID=""

agent_cleanup() {
  set +e
  [[ -n "$AGENT_PID" ]] && kill "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
  if [[ -n "$COORD_PID" ]]; then
    kill -CONT "$COORD_PID" 2>/dev/null
    kill "$COORD_PID" 2>/dev/null
    wait "$COORD_PID" 2>/dev/null
  fi
  if [[ -n "$MNT" ]] && mountpoint -q "$MNT"; then
    umount "$MNT" 2>/dev/null || umount -l "$MNT"
  fi
  [[ -n "$LOOP" ]] && losetup -d "$LOOP" 2>/dev/null
  [[ -n "$WORK" ]] && rm -rf "$WORK"
}

# Waits until the coordinator log has a line matching the ERE $1 (at most
# $2 seconds, default 10). Prints the first such line.
wait_for() {
  local pattern="$1" limit="${2:-10}" deadline
  deadline=$(($(date +%s%N) + limit * 1000000000))
  while (($(date +%s%N) < deadline)); do
    if grep -Eq -- "$pattern" "$WORK/coordinator.log"; then
      grep -E -m1 -- "$pattern" "$WORK/coordinator.log"
      return 0
    fi
    sleep 0.01
  done
  echo "TIMEOUT waiting for /$pattern/ in the coordinator log:" >&2
  cat "$WORK/coordinator.log" >&2
  echo "--- agent log:" >&2
  tail -n 30 "$WORK/agent.log" >&2
  return 1
}

# `mount -o remount,ro` fails with EBUSY while a file is open for writing
# (the agent's write probe, every 200 ms here): retry, as an operator would.
# Sets REMOUNT_START_MS to the start of the successful attempt.
remount_ro() {
  local tries=0
  while true; do
    REMOUNT_START_MS=$(($(date +%s%N) / 1000000))
    if mount -o remount,ro "$1" 2>/dev/null; then return 0; fi
    if ((++tries > 200)); then
      mount -o remount,ro "$1"
      return 1
    fi
    sleep 0.005
  done
}

agent_setup() {
  local coordinator_bin="$1" agent_bin="$2"
  shift 2
  WORK="$(mktemp -d "${TEST_TMPDIR:-/tmp}/agent-it.XXXXXX")"
  trap agent_cleanup EXIT
  MNT="$WORK/mnt"
  mkdir -p "$MNT" "$WORK/not-mounted"
  truncate -s 64M "$WORK/disk.img"
  mkfs.ext4 -q -F "$WORK/disk.img"
  LOOP="$(losetup -f --show "$WORK/disk.img")"
  mount "$LOOP" "$MNT"
  mkdir -p "$MNT/s01/users/alice" "$MNT/s01/users/bob"
  echo store1 >"$MNT/s01/.slotkeeper-store"

  # Appending, so that the benchmark can truncate the log between trials.
  "$coordinator_bin" "$@" >>"$WORK/coordinator.log" 2>&1 &
  COORD_PID=$!
  local address
  address="$(wait_for '^LISTENING ' 10 | awk '{print $2}')"

  cat >"$WORK/agent.conf" <<CONF
host: "it-host"
coordinator_address: "$address"
peer_listen_address: "127.0.0.1:0"
data_dir: "$WORK/data"
units { name: "du1" devices: "$(basename "$LOOP")" }
units { name: "du2" }
filesystems { mount_point: "$MNT" unit: "du1" }
filesystems { mount_point: "$WORK/not-mounted" unit: "du2" }
slots { name: "s01" path: "$MNT/s01" filesystem: "$MNT" capacity_bytes: 10000000 }
probes {
  mount_reread_ms: 500
  write_interval_ms: 200
  write_deadline_ms: 2000
  kernel_clear_after_ms: 2000
  slot_usage_interval_ms: 1000
}
hooks {
  promote: "echo promoted \$SLOTKEEPER_SLOT >> $WORK/hooks.log"
  demote: "echo demoted \$SLOTKEEPER_SLOT \$SLOTKEEPER_EPOCH >> $WORK/hooks.log"
  timeout_ms: 5000
}
CONF
  "$agent_bin" --config="$WORK/agent.conf" --insecure_loopback_only >"$WORK/agent.out" 2>"$WORK/agent.log" &
  AGENT_PID=$!
  wait_for '^HELLO it-host ' 10 >/dev/null
}
