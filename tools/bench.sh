#!/usr/bin/env bash
# The data-path benchmark: slotsync (over slotpeer, gRPC on loopback) against
# rsync (daemon on loopback) and cp -a, on one mailgen slot, in one run.
#
#   tools/bench.sh [--users 120] [--messages 24000] [--reps 3] [--small_reps 5] [--dir DIR]
#                  [--scrub_only | --tls_only]
#
# Then the scrub (scrub_bench): its read throughput on the source slot
# against plain cached and O_DIRECT reads of the same files, and the
# slotsync --delta incremental again while a scrub reads the source slot at
# the agent's default rate (8 MiB/s) and unlimited. --scrub_only skips the
# rsync comparison.
#
# Last, the cost of TLS: slotsync --delta over mutual TLS (a second slotpeer on
# the same slot, certificates from tools/certs.sh) against the same over
# plaintext on loopback, full copy, incremental and nothing changed, the two
# alternating which goes first. --tls_only runs only this part (after the
# untimed warm-up); --scrub_only skips it.
#
# Page cache: kept WARM consistently (the source tree is read once before
# timing; nothing drops caches, which would disturb other users of the
# machine). `sync` runs (untimed) before every timed command so that one
# run's writeback does not land in the next one's time.
# Prints every timing, then medians and ratios (slotsync / rsync).
# Binaries are release builds (--config=release: -c opt --copt=-O2, system
# libraries linked statically), as installed on a host: a no-change slotsync
# run would otherwise spend most of its time loading ~80 shared libraries.
# slotsync runs in two modes on two copies: full manifests (--delta=false)
# and delta manifests (--delta, the default); the incremental and no-change
# scenarios time both, alternating which goes first.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

USERS=120
MESSAGES=24000
REPS=3        # full copies (about 20 s each)
SMALL_REPS=5  # incremental and no-change runs (well under a second each)
DIR=/tmp/slotkeeper-bench
SCRUB_ONLY=0
TLS_ONLY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --users) USERS="$2"; shift 2 ;;
    --messages) MESSAGES="$2"; shift 2 ;;
    --reps) REPS="$2"; shift 2 ;;
    --small_reps) SMALL_REPS="$2"; shift 2 ;;
    --dir) DIR="$2"; shift 2 ;;
    --scrub_only) SCRUB_ONLY=1; shift ;;
    --tls_only) TLS_ONLY=1; shift ;;
    *) echo "bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$SCRUB_ONLY" -eq 1 ] && [ "$TLS_ONLY" -eq 1 ] && { echo "bench: --scrub_only and --tls_only exclude each other" >&2; exit 2; }
# RSYNC_PART: the comparison with rsync; SCRUB_PART and TLS_PART likewise.
RSYNC_PART=1; SCRUB_PART=1; TLS_PART=1
[ "$SCRUB_ONLY" -eq 1 ] && { RSYNC_PART=0; TLS_PART=0; }
[ "$TLS_ONLY" -eq 1 ] && { RSYNC_PART=0; SCRUB_PART=0; }

log() { printf '\033[1m[bench]\033[0m %s\n' "$*" >&2; }

command -v rsync >/dev/null || { log "rsync is not installed (tools/dev deps)"; exit 1; }
bazel build --config=release //tools:slotsync //tools:slotpeer //tools:mailgen \
  //tools:scrub_bench >&2
BIN="$(bazel info --config=release bazel-bin 2>/dev/null)/tools"
MAILGEN="$BIN/mailgen/mailgen"
SLOTSYNC="$BIN/slotsync/slotsync"
SLOTPEER="$BIN/slotsync/slotpeer"
SCRUB_BENCH="$BIN/slotsync/scrub_bench"

rm -rf "$DIR"
mkdir -p "$DIR"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

log "generating $USERS users, $MESSAGES messages (seed 1) in $DIR/src"
"$MAILGEN" --slot "$DIR/src" --users "$USERS" --messages "$MESSAGES" --seed 1 >&2
du -sh "$DIR/src" >&2

RSYNC_PORT="$(free_port)"
cat > "$DIR/rsyncd.conf" <<CONF
pid file = $DIR/rsyncd.pid
use chroot = no
[slot]
    path = $DIR/src
    read only = yes
    uid = root
    gid = root
CONF
rsync --daemon --no-detach --config="$DIR/rsyncd.conf" --address=127.0.0.1 \
  --port="$RSYNC_PORT" --log-file="$DIR/rsyncd.log" &
