#!/usr/bin/env bash
# Simulated e-commerce impressions end to end: simulate -> train -> evaluate, with the oracle (the simulator's
# true probabilities) beside the model, and an HTML report (out/ecommerce-ROWS-SEED/report.html). Last line:
#   ecommerce: click_auc=X click_oracle=X purchase_auc=X purchase_oracle=X
# Usage: examples/ecommerce/run.sh [--rows N] [--seed S] [extra section.key=value overrides...]
# --rows is the whole simulated log (default 1,250,000): 80% of it is the training file (1M rows), 10% each the
# validation and test files.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mtrec="${MTREC:-$root/build/src/mtrec}"
rows=1250000
seed=1
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) extra+=("$1"); shift ;;
  esac
done
out="$root/out/ecommerce-$rows-$seed"
"$mtrec" simulate --preset ecommerce --rows "$rows" --seed "$seed" --out "$out"
"$mtrec" train --config "$out/config.toml" --out "$out/model.mtrec" ${extra[@]+"${extra[@]}"} > /dev/null
"$mtrec" -q eval --model "$out/model.mtrec" --data "$out/test.csv" --json "$out/metrics.json" \
  --report "$out/report.html" | tee "$out/metrics.txt"
metric() { awk -v task="$1" -v key="$2" -f "$root/examples/json_metric.awk" "$out/metrics.json"; }
printf 'gmv: rmse=%.4f oracle_rmse=%.4f (%+.2f%%)\n' "$(metric gmv rmse)" "$(metric gmv oracle_rmse)" \
  "$(awk -v m="$(metric gmv rmse)" -v o="$(metric gmv oracle_rmse)" 'BEGIN { print 100 * (m / o - 1) }')"
printf 'ecommerce: click_auc=%.4f click_oracle=%.4f purchase_auc=%.4f purchase_oracle=%.4f\n' \
  "$(metric click auc)" "$(metric click oracle_auc)" "$(metric purchase auc)" "$(metric purchase oracle_auc)"
