#!/usr/bin/env bash
# The Dovecot hooks against a real slot directory, a real lease file (the
# format replicator/lease_file.h writes), the real slotfence and a real
# Dovecot: pre_promote's checks, promote refused without a valid lease,
# IMAP login and LMTP delivery with Python's imaplib and smtplib, mail owned
# by the mail user, the fence stopping the instance when the lease runs out,
# and demote stopping it.
#
# Needs root (the instance drops to the mail user with setpriv) and Dovecot
# (tools/dev deps installs dovecot-imapd and dovecot-lmtpd).
set -uo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: needs root (the hooks drop to the mail user)"
  exit 0
fi
command -v dovecot >/dev/null || { echo "FAIL: dovecot is not installed (tools/dev deps)"; exit 1; }

runfiles="${TEST_SRCDIR:-$PWD/..}/slotkeeper"
hook="$runfiles/tools/hooks/dovecot_slot.sh"
fence="$runfiles/tools/slotfence/slotfence"

# Not under TEST_TMPDIR: the mail user must be able to reach the slot, and
# /root (where Bazel's output lives) is closed to it.
root="$(mktemp -d /tmp/slotkeeper-hooks.XXXXXX)"
chmod 755 "$root"
imap_port=$((20000 + RANDOM % 20000))
lmtp_port=$((imap_port + 1))

export SLOTKEEPER_SLOT=du1s1 SLOTKEEPER_SLOT_PATH="$root/slot" SLOTKEEPER_STORE=st1 \
  SLOTKEEPER_EPOCH=4 SLOTKEEPER_LEASE_FILE="$root/leases/du1s1.lease" \
  SLOTKEEPER_SERVICE_ADDRESS="127.0.0.1:$imap_port" SLOTKEEPER_DOVECOT_DIR="$root/dovecot" \
  SLOTKEEPER_DOVECOT_PASSDB="$root/users.passwd" SLOTKEEPER_SLOTFENCE="$fence"

cleanup() {
  "$hook" demote >/dev/null 2>&1
  rm -rf "$root"
}
trap cleanup EXIT

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

mkdir -p "$root/slot/users/alice/cur" "$root/slot/users/alice/new" "$root/slot/users/alice/tmp" \
  "$root/leases"
chown -R mail:mail "$root/slot/users"
printf 'alice:{PLAIN}secret\n' >"$root/users.passwd"

monotonic_ns() { python3 -c 'import time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC))'; }
# write_lease STORE EPOCH SECONDS_FROM_NOW (negative: already over)
write_lease() {
  printf 'store %s\nepoch %s\nserving_until_ns %s\n' "$1" "$2" \
    $(($(monotonic_ns) + $3 * 1000000000)) >"$SLOTKEEPER_LEASE_FILE.tmp"
  mv "$SLOTKEEPER_LEASE_FILE.tmp" "$SLOTKEEPER_LEASE_FILE"
}
listening() {
  python3 -c 'import socket, sys
s = socket.socket(); s.settimeout(1)
sys.exit(s.connect_ex(("127.0.0.1", int(sys.argv[1]))) != 0)' "$1"
}
master_pid() { cat "$root/dovecot/du1s1/run/master.pid" 2>/dev/null; }

# --- pre_promote -----------------------------------------------------------
out="$("$hook" pre_promote 2>&1)" && ok "pre_promote passes" || fail "pre_promote: $out"
grep -q "^listen = 127.0.0.1$" "$root/dovecot/du1s1/dovecot.conf" ||
  fail "the instance does not listen on the service address only"

SLOTKEEPER_SERVICE_ADDRESS="127.0.0.1:http" "$hook" pre_promote >"$root/out" 2>&1
code=$?
[ "$code" = 2 ] && grep -q "not IPV4:PORT" "$root/out" && ok "a bad service address is refused" ||
  fail "bad service address: exit $code, $(cat "$root/out")"

SLOTKEEPER_SLOT="../x" "$hook" pre_promote >"$root/out" 2>&1
[ $? = 2 ] && ok "a slot name with a path in it is refused" || fail "slot ../x: $(cat "$root/out")"

# A port already taken: pre_promote names it.
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); time.sleep(30)' \
  "$lmtp_port" &
holder=$!
sleep 0.5
"$hook" pre_promote >"$root/out" 2>&1
code=$?
kill "$holder"; wait "$holder" 2>/dev/null
[ "$code" != 0 ] && grep -q "port 127.0.0.1:$lmtp_port is taken" "$root/out" &&
  ok "pre_promote vetoes a taken port" || fail "taken port: exit $code, $(cat "$root/out")"