PIDS+=($!)

"$SLOTPEER" --slot "s1=$DIR/src" --listen 127.0.0.1:0 --insecure_loopback_only --data_dir "$DIR/peer-state" \
  --port_file "$DIR/peer.port" 2>"$DIR/slotpeer.log" &
PIDS+=($!)
for _ in $(seq 50); do [ -s "$DIR/peer.port" ] && break; sleep 0.1; done
PEER="127.0.0.1:$(cat "$DIR/peer.port")"
sleep 0.3

RSYNC=(rsync -a --delete "rsync://127.0.0.1:$RSYNC_PORT/slot/users/")
# --delta=false: the full-manifest mode (the default is --delta).
SS=("$SLOTSYNC" --source "$PEER" --insecure_loopback_only --slot s1 --quiet --delta=false)

# time_it NAME cmd...: runs cmd after an untimed sync, appends "NAME secs".
time_it() {
  local name="$1"; shift
  sync
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >"$DIR/last.out" 2>&1 || { cat "$DIR/last.out" >&2; log "FAILED: $*"; exit 1; }
  t1=$(date +%s.%N)
  local secs
  secs=$(python3 -c "print(f'{$t1-$t0:.3f}')")
  echo "$name $secs" >> "$DIR/times.txt"
  log "$name: ${secs}s   $(grep -h '^slotsync:' "$DIR/last.out" | tr '\n' ' ' || true)"
}

log "warming the page cache (source read once) and the source's hash cache"
find "$DIR/src" -type f -print0 | xargs -0 cat > /dev/null
t0=$(date +%s.%N)
"${SS[@]}" --dest "$DIR/warm" --state "$DIR/warm-state" >/dev/null
t1=$(date +%s.%N)
log "untimed first slotsync (source hash cache cold): $(python3 -c "print(f'{$t1-$t0:.3f}')")s"
rm -rf "$DIR/warm" "$DIR/warm-state"

for i in $(seq "$REPS"); do
  [ "$RSYNC_PART" -eq 0 ] && break
  rm -rf "$DIR/rsync-dst" "$DIR/ss-dst" "$DIR/ss-state" "$DIR/cp-dst"
  mkdir -p "$DIR/rsync-dst/users"
  sync
  time_it full_rsync "${RSYNC[@]}" "$DIR/rsync-dst/users/"
  time_it full_slotsync "${SS[@]}" --dest "$DIR/ss-dst" --state "$DIR/ss-state"
  time_it full_cp cp -a "$DIR/src" "$DIR/cp-dst"
done
rm -rf "$DIR/cp-dst"
# The copy the delta mode keeps in sync (untimed: its full copy is the same
# code path as full_slotsync).
rm -rf "$DIR/sd-dst" "$DIR/sd-state"
SD=("$SLOTSYNC" --source "$PEER" --insecure_loopback_only --slot s1 --quiet --delta --dest "$DIR/sd-dst" --state "$DIR/sd-state")
if [ "$RSYNC_PART" -eq 1 ] || [ "$SCRUB_PART" -eq 1 ]; then "${SD[@]}" >/dev/null; fi

# time_alternating REP NAME_A ARRAY_A NAME_B ARRAY_B: times the commands held
# in the arrays named ARRAY_A and ARRAY_B, alternating which goes first.
time_alternating() {
  local rep="$1" name_a="$2" name_b="$4"
  local -n cmd_a="$3" cmd_b="$5"
  if [ $((rep % 2)) -eq 1 ]; then
    time_it "$name_a" "${cmd_a[@]}"; time_it "$name_b" "${cmd_b[@]}"
  else
    time_it "$name_b" "${cmd_b[@]}"; time_it "$name_a" "${cmd_a[@]}"
  fi
}
SSX=("${SS[@]}" --dest "$DIR/ss-dst" --state "$DIR/ss-state")
# both_slotsync SCENARIO REP: the two slotsync modes, alternating.
both_slotsync() { time_alternating "$2" "$1_slotsync" SSX "$1_delta" SD; }

for i in $(seq "$SMALL_REPS"); do
  [ "$RSYNC_PART" -eq 0 ] && break
  "$MAILGEN" --slot "$DIR/src" --mutate --seed "$((100 + i))" --flag_pct 10 --new_pct 1 >&2
  sleep 0.5   # past the change tracker's racy window (100 ms)
  time_it incr_rsync "${RSYNC[@]}" "$DIR/rsync-dst/users/"
  both_slotsync incr "$i"
