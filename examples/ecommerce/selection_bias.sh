#!/usr/bin/env bash
# Sample selection bias: who knows p(purchase | click) on impressions that were never clicked?
# Simulates impressions with selection bias (exposure and clickbait favour clicks that do not convert), then trains
#   esmm_chain   — ESMM: purchase = click x (purchase | click), fitted on every impression (the default config), and
#   clicked_only — the same towers, but purchase learned only on clicked rows (tasks.*.mode = "masked"),
# and compares both models' p(purchase | click) on every test impression with the simulator's true
# p_purchase_given_click: mean absolute error, and AUC against the truth (eval's cond_mae and cond_auc).
# Last lines:
#   selection_bias: model=esmm_chain cvr_mae=X cvr_auc=X oracle_auc=X
#   selection_bias: model=clicked_only cvr_mae=X cvr_auc=X oracle_auc=X
# Usage: examples/ecommerce/selection_bias.sh [--rows N] [--seed S] [--bias B] [--arch A]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mtrec="${MTREC:-$root/build/src/mtrec}"
rows=500000
seed=1
bias=1
arch=esmm
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --bias) bias="$2"; shift 2 ;;
    --arch) arch="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
out="$root/out/selection-bias-$rows-$seed-$bias"
"$mtrec" simulate --preset ecommerce --rows "$rows" --seed "$seed" --selection-bias "$bias" --out "$out"
"$mtrec" -q train --config "$out/config.toml" --out "$out/esmm_chain.mtrec" model.arch="$arch" > /dev/null
"$mtrec" -q train --config "$out/config.toml" --out "$out/clicked_only.mtrec" model.arch="$arch" \
  tasks.cart.mode=masked tasks.purchase.mode=masked > /dev/null
for model in esmm_chain clicked_only; do
  "$mtrec" -q eval --model "$out/$model.mtrec" --data "$out/test.csv" --json "$out/$model.json" > "$out/$model.txt"
done
for model in esmm_chain clicked_only; do
  metric() { awk -v task=purchase -v key="$1" -f "$root/examples/json_metric.awk" "$out/$model.json"; }
  printf 'selection_bias: model=%s cvr_mae=%.4f cvr_auc=%.4f oracle_auc=%.4f\n' \
    "$model" "$(metric cond_mae)" "$(metric cond_auc)" "$(metric oracle_cond_auc)"
done
