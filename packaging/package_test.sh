#!/usr/bin/env bash
# The Debian packages, unpacked and checked as a host would get them:
#   - control fields (version from VERSION, Depends from shared_libs.txt),
#     conffiles, owners and modes of every installed file;
#   - the units pass `systemd-analyze verify` (binaries from the scratch root),
#     and the agent's hardening leaves mount, loop devices, /dev/kmsg and
#     chown possible (no option that takes them away);
#   - every installed binary prints its version line and help (for help2man),
#     each has a man page, and the shipped flag files and example config are
#     read by the daemons (they stop at the TLS files the test does not have).
#   packaging_test.sh COORDINATOR.deb AGENT.deb TOOLS.deb VERSION
set -uo pipefail
coordinator_deb="$1" agent_deb="$2" tools_deb="$3"
version="$(head -n1 "$4" | tr -d '[:space:]')"
work="$(mktemp -d "${TEST_TMPDIR:-/tmp}/package-test.XXXXXX")"
root="$work/root"
mkdir -p "$root"

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

field() { dpkg-deb -f "$1" "$2"; }

# ---- Control fields and conffiles --------------------------------------
check_control() {  # DEB PACKAGE CONFFILES [DEPENDS...]
  local deb="$1" package="$2" conffiles="$3"
  shift 3
  [ "$(field "$deb" Package)" = "$package" ] || fail "$deb: Package is $(field "$deb" Package)"
  [ "$(field "$deb" Version)" = "$version" ] ||
    fail "$package: Version $(field "$deb" Version), VERSION says $version"
  [ "$(field "$deb" Architecture)" = "$(dpkg --print-architecture)" ] ||
    fail "$package: Architecture $(field "$deb" Architecture)"
  local depends dep
  depends="$(field "$deb" Depends)"
  for dep in "$@"; do
    if [[ "$dep" == !* ]]; then
      grep -qw -- "${dep#!}" <<<"$depends" && fail "$package: Depends names ${dep#!}: $depends"
    else
      grep -qw -- "$dep" <<<"$depends" || fail "$package: Depends lacks $dep: $depends"
    fi
  done
  local listed
  listed="$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles 2>/dev/null | sort | tr '\n' ' ')"
  [ "$listed" = "$conffiles" ] || fail "$package: conffiles are \"$listed\", expected \"$conffiles\""
  # Every file root-owned.
  local owners
  owners="$(dpkg-deb -c "$deb" | awk '$2 != "root/root" {print $6}')"
  [ -z "$owners" ] || fail "$package: files not owned by root: $owners"
  ok "$package: control, conffiles, owners"
}
check_control "$coordinator_deb" slotkeeper-coordinator "/etc/slotkeeper/slotmgrd.conf " \
  libc6 libstdc++6 libsystemd0
check_control "$agent_deb" slotkeeper-agent "/etc/slotkeeper/replicatord.conf " \
  libc6 libstdc++6 libsystemd0
check_control "$tools_deb" slotkeeper-tools "" libc6 libstdc++6 '!libsystemd0'

