#!/usr/bin/env bash
# Peers for the marketing benchmark: LightGBM customer-value models and causalml's T-, X- and DR-learners over
# LightGBM for the campaign effect (bench/marketing/peers.py), scored on test.csv with the contract's metrics.
#
#   bench/marketing/run_peers.sh DATA_DIR OUT_DIR [peers.py options: --threads N, --seed S, --learners t,x,dr ...]
#   bench/marketing/run_peers.sh DATA_DIR OUT_DIR --score PREDICTIONS.csv [--value-column C --uplift-column C]
#
# DATA_DIR: the output of `mtrec simulate --preset marketing` (train.csv, valid.csv, test.csv). The first run
# creates a virtual environment with LightGBM, causalml, scikit-learn, pandas and numpy from PyPI in
# out/venv-marketing (reused afterwards; delete it to take newer releases). Writes OUT_DIR/peers_predictions.csv and
# OUT_DIR/peers_metrics.json (--score: OUT_DIR/score_metrics.json); last line:
# `peers: gbdt_gini=X causalml_qini=X causalml_learner=NAME oracle_gini=X oracle_qini=X train_s=X`.
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,13p' "$0"; exit 2; }
case $1 in -h|--help) sed -n '2,13p' "$0"; exit 0 ;; esac
DATA=$(cd "$1" && pwd)
mkdir -p "$2"
OUT=$(cd "$2" && pwd)
shift 2
# A relative --score path is read from where the script was called.
ARGS=()
while [ $# -gt 0 ]; do
  if [ "$1" = --score ] && [ $# -ge 2 ]; then
    ARGS+=("$1" "$(cd "$(dirname "$2")" && pwd)/$(basename "$2")")
    shift 2
  else
    ARGS+=("$1")
    shift
  fi
done
cd "$(dirname "$0")/../.."
VENV=out/venv-marketing
if [ ! -f "$VENV/.complete" ]; then
  PY=
  for candidate in ${PYTHON:-} python3 /usr/bin/python3; do
    if command -v "$candidate" > /dev/null 2>&1 && "$candidate" -c 'import venv, ensurepip' > /dev/null 2>&1; then
      PY=$candidate
      break
    fi
  done
  [ -n "$PY" ] || { echo "run_peers.sh: no python3 with venv and ensurepip (Debian: apt-get install python3-venv)" >&2; exit 1; }
  echo "venv: creating $VENV (lightgbm, causalml, scikit-learn, pandas, numpy from PyPI; about 1.5 GB)"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet lightgbm causalml scikit-learn pandas numpy
  "$VENV/bin/python" -c 'import lightgbm, sklearn, causalml.inference.meta' \
    || { echo "run_peers.sh: the new environment cannot import lightgbm, scikit-learn or causalml" >&2; exit 1; }
  touch "$VENV/.complete"
fi
exec "$VENV/bin/python" bench/marketing/peers.py --data "$DATA" --out "$OUT" ${ARGS[@]+"${ARGS[@]}"}
