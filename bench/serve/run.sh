#!/usr/bin/env bash
# Load benchmark of `mtrec serve` against a FastAPI + PyTorch peer (peer_server.py) serving the same MMoE weights:
# wrk at concurrency 1, 8 and 64 against each, the same request bodies (100 candidates each).
#
#   bench/serve/run.sh [--seconds S] [--mtrec PATH] [--concurrency "1 8 64"] [--mtrec-threads N] [--mtrec-scorers K]
#                      [--peer-workers W] [--peer-threads T] [--pin] [--wait-quiet SECONDS] [--port-base P]
#                      [--peer new|old] [--peer-python PATH] [--peer-compile] [--peer-bf16]
#                      [--mtrec-precision f32|bf16|int8]
#   bench/serve/run.sh --sweep-peer ["1x1 2x1 1x2 3x1"] [--seconds S]   # the peer alone, workers x torch threads
#
# The peer's Python: new (the default) = bench/.venv, the newest torch from PyPI, made by bench/python_env.sh on
# first use; old = $PYTHON, python3 or Debian's /usr/bin/python3, whichever imports torch, numpy, fastapi and
# uvicorn (python3-torch 1.13 on Debian 12); --peer-python PATH names one. --peer-compile: torch.compile of the
# peer's dense network (each worker compiles at start-up; the run waits for all); --peer-bf16: bf16 autocast around
# it (the servers' answers are then compared within 5e-2 instead of 1e-4: bf16 keeps 8 bits of mantissa; with
# --mtrec-precision int8 within 0.25, the gmv values' int8 error, docs/serving.md).
#
# (a) simulated data (200k rows, seed 1) and an MMoE trained on it, under out/bench-serve/ (reused when present),
#     exported to safetensors; (b) request bodies from test.csv (make_bodies.py); (c) both servers started, checked
#     to give the same scores on every body (compare_servers.py), each warmed up; (d) per concurrency, wrk against
#     mtrec, then against the peer (the idle one waits; raw outputs out/bench-serve/wrk_<server>_c<C>.txt); a
#     table, the ratios, and a last line `serve: c8_p99_ms=X c8_rps=X peer_c8_rps=X ratio=X`. Before each run the
#     CPUs are checked for other work (a warning; --wait-quiet waits up to that long for them to be idle).
#     See bench/serve/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/serve/common.sh

