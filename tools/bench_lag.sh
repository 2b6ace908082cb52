#!/usr/bin/env bash
# Replication lag under delivery load (tests/e2e/lag_bench.cc): for each
# agent configuration (mode) and delivery rate, a fresh cluster of four
# agents and 8 stores x 3 copies on loop-mounted ext4, `mailgen --deliver`
# into the masters, and the lag of every message on every replica.
#
#   tools/bench_lag.sh [--rates 10,50,200] [--duration 5m] [--modes poll,push]
#                      [--mode_config 'NAME=AGENT CONFIG;...'] [--json FILE] [...]
#
# Without flags: the full matrix (3 rates x 5 min x 2 modes, about 40 min).
# Every flag goes to lag_bench (lag_bench --help lists them). Needs root
# (loop mounts) and free disk for the run's mail on 3 copies (about 9 GB at
# 200/s for 5 min; lag_bench refuses a run that does not fit).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { printf '\033[1m[bench]\033[0m %s\n' "$*" >&2; }

[ "$(id -u)" -eq 0 ] || { log "lag: needs root (loop-mounted drive units)"; exit 2; }
bazel build //tests/e2e:lag_bench >&2
BIN="$(bazel info bazel-bin 2>/dev/null)/tests/e2e/lag_bench"
# lag_bench finds slotmgrd, replicatord, slotctl, mailgen and certs.sh in
# its runfiles tree.
cd "$BIN.runfiles/slotkeeper"
exec "$BIN" "$@"
