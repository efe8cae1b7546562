#!/usr/bin/env bash
# Load benchmark of `mtrec serve` against a FastAPI + PyTorch peer (peer_server.py) serving the same MMoE weights:
# wrk at concurrency 1, 8 and 64 against each, one server at a time, the same request bodies (100 candidates each).
#
#   bench/serve/run.sh [--seconds S] [--mtrec PATH] [--concurrency "1 8 64"] [--mtrec-threads N]
#                      [--peer-workers W] [--peer-threads T] [--pin] [--port-base P]
#
# (a) simulated data (200k rows, seed 1) and an MMoE trained on it, under out/bench-serve/ (reused when present),
#     exported to safetensors; (b) request bodies from test.csv (make_bodies.py); (c) both servers started, checked
#     to give the same scores on every body (compare_servers.py); (d) per server a short warm-up, then wrk at each
#     concurrency (raw outputs: out/bench-serve/wrk_<server>_c<C>.txt); a table, the ratios, and a last line
#     `serve: c8_p99_ms=X c8_rps=X peer_c8_rps=X ratio=X`. See bench/serve/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/serve/common.sh

SECONDS_PER_RUN=20
MTREC=build/src/mtrec
CONCURRENCY="1 8 64"
MTREC_THREADS=2
PEER_WORKERS=2
PEER_THREADS=1
PIN=0
PORT_BASE=18080
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
    --mtrec) MTREC=$2; shift 2 ;;
    --concurrency) CONCURRENCY=$2; shift 2 ;;
    --mtrec-threads) MTREC_THREADS=$2; shift 2 ;;
    --peer-workers) PEER_WORKERS=$2; shift 2 ;;
    --peer-threads) PEER_THREADS=$2; shift 2 ;;
    --pin) PIN=1; shift ;;
    --port-base) PORT_BASE=$2; shift 2 ;;
    -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
command -v wrk > /dev/null || die "wrk is not installed (Debian: apt-get install wrk)"
command -v curl > /dev/null || die "curl is not installed"
check_mtrec
pick_python
mkdir -p "$BENCH_DIR"
trap stop_all EXIT

# With --pin the server runs on CPU 1 and wrk on CPU 0; otherwise they share both cores.
SERVER_CPUS=()
WRK_CPUS=()
if [ "$PIN" = 1 ]; then
  SERVER_CPUS=(taskset -c 1)
  WRK_CPUS=(taskset -c 0)
fi

ensure_data
train_model mmoe
MODEL=$BENCH_DIR/mmoe.mtrec
WEIGHTS=$BENCH_DIR/mmoe.safetensors
BODIES=$BENCH_DIR/bodies
"$PY" "$SERVE_SCRIPTS/make_bodies.py" --model "$WEIGHTS" --data "$DATA_DIR/test.csv" --out "$BODIES" \
  --bodies 32 --items 100

MTREC_PORT=$PORT_BASE
PEER_PORT=$((PORT_BASE + 1))
MTREC_CMD=("${SERVER_CPUS[@]}" "$MTREC" serve --model "$MODEL" --port "$MTREC_PORT" --threads "$MTREC_THREADS")
PEER_CMD=("${SERVER_CPUS[@]}" "$PY" "$SERVE_SCRIPTS/peer_server.py" --model "$WEIGHTS" --port "$PEER_PORT"
  --workers "$PEER_WORKERS" --threads "$PEER_THREADS")

echo "servers: mtrec serve --threads $MTREC_THREADS; peer: uvicorn $PEER_WORKERS worker(s) x torch $PEER_THREADS thread(s)$([ "$PIN" = 1 ] && echo '; server on CPU 1, wrk on CPU 0')"
start_server "$BENCH_DIR/mtrec_serve.log" "$MTREC_PORT" "${MTREC_CMD[@]}"
MTREC_PID=$SERVER_PID
start_server "$BENCH_DIR/peer.log" "$PEER_PORT" "${PEER_CMD[@]}"
PEER_PID=$SERVER_PID
"$PY" "$SERVE_SCRIPTS/compare_servers.py" --bodies "$BODIES" --a "http://127.0.0.1:$MTREC_PORT" \
  --b "http://127.0.0.1:$PEER_PORT" || die "the servers disagree; not benchmarking"
# One server at a time: the other one is stopped so that it holds no memory or threads during the runs.
stop_server "$PEER_PID"

run_wrk() {  # run_wrk SERVER PORT
  local server=$1 port=$2 c threads
  check_quiet
  "${WRK_CPUS[@]}" wrk -t 2 -c 8 -d 3s -s "$SERVE_SCRIPTS/rank.lua" "http://127.0.0.1:$port" -- "$BODIES" > /dev/null
  for c in $CONCURRENCY; do
    threads=$((c < 2 ? c : 2))
    "${WRK_CPUS[@]}" wrk --latency --timeout 10s -t "$threads" -c "$c" -d "${SECONDS_PER_RUN}s" \
      -s "$SERVE_SCRIPTS/rank.lua" "http://127.0.0.1:$port" -- "$BODIES" > "$BENCH_DIR/wrk_${server}_c$c.txt"
    echo "  $server c$c: $("$PY" "$SERVE_SCRIPTS/wrk_report.py" summary "$BENCH_DIR/wrk_${server}_c$c.txt")"
  done
}

echo "wrk: ${SECONDS_PER_RUN}s per run, concurrency $CONCURRENCY"
run_wrk mtrec "$MTREC_PORT"
stop_server "$MTREC_PID"
start_server "$BENCH_DIR/peer.log" "$PEER_PORT" "${PEER_CMD[@]}"
PEER_PID=$SERVER_PID
run_wrk peer "$PEER_PORT"
stop_server "$PEER_PID"

echo
# shellcheck disable=SC2086
"$PY" "$SERVE_SCRIPTS/wrk_report.py" table "$BENCH_DIR" $CONCURRENCY