done

sleep 0.5
for i in $(seq "$SMALL_REPS"); do
  [ "$RSYNC_PART" -eq 0 ] && break
  time_it none_rsync "${RSYNC[@]}" "$DIR/rsync-dst/users/"
  both_slotsync none "$i"
done

if [ "$RSYNC_PART" -eq 1 ]; then
log "verifying: both copies equal the source"
diff -r "$DIR/src/users" "$DIR/rsync-dst/users" >/dev/null || { log "rsync copy differs!"; exit 1; }
diff -r "$DIR/src/users" "$DIR/ss-dst/users" >/dev/null || { log "slotsync copy differs!"; exit 1; }
diff -r "$DIR/src/users" "$DIR/sd-dst/users" >/dev/null || { log "slotsync --delta copy differs!"; exit 1; }
# Files' mtimes and modes too, and directories' modes (rsync -n lists what it
# would change; -O: directories' mtimes are not replicated; the slot's users/
# directory itself, "./", belongs to no user and is left out).
for d in ss-dst sd-dst; do
  n=$(rsync -aniO --delete "$DIR/src/users/" "$DIR/$d/users/" | grep -vc '^\.d[^ ]* \./$' || true)
  [ "$n" -eq 0 ] || { rsync -aniO --delete "$DIR/src/users/" "$DIR/$d/users/" | head >&2; log "$d: metadata differs!"; exit 1; }
done
log "verified: all three copies equal the source (content; slotsync copies also files' mtime and mode, directories' mode)"
log "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$DIR/times.txt" <<'PY'
import statistics, sys
t = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    t.setdefault(k, []).append(float(v))
med = {k: statistics.median(v) for k, v in t.items()}
print("| scenario | mode | rsync (median s) | slotsync (median s) | ratio | target | runs rsync / slotsync |")
print("|---|---|---|---|---|---|---|")
for name, label, target in [("full", "full copy", 1.0),
                            ("incr", "10% flag changes + 1% new", 0.2),
                            ("none", "nothing changed", 0.1)]:
    for mode, key in [("full manifests", "_slotsync"), ("--delta", "_delta")]:
        if name + key not in med:
            continue
        r, s = med[name + "_rsync"], med[name + key]
        ok = "met" if s / r <= target else "MISSED"
        runs = " ".join(f"{x:.2f}" for x in t[name + "_rsync"]) + " / " + \
               " ".join(f"{x:.2f}" for x in t[name + key])
        print(f"| {label} | {mode} | {r:.3f} | {s:.3f} | {s/r:.3f} | <= {target} ({ok}) | {runs} |")
print(f"\ncp -a full copy (local limit), median: {med['full_cp']:.3f} s "
      f"(runs {' '.join(f'{x:.2f}' for x in t['full_cp'])})")
PY
fi

if [ "$SCRUB_PART" -eq 1 ]; then
log "scrub: throughput on the source slot ($SMALL_REPS runs of each)"
"$SCRUB_BENCH" --slot "$DIR/src" --reps "$SMALL_REPS" | tee "$DIR/scrub.txt" >&2
# incr_scrub_RATE: the --delta incremental while a scrub reads the source.
for rate in none 8388608 0; do
  SCRUB_PID=""
  if [ "$rate" != none ]; then
    "$SCRUB_BENCH" --slot "$DIR/src" --rate "$rate" --seconds 3600 > "$DIR/scrub-$rate.txt" &
    SCRUB_PID=$!
    PIDS+=("$SCRUB_PID")
    sleep 1
  fi
  for i in $(seq "$SMALL_REPS"); do
    "$MAILGEN" --slot "$DIR/src" --mutate --seed "$((200 + i))" --flag_pct 10 --new_pct 1 >&2
    sleep 0.5
    time_it "scrubload_$rate" "${SD[@]}"
  done
  if [ -n "$SCRUB_PID" ]; then
    kill "$SCRUB_PID" 2>/dev/null || true
    wait "$SCRUB_PID" 2>/dev/null || true
    log "$(cat "$DIR/scrub-$rate.txt")"
  fi
