#!/usr/bin/env bash
# slotfence with a real child process: it refuses to start without a valid
# lease, stops the server when the lease runs out or the file is removed,
# and its server dies with it.
set -euo pipefail
fence="$TEST_SRCDIR/slotkeeper/tools/slotfence/slotfence"
dir="$(mktemp -d "${TEST_TMPDIR:-/tmp}/fence.XXXXXX")"
lease="$dir/s01.lease"
now_ns() { python3 -c 'import time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC))'; }
write_lease() {  # seconds from now
  local until=$(( $(now_ns) + $1 * 1000000000 ))
  printf 'store st1\nepoch 4\nserving_until_ns %s\n' "$until" > "$lease.tmp"
  mv "$lease.tmp" "$lease"
}
fail() { echo "FAIL: $*"; exit 1; }
alive() { kill -0 "$1" 2>/dev/null; }
# The pid of the stand-in server: the only child of the fence.
server_of() { pgrep -P "$1" | head -1; }
wait_gone() {  # pid, seconds
  for _ in $(seq 1 $(( $2 * 20 ))); do alive "$1" || return 0; sleep 0.05; done
  return 1
}

# 1. No lease file, or an expired one: refuse to start (exit 3).
set +e
"$fence" --lease_file="$lease" -- sleep 1000 2>"$dir/err1"; rc=$?
set -e
[ "$rc" = 3 ] || fail "no lease file: exit $rc, want 3"
grep -q "lease file is gone" "$dir/err1" || fail "no reason given: $(cat "$dir/err1")"
write_lease -1
set +e; "$fence" --lease_file="$lease" -- sleep 1000 2>/dev/null; rc=$?; set -e
[ "$rc" = 3 ] || fail "expired lease: exit $rc, want 3"

# 2. A lease that is not renewed: the server is stopped when it runs out.
write_lease 2
"$fence" --lease_file="$lease" --store=st1 --epoch=4 -- sleep 1000 2>"$dir/err2" &
f=$!
sleep 0.5
s="$(server_of "$f")"
[ -n "$s" ] && alive "$s" || fail "the server did not start: $(cat "$dir/err2")"
wait_gone "$s" 5 || fail "the server outlived its lease"
wait "$f" || fail "slotfence exited non-zero after fencing"
grep -q "ran out" "$dir/err2" || fail "no fencing reason logged: $(cat "$dir/err2")"

# 3. Renewed: keeps running; removed (demoted): stopped at once.
write_lease 2
"$fence" --lease_file="$lease" -- sleep 1000 2>"$dir/err3" &
f=$!
sleep 0.5
s="$(server_of "$f")"
for _ in 1 2 3 4; do write_lease 2; sleep 0.5; done   # 2 s, past the first deadline
alive "$s" || fail "a renewed lease did not keep the server running"
rm "$lease"
wait_gone "$s" 2 || fail "the server outlived the removal of its lease file"
wait "$f" || true

# 4. A lease for another epoch stops it.
write_lease 30
"$fence" --lease_file="$lease" --epoch=4 -- sleep 1000 2>/dev/null &
f=$!
sleep 0.5
s="$(server_of "$f")"
sed -i 's/^epoch 4$/epoch 5/' "$lease"
wait_gone "$s" 2 || fail "the server kept running under another epoch's lease"
wait "$f" || true

# 5. slotfence killed: its server dies with it (PR_SET_PDEATHSIG).
write_lease 30
"$fence" --lease_file="$lease" -- sleep 1000 2>/dev/null &
f=$!
sleep 0.5
s="$(server_of "$f")"
kill -9 "$f"
wait_gone "$s" 2 || fail "the server outlived a killed slotfence"
echo PASS
