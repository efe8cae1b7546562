#!/usr/bin/env bash
# Sample selection bias: who knows p(purchase | click) on impressions that were never clicked?
# Simulates impressions with selection bias (exposure and clickbait favour clicks that do not convert), then trains
#   esmm_chain    — ESMM: purchase = click x (purchase | click) fitted on every impression, towers over embeddings
#                   shared with click (model.arch = esmm with the generated config's chains);
#   shared_masked — the same towers and shared embeddings, but purchase learned on clicked rows only
#                   (tasks.*.mode = "masked");
#   clicked_only  — the conversion model of the ESMM paper's BASE: its own network and embeddings, trained on
#                   clicked rows only (model.arch = single_task, masked);
#   escm2_ips     — ESCM²: the ESMM chain plus the counterfactual risk of p(purchase | click), inverse-propensity
#                   weighted (tasks.purchase.counterfactual = "ips");
#   escm2_dr      — the same, doubly robust, with an imputation tower (tasks.purchase.counterfactual = "dr");
# and compares their p(purchase | click) on every test impression with the simulator's true
# p_purchase_given_click: mean absolute error, and AUC against the truth (eval's cond_mae and cond_auc).
# Last lines, one per model:
#   selection_bias: model=M cvr_mae=X cvr_auc=X oracle_auc=X
# --unobserved U adds selection on a factor no column shows (simulate --selection-unobserved U), the case ESMM
# and ESCM² were made for; --counterfactual-weight W sets ESCM²'s weight (default 1).
# Usage: examples/ecommerce/selection_bias.sh [--rows N] [--seed S] [--bias B] [--unobserved U]
#        [--counterfactual-weight W] [--models "esmm_chain ..."]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mtrec="${MTREC:-$root/build/src/mtrec}"
rows=500000
seed=1
bias=1
unobserved=0
weight=1
models=(esmm_chain shared_masked clicked_only escm2_ips escm2_dr)
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --bias) bias="$2"; shift 2 ;;
    --unobserved) unobserved="$2"; shift 2 ;;
    --counterfactual-weight) weight="$2"; shift 2 ;;
    --models) read -r -a models <<< "$2"; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
out="$root/out/selection-bias-$rows-$seed-$bias-$unobserved"
if [ ! -f "$out/test.csv" ]; then
  "$mtrec" simulate --preset ecommerce --rows "$rows" --seed "$seed" --selection-bias "$bias" \
    --selection-unobserved "$unobserved" --out "$out"
fi
masked=(tasks.cart.mode=masked tasks.purchase.mode=masked)
for model in "${models[@]}"; do
  case "$model" in
    esmm_chain) settings=(model.arch=esmm) ;;
    shared_masked) settings=(model.arch=esmm "${masked[@]}") ;;
    clicked_only) settings=(model.arch=single_task "${masked[@]}") ;;
    escm2_ips | escm2_dr)
      settings=(model.arch=esmm "tasks.purchase.counterfactual=${model#escm2_}"
        "tasks.purchase.counterfactual_weight=$weight") ;;
    *) echo "selection_bias: unknown model '$model'" >&2; exit 2 ;;
  esac
  "$mtrec" -q train --config "$out/config.toml" --out "$out/$model.mtrec" "${settings[@]}" > /dev/null
done
for model in "${models[@]}"; do
  "$mtrec" -q eval --model "$out/$model.mtrec" --data "$out/test.csv" --json "$out/$model.json" > "$out/$model.txt"
done
for model in "${models[@]}"; do
  metric() { awk -v task=purchase -v key="$1" -f "$root/examples/json_metric.awk" "$out/$model.json"; }
  printf 'selection_bias: model=%s cvr_mae=%.4f cvr_auc=%.4f oracle_auc=%.4f\n' \
    "$model" "$(metric cond_mae)" "$(metric cond_auc)" "$(metric oracle_cond_auc)"
done