SECONDS_PER_RUN=20
MTREC=build/src/mtrec
CONCURRENCY="1 8 64"
MTREC_THREADS=2
MTREC_SCORERS=0
PEER_WORKERS=2
PEER_THREADS=1
PIN=0
QUIET_WAIT=0
PORT_BASE=18080
SWEEP=""
PEER_KIND=new
PEER_PYTHON=""
PEER_FLAGS=()
TOLERANCE=1e-4
MTREC_PRECISION=f32
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
    --mtrec) MTREC=$2; shift 2 ;;
    --concurrency) CONCURRENCY=$2; shift 2 ;;
    --mtrec-threads) MTREC_THREADS=$2; shift 2 ;;
    --mtrec-scorers) MTREC_SCORERS=$2; shift 2 ;;
    --peer-workers) PEER_WORKERS=$2; shift 2 ;;
    --peer-threads) PEER_THREADS=$2; shift 2 ;;
    --pin) PIN=1; shift ;;
    --wait-quiet) QUIET_WAIT=$2; shift 2 ;;
    --port-base) PORT_BASE=$2; shift 2 ;;
    --peer) PEER_KIND=$2; shift 2 ;;
    --peer-python) PEER_PYTHON=$2; shift 2 ;;
    --peer-compile) PEER_FLAGS+=(--compile); shift ;;
    --peer-bf16) PEER_FLAGS+=(--bf16); TOLERANCE=5e-2; shift ;;
    --mtrec-precision)
      MTREC_PRECISION=$2
      case $2 in bf16) TOLERANCE=5e-2 ;; int8) TOLERANCE=0.25 ;; esac
      shift 2 ;;
    --sweep-peer)
      SWEEP="1x1 2x1 1x2 3x1"
      if [ $# -gt 1 ] && [[ $2 != --* ]]; then SWEEP=$2; shift; fi
      shift ;;
    -h | --help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
command -v wrk > /dev/null || die "wrk is not installed (Debian: apt-get install wrk)"
command -v curl > /dev/null || die "curl is not installed"
check_mtrec
if [ -n "$PEER_PYTHON" ]; then
  PYTHON=$PEER_PYTHON
elif [ "$PEER_KIND" = new ]; then
  # shellcheck source=bench/python_env.sh
  source bench/python_env.sh || die "could not make the peer's venv (bench/python_env.sh)"
  PYTHON=$BENCH_PYTHON
elif [ "$PEER_KIND" != old ]; then
  die "--peer: new or old"
fi
pick_python
if [ -n "$PEER_PYTHON" ] || [ "$PEER_KIND" = new ]; then
  [ "$PY" = "$PYTHON" ] || die "$PYTHON does not import torch, numpy, fastapi and uvicorn"
fi
# Each worker of a compiling peer compiles before it answers: give it longer to come up.
[ ${#PEER_FLAGS[@]} -gt 0 ] && SERVER_START_LIMIT=600
echo "peer python: $PY, torch $("$PY" -c 'import torch; print(torch.__version__)')${PEER_FLAGS[*]:+, peer ${PEER_FLAGS[*]}}"
mkdir -p "$BENCH_DIR"
trap stop_all EXIT

# With --pin the servers run on CPU 1 and wrk on CPU 0; otherwise they share both cores.
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

# start_peer LOG PORT WORKERS THREADS: the peer, once every worker is ready (with --peer-compile each one compiles).
start_peer() {
  local log=$1 port=$2 workers=$3 threads=$4 waited=0
  start_server "$log" "$port" "${SERVER_CPUS[@]}" "$PY" "$SERVE_SCRIPTS/peer_server.py" --model "$WEIGHTS" \
    --port "$port" --workers "$workers" --threads "$threads" "${PEER_FLAGS[@]}"
  until [ "$(grep -c '^peer: worker .* ready' "$log")" -ge "$workers" ]; do
    kill -0 "$SERVER_PID" 2> /dev/null || die "the peer exited (log: $log)"
    [ "$waited" -lt 1200 ] || die "the peer's workers were not all ready after 240 s (log: $log)"
    sleep 0.2
    waited=$((waited + 1))
  done
  echo "peer: $(grep -m1 '^peer: worker .* ready' "$log" | sed 's/^peer: worker [0-9]* ready, //')"
}

warm_up() {  # warm_up PORT
  "${WRK_CPUS[@]}" wrk -t 2 -c 8 -d 3s -s "$SERVE_SCRIPTS/rank.lua" "http://127.0.0.1:$1" -- "$BODIES" > /dev/null
}

run_wrk() {  # run_wrk NAME PORT CONCURRENCY: one measured run, its output in wrk_NAME_c<C>.txt
  local name=$1 port=$2 c=$3 threads out
  threads=$((c < 2 ? c : 2))
  out=$BENCH_DIR/wrk_${name}_c$c.txt
  check_quiet "$QUIET_WAIT"
  "${WRK_CPUS[@]}" wrk --latency --timeout 10s -t "$threads" -c "$c" -d "${SECONDS_PER_RUN}s" \
    -s "$SERVE_SCRIPTS/rank.lua" "http://127.0.0.1:$port" -- "$BODIES" > "$out"
  echo "  $name c$c: $("$PY" "$SERVE_SCRIPTS/wrk_report.py" summary "$out")"
}

if [ -n "$SWEEP" ]; then
  # The peer alone at each setting (workers x torch threads); raw outputs wrk_peer_<W>x<T>_c<C>.txt.
  for setting in $SWEEP; do
    start_peer "$BENCH_DIR/peer.log" "$PEER_PORT" "${setting%x*}" "${setting#*x}"
    warm_up "$PEER_PORT"
    for c in $CONCURRENCY; do run_wrk "peer_$setting" "$PEER_PORT" "$c"; done
    stop_server "$SERVER_PID"
  done
  exit 0
fi

# The scoring path in process first (no HTTP, nothing else running): the time of one request at concurrency 1
# that the HTTP figures are held against, its stages, and the fraction of the matmul bound.
check_quiet "$QUIET_WAIT"
"${SERVER_CPUS[@]}" "$MTREC" bench serve --model "$MODEL" --bodies "$BODIES" --seconds "$SECONDS_PER_RUN" \
  --threads "$MTREC_THREADS" --scorers "$MTREC_SCORERS" --precision "$MTREC_PRECISION" | tee "$BENCH_DIR/inprocess.txt" | grep -v '^cpu: '
INPROCESS_P50=$(awk '/^requests: / {print $7}' "$BENCH_DIR/inprocess.txt")

echo "servers: mtrec serve --threads $MTREC_THREADS --scorers $MTREC_SCORERS --precision $MTREC_PRECISION; peer: uvicorn $PEER_WORKERS worker(s) x torch $PEER_THREADS thread(s)$([ "$PIN" = 1 ] && echo '; servers on CPU 1, wrk on CPU 0')"
start_server "$BENCH_DIR/mtrec_serve.log" "$MTREC_PORT" "${SERVER_CPUS[@]}" "$MTREC" serve --model "$MODEL" \
  --port "$MTREC_PORT" --threads "$MTREC_THREADS" --scorers "$MTREC_SCORERS" --precision "$MTREC_PRECISION"
start_peer "$BENCH_DIR/peer.log" "$PEER_PORT" "$PEER_WORKERS" "$PEER_THREADS"
"$PY" "$SERVE_SCRIPTS/compare_servers.py" --bodies "$BODIES" --a "http://127.0.0.1:$MTREC_PORT" \
  --b "http://127.0.0.1:$PEER_PORT" --tolerance "$TOLERANCE" || die "the servers disagree; not benchmarking"
warm_up "$MTREC_PORT"
warm_up "$PEER_PORT"

# Per concurrency, one server then the other: a disturbance from outside hits both runs of a ratio alike.
echo "wrk: ${SECONDS_PER_RUN}s per run, concurrency $CONCURRENCY"
for c in $CONCURRENCY; do
  run_wrk mtrec "$MTREC_PORT" "$c"
  run_wrk peer "$PEER_PORT" "$c"
done
stop_all

echo
if [ -f "$BENCH_DIR/wrk_mtrec_c1.txt" ]; then
  # The issue's check at concurrency 1: p99 over HTTP against the in-process time of one request (its p50).
  c1_p99=$("$PY" "$SERVE_SCRIPTS/wrk_report.py" p99 "$BENCH_DIR/wrk_mtrec_c1.txt")
  awk -v p="$c1_p99" -v i="$INPROCESS_P50" 'BEGIN { printf "c1: http p99 %.3f ms, in-process %.3f ms a request: %.2fx\n", p, i, p / i }'
fi
# shellcheck disable=SC2086
"$PY" "$SERVE_SCRIPTS/wrk_report.py" table "$BENCH_DIR" $CONCURRENCY
