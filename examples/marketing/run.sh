#!/usr/bin/env bash
# Customer value and campaign effect end to end: simulate customers with a purchase history and a campaign ->
# one multi-task model (revenue with the zero-inflated log-normal, conversion with per-arm heads, churn, and a
# propensity head) -> test metrics beside the oracle (the simulator's truth) and the peers (bench/marketing:
# LightGBM for value, causalml's T-, X- and DR-learners for uplift). Then the same under targeted assignment, with
# and without the inverse-propensity correction. Last line (random assignment):
#   marketing: gini=X gbdt_gini=X oracle_gini=X qini=X causalml_qini=X oracle_qini=X
# Usage: examples/marketing/run.sh [--rows N] [--seed S] [--no-peers] [--no-targeted] [overrides...]
# The default is 1,000,000 customers: 200,000 test rows, which the decile chart needs to be read to 10%. --no-peers
# leaves the peers out (their figures print as nan); their first run creates a virtual environment from PyPI
# (about 1.5 GB).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mtrec="${MTREC:-$root/build/src/mtrec}"
rows=1000000
seed=42
peers=1
targeted=1
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --no-peers) peers=0; shift ;;
    --no-targeted) targeted=0; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) extra+=("$1"); shift ;;
  esac
done

metric() {  # metric FILE TASK KEY
  awk -v task="$2" -v key="$3" -f "$root/examples/json_metric.awk" "$1"
}
peer() {  # peer DIR PYTHON-EXPRESSION-ON-m: nan without the peers' run
  local file="$1/peers/peers_metrics.json"
  if [ -s "$file" ]; then
    python3 -c 'import json, sys; m = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$file" "$2"
  else
    echo nan
  fi
}

# run DIR NAME [overrides...]: trains DIR/NAME.mtrec on DIR's data, evaluates it on DIR/test.csv into DIR/NAME.json.
run() {
  local dir="$1" name="$2"; shift 2
  local start end
  start=$(date +%s.%N)
  "$mtrec" -q train --config "$dir/config.toml" --out "$dir/$name.mtrec" ${extra[@]+"${extra[@]}"} "$@" > /dev/null
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f\n", e - s }' > "$dir/$name.seconds"
  "$mtrec" -q eval --model "$dir/$name.mtrec" --data "$dir/test.csv" --json "$dir/$name.json" \
    --report "$dir/$name.html" > "$dir/$name.txt"
}
# simulate DIR [simulate options...]; the peers' run on it is kept (delete DIR/peers to run it again).
simulate() {
  local dir="$1"; shift
  "$mtrec" simulate --preset marketing --rows "$rows" --seed "$seed" --out "$dir" "$@" | tail -1
  if [ "$peers" = 1 ] && [ ! -s "$dir/peers/peers_metrics.json" ]; then
    "$root/bench/marketing/run_peers.sh" "$dir" "$dir/peers" > "$dir/peers.log" 2>&1 || {
      tail -20 "$dir/peers.log" >&2; exit 1; }
  fi
}

random="$root/out/marketing-$rows-$seed"
simulate "$random"
run "$random" model
m="$random/model.json"
printf 'value (revenue): gini=%.4f gbdt_gini=%.4f oracle_gini=%.4f spearman=%.4f top10_share=%.4f decile_max_rel_error=%.4f\n' \
  "$(metric "$m" revenue gini)" "$(peer "$random" 'm["summary"]["gbdt_gini"]')" "$(metric "$m" revenue oracle_gini)" \
  "$(metric "$m" revenue spearman)" "$(metric "$m" revenue revenue_share_top10)" \
  "$(metric "$m" revenue decile_max_rel_error)"
printf 'uplift (converted): qini=%.5f true_qini=%.5f pehe=%.4f; causalml %s qini=%.5f true_qini=%.5f; oracle qini=%.5f true_qini=%.5f\n' \
  "$(metric "$m" converted qini)" "$(metric "$m" converted true_qini)" "$(metric "$m" converted pehe)" \
  "$(peer "$random" 'm["summary"]["causalml_learner"]')" "$(peer "$random" 'm["summary"]["causalml_qini"]')" \
  "$(peer "$random" 'm["uplift"]["converted"][m["summary"]["causalml_learner"]]["true_qini"]')" \
  "$(metric "$m" converted oracle_qini)" "$(metric "$m" converted oracle_true_qini)"
printf 'churn: auc=%.4f oracle_auc=%.4f; conversion: auc=%.4f oracle_auc=%.4f; training %ss\n' \
  "$(metric "$m" churned auc)" "$(metric "$m" churned oracle_auc)" "$(metric "$m" converted auc)" \
  "$(metric "$m" converted oracle_auc)" "$(cat "$random/model.seconds")"

if [ "$targeted" = 1 ]; then
  target="$root/out/marketing-$rows-$seed-targeted"
  simulate "$target" --targeted
  run "$target" model
  run "$target" no_ipw 'tasks.converted.propensity=""' 'tasks.revenue.propensity=""'
  t="$target/model.json"
  printf 'targeted: qini=%.5f true_qini=%.5f pehe=%.4f; without the propensity correction qini=%.5f true_qini=%.5f pehe=%.4f; causalml %s qini=%.5f true_qini=%.5f; oracle qini=%.5f true_qini=%.5f\n' \
    "$(metric "$t" converted qini)" "$(metric "$t" converted true_qini)" "$(metric "$t" converted pehe)" \
    "$(metric "$target/no_ipw.json" converted qini)" "$(metric "$target/no_ipw.json" converted true_qini)" \
    "$(metric "$target/no_ipw.json" converted pehe)" \
    "$(peer "$target" 'm["summary"]["causalml_learner"]')" "$(peer "$target" 'm["summary"]["causalml_qini"]')" \
    "$(peer "$target" 'm["uplift"]["converted"][m["summary"]["causalml_learner"]]["true_qini"]')" \
    "$(metric "$t" converted oracle_qini)" "$(metric "$t" converted oracle_true_qini)"
  printf 'targeted value: gini=%.4f gbdt_gini=%.4f oracle_gini=%.4f\n' "$(metric "$t" revenue gini)" \
    "$(peer "$target" 'm["summary"]["gbdt_gini"]')" "$(metric "$t" revenue oracle_gini)"
fi

printf 'marketing: gini=%.4f gbdt_gini=%.4f oracle_gini=%.4f qini=%.5f causalml_qini=%.5f oracle_qini=%.5f\n' \
  "$(metric "$m" revenue gini)" "$(peer "$random" 'm["summary"]["gbdt_gini"]')" "$(metric "$m" revenue oracle_gini)" \
  "$(metric "$m" converted qini)" "$(peer "$random" 'm["summary"]["causalml_qini"]')" \
  "$(metric "$m" converted oracle_qini)"
