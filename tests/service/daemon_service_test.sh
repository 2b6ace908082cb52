#!/usr/bin/env bash
# slotmgrd and replicatord as systemd runs them, without systemd: each is
# started with NOTIFY_SOCKET pointing at a unix datagram socket this test
# owns (notify_listener.py) and WATCHDOG_USEC set, with mutual TLS from a
# throwaway CA (tools/certs.sh). Checks, for both daemons:
#   - READY=1 arrives once it serves (coordinator: its address is in the
#     STATUS line; agent: after its peer server listens), then WATCHDOG=1
#     keep-alives;
#   - SIGHUP re-reads the TLS files, logs the line saying so, and the daemon
#     still serves: slotctl reads the cluster, the agent's session is up and
#     its keep-alives go on;
#   - SIGPIPE is ignored;
#   - SIGTERM sends STOPPING=1 and exits 0.
#   daemon_service_test.sh SLOTMGRD REPLICATORD SLOTCTL CERTS_SH NOTIFY_LISTENER
set -uo pipefail
slotmgrd="$(readlink -f "$1")" replicatord="$(readlink -f "$2")" slotctl="$(readlink -f "$3")"
certs_sh="$4" listener="$5"

work="$(mktemp -d "${TEST_TMPDIR:-/tmp}/service.XXXXXX")"
# Unix socket paths are limited to 108 bytes; TEST_TMPDIR can be longer.
sockets="$(mktemp -d /tmp/sk-notify.XXXXXX)"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  rm -rf "$sockets"
}
trap cleanup EXIT

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Waits (at most $3 seconds) until file $1 has a line matching ERE $2.
wait_for() {
  local file="$1" pattern="$2" limit="${3:-20}" i
  for ((i = 0; i < limit * 20; i++)); do
    grep -Eq -- "$pattern" "$file" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "TIMEOUT: no /$pattern/ in $file after ${limit}s; it holds:" >&2
  cat "$file" >&2 2>/dev/null
  return 1
}

count() { grep -Ec -- "$2" "$1" 2>/dev/null || true; }

