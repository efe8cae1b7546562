#!/usr/bin/env bash
# Several scenarios in one log: who ranks each scenario's impressions best? Simulates impressions from K scenarios
# (`mtrec simulate --scenarios K`: pages or sites sharing users and catalogue, each with half the rows of the one
# before and tastes of its own), then trains
#   mmoe          — one MMoE over every scenario, the scenario a feature like any other (model.arch = mmoe);
#   pepnet        — PEPNet: the scenario's embedding gates every input column (EPNet), the user and item ids
#                   every task tower's layers (PPNet) (model.arch = pepnet);
#   per_scenario  — one MMoE per scenario, each trained and validated on its scenario's rows alone;
# and measures each on every scenario's test rows (eval.slice_by = "scenario"). One line per model, then the last:
#   scenarios: model=M click_auc_mean=X s1=X s2=X ...
#   scenarios: pepnet=X mmoe=X per_scenario=X smallest: pepnet=X mmoe=X per_scenario=X
# (the mean click AUC over the scenarios, then the click AUC on the smallest one).
# Usage: examples/ecommerce/scenarios.sh [--rows N] [--seed S] [--scenarios K] [--models "mmoe pepnet ..."]
#        [key=value ...]   (config overrides for every model, e.g. train.epochs=2)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mtrec="${MTREC:-$root/build/src/mtrec}"
rows=1250000
seed=1
scenarios=3
models=(mmoe pepnet per_scenario)
overrides=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --scenarios) scenarios="$2"; shift 2 ;;
    --models) read -r -a models <<< "$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *=*) overrides+=("$1"); shift ;;
    *) echo "scenarios: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
out="$root/out/scenarios-$rows-$seed-$scenarios"
if [ ! -f "$out/test.csv" ]; then
  "$mtrec" -q simulate --preset ecommerce --rows "$rows" --seed "$seed" --scenarios "$scenarios" --out "$out"
fi
pepnet=(model.arch=pepnet 'model.scenario_features=["scenario"]' 'model.prior_features=["user_id", "item_id"]')

# The click AUC of each scenario (s1 s2 ...) from an eval JSON, in scenario order.
slice_aucs() {
  awk -v task=click -v key=auc -f "$root/examples/json_slices.awk" "$1" | sort -k1,1V | awk '{ print $2 }'
}

# One scenario's rows of a split, header kept (the scenario is the first column).
split_scenario() {  # file scenario
  awk -F, -v s="$2" 'NR == 1 || $1 == s' "$1"
}

report() {  # model aucs...
  local model="$1"
  shift
  local line="scenarios: model=$model" sum=0 k=0 auc
  for auc in "$@"; do
    k=$((k + 1))
    line="$line s$k=$(printf '%.4f' "$auc")"
    sum="$(awk -v a="$sum" -v b="$auc" 'BEGIN { print a + b }')"
  done
  mean="$(awk -v a="$sum" -v k="$k" 'BEGIN { printf "%.4f", a / k }')"
  echo "scenarios: model=$model click_auc_mean=$mean${line#scenarios: model=$model}"
  means[$model]="$mean"
  smallest[$model]="$(printf '%.4f' "${!#}")"
}

declare -A means smallest
for model in "${models[@]}"; do
  case "$model" in
    mmoe | pepnet)
      settings=(model.arch=mmoe)
      [ "$model" = pepnet ] && settings=("${pepnet[@]}")
      "$mtrec" -q train --config "$out/config.toml" --out "$out/$model.mtrec" "${settings[@]}" "${overrides[@]}" \
        > /dev/null
      "$mtrec" -q eval --model "$out/$model.mtrec" --data "$out/test.csv" --json "$out/$model.json" > /dev/null
      mapfile -t aucs < <(slice_aucs "$out/$model.json")
      report "$model" "${aucs[@]}"
      ;;
    per_scenario)
      aucs=()
      for ((s = 1; s <= scenarios; s++)); do
        dir="$out/s$s"
        mkdir -p "$dir"
        for split in train valid test; do
          [ -f "$dir/$split.csv" ] || split_scenario "$out/$split.csv" "s$s" > "$dir/$split.csv"
        done
        cp "$out/config.toml" "$dir/config.toml"
        "$mtrec" -q train --config "$dir/config.toml" --out "$dir/mmoe.mtrec" model.arch=mmoe "${overrides[@]}" \
          > /dev/null
        "$mtrec" -q eval --model "$dir/mmoe.mtrec" --data "$dir/test.csv" --json "$dir/mmoe.json" > /dev/null
        aucs+=("$(awk -v task=click -v key=auc -f "$root/examples/json_metric.awk" "$dir/mmoe.json")")
      done
      report per_scenario "${aucs[@]}"
      ;;
    *) echo "scenarios: unknown model '$model'" >&2; exit 2 ;;
  esac
done
line="scenarios:"
for model in pepnet mmoe per_scenario; do line="$line $model=${means[$model]:-nan}"; done
line="$line smallest:"
for model in pepnet mmoe per_scenario; do line="$line $model=${smallest[$model]:-nan}"; done
echo "$line"
