#!/usr/bin/env bash
# A model's life end to end (docs/lifecycle.md): a 30-day drifting simulation with a small second market ->
#   1. a stream (`train --follow`) over the daily partitions, with eviction, against a model frozen after day 7 and
#      a full retrain on all past days before each of days 20-30 (click AUC on days 20-30, and the compute);
#   2. the embedding rows the stream holds against the ids active in its eviction window;
#   3. the small market: fine-tuned from the big market's model (`--init-from`) against trained alone;
#   4. a new task (purchase) added to a click-and-cart model with 10% of its rows labelled, against all tasks
#      trained from scratch with every label (a 1,000,000-impression snapshot, whose test file has ~1,300 purchases).
# Last line:
#   lifecycle: incremental_auc=X frozen_auc=X retrain_auc=X compute_ratio=X transfer_auc=X scratch_auc=X newtask_auc=X newtask_full_auc=X
# Usage: examples/lifecycle/run.sh [--rows N] [--seed S] [--window W] [--snapshot-rows M]
#   N impressions a day (default 20000), W the eviction window in days (7), M the new-task snapshot (1000000).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mtrec="${MTREC:-$root/build/src/mtrec}"
rows=20000
seed=42
window=7
snapshot_rows=1000000
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --window) window="$2"; shift 2 ;;
    --snapshot-rows) snapshot_rows="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

out="$root/out/lifecycle-$rows-$seed-$snapshot_rows"
data="$out/data"
rm -rf "$out"
mkdir -p "$out"
metric() {  # metric FILE TASK KEY
  awk -v task="$2" -v key="$3" -f "$root/examples/json_metric.awk" "$1"
}
now() { date +%s.%N; }
elapsed() { awk -v s="$1" -v e="$2" 'BEGIN { printf "%.2f", e - s }'; }
day() { printf '%s/days/day-%03d.csv\n' "$1" "$2"; }
# concat OUT FILE...: the files' rows under one header.
concat() {
  local target="$1"; shift
  head -1 "$1" > "$target"
  for f in "$@"; do tail -n +2 "$f" >> "$target"; done
}
# mean_auc MODEL FIRST LAST: the model's mean click AUC over days FIRST..LAST of $data.
mean_auc() {
  local sum=0 d
  for d in $(seq "$2" "$3"); do
    "$mtrec" -q eval --model "$1" --data "$(day "$data" "$d")" --json "$out/eval.json" > /dev/null
    sum=$(awk -v s="$sum" -v a="$(metric "$out/eval.json" click auc)" 'BEGIN { printf "%.10f", s + a }')
  done
  awk -v s="$sum" -v n=$(( $3 - $2 + 1 )) 'BEGIN { printf "%.4f", s / n }'
}
train() { "$mtrec" -q train train.threads=2 "$@" > /dev/null; }

grep -m1 'model name' /proc/cpuinfo | sed 's/.*: /cpu: /'
"$mtrec" -q simulate --days 30 --rows "$rows" --drift 0.5 --market 0.05 --seed "$seed" --out "$data" | head -3

# 1. The stream, the frozen model, the retrains.
start=$(now)
"$mtrec" train --config "$data/config.toml" --follow "$data/days" --out "$out/stream.mtrec" train.threads=2 \
  stream.evict_after="$window" 2> "$out/stream.log"
stream_s=$(elapsed "$start" "$(now)")
"$mtrec" train --config "$data/config.toml" --follow "$data/days" --out "$out/no_eviction.mtrec" train.threads=2 \
  2> "$out/no_eviction.log"
progressive() {  # progressive MODEL: mean progressive click AUC over days 20-30 from its history
  "$mtrec" inspect "$1" | grep -E 'partition day-0(2[0-9]|30)\.csv' |
    sed 's/.*progressive click auc \([0-9.]*\).*/\1/' | awk '{ s += $1; n++ } END { printf "%.4f", s / n }'
}
incremental=$(progressive "$out/stream.mtrec")
no_eviction=$(progressive "$out/no_eviction.mtrec")

