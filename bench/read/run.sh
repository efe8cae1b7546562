#!/usr/bin/env bash
# CSV reading: `mtrec bench read` (parse into typed columns and write the dataset cache) against pandas.read_csv
# alone, on the same simulated file, in one run. Each side is timed best of --repeat runs.
#
#   bench/read/run.sh [--rows N] [--repeat R] [--mtrec PATH]
#
# The file is out/bench-read/train.csv from `mtrec simulate --preset ecommerce` (N rows of which 80% are the training
# file: --rows 1250000 gives the 1M-row file), reused when present. Needs python3-pandas (apt-get install
# python3-pandas) for the peer. Last line: `read: mtrec_rows_per_s=X pandas_rows_per_s=X ratio=X`.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS=1250000
REPEAT=3
MTREC=build/src/mtrec
while [ $# -gt 0 ]; do
  case $1 in
    --rows) ROWS=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --mtrec) MTREC=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
"$PYTHON" -c "import pandas" 2>/dev/null || { echo "bench/read needs python3-pandas (apt-get install python3-pandas)" >&2; exit 1; }
dir=out/bench-read
if [ ! -f "$dir/train.csv" ] || [ "$(cat "$dir/rows" 2>/dev/null)" != "$ROWS" ]; then
  "$MTREC" -q simulate --preset ecommerce --rows "$ROWS" --seed 1 --out "$dir" > /dev/null
  echo "$ROWS" > "$dir/rows"
fi
best=0
for _ in $(seq 1 "$REPEAT"); do
  out=$("$MTREC" bench read --config "$dir/config.toml" --data "$dir/train.csv")
  r=$(echo "$out" | awk '/^rows\/s:/ {print $2}')
  [ "$r" -gt "$best" ] && best=$r && detail=$(echo "$out" | sed -n '1,2p')
done
echo "$detail"
echo "mtrec: $best rows/s (best of $REPEAT)"
peer=$("$PYTHON" bench/read/pandas_read.py "$dir/train.csv" --repeat "$REPEAT")
echo "$peer" | head -1
p=$(echo "$peer" | awk '/^rows\/s:/ {print $2}')
awk -v m="$best" -v p="$p" 'BEGIN { printf "read: mtrec_rows_per_s=%d pandas_rows_per_s=%d ratio=%.2f\n", m, p, m / p }'
