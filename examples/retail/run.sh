#!/usr/bin/env bash
# Retail demand forecasting end to end: simulate store x item x day sales -> one multi-task model (units today and
# over 7 days, stock-outs, censored demand, a p50/p90 ladder) -> test metrics beside the seasonal naive, the
# oracle, the same network per task (single_task), the model without the censored likelihood, and LightGBM
# (bench/retail, one model per task on the same features). Last line:
#   retail: wape=X naive_wape=X lgbm_wape=X oracle_wape=X pinball90=X lgbm_pinball90=X coverage90=X
# Usage: examples/retail/run.sh [--stores N] [--items N] [--days N] [--seed S] [--no-lgbm] [overrides...]
# The defaults are the simulator's (50 stores x 100 items x 400 days, about 1.9M rows). --no-lgbm leaves LightGBM
# out (its figures print as nan); its first run creates a virtual environment from PyPI.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mtrec="${MTREC:-$root/build/src/mtrec}"
stores=50
items=100
days=400
seed=42
lgbm=1
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --stores) stores="$2"; shift 2 ;;
    --items) items="$2"; shift 2 ;;
    --days) days="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --no-lgbm) lgbm=0; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) extra+=("$1"); shift ;;
  esac
done
out="$root/out/retail-$stores-$items-$days-$seed"
"$mtrec" simulate --preset retail --stores "$stores" --items "$items" --days "$days" --seed "$seed" --out "$out"
history=(--history "$out/train.csv" --history "$out/valid.csv")

# train NAME [overrides...]: trains out/NAME.mtrec, evaluates it on the test dates into out/NAME.json.
train() {
  local name="$1"; shift
  local start end
  start=$(date +%s.%N)
  "$mtrec" -q train --config "$out/config.toml" --out "$out/$name.mtrec" ${extra[@]+"${extra[@]}"} "$@" > /dev/null
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f\n", e - s }' > "$out/$name.seconds"
  "$mtrec" -q eval --model "$out/$name.mtrec" --data "$out/test.csv" "${history[@]}" --json "$out/$name.json" \
    > /dev/null
}
train single model.arch=single_task
train uncensored 'tasks.demand.censored=""'
train model
"$mtrec" -q eval --model "$out/model.mtrec" --data "$out/test.csv" "${history[@]}" --json "$out/metrics.json" \
  --report "$out/report.html" --baseline "$out/single.json" | tee "$out/metrics.txt"

if [ "$lgbm" = 1 ]; then
  # The simulation is the same for the same options and seed: a finished LightGBM run is kept (delete the folder
  # to run it again).
  if [ ! -s "$out/lgbm/lgbm_metrics.json" ]; then
    "$root/bench/retail/run_lgbm.sh" "$out" "$out/lgbm"
  fi
fi

metric() {  # metric FILE TASK KEY
  awk -v task="$2" -v key="$3" -f "$root/examples/json_metric.awk" "$1"
}
lgbm_metric() {  # lgbm_metric TASK KEY: nan without the LightGBM run
  local file="$out/lgbm/lgbm_metrics.json"
  if [ -s "$file" ]; then
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["tasks"][sys.argv[2]][sys.argv[3]])' \
      "$file" "$1" "$2"
  else
    echo nan
  fi
}
m="$out/metrics.json"
# Demand against the truth (the simulator's mean demand): the censored task's bias, and the same task trained on
# the sales as if they were demand.
demand_bias() {
  awk -v b="$(metric "$1" demand bias)" -v o="$(metric "$1" demand oracle_bias)" 'BEGIN { printf "%+.2f%%", 100 * ((1 + b) / (1 + o) - 1) }'
}
printf 'demand bias against the true mean demand: censored likelihood %s, without it %s\n' \
  "$(demand_bias "$m")" "$(demand_bias "$out/uncensored.json")"
printf 'units over 7 days: wape=%.4f naive_wape=%.4f lgbm_wape=%.4f\n' "$(metric "$m" units_next_7d wape)" \
  "$(metric "$m" units_next_7d naive_wape)" "$(lgbm_metric units_next_7d wape)"
printf 'stock-outs: auc=%.4f oracle_auc=%.4f lgbm_auc=%.4f; next 7 days: auc=%.4f lgbm_auc=%.4f\n' \
  "$(metric "$m" stockout auc)" "$(metric "$m" stockout oracle_auc)" "$(lgbm_metric stockout auc)" \
  "$(metric "$m" stockout_next_7d auc)" "$(lgbm_metric stockout_next_7d auc)"
printf 'multi-task against single_task: delta_m %s (sales wape %.4f vs %.4f); training %ss vs %ss\n' \
  "$(grep -o 'delta_m [-+0-9.]*%' "$out/metrics.txt" | cut -d' ' -f2)" "$(metric "$m" sales wape)" \
  "$(metric "$out/single.json" sales wape)" "$(cat "$out/model.seconds")" "$(cat "$out/single.seconds")"
printf 'retail: wape=%.4f naive_wape=%.4f lgbm_wape=%.4f oracle_wape=%.4f pinball90=%.4f lgbm_pinball90=%.4f coverage90=%.4f\n' \
  "$(metric "$m" sales wape)" "$(metric "$m" sales naive_wape)" "$(lgbm_metric sales wape)" \
  "$(metric "$m" sales oracle_wape)" "$(metric "$m" sales_p90 pinball)" "$(lgbm_metric sales_p90 pinball90)" \
  "$(metric "$m" sales_p90 coverage)"