concat "$out/days1-6.csv" $(for d in 1 2 3 4 5 6; do day "$data" $d; done)
train --config "$data/config.toml" --out "$out/frozen.mtrec" data.train="$out/days1-6.csv" \
  data.valid="$(day "$data" 7)" data.test=
frozen=$(mean_auc "$out/frozen.mtrec" 20 30)

retrain_s=0
sum=0
for d in $(seq 20 30); do
  concat "$out/past.csv" $(for p in $(seq 1 $((d - 1))); do day "$data" "$p"; done)
  start=$(now)
  train --config "$data/config.toml" --out "$out/retrain.mtrec" data.train="$out/past.csv" data.valid= data.test=
  retrain_s=$(awk -v s="$retrain_s" -v e="$(elapsed "$start" "$(now)")" 'BEGIN { printf "%.2f", s + e }')
  "$mtrec" -q eval --model "$out/retrain.mtrec" --data "$(day "$data" "$d")" --json "$out/eval.json" > /dev/null
  sum=$(awk -v s="$sum" -v a="$(metric "$out/eval.json" click auc)" 'BEGIN { printf "%.10f", s + a }')
done
retrain=$(awk -v s="$sum" 'BEGIN { printf "%.4f", s / 11 }')
compute_ratio=$(awk -v a="$stream_s" -v b="$retrain_s" 'BEGIN { printf "%.4f", a / b }')
printf 'stream: click auc days 20-30 incremental=%s (without eviction %s) frozen after day 7=%s full daily retrain=%s; stream %ss for all 30 days vs retrains %ss (ratio %s)\n' \
  "$incremental" "$no_eviction" "$frozen" "$retrain" "$stream_s" "$retrain_s" "$compute_ratio"

# 2. Memory: user and item rows at each publish against the distinct ids of the window's days.
rows_at() {  # rows_at LOG FEATURE: the feature's rows at each publish, one a line
  grep 'published' "$1" | sed "s/.*[:,] $2 \([0-9]*\).*/\1/"
}
paste <(rows_at "$out/stream.log" user_id) <(rows_at "$out/stream.log" item_id) \
      <(rows_at "$out/no_eviction.log" user_id) <(rows_at "$out/no_eviction.log" item_id) > "$out/rows.tsv"
awk -F, -v window="$window" -v days=30 '
  FNR == 1 { d++; for (i = 1; i <= NF; i++) { if ($i == "user_id") u = i; if ($i == "item_id") it = i }; next }
  { last_user[$u] = d; last_item[$it] = d; seen_user[d, $u] = 1; seen_item[d, $it] = 1 }
  END {
    for (day = 1; day <= days; day++) {
      users = 0; items = 0
      for (k in last_user) for (w = day - window + 1; w <= day; w++) if ((w, k) in seen_user) { users++; break }
      for (k in last_item) for (w = day - window + 1; w <= day; w++) if ((w, k) in seen_item) { items++; break }
      print users + items
    }
  }' $(for d in $(seq 1 30); do day "$data" "$d"; done) > "$out/active.txt"
paste "$out/rows.tsv" "$out/active.txt" | awk '
  { held = $1 + $2; all = $3 + $4; r = held / $5; if (r > worst) worst = r; last_held = held; last_all = all; last_active = $5 }
  END { printf "memory: user+item rows at day 30 with_eviction=%d without=%d active_in_window=%d; rows / active over the 30 days max_ratio=%.3f\n", last_held, last_all, last_active, worst }'

