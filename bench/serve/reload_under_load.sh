#!/usr/bin/env bash
# Hot reload under load: `mtrec serve` keeps answering while its model file is replaced.
#
#   bench/serve/reload_under_load.sh [--mtrec PATH] [--swaps N] [--interval S] [--port P]
#
# Two MMoE models trained on the benchmark's data (train.seed 42 and 7, out/bench-serve/, reused when present).
# While wrk runs at concurrency 8, the served file is replaced N times (default 10), S seconds apart (default 2),
# alternating the two models, each time by an atomic `mv` of a freshly copied file; then once by a corrupt file
# (a flipped byte in its weights). Checks: wrk saw no non-2xx response and no socket error; GET /metrics counts N
# reloads (mtrec_model_reloads_total), one refused file (mtrec_model_reload_failures_total) and serves the version
# of the last good file (mtrec_model_info{version="..."}), which /healthz and a rank answer also name after the
# corrupt file. Exits non-zero when a check fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/serve/common.sh

MTREC=build/src/mtrec
SWAPS=10
INTERVAL=2
PORT=18082
while [ $# -gt 0 ]; do
  case $1 in
    --mtrec) MTREC=$2; shift 2 ;;
    --swaps) SWAPS=$2; shift 2 ;;
    --interval) INTERVAL=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
command -v wrk > /dev/null || die "wrk is not installed (Debian: apt-get install wrk)"
check_mtrec
pick_python
mkdir -p "$BENCH_DIR"
trap stop_all EXIT

ensure_data
train_model mmoe
train_model mmoe_seed7 train.seed=7
BODIES=$BENCH_DIR/bodies
[ -f "$BODIES/list.txt" ] || "$PY" "$SERVE_SCRIPTS/make_bodies.py" --model "$BENCH_DIR/mmoe.safetensors" \
  --data "$DATA_DIR/test.csv" --out "$BODIES" --bodies 32 --items 100

WORK=$BENCH_DIR/reload
mkdir -p "$WORK"
SERVED=$WORK/served.mtrec
MODELS=("$BENCH_DIR/mmoe.mtrec" "$BENCH_DIR/mmoe_seed7.mtrec")
crc() { "$PY" -c 'import sys, zlib; print("%08x" % zlib.crc32(open(sys.argv[1], "rb").read()))' "$1"; }
# Copies $1 next to the served file, then renames it over the served file (atomic on one file system).
replace_with() {
  cp "$1" "$WORK/incoming.tmp"
  mv -f "$WORK/incoming.tmp" "$SERVED"
}
metric() { curl -fs "http://127.0.0.1:$PORT/metrics" | awk -v name="$1" '$1 == name {print $2}'; }

cp "${MODELS[0]}" "$SERVED"
start_server "$WORK/serve.log" "$PORT" "$MTREC" serve --model "$SERVED" --port "$PORT"
SERVE_PID=$SERVER_PID
FIRST_RELOADS=$(metric mtrec_model_reloads_total)
FIRST_FAILURES=$(metric mtrec_model_reload_failures_total)

DURATION=$((SWAPS * INTERVAL + 4 * INTERVAL + 4))
echo "wrk: concurrency 8 for ${DURATION}s; $SWAPS replacements ${INTERVAL}s apart, then a corrupt file"
wrk --latency -t 2 -c 8 -d "${DURATION}s" -s "$SERVE_SCRIPTS/rank.lua" "http://127.0.0.1:$PORT" -- "$BODIES" \
  > "$WORK/wrk.txt" &
WRK_PID=$!
sleep "$INTERVAL"
LAST_GOOD=""
for i in $(seq 1 "$SWAPS"); do
  model=${MODELS[$((i % 2))]}
  replace_with "$model"
  LAST_GOOD=$model
  sleep "$INTERVAL"
  echo "  swap $i: $(basename "$model") (crc $(crc "$model")); serving $(curl -fs "http://127.0.0.1:$PORT/healthz")"
done
LAST_VERSION=$(crc "$LAST_GOOD")

# A corrupt file: the last good model with one byte of its last section flipped (its CRC-32 no longer matches).
cp "$LAST_GOOD" "$WORK/corrupt.tmp"
"$PY" -c '
import os, sys
path = sys.argv[1]
with open(path, "r+b") as f:
    f.seek(os.path.getsize(path) - 64)
    byte = f.read(1)
    f.seek(-1, 1)
    f.write(bytes([byte[0] ^ 0xFF]))
' "$WORK/corrupt.tmp"
mv -f "$WORK/corrupt.tmp" "$SERVED"
sleep $((2 * INTERVAL))
HEALTH_AFTER=$(curl -fs "http://127.0.0.1:$PORT/healthz" || echo "no answer")
RANK_AFTER=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  --data-binary "@$BODIES/$(head -1 "$BODIES/list.txt")" "http://127.0.0.1:$PORT/v1/rank" || true)
RANK_MODEL=$(curl -fs -X POST -H 'Content-Type: application/json' \
  --data-binary "@$BODIES/$(head -1 "$BODIES/list.txt")" "http://127.0.0.1:$PORT/v1/rank" | head -c 200 |
  sed -n 's/.*"model":"\([0-9a-f]*\)".*/\1/p' || true)
echo "  corrupt file: /healthz $HEALTH_AFTER; POST /v1/rank $RANK_AFTER, model $RANK_MODEL"
wait "$WRK_PID"

RELOADS=$(($(metric mtrec_model_reloads_total) - FIRST_RELOADS))
FAILURES=$(($(metric mtrec_model_reload_failures_total) - FIRST_FAILURES))
INFO=$(curl -fs "http://127.0.0.1:$PORT/metrics" | grep '^mtrec_model_info{' || echo "(no mtrec_model_info)")
stop_server "$SERVE_PID"
cp "$WORK/serve.log" "$WORK/serve.last.log"

echo
echo "wrk: $("$PY" "$SERVE_SCRIPTS/wrk_report.py" summary "$WORK/wrk.txt")"
echo "metrics: reloads $RELOADS (expected $SWAPS), failures $FAILURES (expected 1), $INFO"
status=0
check() {  # check DESCRIPTION CONDITION...
  local what=$1
  shift
  if "$@"; then echo "ok    $what"; else echo "FAIL  $what"; status=1; fi
}
check "no non-2xx responses and no socket errors under load" "$PY" "$SERVE_SCRIPTS/wrk_report.py" clean "$WORK/wrk.txt"
check "mtrec_model_reloads_total counts $SWAPS reloads" test "$RELOADS" -eq "$SWAPS"
check "mtrec_model_reload_failures_total counts the corrupt file" test "$FAILURES" -eq 1
check "mtrec_model_info names the last good version ($LAST_VERSION)" grep -q "version=\"$LAST_VERSION\"" <<< "$INFO"
check "after the corrupt file, rank answers 200 with the last good version" \
  test "$RANK_AFTER" = 200 -a "$RANK_MODEL" = "$LAST_VERSION"
echo "reload: swaps=$SWAPS reloads=$RELOADS failures=$FAILURES $("$PY" "$SERVE_SCRIPTS/wrk_report.py" summary "$WORK/wrk.txt")"
exit $status
