#!/usr/bin/env bash
# Data-parallel training on one machine: `mpirun -np N mtrec train` with one thread per rank against one process
# with one thread, on simulated data (mtrec simulate --preset ecommerce), the same config, epochs and seed. The
# ranks take batch B each (a step of N × B rows), the single process B × N, so both take the same steps.
#
#   bench/distributed/run.sh [--ranks 2] [--rows 200000] [--epochs 2] [--arch "shared_bottom mmoe"]
#                            [--batch 512] [--repeat 2] [--seconds 10] [--shard-rows N] [--mtrec PATH] [--out DIR]
#
# Per architecture: rows/s of each (the training epochs' own timing from the log, best of --repeat, alternating),
# the speed-up, the mean validation AUC of the binary tasks after the last epoch of each run; then the AliExpress-
# shaped MMoE of `mtrec bench train` (random rows, batch 2048 per rank, batch norm synchronised), 1 process x 1
# thread against N ranks x 1 thread, best of --repeat, --seconds each; and last
#   distributed: ranks=N arch=A speedup=X auc_1=X auc_N=X
# (one such line per architecture, the last architecture's last). --shard-rows: the ranks' train.shard_rows (0: every
# embedding table row-sharded; default: mtrec's own). See bench/distributed/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
RANKS=2
ROWS=200000
EPOCHS=2
ARCHS="shared_bottom mmoe"
BATCH=512
REPEAT=2
SECONDS_EACH=10
MTREC=build/src/mtrec
OUT=out/bench-distributed
SHARD_ROWS=
while [ $# -gt 0 ]; do
  case $1 in
    --ranks) RANKS=$2; shift 2 ;;
    --rows) ROWS=$2; shift 2 ;;
    --epochs) EPOCHS=$2; shift 2 ;;
    --arch) ARCHS=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --seconds) SECONDS_EACH=$2; shift 2 ;;
    --shard-rows) SHARD_ROWS=$2; shift 2 ;;
    --mtrec) MTREC=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -x "$MTREC" ] || { echo "run.sh: no mtrec binary at $MTREC (make build)" >&2; exit 1; }
command -v mpirun > /dev/null || { echo "run.sh: no mpirun (make setup installs openmpi-bin)" >&2; exit 1; }
# The ranks' embedding tables: mtrec's default, or --shard-rows.
SHARD_TRAIN=() SHARD_BENCH=()
[ -n "$SHARD_ROWS" ] && SHARD_TRAIN=("train.shard_rows=$SHARD_ROWS") SHARD_BENCH=(--shard-rows "$SHARD_ROWS")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
mkdir -p "$OUT"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
echo "mpirun: $(mpirun --version 2>&1 | head -1)"
DATA=$OUT/sim-$ROWS
[ -f "$DATA/config.toml" ] || "$MTREC" -q simulate --preset ecommerce --rows "$ROWS" --seed 1 --out "$DATA" > /dev/null

# rows/s of the epochs of a log (the mean of the epochs' own figures) and the last validation line's mean AUC.
rate() { sed -n 's/.*(\([0-9]*\) rows\/s).*/\1/p' "$1" | awk '{s += $1; n++} END {printf "%d", s / n}'; }
auc() { grep 'valid:' "$1" | tail -1 | grep -o 'auc [0-9.]*' | awk '{s += $2; n++} END {printf "%.4f", s / n}'; }
best() { sort -n | tail -1; }

: > "$OUT/aliexpress.rates"
for r in $(seq 1 "$REPEAT"); do
  "$MTREC" bench train --shape aliexpress --arch mmoe --threads 1 --seconds "$SECONDS_EACH" > "$OUT/aliexpress-1.log" 2>&1
  echo "1 $(sed -n 's/^samples\/s: \([0-9]*\).*/\1/p' "$OUT/aliexpress-1.log")" >> "$OUT/aliexpress.rates"
  mpirun --bind-to "${BIND:-core}" -np "$RANKS" "$MTREC" bench train --shape aliexpress --arch mmoe --threads 1 \
    --seconds "$SECONDS_EACH" "${SHARD_BENCH[@]}" > "$OUT/aliexpress-$RANKS.log" 2>&1
  echo "$RANKS $(sed -n 's/^samples\/s: \([0-9]*\).*/\1/p' "$OUT/aliexpress-$RANKS.log")" >> "$OUT/aliexpress.rates"
done
one=$(awk '$1 == 1 {print $2}' "$OUT/aliexpress.rates" | sort -n | tail -1)
many=$(awk -v n="$RANKS" '$1 == n {print $2}' "$OUT/aliexpress.rates" | sort -n | tail -1)
echo "aliexpress-shaped mmoe (bench train): 1 process x 1 thread $one samples/s, $RANKS ranks x 1 thread $many samples/s ($(awk -v a="$many" -v b="$one" 'BEGIN {printf "%.2f", a / b}')x); all runs: $(tr '\n' ' ' < "$OUT/aliexpress.rates")"

for arch in $ARCHS; do
  common=(train --config "$DATA/config.toml" "model.arch=$arch" "train.epochs=$EPOCHS" train.threads=1)
  : > "$OUT/$arch.rates"
  for r in $(seq 1 "$REPEAT"); do
    "$MTREC" "${common[@]}" --out "$OUT/$arch-1.mtrec" "train.batch_size=$((BATCH * RANKS))" > "$OUT/$arch-1.log" 2>&1
    echo "1 $(rate "$OUT/$arch-1.log")" >> "$OUT/$arch.rates"
    mpirun --bind-to "${BIND:-core}" -np "$RANKS" "$MTREC" "${common[@]}" --out "$OUT/$arch-$RANKS.mtrec" \
      "train.batch_size=$BATCH" "${SHARD_TRAIN[@]}" > "$OUT/$arch-$RANKS.log" 2>&1
    echo "$RANKS $(rate "$OUT/$arch-$RANKS.log")" >> "$OUT/$arch.rates"
  done
  one=$(awk '$1 == 1 {print $2}' "$OUT/$arch.rates" | best)
  many=$(awk -v n="$RANKS" '$1 == n {print $2}' "$OUT/$arch.rates" | best)
  speedup=$(awk -v a="$many" -v b="$one" 'BEGIN {printf "%.2f", a / b}')
  echo "$arch: 1 process x 1 thread $one rows/s, $RANKS ranks x 1 thread $many rows/s (${speedup}x); valid mean AUC $(auc "$OUT/$arch-1.log") / $(auc "$OUT/$arch-$RANKS.log")"
  echo "distributed: ranks=$RANKS arch=$arch speedup=$speedup auc_1=$(auc "$OUT/$arch-1.log") auc_$RANKS=$(auc "$OUT/$arch-$RANKS.log")"
done
