#!/usr/bin/env bash
# Seeds of the model-loader fuzzers, made at fuzz time rather than committed: small real model files and
# checkpoints of several architectures, trained on simulated data, plus truncated and bit-flipped copies.
#
#   tests/fuzz/make_model_seeds.sh build-fuzz/src/mtrec build-fuzz/fuzz/seeds/model
set -euo pipefail

mtrec=$1
out=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rm -rf "$out"
mkdir -p "$out"
run() {  # the command's output only when it fails
  "$@" >"$work/log" 2>&1 || { cat "$work/log"; echo "failed: $*" >&2; exit 1; }
}
run "$mtrec" simulate --preset ecommerce --rows 2000 --seed 1 --out "$work"

# Small networks keep the files (and every fuzzing iteration) small; each model varies the parts a loader reads.
# Training leaves a checkpoint (NAME.mtrec.ckpt, with the trainer section) beside each model.
small=(data.cache=false train.epochs=2 train.threads=1 model.embedding_dim=4 'model.bottom=[8]' 'model.tower=[4]')
train() {
  local name=$1
  shift
  run "$mtrec" train --config "$work/config.toml" --out "$out/$name.mtrec" "${small[@]}" "$@"
}
train shared_bottom
train mmoe model.arch=mmoe model.experts=2 'model.expert=[8]' model.batch_norm=true \
  features.item_sales.buckets=4 features.city.hash_buckets=32 model.numeric_projection=4
train ple model.arch=ple model.experts=2 'model.expert=[4]' train.weighting=uncertainty
train aitm model.arch=aitm tasks.purchase.mode=direct features.position.buckets=3 \
  features.recent_categories.pooling=sum
train cross_stitch model.arch=cross_stitch features.brand.share_with=category 'features.price.clip=[0.0,500.0]' \
  features.item_rating.missing_flag=always
train single_task model.arch=single_task features.user_id.embedding_dim=2

# A tiny model of every feature kind (under 5 KB: the fastest seed to mutate).
cat >"$work/tiny.csv" <<'CSV'
user,tags,price,rating,y,v
u1,a|b,1.5,4,1,0.5
u2,b,,3,0,0
u1,,30,,0,1
u3,c|a,2,5,1,2
CSV
cat >"$work/tiny.toml" <<'TOML'
[data]
train = "tiny.csv"
valid = "tiny.csv"
test = "tiny.csv"
cache = false
[[features]]
name = "user"
[[features]]
name = "user_hash"
column = "user"
hash_buckets = 4
[[features]]
name = "tags"
kind = "multi_categorical"
share_with = "user"
[[features]]
name = "price"
kind = "numeric"
log1p = true
[[features]]
name = "rating"
kind = "numeric"
buckets = 2
[[tasks]]
name = "y"
[[tasks]]
name = "v"
kind = "regression"
parent = "y"
mode = "masked"
[model]
embedding_dim = 1
bottom = [1]
tower = [1]
[train]
epochs = 1
threads = 1
[serve]
blend_feature = "price"
TOML
run "$mtrec" train --config "$work/tiny.toml" --out "$out/tiny.mtrec"

# Damaged copies: truncated inside the header, the section table and the last section; one byte flipped in the
# header, in the config and near the end (the weights or the history).
base="$out/shared_bottom.mtrec"
size=$(stat -c %s "$base")
head -c 12 "$base" >"$out/truncated_header.mtrec"
head -c 100 "$base" >"$out/truncated_table.mtrec"
head -c $((size - 9)) "$base" >"$out/truncated_end.mtrec"
flip() {  # flip FILE OFFSET NAME: copy FILE with the byte at OFFSET inverted
  cp "$1" "$out/$3.mtrec"
  local byte
  byte=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  printf "$(printf '\\%03o' $((255 - byte)))" | dd of="$out/$3.mtrec" bs=1 seek="$2" conv=notrunc status=none
}
flip "$base" 9 flipped_version
flip "$base" 40 flipped_table
flip "$base" 400 flipped_config
flip "$base" $((size - 20)) flipped_end

echo "model seeds: $(find "$out" -type f | wc -l) files in $out"
