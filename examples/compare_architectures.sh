#!/usr/bin/env bash
# Every architecture on both examples, each changing model.arch only: Census-Income (income and never-married
# test AUC, mean over seeds) and simulated e-commerce (click and purchase test AUC, with the oracle's).
# Prints a Markdown table. Usage: examples/compare_architectures.sh [--seeds N] [--rows N] [--archs "a b ..."]
# Default --archs: every architecture the binary has (`mtrec list archs`; $MTREC, default build/src/mtrec).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
seeds=3
rows=500000
mtrec="${MTREC:-$root/build/src/mtrec}"
archs=""
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) seeds="$2"; shift 2 ;;
    --rows) rows="$2"; shift 2 ;;
    --archs) archs="$2"; shift 2 ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
if [ -z "$archs" ]; then archs="$("$mtrec" list archs | tr '\n' ' ')"; fi
out="$root/out/compare"
mkdir -p "$out"
{
echo "| arch | census income AUC | census marital AUC | sim click AUC | sim purchase AUC | census s/seed | sim s |"
echo "|---|---|---|---|---|---|---|"
for arch in $archs; do
  start=$(date +%s)
  census=$("$here/census/run.sh" --seeds "$seeds" --arch "$arch" | tail -n 1)
  middle=$(date +%s)
  sim=$("$here/ecommerce/run.sh" --rows "$rows" "model.arch=$arch" | tail -n 1)
  end=$(date +%s)
  field() { echo "$1" | tr ' ' '\n' | grep "^$2=" | cut -d= -f2; }
  printf '| %s | %s ± %s | %s ± %s | %s (oracle %s) | %s (oracle %s) | %d | %d |\n' "$arch" \
    "$(field "$census" income_auc_mean)" "$(field "$census" income_auc_std)" \
    "$(field "$census" marital_auc_mean)" "$(field "$census" marital_auc_std)" \
    "$(field "$sim" click_auc)" "$(field "$sim" click_oracle)" "$(field "$sim" purchase_auc)" \
    "$(field "$sim" purchase_oracle)" $(( (middle - start) / seeds )) $(( end - middle ))
done
} | tee "$out/table.md"
