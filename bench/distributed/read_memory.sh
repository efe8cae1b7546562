#!/usr/bin/env bash
# Memory of a distributed run's ranks against one process: `mtrec train` (one epoch, one thread per process, no
# dataset cache, so every run parses the CSV) on a large simulated file, the peak resident memory of each process
# from /usr/bin/time. Each rank reads only its own byte range of the training file (docs/distributed.md), so its
# peak should fall well below the single process's.
#
#   bench/distributed/read_memory.sh [--rows 3000000] [--ranks 2] [--arch shared_bottom] [--mtrec PATH] [--out DIR]
#
# Last line: read-memory: rows=R ranks=N csv_mb=X one_process_mb=X rank_max_mb=X ratio=X
# (ratio: the largest rank's peak over the single process's). Needs /usr/bin/time (Debian: apt-get install time).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS=3000000
RANKS=2
ARCH=shared_bottom
MTREC=build/src/mtrec
OUT=out/bench-read-memory
while [ $# -gt 0 ]; do
  case $1 in
    --rows) ROWS=$2; shift 2 ;;
    --ranks) RANKS=$2; shift 2 ;;
    --arch) ARCH=$2; shift 2 ;;
    --mtrec) MTREC=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "read_memory.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -x "$MTREC" ] || { echo "read_memory.sh: no mtrec binary at $MTREC (make build)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "read_memory.sh: no /usr/bin/time (apt-get install time)" >&2; exit 1; }
command -v mpirun > /dev/null || { echo "read_memory.sh: no mpirun (make setup installs openmpi-bin)" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_mpi_yield_when_idle=1
mkdir -p "$OUT"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
if [ ! -f "$OUT/sim-$ROWS/train.csv" ]; then
  "$MTREC" -q simulate --preset ecommerce --rows "$ROWS" --seed 1 --out "$OUT/sim-$ROWS"
fi
CSV_MB=$(( $(stat -c %s "$OUT/sim-$ROWS/train.csv") / 1048576 ))
common=(-q train --config "$OUT/sim-$ROWS/config.toml" train.epochs=1 train.threads=1 data.cache=false
        "model.arch=$ARCH")

/usr/bin/time -f "%M" -o "$OUT/one.rss" "$MTREC" "${common[@]}" --out "$OUT/one.mtrec" > "$OUT/one.txt"
ONE_MB=$(( $(cat "$OUT/one.rss") / 1024 ))
rm -f "$OUT"/rank.rss.*
mpirun --bind-to none -np "$RANKS" bash -c '/usr/bin/time -f "%M" -o "$0.$OMPI_COMM_WORLD_RANK" "$@"' \
  "$OUT/rank.rss" "$MTREC" "${common[@]}" --out "$OUT/ranks.mtrec" > "$OUT/ranks.txt"
RANK_MAX_KB=0
for f in "$OUT"/rank.rss.*; do
  kb=$(tail -1 "$f")
  echo "rank ${f##*.}: peak $(( kb / 1024 )) MB"
  [ "$kb" -gt "$RANK_MAX_KB" ] && RANK_MAX_KB=$kb
done
RANK_MB=$(( RANK_MAX_KB / 1024 ))
echo "one process: peak $ONE_MB MB"
echo "read-memory: rows=$ROWS ranks=$RANKS csv_mb=$CSV_MB one_process_mb=$ONE_MB rank_max_mb=$RANK_MB" \
     "ratio=$(awk -v a="$RANK_MB" -v b="$ONE_MB" 'BEGIN {printf "%.2f", a / b}')"