# --- promote without a valid lease -----------------------------------------
"$hook" promote >"$root/out" 2>&1
code=$?
[ "$code" = 3 ] && ! listening "$imap_port" && ok "promote without a lease file is refused" ||
  fail "no lease: exit $code, $(cat "$root/out")"

write_lease st1 4 -1
"$hook" promote >"$root/out" 2>&1
code=$?
[ "$code" = 3 ] && ! listening "$imap_port" && ok "promote with an expired lease is refused" ||
  fail "expired lease: exit $code, $(cat "$root/out")"

write_lease st1 3 60
"$hook" promote >"$root/out" 2>&1
code=$?
[ "$code" = 3 ] && ! listening "$imap_port" && ok "promote under another epoch's lease is refused" ||
  fail "other epoch: exit $code, $(cat "$root/out")"

# --- promote with a lease: real IMAP and LMTP ------------------------------
write_lease st1 4 60
if out="$("$hook" promote 2>&1)"; then ok "promote starts the instance"; else fail "promote: $out"; fi
pid="$(master_pid)"
[ -n "$pid" ] && [ "$(stat -c %U "/proc/$pid")" = mail ] &&
  ok "Dovecot's master runs as the mail user" || fail "master $pid does not run as mail"

if python3 - "$imap_port" "$lmtp_port" <<'EOF'; then ok "LMTP delivery and IMAP login, fetch and flags"; else fail "mail through the instance"; fi
import imaplib, smtplib, sys
imap_port, lmtp_port = int(sys.argv[1]), int(sys.argv[2])
lmtp = smtplib.LMTP("127.0.0.1", lmtp_port)
refused = lmtp.sendmail("sender@example.org", ["alice"],
                        b"Subject: one\r\nMessage-ID: <one@test>\r\n\r\nhello\r\n")
assert refused == {}, refused
try:
    lmtp.sendmail("sender@example.org", ["mallory"], b"Subject: x\r\n\r\nx\r\n")
    raise SystemExit("a user the passwd-file does not name got mail")
except smtplib.SMTPRecipientsRefused as e:
    assert e.recipients["mallory"][0] == 550, e.recipients
lmtp.quit()
imap = imaplib.IMAP4("127.0.0.1", imap_port)
try:
    imap.login("alice", "wrong")
    raise SystemExit("a wrong password logged in")
except imaplib.IMAP4.error:
    pass
imap = imaplib.IMAP4("127.0.0.1", imap_port)
imap.login("alice", "secret")
typ, data = imap.select("INBOX")
assert data == [b"1"], data
imap.store("1", "+FLAGS", "(\\Flagged)")
typ, data = imap.fetch("1", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
assert b"\\Flagged" in data[0][0] and b"<one@test>" in data[0][1], data
imap.logout()
EOF

msgs="$(find "$root/slot/users/alice/cur" "$root/slot/users/alice/new" -type f)"
[ "$(echo "$msgs" | grep -c .)" = 1 ] && case "$msgs" in *:2,F) true ;; *) false ;; esac &&
  ok "the message is one Maildir file with its flag in its name" || fail "Maildir holds: $msgs"
[ -z "$(find "$root/slot/users" -not -user mail)" ] ||
  fail "mail not owned by the mail user: $(find "$root/slot/users" -not -user mail)"
[ -z "$(find "$root/slot/users/alice" -name 'dovecot.index*')" ] ||
  fail "indexes were written into the slot (they must stay in the instance directory)"

# --- the fence: the lease runs out, the instance stops ---------------------
write_lease st1 4 1
for _ in $(seq 50); do listening "$imap_port" || break; sleep 0.1; done
sleep 0.5
if ! listening "$imap_port" && ! [ -d "/proc/$pid" ]; then
  ok "the instance stops when the lease runs out"
else
  fail "the instance still serves after its lease ran out"
fi

# --- demote ----------------------------------------------------------------
write_lease st1 4 60
"$hook" promote >/dev/null 2>&1 || fail "promote again"
pid="$(master_pid)"
listening "$imap_port" || fail "not serving after the second promote"
out="$("$hook" demote 2>&1)" || fail "demote: $out"
if ! listening "$imap_port" && ! listening "$lmtp_port" && ! [ -d "/proc/$pid" ]; then
  ok "demote stops the instance and waits for it"
else
  fail "still running after demote (master $pid)"
fi
"$hook" demote >/dev/null 2>&1 && ok "demote with nothing running succeeds" || fail "second demote"

if [ "$failures" -gt 0 ]; then
  echo "$failures failure(s); the instance log:"
  tail -20 "$root/dovecot/du1s1/dovecot.log" "$root/dovecot/du1s1/fence.log" 2>/dev/null
  exit 1
fi
echo "PASS"
