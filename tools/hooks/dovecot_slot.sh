#!/bin/sh
# A slot's Dovecot instance (IMAP and LMTP), as replicatord's hooks:
#
#   hooks {
#     pre_promote: "/usr/lib/slotkeeper/hooks/dovecot_slot.sh pre_promote"
#     promote:     "/usr/lib/slotkeeper/hooks/dovecot_slot.sh promote"
#     demote:      "/usr/lib/slotkeeper/hooks/dovecot_slot.sh demote"
#   }
#
# pre_promote  the instance could start: its config (from the template)
#              passes `doveconf`, both ports are free, the slot's users/ is
#              there.
# promote      starts the instance under slotfence, so it serves only while
#              the slot's lease file shows a valid lease for this store and
#              epoch (refused without one: exit 3), and waits until IMAP and
#              LMTP accept connections.
# demote       stops the instance and waits for every one of its processes
#              to exit (exit 0 also when none was running).
#
# From the agent (replicator/hooks.h): SLOTKEEPER_SLOT, _SLOT_PATH, _STORE,
# _EPOCH, _LEASE_FILE, _SERVICE_ADDRESS (IPV4:PORT: IMAP on PORT, LMTP on
# PORT + SLOTKEEPER_LMTP_PORT_OFFSET). Settings, from the environment (set
# them in the hook's command line):
#   SLOTKEEPER_DOVECOT_DIR      where instances live, one directory per slot
#                               (default /var/lib/slotkeeper/dovecot); not on
#                               a drive unit: nothing there is replicated
#   SLOTKEEPER_DOVECOT_PASSDB   passwd-file of the users and their passwords
#                               (default /etc/slotkeeper/dovecot-users)
#   SLOTKEEPER_MAIL_USER        the user every process of the instance runs
#                               as and that owns the mail (default mail);
#                               replicas must be owned by it
#                               (data_path { mail_uid mail_gid })
#   SLOTKEEPER_LMTP_PORT_OFFSET LMTP's port after IMAP's (default 1)
#   SLOTKEEPER_SLOTFENCE        the slotfence binary (default: on PATH)
#   SLOTKEEPER_DOVECOT_TEMPLATE the config template (default: beside this
#                               script, dovecot-slot.conf.in)
#   SLOTKEEPER_HOOK_START_SECONDS how long promote waits for the ports (10)
#
# The instance runs entirely as the mail user: setpriv drops root before
# Dovecot starts, so no process of the instance is privileged.
set -u

say() { printf 'dovecot_slot: %s\n' "$*" >&2; }
die() { say "$2"; exit "$1"; }

action="${1:-${SLOTKEEPER_ACTION:-}}"
here="$(cd "$(dirname "$0")" && pwd)"
dir="${SLOTKEEPER_DOVECOT_DIR:-/var/lib/slotkeeper/dovecot}"
passdb="${SLOTKEEPER_DOVECOT_PASSDB:-/etc/slotkeeper/dovecot-users}"
mail_user="${SLOTKEEPER_MAIL_USER:-mail}"
lmtp_offset="${SLOTKEEPER_LMTP_PORT_OFFSET:-1}"
fence="${SLOTKEEPER_SLOTFENCE:-slotfence}"
template="${SLOTKEEPER_DOVECOT_TEMPLATE:-$here/dovecot-slot.conf.in}"
start_seconds="${SLOTKEEPER_HOOK_START_SECONDS:-10}"
slot="${SLOTKEEPER_SLOT:-}"
slot_path="${SLOTKEEPER_SLOT_PATH:-}"
service="${SLOTKEEPER_SERVICE_ADDRESS:-}"

is_number() { case "$1" in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac; }