# Whether process $1 ignores signal number $2 (the SigIgn mask of /proc).
ignores() {
  local mask
  mask="$(awk '/^SigIgn:/ {print $2}' "/proc/$1/status")"
  (( (16#$mask >> ($2 - 1)) & 1 ))
}

"$certs_sh" "$work/certs" imap1 >/dev/null 2>&1 || { echo "FAIL: tools/certs.sh"; exit 1; }
certs="$work/certs"
printf 'viewer viewer\nadmin admin\n' >"$work/policy"
slotctl() {
  "$slotctl" --server="$address" --tls_ca="$certs/ca.pem" --tls_cert="$certs/viewer.pem" \
    --tls_key="$certs/viewer.key" "$@"
}

# ---- The coordinator ----------------------------------------------------------
python3 "$listener" "$sockets/coordinator" "$work/coordinator.notify" &
pids+=($!)
wait_for_socket() { local i; for ((i = 0; i < 100; i++)); do [ -S "$1" ] && return; sleep 0.05; done; }
wait_for_socket "$sockets/coordinator"
NOTIFY_SOCKET="$sockets/coordinator" WATCHDOG_USEC=400000 "$slotmgrd" --listen=127.0.0.1:0 \
  --data_dir="$work/state" --policy="$work/policy" --heartbeat=100ms \
  --tls_ca="$certs/ca.pem" --tls_cert="$certs/slotmgr.pem" --tls_key="$certs/slotmgr.key" \
  >"$work/coordinator.out" 2>"$work/coordinator.log" &
coordinator_pid=$!
pids+=($coordinator_pid)
wait_for "$work/coordinator.notify" '^READY=1$' || fail "slotmgrd: no READY=1"
wait_for "$work/coordinator.out" '^slotmgrd listening on ' 5
address="$(sed -n 's/^slotmgrd listening on //p' "$work/coordinator.out")"
grep -q "^STATUS=serving on $address\$" "$work/coordinator.notify" ||
  fail "slotmgrd: no STATUS line naming $address"
wait_for "$work/coordinator.notify" '^WATCHDOG=1$' 5 || fail "slotmgrd: no WATCHDOG=1"
ignores "$coordinator_pid" 13 || fail "slotmgrd does not ignore SIGPIPE"

kill -HUP "$coordinator_pid"
wait_for "$work/coordinator.log" 'SIGHUP: re-read mutual TLS' 10 ||
  fail "slotmgrd: no log line for SIGHUP"
kill -0 "$coordinator_pid" 2>/dev/null || fail "slotmgrd died of SIGHUP"
slotctl status >"$work/status.out" 2>&1 || fail "slotctl status after SIGHUP: $(cat "$work/status.out")"

# ---- The agent -----------------------------------------------------------------
mkdir -p "$work/du1/s01/users/alice" "$work/agent-data"
cat >"$work/agent.textproto" <<CONF
host: "imap1"
coordinator_address: "$address"
peer_listen_address: "127.0.0.1:0"
data_dir: "$work/agent-data"
units { name: "du1" }
filesystems { mount_point: "$work/du1" unit: "du1" directory_only: true }
slots { name: "s01" path: "$work/du1/s01" filesystem: "$work/du1" capacity_bytes: 10000000 }
probes { kmsg_path: "-" }
tls { ca_file: "$certs/ca.pem" cert_file: "$certs/imap1.pem" key_file: "$certs/imap1.key" }
CONF
python3 "$listener" "$sockets/agent" "$work/agent.notify" &
pids+=($!)
wait_for_socket "$sockets/agent"
NOTIFY_SOCKET="$sockets/agent" WATCHDOG_USEC=400000 "$replicatord" \
  --config="$work/agent.textproto" >"$work/agent.out" 2>"$work/agent.log" &
agent_pid=$!
pids+=($agent_pid)
wait_for "$work/agent.notify" '^READY=1$' || { fail "replicatord: no READY=1"; cat "$work/agent.log"; }
grep -q '^STATUS=host imap1: peers served on 127.0.0.1:' "$work/agent.notify" ||
  fail "replicatord: no STATUS line"
wait_for "$work/agent.notify" '^WATCHDOG=1$' 5 || fail "replicatord: no WATCHDOG=1"
ignores "$agent_pid" 13 || fail "replicatord does not ignore SIGPIPE"

kill -HUP "$agent_pid"
wait_for "$work/agent.log" 'SIGHUP: re-read mutual TLS.*restart the agent to apply a new config' 10 ||
  fail "replicatord: no log line for SIGHUP"
pings="$(count "$work/agent.notify" '^WATCHDOG=1$')"
sleep 1
kill -0 "$agent_pid" 2>/dev/null || fail "replicatord died of SIGHUP"
[ "$(count "$work/agent.notify" '^WATCHDOG=1$')" -gt "$pings" ] ||
  fail "replicatord: no WATCHDOG=1 after SIGHUP"
# Its session with the coordinator: the host is up.
for ((i = 0; i < 100; i++)); do
  slotctl hosts >"$work/hosts.out" 2>&1 && grep -Eq 'imap1 +up' "$work/hosts.out" && break
  sleep 0.1
done
grep -Eq 'imap1 +up' "$work/hosts.out" || fail "imap1 is not up after SIGHUP: $(cat "$work/hosts.out")"

# ---- Shutdown --------------------------------------------------------------------
for who in agent coordinator; do
  pid_var="${who}_pid"
  kill -TERM "${!pid_var}"
  wait "${!pid_var}"
  rc=$?
  [ "$rc" -eq 0 ] || fail "$who exited $rc on SIGTERM"
  wait_for "$work/$who.notify" '^STOPPING=1$' 5 || fail "$who: no STOPPING=1"
done

if [ "$failures" -gt 0 ]; then
  echo "--- coordinator log:"; tail -n 20 "$work/coordinator.log"
  echo "--- agent log:"; tail -n 20 "$work/agent.log"
  echo "$failures failure(s)"
  exit 1
fi
echo "PASS"
