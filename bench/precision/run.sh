#!/usr/bin/env bash
# bf16 training parity (train.precision = "bf16" against f32): the same runs in both precisions, paired by seed.
#   - Census-Income (KDD), the MMoE paper's protocol (examples/census/config.toml), --seeds seeds (default 5):
#     mean test AUC of income and never-married per precision;
#   - simulated e-commerce data (--rows rows, default 1M, seed 1): test AUC of click and purchase.
# Last line: `precision: arch=A census_income_delta=X census_marital_delta=X sim_click_delta=X sim_purchase_delta=X`
# (bf16 minus f32; the targets are |delta| <= 0.001 on census and <= 0.002 on the simulated data).
# Needs a CPU with avx512_bf16 or AMX: elsewhere mtrec refuses bf16 and the script stops with its message.
#   bench/precision/run.sh [--arch mmoe] [--seeds 5] [--rows 1000000] [--mtrec PATH] [--skip-sim]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
MTREC=build/src/mtrec
ARCH=mmoe
SEEDS=5
ROWS=1000000
SIM=1
while [ $# -gt 0 ]; do
  case $1 in
    --arch) ARCH=$2; shift 2 ;;
    --seeds) SEEDS=$2; shift 2 ;;
    --rows) ROWS=$2; shift 2 ;;
    --mtrec) MTREC=$2; shift 2 ;;
    --skip-sim) SIM=0; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
out=$root/out/precision
mkdir -p "$out"
# A private copy of the binary: a rebuild during the run would otherwise swap it between the two precisions.
cp "$MTREC" "$out/mtrec"
MTREC=$out/mtrec
grep -m1 "model name" /proc/cpuinfo | sed 's/.*: /cpu: /'
auc() { awk -v task="$2" -v key=auc -f examples/json_metric.awk "$1"; }

census=examples/census/config.toml
census_test=$(dirname "$census")/$(grep -o 'test = "[^"]*"' "$census" | cut -d'"' -f2)
: > "$out/census.txt"
for seed in $(seq 1 "$SEEDS"); do
  line="$seed"
  for precision in f32 bf16; do
    model=$out/census-$ARCH-$precision-seed$seed.mtrec
    "$MTREC" -q train --config "$census" --out "$model" "model.arch=$ARCH" "train.seed=$seed" \
      "train.precision=$precision" > "$out/census-train-$precision-seed$seed.txt"
    "$MTREC" -q eval --model "$model" --data "$census_test" --part test --json "$out/census-$precision-$seed.json" \
      > /dev/null
    line="$line $(auc "$out/census-$precision-$seed.json" income) $(auc "$out/census-$precision-$seed.json" marital)"
  done
  echo "$line" >> "$out/census.txt"
  echo "census seed $seed: f32 income/marital $(echo "$line" | cut -d' ' -f2,3)  bf16 $(echo "$line" | cut -d' ' -f4,5)"
done
read -r ci cm < <(awk '{ di += $4 - $2; dm += $5 - $3; n++ } END { printf "%.5f %.5f\n", di / n, dm / n }' \
  "$out/census.txt")

sc=nan; sp=nan
if [ "$SIM" = 1 ]; then
  sim=$out/sim-$ROWS
  [ -f "$sim/config.toml" ] || "$MTREC" -q simulate --preset ecommerce --rows "$ROWS" --seed 1 --out "$sim" > /dev/null
  declare -A click purchase
  for precision in f32 bf16; do
    model=$out/sim-$ARCH-$precision.mtrec
    "$MTREC" -q train --config "$sim/config.toml" --out "$model" "model.arch=$ARCH" "train.precision=$precision" \
      > "$out/sim-train-$precision.txt"
    "$MTREC" -q eval --model "$model" --data "$sim/test.csv" --json "$out/sim-$precision.json" > /dev/null
    click[$precision]=$(auc "$out/sim-$precision.json" click)
    purchase[$precision]=$(auc "$out/sim-$precision.json" purchase)
    echo "simulated ($ROWS rows) $precision: click auc ${click[$precision]}  purchase auc ${purchase[$precision]}"
  done
  sc=$(awk -v a="${click[bf16]}" -v b="${click[f32]}" 'BEGIN { printf "%.5f", a - b }')
  sp=$(awk -v a="${purchase[bf16]}" -v b="${purchase[f32]}" 'BEGIN { printf "%.5f", a - b }')
fi
echo "precision: arch=$ARCH census_income_delta=$ci census_marital_delta=$cm sim_click_delta=$sc sim_purchase_delta=$sp"