# Maintainer scripts: present, executable, valid sh.
for deb in "$coordinator_deb" "$agent_deb"; do
  mkdir -p "$work/ctrl"
  rm -rf "$work/ctrl"/*
  dpkg-deb -e "$deb" "$work/ctrl"
  for script in postinst prerm postrm; do
    if [ ! -x "$work/ctrl/$script" ]; then
      fail "$(field "$deb" Package): no executable $script"
    elif ! sh -n "$work/ctrl/$script"; then
      fail "$(field "$deb" Package): $script is not valid sh"
    fi
  done
done
ok "maintainer scripts"

# ---- Files and modes ------------------------------------------------------
for deb in "$coordinator_deb" "$agent_deb" "$tools_deb"; do
  dpkg-deb -x "$deb" "$root" || fail "dpkg-deb -x $deb"
done
check_mode() {  # MODE PATH
  if [ ! -e "$root$2" ]; then
    fail "$2 is not installed"
  elif [ "$(stat -c %a "$root$2")" != "$1" ]; then
    fail "$2 has mode $(stat -c %a "$root$2"), expected $1"
  fi
}
daemons=(usr/sbin/slotmgrd:8 usr/sbin/replicatord:8)
tools=(usr/bin/slotctl:1 usr/bin/slotsync:1 usr/bin/slotpeer:1 usr/bin/mailgen:1 usr/bin/slotfence:1)
for entry in "${daemons[@]}" "${tools[@]}"; do
  path="/${entry%:*}" section="${entry#*:}" name="$(basename "${entry%:*}")"
  check_mode 755 "$path"
  man="/usr/share/man/man$section/$name.$section.gz"
  check_mode 644 "$man"
  # help2man turned the help's "Options:" into an OPTIONS section (slotctl's
  # own help has verbs and global flags instead).
  if [ -f "$root$man" ] && ! zcat "$root$man" | grep -q "^\.TH \"*${name^^}\"* \"*$section"; then
    fail "$man has no .TH header for $name($section)"
  fi
  if [ "$name" != slotctl ] && [ -f "$root$man" ] && ! zcat "$root$man" | grep -q '^\.SS "Options:"\|^\.SH OPTIONS'; then
    fail "$man has no options section"
  fi
done
for f in /lib/systemd/system/slotmgrd.service /lib/systemd/system/replicatord.service \
         /etc/slotkeeper/slotmgrd.conf /etc/slotkeeper/replicatord.conf \
         /usr/lib/sysusers.d/slotkeeper.conf \
         /usr/share/doc/slotkeeper-coordinator/README.md /usr/share/doc/slotkeeper-agent/README.md \
         /usr/share/doc/slotkeeper-tools/README.md \
         /usr/share/doc/slotkeeper-agent/agent.textproto.example; do
  check_mode 644 "$f"
done
# The bash completion is installed exactly when the tree has one.
completion_src="${TEST_SRCDIR:-}/slotkeeper/tools/slotctl/slotctl.bash-completion"
if [ -f "$completion_src" ]; then
  check_mode 644 /usr/share/bash-completion/completions/slotctl
else
  [ ! -e "$root/usr/share/bash-completion/completions/slotctl" ] ||
    fail "a bash completion is installed but the tree has none"
  echo "note: tools/slotctl/slotctl.bash-completion is not in this tree; not packaged"
fi
ok "files and modes"

# ---- Units -------------------------------------------------------------------
unit_value() { sed -n "s/^$2=//p" "$root/lib/systemd/system/$1" | tail -n1; }
coord=slotmgrd.service agent=replicatord.service
[ "$(unit_value $coord Type)" = notify ] || fail "$coord: Type is not notify"
[ "$(unit_value $coord User)" = slotkeeper ] || fail "$coord: User is not slotkeeper"
[ "$(unit_value $coord StateDirectory)" = slotkeeper ] || fail "$coord: StateDirectory is not slotkeeper"
grep -q '^--data_dir=/var/lib/slotkeeper/' "$root/etc/slotkeeper/slotmgrd.conf" ||
  fail "slotmgrd.conf's --data_dir is not inside the StateDirectory"
[ "$(unit_value $agent Type)" = notify ] || fail "$agent: Type is not notify"
[ -n "$(unit_value $agent WatchdogSec)" ] || fail "$agent: no WatchdogSec"
[ "$(unit_value $agent User)" = root ] || fail "$agent: User is not root (it mounts and chowns)"
# What the agent needs (mount and loop devices, /dev/kmsg, chown of any
# user's mail, slots anywhere) and the options that would take it away.
for bad in '^PrivateDevices=(yes|true|1)' '^ProtectKernelLogs=(yes|true|1)' \
           '^ProtectHome=(yes|true|1|read-only|tmpfs)' '^RestrictSUIDSGID=(yes|true|1)' \
           '^CapabilityBoundingSet=' '^SystemCallFilter=' '^RestrictNamespaces=(yes|true|1)' \
           '^DevicePolicy=(closed|strict)' '^DeviceAllow=' '^ProtectSystem=strict' \
           '^MountFlags=(private|slave)' '^PrivateMounts=(yes|true|1)' '^DynamicUser=(yes|true|1)'; do
  if grep -Eq "$bad" "$root/lib/systemd/system/$agent"; then
    fail "$agent: $(grep -E "$bad" "$root/lib/systemd/system/$agent") blocks what the agent needs"
  fi
done
# systemd-analyze verify, with the binaries the units name taken from the
# scratch root (the unit files rewritten to point there).
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$work/units"
  for unit in $coord $agent; do
    sed -e "s|/usr/sbin/|$root/usr/sbin/|g" "$root/lib/systemd/system/$unit" >"$work/units/$unit"
  done
  if out="$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "$work/units/$coord" \
            "$work/units/$agent" 2>&1)"; then
    ok "systemd-analyze verify"
  else
    fail "systemd-analyze verify: $out"
  fi
  [ -z "$out" ] || echo "$out"
else
  echo "note: systemd-analyze is not installed; units not verified"
fi
# The sysusers file creates the slotkeeper user (in the scratch root).
if command -v systemd-sysusers >/dev/null; then
  if ! out="$(systemd-sysusers --root="$root" --dry-run \
              "$root/usr/lib/sysusers.d/slotkeeper.conf" 2>&1)" || ! grep -q slotkeeper <<<"$out"; then
    fail "systemd-sysusers does not create slotkeeper: $out"
  fi
fi
ok "units"

# ---- The installed binaries ---------------------------------------------------
for entry in "${daemons[@]}" "${tools[@]}"; do
  path="$root/${entry%:*}" name="$(basename "${entry%:*}")"
  line="$("$path" --version 2>&1)"
  rc=$?
  expected="^$name $version \\(commit (unknown \\(unstamped build\\)|[0-9a-f]{7,40}(-dirty)?, built [0-9]{4}-[0-9]{2}-[0-9]{2})\\)\$"
  if [ "$rc" -ne 0 ] || ! [[ "$line" =~ $expected ]]; then
    fail "$name --version: exit $rc, \"$line\""
  fi
  if ! "$path" --help >"$work/help" 2>&1; then
    fail "$name --help exits non-zero"
  elif ! grep -q "Usage: $name" "$work/help"; then
    fail "$name --help has no \"Usage: $name\" line"
  fi
done
ok "--version and --help of every installed binary"

# The shipped flag files parse: each daemon gets as far as the files the
# test does not have (the TLS files; the agent's config).
out="$("$root/usr/sbin/slotmgrd" --flagfile="$root/etc/slotkeeper/slotmgrd.conf" 2>&1)"
grep -q '/etc/slotkeeper/ca.pem' <<<"$out" || fail "slotmgrd.conf: expected a complaint about ca.pem: $out"
out="$("$root/usr/sbin/replicatord" --flagfile="$root/etc/slotkeeper/replicatord.conf" 2>&1)"
grep -q '/etc/slotkeeper/agent.textproto' <<<"$out" ||
  fail "replicatord.conf: expected a complaint about agent.textproto: $out"
out="$("$root/usr/sbin/replicatord" \
        --config="$root/usr/share/doc/slotkeeper-agent/agent.textproto.example" 2>&1)"
grep -q '/etc/slotkeeper/ca.pem' <<<"$out" ||
  fail "agent.textproto.example is not a valid config (it should fail only on TLS): $out"
ok "flag files and the example config"

rm -rf "$work"
if [ "$failures" -gt 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "PASS"