done
python3 - "$DIR/times.txt" <<'PY'
import statistics, sys
t = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    t.setdefault(k, []).append(float(v))
base = statistics.median(t["scrubload_none"])
print("| concurrent scrub of the source slot | slotsync --delta incremental (median s) | ratio | runs |")
print("|---|---|---|---|")
for key, label in [("none", "none"), ("8388608", "8 MiB/s (default)"), ("0", "unlimited")]:
    v = t["scrubload_" + key]
    m = statistics.median(v)
    print(f"| {label} | {m:.3f} | {m/base:.2f} | {' '.join(f'{x:.2f}' for x in v)} |")
PY
diff -r "$DIR/src/users" "$DIR/sd-dst/users" >/dev/null || { log "slotsync --delta copy differs!"; exit 1; }
log "verified: the slotsync --delta copy equals the source after the scrub runs"
log "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
fi

if [ "$TLS_PART" -eq 1 ]; then
log "TLS: slotsync --delta over mutual TLS against plaintext, same slot, alternating"
tools/certs.sh "$DIR/certs" --no-roles bench-source bench-replica >/dev/null
"$SLOTPEER" --slot "s1=$DIR/src" --listen 127.0.0.1:0 --data_dir "$DIR/peer-tls-state" \
  --tls_ca "$DIR/certs/ca.pem" --tls_cert "$DIR/certs/bench-source.pem" \
  --tls_key "$DIR/certs/bench-source.key" --port_file "$DIR/peer-tls.port" \
  2>"$DIR/slotpeer-tls.log" &
PIDS+=($!)
for _ in $(seq 50); do [ -s "$DIR/peer-tls.port" ] && break; sleep 0.1; done
[ -s "$DIR/peer-tls.port" ] || { cat "$DIR/slotpeer-tls.log" >&2; log "the TLS slotpeer did not start"; exit 1; }
PT=("$SLOTSYNC" --source "127.0.0.1:$(cat "$DIR/peer-tls.port")" --source_identity bench-source
    --tls_ca "$DIR/certs/ca.pem" --tls_cert "$DIR/certs/bench-replica.pem"
    --tls_key "$DIR/certs/bench-replica.key" --slot s1 --quiet --delta
    --dest "$DIR/tls-dst" --state "$DIR/tls-state")
PP=("$SLOTSYNC" --source "$PEER" --insecure_loopback_only --slot s1 --quiet --delta
    --dest "$DIR/plain-dst" --state "$DIR/plain-state")
# The TLS peer's hash cache starts cold: one untimed copy warms it.
"${PT[@]}" >/dev/null
# tls_pair SCENARIO REP: plaintext and TLS, alternating.
tls_pair() { time_alternating "$2" "$1_plain" PP "$1_tls" PT; }
for i in $(seq "$REPS"); do
  rm -rf "$DIR/tls-dst" "$DIR/tls-state" "$DIR/plain-dst" "$DIR/plain-state"
  tls_pair tlsfull "$i"
done
for i in $(seq "$SMALL_REPS"); do
  "$MAILGEN" --slot "$DIR/src" --mutate --seed "$((300 + i))" --flag_pct 10 --new_pct 1 >&2
  sleep 0.5
  tls_pair tlsincr "$i"
done
sleep 0.5
for i in $(seq "$SMALL_REPS"); do tls_pair tlsnone "$i"; done
for d in plain-dst tls-dst; do
  diff -r "$DIR/src/users" "$DIR/$d/users" >/dev/null || { log "$d differs from the source!"; exit 1; }
done
log "verified: the plaintext and the TLS copies equal the source"
python3 - "$DIR/times.txt" <<'PY'
import statistics, sys
t = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    t.setdefault(k, []).append(float(v))
print("| scenario (slotsync --delta) | plaintext (median s) | mutual TLS (median s) | TLS / plaintext | runs plaintext / TLS |")
print("|---|---|---|---|---|")
for key, label in [("tlsfull", "full copy"), ("tlsincr", "10% flag changes + 1% new"),
                   ("tlsnone", "nothing changed")]:
    p, s = t[key + "_plain"], t[key + "_tls"]
    mp, ms = statistics.median(p), statistics.median(s)
    runs = " ".join(f"{x:.2f}" for x in p) + " / " + " ".join(f"{x:.2f}" for x in s)
    print(f"| {label} | {mp:.3f} | {ms:.3f} | {ms/mp:.2f} | {runs} |")
PY
log "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
fi

