#!/usr/bin/env bash
# `mtrec tune` against Optuna's TPE driving `mtrec train` through the command line (peer_optuna.py), on the same
# space, data and number of trials, --repeats times with the seeds 1, 2, ...: mtrec's TPE with full-budget trials,
# mtrec's TPE with ASHA, and Optuna. Optuna (the newest from PyPI) lives in bench/tune/.venv, made on first use.
#
#   bench/tune/run.sh [--data census|sim] [--trials 40] [--repeats 3] [--epochs E] [--kinds tpe,asha,optuna]
#                     [--asha-min-epochs R] [--asha-eta ETA] [--mtrec PATH] [--out DIR]
#
# census: examples/census/config.toml and examples/census/space.toml (the data in ../shared/data/census-kdd);
# sim: 50,000 simulated rows (mtrec simulate --preset ecommerce) and bench/tune/sim_space.toml. --epochs sets
# train.epochs of every trial (default: the config's); --kinds picks the searches (default all three);
# --asha-min-epochs and --asha-eta go to `mtrec tune` for the ASHA runs (default: mtrec's). With
# --check-test the best config of each mtrec run and the config as given are trained again and compared on the
# test set (mean test AUC of the main tasks).
# Prints a line per run, the medians, and last
#   tune: mtrec_best=X optuna_best=X mtrec_cpu_s=X optuna_cpu_s=X
# (the medians over the repeats of the best validation objective and of the CPU seconds of a whole search; the
# ASHA runs on their own line before it; a search left out by --kinds prints "-").
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=census
TRIALS=40
REPEATS=3
EPOCHS=""
MTREC=build/src/mtrec
OUT=out/bench-tune
CHECK_TEST=0
KINDS=tpe,asha,optuna
ASHA_OPTIONS=()
while [ $# -gt 0 ]; do
  case $1 in
    --data) DATA=$2; shift 2 ;;
    --trials) TRIALS=$2; shift 2 ;;
    --repeats) REPEATS=$2; shift 2 ;;
    --epochs) EPOCHS=$2; shift 2 ;;
    --kinds) KINDS=$2; shift 2 ;;
    --asha-min-epochs | --asha-eta) ASHA_OPTIONS+=("$1" "$2"); shift 2 ;;
    --mtrec) MTREC=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --check-test) CHECK_TEST=1; shift ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for kind in ${KINDS//,/ }; do
  case $kind in tpe | asha | optuna) ;; *) echo "run.sh: --kinds takes tpe, asha and optuna, not '$kind'" >&2; exit 2 ;; esac
done
[ -x "$MTREC" ] || { echo "run.sh: no mtrec binary at $MTREC (make build)" >&2; exit 1; }
mkdir -p "$OUT"

VENV=bench/tune/.venv
if ! "$VENV/bin/python" -c 'import optuna' > /dev/null 2>&1; then
  echo "python: creating $VENV with optuna from PyPI" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip optuna
fi
PY=$VENV/bin/python
echo "optuna $("$PY" -c 'import optuna; print(optuna.__version__)'), python $("$PY" -c 'import sys; print(sys.version.split()[0])')"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"

case $DATA in
  census)
    CONFIG=examples/census/config.toml
    SPACE=examples/census/space.toml ;;
  sim)
    if [ ! -f "$OUT/sim/config.toml" ]; then
      "$MTREC" simulate --preset ecommerce --rows 50000 --seed 1 --out "$OUT/sim" > /dev/null
    fi
    CONFIG=$OUT/sim/config.toml
    SPACE=bench/tune/sim_space.toml ;;
  *) echo "run.sh: --data census or sim" >&2; exit 2 ;;
esac
OVERRIDES=()
[ -n "$EPOCHS" ] && OVERRIDES+=("train.epochs=$EPOCHS")

field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" "$2" | tail -1; }
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

: > "$OUT/results.txt"
for seed in $(seq 1 "$REPEATS"); do
  for kind in ${KINDS//,/ }; do
    dir=$OUT/$DATA-$kind-$seed
    rm -rf "$dir"
    case $kind in
      tpe) "$MTREC" tune --config "$CONFIG" --space "$SPACE" --trials "$TRIALS" --seed "$seed" --out "$dir" \
             "${OVERRIDES[@]}" > "$dir.log" 2>&1 ;;
      asha) "$MTREC" tune --config "$CONFIG" --space "$SPACE" --trials "$TRIALS" --seed "$seed" --asha --out "$dir" \
              "${ASHA_OPTIONS[@]}" "${OVERRIDES[@]}" > "$dir.log" 2>&1 ;;
      optuna) "$PY" bench/tune/peer_optuna.py --mtrec "$MTREC" --config "$CONFIG" --space "$SPACE" --trials "$TRIALS" \
                --seed "$seed" --out "$dir" "${OVERRIDES[@]}" > "$dir.log" 2>&1 ;;
    esac
    best=$(field best "$dir.log")
    cpu=$(field cpu_s "$dir.log")
    echo "$kind seed $seed: best $best cpu_s $cpu" | tee -a "$OUT/results.txt"
    if [ "$CHECK_TEST" = 1 ] && [ "$kind" != optuna ]; then
      "$MTREC" train --config "$dir/best.toml" --out "$dir/best.mtrec" > "$dir/best_test.log" 2>&1
      echo "$kind seed $seed: best config on test: $(grep -m1 'test' "$dir/best_test.log" || true)"
    fi
  done
done
tpe_best=- tpe_cpu=- asha_best=- asha_cpu=- optuna_best=- optuna_cpu=-
for kind in ${KINDS//,/ }; do
  best=$(grep "^$kind " "$OUT/results.txt" | sed 's/.*best \([^ ]*\).*/\1/' | median)
  cpu=$(grep "^$kind " "$OUT/results.txt" | sed 's/.*cpu_s \([^ ]*\).*/\1/' | median)
  eval "${kind}_best=$best ${kind}_cpu=$cpu"
  echo "median over $REPEATS: $kind best $best cpu_s $cpu"
done
if [ "$asha_cpu" != - ] && [ "$tpe_cpu" != - ]; then
  echo "asha: best=$asha_best cpu_s=$asha_cpu cpu_ratio_to_full=$(awk -v a="$asha_cpu" -v b="$tpe_cpu" 'BEGIN {printf "%.2f", a / b}')"
fi
echo "tune: mtrec_best=$tpe_best optuna_best=$optuna_best mtrec_cpu_s=$tpe_cpu optuna_cpu_s=$optuna_cpu"