# Everything that comes from outside is checked before it reaches a path, a
# config file or a command line.
validate() {
  case "$slot" in
    '' | *[!A-Za-z0-9._-]* | .*) die 2 "bad SLOTKEEPER_SLOT '$slot' (letters, digits, . _ - only)" ;;
  esac
  case "$slot_path" in
    /*) ;;
    *) die 2 "SLOTKEEPER_SLOT_PATH '$slot_path' is not an absolute path" ;;
  esac
  case "$slot_path$dir$passdb" in
    *[!A-Za-z0-9._/-]*) die 2 "paths may hold letters, digits and . _ - / only: '$slot_path' '$dir' '$passdb'" ;;
  esac
  listen="${service%:*}"
  imap_port="${service##*:}"
  case "$listen" in
    '' | *[!0-9.]*) die 2 "SLOTKEEPER_SERVICE_ADDRESS '$service' is not IPV4:PORT" ;;
  esac
  is_number "$imap_port" && is_number "$lmtp_offset" ||
    die 2 "SLOTKEEPER_SERVICE_ADDRESS '$service' is not IPV4:PORT (or a bad LMTP offset)"
  lmtp_port=$((imap_port + lmtp_offset))
  if [ "$imap_port" -lt 1 ] || [ "$lmtp_port" -gt 65535 ] || [ "$lmtp_offset" -lt 1 ]; then
    die 2 "ports $imap_port (IMAP) and $lmtp_port (LMTP) are out of range"
  fi
  mail_uid="$(id -u "$mail_user" 2>/dev/null)" || die 2 "no user '$mail_user' (SLOTKEEPER_MAIL_USER)"
  mail_gid="$(id -g "$mail_user")"
  [ "$mail_uid" -ne 0 ] || die 2 "the mail user must not be root (Dovecot refuses uid 0 for mail)"
  [ -f "$template" ] || die 2 "no config template at $template"
  [ -r "$passdb" ] || die 2 "cannot read the users' passwd-file $passdb"
  instance="$dir/$slot"
  conf="$instance/dovecot.conf"
}

# The instance's directory and config, owned by the mail user.
render() {
  mkdir -p "$instance/run" "$instance/state" "$instance/index" "$instance/volatile" ||
    die 1 "cannot create $instance"
  chown "$mail_uid:$mail_gid" "$instance" "$instance/run" "$instance/state" "$instance/index" \
    "$instance/volatile" || die 1 "cannot give $instance to $mail_user"
  sed -e "s#@INSTANCE_DIR@#$instance#g" -e "s#@SLOT@#$slot#g" -e "s#@LISTEN@#$listen#g" \
    -e "s#@IMAP_PORT@#$imap_port#g" -e "s#@LMTP_PORT@#$lmtp_port#g" \
    -e "s#@MAIL_ROOT@#$slot_path/users#g" -e "s#@MAIL_USER@#$mail_user#g" \
    -e "s#@MAIL_UID@#$mail_uid#g" -e "s#@MAIL_GID@#$mail_gid#g" -e "s#@PASSDB@#$passdb#g" \
    "$template" >"$conf.tmp" && mv "$conf.tmp" "$conf" || die 1 "cannot write $conf"
}

as_mail() { setpriv --reuid="$mail_uid" --regid="$mail_gid" --clear-groups -- "$@"; }

check_config() {
  out="$(as_mail doveconf -c "$conf" -n 2>&1 >/dev/null)" ||
    die 1 "doveconf refuses $conf: $out"
  [ -d "$slot_path/users" ] || die 1 "the slot has no users/ directory ($slot_path/users)"
  as_mail test -x "$slot_path/users" || die 1 "$mail_user cannot enter $slot_path/users"
}

# Free: nothing listens there and it can be bound (as Dovecot will, with
# SO_REUSEADDR).
port_free() {
  python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind((sys.argv[1], int(sys.argv[2])))
except OSError as e:
    print(e); sys.exit(1)' "$listen" "$1"
}

listening() {
  python3 -c 'import socket, sys
s = socket.socket(); s.settimeout(1)
sys.exit(s.connect_ex((sys.argv[1], int(sys.argv[2]))) != 0)' "$listen" "$1"
}

# The PID in `file` when it is alive and its command line names `word` and
# this instance (not a recycled PID of something else).
live_pid() {
  [ -f "$1" ] || return 1
  pid="$(cat "$1" 2>/dev/null)"
  is_number "$pid" || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
  case "$cmd" in *"$2"*"$instance"*) echo "$pid" ;; *) return 1 ;; esac
}

wait_gone() {  # pid seconds
  n=0
  while [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; do
    [ "$n" -ge $(($2 * 10)) ] && return 1
    sleep 0.1
    n=$((n + 1))
  done
  return 0
}

stop_instance() {
  stopped=""
  if fpid="$(live_pid "$instance/fence.pid" slotfence)"; then
    kill -TERM "$fpid" 2>/dev/null
    wait_gone "$fpid" 10 || { kill -KILL "$fpid" 2>/dev/null; wait_gone "$fpid" 2; }
    stopped=" slotfence $fpid"
  fi
  # Dovecot's master, should the fence be gone (its PDEATHSIG kills it too).
  if mpid="$(live_pid "$instance/run/master.pid" dovecot)"; then
    kill -TERM "$mpid" 2>/dev/null
    wait_gone "$mpid" 10 || { kill -KILL "$mpid" 2>/dev/null; wait_gone "$mpid" 2; }
    stopped="$stopped dovecot $mpid"
  fi
  if live_pid "$instance/run/master.pid" dovecot >/dev/null; then
    die 1 "dovecot of slot $slot is still running"
  fi
  rm -f "$instance/fence.pid"
  [ -n "$stopped" ] && say "slot $slot: stopped$stopped"
  return 0
}

start_instance() {
  lease="${SLOTKEEPER_LEASE_FILE:-}"
  store="${SLOTKEEPER_STORE:-}"
  epoch="${SLOTKEEPER_EPOCH:-}"
  [ -n "$lease" ] || die 3 "no lease file from the agent: refusing to serve slot $slot"
  [ -f "$lease" ] || die 3 "slot $slot holds no lease ($lease is missing): refusing to serve it"
  case "$store" in '' | *[!A-Za-z0-9._-]*) die 2 "bad SLOTKEEPER_STORE '$store'" ;; esac
  is_number "$epoch" || die 2 "bad SLOTKEEPER_EPOCH '$epoch'"
  for p in "$imap_port" "$lmtp_port"; do
    why="$(port_free "$p")" || die 1 "port $listen:$p is taken: $why"
  done
  : >"$instance/fence.log"
  # A session of its own (the hook's process group is killed at its
  # timeout), no inherited output (the agent reads the hook's to its end).
  setsid "$fence" --lease_file="$lease" --store="$store" --epoch="$epoch" -- \
    setpriv --reuid="$mail_uid" --regid="$mail_gid" --clear-groups -- \
    dovecot -F -c "$conf" </dev/null >>"$instance/fence.log" 2>&1 &
  echo $! >"$instance/fence.pid"
  fpid=$!
  n=0
  while ! { listening "$imap_port" && listening "$lmtp_port"; }; do
    if ! [ -d "/proc/$fpid" ] || grep -q '^State:.*Z' "/proc/$fpid/status" 2>/dev/null; then
      wait "$fpid"
      code=$?
      say "slot $slot: the instance did not start (exit $code): $(tail -c 600 "$instance/fence.log")"
      [ "$code" -eq 3 ] && exit 3
      exit 1
    fi
    if [ "$n" -ge $((start_seconds * 10)) ]; then
      stop_instance
      die 1 "slot $slot: IMAP $listen:$imap_port and LMTP :$lmtp_port not up after ${start_seconds}s"
    fi
    sleep 0.1
    n=$((n + 1))
  done
  say "slot $slot ($store@$epoch): IMAP on $listen:$imap_port, LMTP on $listen:$lmtp_port (slotfence $fpid)"
}

case "$action" in
  pre_promote)
    validate
    render
    check_config
    if ! live_pid "$instance/run/master.pid" dovecot >/dev/null; then
      for p in "$imap_port" "$lmtp_port"; do
        why="$(port_free "$p")" || die 1 "port $listen:$p is taken: $why"
      done
    fi
    say "slot $slot: config valid, ports $imap_port and $lmtp_port usable"
    ;;
  promote)
    validate
    stop_instance  # an instance of an earlier epoch
    render
    check_config
    start_instance
    ;;
  demote)
    validate
    stop_instance
    ;;
  *) die 2 "usage: dovecot_slot.sh pre_promote|promote|demote (or SLOTKEEPER_ACTION)" ;;
esac
exit 0
