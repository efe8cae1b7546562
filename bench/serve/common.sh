# Shared by run.sh, reload_under_load.sh and soak.sh (sourced, from the repository root): the data, the model, a
# Python with the peer's packages, and starting / stopping / waiting for servers.

BENCH_DIR=${BENCH_DIR:-out/bench-serve}
BENCH_ROWS=${BENCH_ROWS:-200000}
SERVE_SCRIPTS=bench/serve
STARTED_PIDS=()

die() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

# A Python 3.11+ that imports torch, numpy, fastapi and uvicorn: $PYTHON, python3, or the system's.
pick_python() {
  local candidate
  for candidate in ${PYTHON:-} python3 /usr/bin/python3; do
    if command -v "$candidate" > /dev/null 2>&1 &&
      "$candidate" -c 'import tomllib, torch, numpy, fastapi, uvicorn' > /dev/null 2>&1; then
      PY=$candidate
      return 0
    fi
  done
  die "no python3 with torch, numpy, fastapi and uvicorn (Debian: apt-get install python3-torch python3-numpy python3-fastapi python3-uvicorn; set PYTHON=...)"
}

check_mtrec() {
  [ -x "$MTREC" ] || die "no mtrec binary at '$MTREC' (build it: make build, or pass --mtrec PATH)"
  "$MTREC" serve --help > /dev/null 2>&1 || die "'$MTREC' has no serve command; build a newer mtrec"
}

# Simulated data (reused when present): $BENCH_DIR/data/{config.toml,train.csv,valid.csv,test.csv}.
ensure_data() {
  DATA_DIR=$BENCH_DIR/data
  if [ -f "$DATA_DIR/test.csv" ] && [ -f "$DATA_DIR/config.toml" ]; then
    echo "data: reusing $DATA_DIR"
  else
    "$MTREC" -q simulate --preset ecommerce --rows "$BENCH_ROWS" --seed 1 --out "$DATA_DIR" > /dev/null
    echo "data: simulated $BENCH_ROWS rows (seed 1) into $DATA_DIR"
  fi
}

# train_model NAME [overrides...]: $BENCH_DIR/NAME.mtrec, an MMoE trained on the data (reused when present), and its
# safetensors export $BENCH_DIR/NAME.safetensors.
train_model() {
  local name=$1
  shift
  local model=$BENCH_DIR/$name.mtrec
  if [ -f "$model" ]; then
    echo "model: reusing $model"
  else
    echo "model: training $model (model.arch=mmoe $*)"
    "$MTREC" -q train --config "$DATA_DIR/config.toml" --out "$model" model.arch=mmoe "$@" > "$BENCH_DIR/$name.train.log"
    rm -f "$model.ckpt"
  fi
  "$MTREC" -q export --model "$model" --format safetensors --out "$BENCH_DIR/$name.safetensors" > /dev/null
}

port_free() { ! (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }

# wait_healthz PORT PID SECONDS: until GET /healthz answers 200; fails when the process exits or time runs out.
wait_healthz() {
  local port=$1 pid=$2 limit=$3 waited=0
  until curl -fs "http://127.0.0.1:$port/healthz" > /dev/null 2>&1; do
    kill -0 "$pid" 2> /dev/null || return 1
    sleep 0.2
    waited=$((waited + 1))
    [ "$waited" -lt $((limit * 5)) ] || return 1
  done
}

# start_server LOG PORT COMMAND...: runs COMMAND in the background, sets SERVER_PID, waits for /healthz (up to
# $SERVER_START_LIMIT seconds, 120 unless set).
start_server() {
  local log=$1 port=$2
  shift 2
  port_free "$port" || die "port $port is in use (pass --port-base)"
  "$@" > "$log" 2>&1 &
  SERVER_PID=$!
  STARTED_PIDS+=("$SERVER_PID")
  if ! wait_healthz "$port" "$SERVER_PID" "${SERVER_START_LIMIT:-120}"; then
    cat "$log" >&2
    die "server on port $port did not come up (log: $log)"
  fi
}

stop_server() {
  local pid=$1
  if kill -0 "$pid" 2> /dev/null; then
    kill "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
  fi
}

stop_all() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do stop_server "$pid"; done
}

# Resident memory of a process in kB (VmRSS).
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2> /dev/null; }

# Percent of all CPUs busy over the next $1 seconds (from /proc/stat): anything else running skews a benchmark.
cpu_busy_pct() {
  local a b
  a=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat)
  sleep "$1"
  b=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); d = y[2] - x[2];
    printf "%.0f\n", (d > 0 ? 100 * (y[1] - x[1]) / d : 0) }'
}

# check_quiet [SECONDS]: warns when the CPUs are busy with other work before a measurement; with SECONDS > 0, first
# waits up to that long for them to be idle.
check_quiet() {
  local limit=${1:-0} waited=0 busy
  busy=$(cpu_busy_pct 2)
  while [ "$busy" -gt 10 ] && [ "$waited" -lt "$limit" ]; do
    sleep 8
    waited=$((waited + 10))
    busy=$(cpu_busy_pct 2)
  done
  if [ "$busy" -gt 10 ]; then
    echo "  warning: ${busy}% of the CPUs busy with other work before this run; its figures will be low and noisy" >&2
  fi
}
