#!/usr/bin/env bash
# Soak: `mtrec serve` under wrk at concurrency 8 for M minutes, its resident memory sampled every 10 s.
#
#   bench/serve/soak.sh [--minutes M] [--mtrec PATH] [--port P] [--interval S]
#
# Uses the benchmark's MMoE and request bodies (out/bench-serve/, made when absent). Prints each sample (seconds,
# VmRSS from /proc/PID/status), wrk's summary, and the growth from the first minute's mean RSS to the last
# minute's; last line `soak: minutes=M first_min_rss_mb=X last_min_rss_mb=X growth_mb=X growth_pct=X ...`.
# Exits non-zero when wrk saw non-2xx responses or socket errors.
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/serve/common.sh

MTREC=build/src/mtrec
MINUTES=10
PORT=18083
INTERVAL=10
while [ $# -gt 0 ]; do
  case $1 in
    --minutes) MINUTES=$2; shift 2 ;;
    --mtrec) MTREC=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --interval) INTERVAL=$2; shift 2 ;;
    -h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
command -v wrk > /dev/null || die "wrk is not installed (Debian: apt-get install wrk)"
check_mtrec
pick_python
mkdir -p "$BENCH_DIR/soak"
trap stop_all EXIT

ensure_data
train_model mmoe
BODIES=$BENCH_DIR/bodies
[ -f "$BODIES/list.txt" ] || "$PY" "$SERVE_SCRIPTS/make_bodies.py" --model "$BENCH_DIR/mmoe.safetensors" \
  --data "$DATA_DIR/test.csv" --out "$BODIES" --bodies 32 --items 100

start_server "$BENCH_DIR/soak/serve.log" "$PORT" "$MTREC" serve --model "$BENCH_DIR/mmoe.mtrec" --port "$PORT"
SERVE_PID=$SERVER_PID
SECONDS_TOTAL=$((MINUTES * 60))
echo "soak: wrk at concurrency 8 for ${MINUTES} min against pid $SERVE_PID; VmRSS every ${INTERVAL}s"
wrk --latency -t 2 -c 8 -d "${SECONDS_TOTAL}s" -s "$SERVE_SCRIPTS/rank.lua" "http://127.0.0.1:$PORT" -- "$BODIES" \
  > "$BENCH_DIR/soak/wrk.txt" &
WRK_PID=$!
SAMPLES=$BENCH_DIR/soak/rss.txt
: > "$SAMPLES"
start=$(date +%s)
while kill -0 "$WRK_PID" 2> /dev/null; do
  elapsed=$(($(date +%s) - start))
  rss=$(rss_kb "$SERVE_PID")
  [ -n "$rss" ] || die "the server (pid $SERVE_PID) is gone; see $BENCH_DIR/soak/serve.log"
  echo "$elapsed $rss" >> "$SAMPLES"
  awk -v t="$elapsed" -v kb="$rss" 'BEGIN { printf "  %5ds  %8.1f MB\n", t, kb / 1024 }'
  sleep "$INTERVAL"
done
wait "$WRK_PID" || true
stop_server "$SERVE_PID"

echo "wrk: $("$PY" "$SERVE_SCRIPTS/wrk_report.py" summary "$BENCH_DIR/soak/wrk.txt")"
"$PY" - "$SAMPLES" "$MINUTES" "$("$PY" "$SERVE_SCRIPTS/wrk_report.py" summary "$BENCH_DIR/soak/wrk.txt")" << 'EOF'
import sys
samples = [tuple(map(int, line.split())) for line in open(sys.argv[1]) if line.strip()]
end = max(t for t, _ in samples)
first = [kb for t, kb in samples if t < 60]
last = [kb for t, kb in samples if t >= end - 60] if end >= 120 else [kb for t, kb in samples if t >= 60]
if not first or not last:
    sys.exit("soak: too few samples; run at least 2 minutes")
a, b = sum(first) / len(first) / 1024, sum(last) / len(last) / 1024
print(f"rss: first minute mean {a:.1f} MB ({len(first)} samples), last minute mean {b:.1f} MB ({len(last)} samples), "
      f"growth {b - a:+.1f} MB ({100 * (b - a) / a:+.1f}%)")
print(f"soak: minutes={sys.argv[2]} first_min_rss_mb={a:.1f} last_min_rss_mb={b:.1f} growth_mb={b - a:.1f} "
      f"growth_pct={100 * (b - a) / a:.1f} {sys.argv[3]}")
EOF
"$PY" "$SERVE_SCRIPTS/wrk_report.py" clean "$BENCH_DIR/soak/wrk.txt" > /dev/null ||
  die "wrk saw non-2xx responses or socket errors (see $BENCH_DIR/soak/wrk.txt)"
