#!/usr/bin/env bash
# Every train.weighting strategy with one architecture on both examples, each run changing train.weighting only:
# Census-Income (income and never-married test AUC, mean over seeds) and simulated e-commerce (click and purchase
# test AUC, GMV RMSE), with the multi-task gain delta_m against single_task runs of the same seeds and data, and
# the mean seconds per training epoch relative to `static`. Prints a Markdown table per example.
# Usage: examples/compare_weighting.sh [--only census|sim|timing] [--seeds N] [--rows N] [--arch A] [--threads N]
#                                      [--strategies "a b ..."] [--tag NAME]
# The strategy list may include single_task, the delta_m baseline (model.arch=single_task, static); default:
# single_task, then every strategy the binary has (`mtrec list weightings`). Results go to out/weighting[-NAME]/.
# --only timing trains one epoch per strategy on each example, one run at a time, for clean seconds per epoch.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
mtrec="${MTREC:-$root/build/src/mtrec}"
only=""
seeds=3
rows=500000
arch=mmoe
threads=0
strategies=""
tag=""
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --rows) rows="$2"; shift 2 ;;
    --arch) arch="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --strategies) strategies="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
if [ -z "$strategies" ]; then strategies="single_task $("$mtrec" list weightings | tr '\n' ' ')"; fi
out="$root/out/weighting${tag:+-$tag}"
mkdir -p "$out"
metric() { awk -v task="$2" -v key="$3" -f "$here/json_metric.awk" "$1"; }
# Mean seconds of the "epoch N/M done: R rows in Xs" lines of a training log.
epoch_seconds() { grep -o 'rows in [0-9.]*s' "$1" | tr -d 'a-z ' | awk '{ s += $1; n++ } END { printf "%.3f", s / n }'; }
mean() { awk '{ s += $1; n++ } END { printf "%.4f", s / n }'; }

