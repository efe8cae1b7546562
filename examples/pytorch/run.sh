#!/usr/bin/env bash
# The PyTorch round trip: for every architecture, train a small model on simulated data with mtrec, export it as
# safetensors, score the test file with `mtrec predict` and with the PyTorch module of mtrec_torch.py (the
# export alone), and compare (round_trip.py: within 1e-5, relative above 1). Then fine-tune one model in PyTorch
# (fine_tune.py). Needs python3 with torch and numpy (Debian: apt-get install python3-torch).
#
# The models cover the ecommerce preset's chains (click -> cart, click -> purchase) and regression with every
# architecture, plus: batch norm, numeric projection, hashed ids, a bucketised numeric feature and a shared table
# (shared_bottom); a pinball ladder and a count loss (ple); ziln and treatment arms (the marketing preset, mmoe
# and single_task); AITM's direct and masked links; AdaTT with two experts per task and with one; PEPNet with gate
# features (an embedding and a numeric column among them) and batch norm; ESCM²'s imputation
# tower (counterfactual = "dr") under esmm and mmoe; HoME with a task group, two experts per group and per task,
# without feature gates, and over the marketing preset's ziln and treatment columns. Last line:
#   pytorch: models=N rows=R max_diff=X fine_tune_logloss=A->B
# Usage: examples/pytorch/run.sh [--rows N] [--out DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mtrec="${MTREC:-$root/build/src/mtrec}"
python="${PYTHON:-python3}"
rows=4000
out="$root/out/pytorch"
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
if ! "$python" -c 'import torch, numpy' 2> /dev/null; then
  echo "pytorch: $python cannot import torch and numpy (Debian: apt-get install python3-torch); skipped"
  exit 77
fi
mkdir -p "$out"
"$mtrec" -q simulate --rows "$rows" --seed 3 --out "$out/ecommerce"
"$mtrec" -q simulate --preset marketing --rows "$rows" --seed 3 --out "$out/marketing"
# A pinball ladder on gmv and a count loss on a second copy of it (a task reads any column).
cat "$out/ecommerce/config.toml" - > "$out/ecommerce/ladder.toml" << 'EOF'

[[tasks]]
name = "gmv_q50"
column = "gmv"
kind = "regression"
loss = "pinball"
quantile = 0.5

[[tasks]]
name = "gmv_q90"
column = "gmv"
kind = "regression"
loss = "pinball"
quantile = 0.9

[[tasks]]
name = "gmv_count"
column = "gmv"
kind = "regression"
loss = "tweedie"
EOF

models=0
worst=0
check() {  # name config overrides...
  local name="$1" config="$2"
  shift 2
  local dir
  dir="$(dirname "$config")"
  "$mtrec" -q train --config "$config" --out "$out/$name.mtrec" train.epochs=1 train.threads=1 "$@" > /dev/null
  "$mtrec" -q export --model "$out/$name.mtrec" --format safetensors --out "$out/$name.safetensors"
  "$mtrec" -q predict --model "$out/$name.mtrec" --data "$dir/test.csv" --out "$out/$name.predictions.csv" \
    --threads 1
  "$python" "$here/round_trip.py" --model "$out/$name.safetensors" --data "$dir/test.csv" \
    --predictions "$out/$name.predictions.csv" > "$out/$name.round_trip.txt" || {
    cat "$out/$name.round_trip.txt"
    echo "pytorch: $name differs from mtrec predict" >&2
    exit 1
  }
  local line
  line="$(tail -n 1 "$out/$name.round_trip.txt")"
  echo "$name: ${line#round_trip: }"
  worst="$(awk -v a="$worst" -v b="${line##*max_diff=}" 'BEGIN { split(b, f, " "); print (f[1] + 0 > a + 0) ? f[1] : a }')"
  models=$((models + 1))
}

e="$out/ecommerce/config.toml"
check shared_bottom "$e" model.batch_norm=true model.numeric_projection=8 features.item_id.hash_buckets=5000 \
  features.position.buckets=6 features.brand.share_with=category
check single_task "$e" model.arch=single_task model.numeric_projection=4
check omoe "$e" model.arch=omoe model.experts=3 'model.expert=[32,16]' 'model.tower=[8]'
check mmoe "$e" model.arch=mmoe model.experts=3 'model.expert=[32]' 'model.tower=[16]' model.batch_norm=true
check ple "$out/ecommerce/ladder.toml" model.arch=ple model.experts=2 model.task_experts=1 'model.expert=[32,16]' \
  'model.tower=[8]'
check cross_stitch "$e" model.arch=cross_stitch 'model.bottom=[32,16]' 'model.tower=[8]'
check esmm "$e" model.arch=esmm 'model.bottom=[32]' 'model.tower=[16]'
check aitm "$e" model.arch=aitm 'model.bottom=[32,16]' 'model.tower=[8]'
check adatt "$e" model.arch=adatt model.task_experts=2 'model.expert=[32,16]' 'model.tower=[8]'
check adatt_one_expert "$e" model.arch=adatt model.task_experts=1 'model.expert=[16]' model.batch_norm=true
check stem "$e" model.arch=stem model.experts=2 model.task_experts=1 'model.expert=[32,16]' 'model.tower=[8]' \
  model.numeric_projection=4
check aitm_direct "$e" model.arch=aitm 'model.bottom=[16]' 'model.tower=[8]' tasks.cart.mode=direct \
  tasks.purchase.mode=masked
check pepnet "$e" model.arch=pepnet 'model.scenario_features=["device"]' 'model.prior_features=["user_id", "price"]' \
  'model.tower=[8]' model.batch_norm=true
check home "$e" model.arch=home 'model.expert=[16,8]' 'model.tower=[8]' 'model.task_groups=[["click", "cart"]]' \
  model.group_experts=2 model.task_experts=2
check home_without_feature_gates "$e" model.arch=home 'model.expert=[16,8]' 'model.tower=[8]' \
  model.feature_gate_rank=0 model.experts=1
check esmm_dr "$e" model.arch=esmm 'model.bottom=[32]' 'model.tower=[16]' tasks.purchase.counterfactual=dr
check mmoe_dr "$e" model.arch=mmoe model.experts=2 'model.expert=[16]' 'model.tower=[8]' \
  tasks.purchase.counterfactual=dr tasks.cart.counterfactual=ips
m="$out/marketing/config.toml"
check marketing_mmoe "$m"
check marketing_single_task "$m" model.arch=single_task 'model.bottom=[16]' 'model.tower=[8]'
check marketing_home "$m" model.arch=home 'model.expert=[16,8]' 'model.tower=[8]'

fine="$("$python" "$here/fine_tune.py" --model "$out/shared_bottom.safetensors" --data "$out/ecommerce/train.csv" \
  --valid "$out/ecommerce/valid.csv" --task click --out "$out/fine_tuned.safetensors" | tail -n 1)"
echo "$fine"
echo "pytorch: models=$models rows=$(($(wc -l < "$out/ecommerce/test.csv") - 1)) max_diff=$worst" \
  "fine_tune_logloss=${fine##*logloss=}"
