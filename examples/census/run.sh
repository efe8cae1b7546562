#!/usr/bin/env bash
# Census-Income (KDD) on the MMoE paper's protocol: trains N seeds end to end from the UCI files and prints each
# seed's test AUCs, then one summary line:
#   census: arch=A income_auc_mean=X income_auc_std=X marital_auc_mean=X marital_auc_std=X
# Each seed's model, eval JSON and HTML report (open out/census/ARCH-seedN.html in a browser) stay in out/census/.
# Usage: examples/census/run.sh [--seeds N] [--arch A] [extra section.key=value overrides...]
# CENSUS_DIR points at the folder holding census-income.data.xz and census-income.test.xz (default: the one the
# config names); MTREC at the binary (default: build/src/mtrec).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mtrec="${MTREC:-$root/build/src/mtrec}"
seeds=5
arch=ple
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) seeds="$2"; shift 2 ;;
    --arch) arch="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) extra+=("$1"); shift ;;
  esac
done
data=()
if [ -n "${CENSUS_DIR:-}" ]; then
  data=("data.train=$CENSUS_DIR/census-income.data.xz" "data.test=$CENSUS_DIR/census-income.test.xz")
fi
out="$root/out/census"
mkdir -p "$out"
results="$out/results-$arch.txt"
: > "$results"
for seed in $(seq 1 "$seeds"); do
  model="$out/$arch-seed$seed.mtrec"
  "$mtrec" -q train --config "$here/config.toml" --out "$model" "model.arch=$arch" "train.seed=$seed" \
    ${data[@]+"${data[@]}"} ${extra[@]+"${extra[@]}"} > "$out/train-$arch-seed$seed.txt"
  test_file="$(grep -o 'test = "[^"]*"' "$here/config.toml" | cut -d'"' -f2)"
  test_path="$here/$test_file"
  [ -n "${CENSUS_DIR:-}" ] && test_path="$CENSUS_DIR/census-income.test.xz"
  json="$out/$arch-seed$seed.json"
  "$mtrec" -q eval --model "$model" --data "$test_path" --part test --json "$json" \
    --report "$out/$arch-seed$seed.html" > /dev/null
  auc() { awk -v task="$1" -v key=auc -f "$root/examples/json_metric.awk" "$json"; }
  echo "$seed $(auc income) $(auc marital)" >> "$results"
  tail -n 1 "$results" | awk '{printf "seed %s: income auc %.5f  marital auc %.5f\n", $1, $2, $3}'
done
awk -v arch="$arch" '
  { n++; i[n]=$2; m[n]=$3; si+=$2; sm+=$3 }
  END {
    mi=si/n; mm=sm/n; vi=0; vm=0
    for (k=1; k<=n; k++) { vi+=(i[k]-mi)^2; vm+=(m[k]-mm)^2 }
    di=(n>1)?sqrt(vi/(n-1)):0; dm=(n>1)?sqrt(vm/(n-1)):0
    printf "census: arch=%s income_auc_mean=%.5f income_auc_std=%.5f marital_auc_mean=%.5f marital_auc_std=%.5f\n", arch, mi, di, mm, dm
  }' "$results"