# Census: one row per strategy, means over seeds; the baseline is single_task over the same seeds.
census() {
  local dir="$out/census" runs="$out/census/runs.txt"
  mkdir -p "$dir"
  : > "$runs"
  for strategy in $strategies; do
    for seed in $(seq 1 "$seeds"); do
      local name="$strategy-seed$seed" model_arch="$arch" weighting="$strategy"
      if [ "$strategy" = single_task ]; then model_arch=single_task; weighting=static; fi
      "$mtrec" train --config "$here/census/config.toml" --out "$dir/$name.mtrec" "model.arch=$model_arch" \
        "train.weighting=$weighting" "train.seed=$seed" "train.threads=$threads" > "$dir/$name.log" 2>&1
      "$mtrec" -q eval --model "$dir/$name.mtrec" --data "$root/examples/census/$(grep -o 'test = "[^"]*"' \
        "$here/census/config.toml" | cut -d'"' -f2)" --part test --json "$dir/$name.json" > /dev/null
      echo "$strategy $seed $(metric "$dir/$name.json" income auc) $(metric "$dir/$name.json" marital auc)" \
        "$(epoch_seconds "$dir/$name.log")" >> "$runs"
    done
  done
  awk -v arch="$arch" '
    { key = $1; n[key]++; inc[key] += $3; mar[key] += $4; sec[key] += $5; order[key] = order[key] ? order[key] : ++count; name[order[key]] = key }
    END {
      bi = n["single_task"] ? inc["single_task"] / n["single_task"] : 0
      bm = n["single_task"] ? mar["single_task"] / n["single_task"] : 0
      ss = n["static"] ? sec["static"] / n["static"] : 0
      printf "| census, %s | income AUC | never-married AUC | delta_m vs single_task | s/epoch vs static |\n", arch
      print "|---|---|---|---|---|"
      for (i = 1; i <= count; i++) {
        k = name[i]; mi = inc[k] / n[k]; mm = mar[k] / n[k]
        dm = bi ? sprintf("%+.3f%%", 100 * ((mi - bi) / bi + (mm - bm) / bm) / 2) : "n/a"
        ratio = ss ? sprintf("%.2f", (sec[k] / n[k]) / ss) : "n/a"
        printf "| %s | %.4f | %.4f | %s | %s |\n", k, mi, mm, dm, ratio
      }
    }' "$runs" | tee "$out/census.md"
}

# Simulated e-commerce: one data set (seed 1), one run per strategy; the baseline is single_task on it.
sim() {
  local dir="$out/sim-$rows" runs="$out/sim-$rows/runs.txt"
  mkdir -p "$dir"
  "$mtrec" simulate --preset ecommerce --rows "$rows" --seed 1 --out "$dir/data" > /dev/null
  : > "$runs"
  for strategy in $strategies; do
    local model_arch="$arch" weighting="$strategy"
    if [ "$strategy" = single_task ]; then model_arch=single_task; weighting=static; fi
    "$mtrec" train --config "$dir/data/config.toml" --out "$dir/$strategy.mtrec" "model.arch=$model_arch" \
      "train.weighting=$weighting" "train.threads=$threads" > "$dir/$strategy.log" 2>&1
    local baseline=()
    [ "$strategy" != single_task ] && [ -f "$dir/single_task.json" ] && baseline=(--baseline "$dir/single_task.json")
    "$mtrec" -q eval --model "$dir/$strategy.mtrec" --data "$dir/data/test.csv" --json "$dir/$strategy.json" \
      ${baseline[@]+"${baseline[@]}"} > /dev/null
    local j="$dir/$strategy.json" delta_m="nan"
    [ ${#baseline[@]} -gt 0 ] && delta_m=$(grep -A2 '"delta_m"' "$j" | awk -F': ' '/"value"/ { sub(/,$/, "", $2); print $2 }')
    echo "$strategy $(metric "$j" click auc) $(metric "$j" purchase auc) $(metric "$j" gmv rmse)" \
      "$(metric "$j" click oracle_auc) $(metric "$j" purchase oracle_auc) $(metric "$j" gmv oracle_rmse)" \
      "$delta_m $(epoch_seconds "$dir/$strategy.log")" >> "$runs"
  done
  awk -v arch="$arch" -v rows="$rows" '
    { line[NR] = $0; if ($1 == "static") ss = $9 }
    END {
      printf "| simulated %s rows, %s | click AUC | purchase AUC | GMV RMSE | delta_m vs single_task | s/epoch vs static |\n", rows, arch
      print "|---|---|---|---|---|---|"
      for (i = 1; i <= NR; i++) {
        split(line[i], f, " ")
        if (i == 1) printf "| oracle | %.4f | %.4f | %.4f | | |\n", f[5], f[6], f[7]
        dm = f[8] == "nan" ? "" : sprintf("%+.3f%%", f[8])
        printf "| %s | %.4f | %.4f | %.4f | %s | %s |\n", f[1], f[2], f[3], f[4], dm, ss ? sprintf("%.2f", f[9] / ss) : "n/a"
      }
    }' "$runs" | tee "$out/sim-$rows.md"
}

# One epoch per strategy on each example, nothing else running: seconds per epoch and their ratio to static's.
timing() {
  local dir="$out/timing-$rows"
  mkdir -p "$dir"
  [ -f "$dir/data/train.csv" ] || "$mtrec" simulate --preset ecommerce --rows "$rows" --seed 1 --out "$dir/data" > /dev/null
  local census_static="" sim_static=""
  {
  echo "| $arch, one epoch, threads=$threads | census s/epoch | vs static | simulated $rows rows s/epoch | vs static |"
  echo "|---|---|---|---|---|"
  for strategy in $strategies; do
    [ "$strategy" = single_task ] && continue
    local common=("model.arch=$arch" "train.weighting=$strategy" "train.threads=$threads" "train.epochs=1")
    "$mtrec" train --config "$here/census/config.toml" --out "$dir/census-$strategy.mtrec" "${common[@]}"       > "$dir/census-$strategy.log" 2>&1
    "$mtrec" train --config "$dir/data/config.toml" --out "$dir/sim-$strategy.mtrec" "${common[@]}"       > "$dir/sim-$strategy.log" 2>&1
    local c s
    c=$(epoch_seconds "$dir/census-$strategy.log")
    s=$(epoch_seconds "$dir/sim-$strategy.log")
    [ -z "$census_static" ] && census_static=$c && sim_static=$s
    awk -v n="$strategy" -v c="$c" -v s="$s" -v c0="$census_static" -v s0="$sim_static"       'BEGIN { printf "| %s | %.1f | %.2f | %.1f | %.2f |\n", n, c, c / c0, s, s / s0 }'
  done
  } | tee "$out/timing-$rows.md"
}

case "$only" in
  census) census ;;
  sim) sim ;;
  timing) timing ;;
  "") census; sim ;;
  *) echo "--only takes census, sim or timing" >&2; exit 2 ;;
esac