# 3. The small market: the big market's stream after day 20 fine-tuned on market b's days 1-20, against market b
#    alone; both validated on its days 21-23 and tested on its days 24-30.
b="$data/market-b"
mkdir -p "$out/big20"
for d in $(seq 1 20); do cp "$(day "$data" "$d")" "$out/big20/"; done
train --config "$data/config.toml" --follow "$out/big20" --out "$out/big20.mtrec"
concat "$out/b_train.csv" $(for d in $(seq 1 20); do day "$b" "$d"; done)
concat "$out/b_valid.csv" $(for d in 21 22 23; do day "$b" "$d"; done)
concat "$out/b_test.csv" $(for d in $(seq 24 30); do day "$b" "$d"; done)
split=(data.train="$out/b_train.csv" data.valid="$out/b_valid.csv" data.test=)
train --config "$b/config.toml" --out "$out/b_scratch.mtrec" "${split[@]}"
# Fine-tuning moves the towers only: market b's 20,000 rows are too few to move the embeddings and the bottom well.
train --config "$b/config.toml" --out "$out/b_transfer.mtrec" --init-from "$out/big20.mtrec" "${split[@]}" \
  'train.freeze=["embeddings", "bottom"]'
train --config "$b/config.toml" --out "$out/b_transfer_all.mtrec" --init-from "$out/big20.mtrec" "${split[@]}"
for m in b_scratch b_transfer b_transfer_all big20; do
  "$mtrec" -q eval --model "$out/$m.mtrec" --data "$out/b_test.csv" --json "$out/$m.json" > /dev/null
done
transfer=$(metric "$out/b_transfer.json" click auc)
scratch=$(metric "$out/b_scratch.json" click auc)
printf 'small market (%d test rows): click auc fine-tuned=%.4f alone=%.4f fine-tuned without freezing=%.4f big market model as it is=%.4f oracle=%.4f\n' \
  "$(( $(wc -l < "$out/b_test.csv") - 1 ))" "$transfer" "$scratch" "$(metric "$out/b_transfer_all.json" click auc)" \
  "$(metric "$out/big20.json" click auc)" \
  "$(metric "$out/b_scratch.json" click oracle_auc)"

# 4. A new task with 10% of its labels.
snap="$out/snapshot"
"$mtrec" -q simulate --rows "$snapshot_rows" --seed "$seed" --out "$snap" > /dev/null
awk '/^# Purchase per impression/ { skip = 1 } /^# Revenue per impression/ { skip = 0 } !skip' "$snap/config.toml" |
  sed 's/blend = { click = 1, purchase = 3 }/blend = { click = 1 }/' > "$snap/base.toml"
awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "purchase") c = i; print; next }
  { if (NR % 10 != 0) $c = ""; print }' "$snap/train.csv" > "$snap/train_10pct.csv"
train --config "$snap/base.toml" --out "$out/nt_base.mtrec"
start=$(now)
train --config "$snap/config.toml" --out "$out/nt_full.mtrec"
full_s=$(elapsed "$start" "$(now)")
start=$(now)
train --config "$snap/config.toml" --out "$out/nt_new.mtrec" --init-from "$out/nt_base.mtrec" \
  data.train="$snap/train_10pct.csv" train.epochs=1
new_s=$(elapsed "$start" "$(now)")
for m in nt_full nt_new; do
  "$mtrec" -q eval --model "$out/$m.mtrec" --data "$snap/test.csv" --json "$out/$m.json" > /dev/null
done
newtask=$(metric "$out/nt_new.json" purchase auc)
newtask_full=$(metric "$out/nt_full.json" purchase auc)
printf 'new task: purchase auc added with 10%% labels=%.4f all tasks from scratch=%.4f (click %.4f vs %.4f); %ss vs %ss (ratio %.3f)\n' \
  "$newtask" "$newtask_full" "$(metric "$out/nt_new.json" click auc)" "$(metric "$out/nt_full.json" click auc)" \
  "$new_s" "$full_s" "$(awk -v a="$new_s" -v b="$full_s" 'BEGIN { print a / b }')"

printf 'lifecycle: incremental_auc=%.4f frozen_auc=%.4f retrain_auc=%.4f compute_ratio=%.4f transfer_auc=%.4f scratch_auc=%.4f newtask_auc=%.4f newtask_full_auc=%.4f\n' \
  "$incremental" "$frozen" "$retrain" "$compute_ratio" "$transfer" "$scratch" "$newtask" "$newtask_full"
