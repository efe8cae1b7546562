#!/usr/bin/env bash
# LightGBM peer for the retail forecasting benchmark: one gradient-boosted model per task on the features mtrec
# computes from the past rows (bench/retail/lgbm_baseline.py), scored on test.csv.
#
#   bench/retail/run_lgbm.sh DATA_DIR OUT_DIR [lgbm_baseline.py options: --self-check, --threads N, --seed S ...]
#
# DATA_DIR: the output of `mtrec simulate --preset retail` (train.csv, valid.csv, test.csv). The first run creates
# a virtual environment with LightGBM, pandas and numpy from PyPI in out/venv-lgbm (reused afterwards; delete it to
# take newer releases). Writes OUT_DIR/lgbm_predictions.csv and OUT_DIR/lgbm_metrics.json; last line:
# `lgbm: sales_wape=X units7_wape=X sales_pinball90=X coverage90=X naive_wape=X oracle_wape=X train_s=X`.
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,10p' "$0"; exit 2; }
case $1 in -h|--help) sed -n '2,10p' "$0"; exit 0 ;; esac
DATA=$(cd "$1" && pwd)
mkdir -p "$2"
OUT=$(cd "$2" && pwd)
shift 2
cd "$(dirname "$0")/../.."
VENV=out/venv-lgbm
if [ ! -f "$VENV/.complete" ]; then
  PY=
  for candidate in ${PYTHON:-} python3 /usr/bin/python3; do
    if command -v "$candidate" > /dev/null 2>&1 && "$candidate" -c 'import venv, ensurepip' > /dev/null 2>&1; then
      PY=$candidate
      break
    fi
  done
  [ -n "$PY" ] || { echo "run_lgbm.sh: no python3 with venv and ensurepip (Debian: apt-get install python3-venv)" >&2; exit 1; }
  echo "venv: creating $VENV (lightgbm, pandas, numpy from PyPI)"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet lightgbm pandas numpy
  touch "$VENV/.complete"
fi
exec "$VENV/bin/python" bench/retail/lgbm_baseline.py --data "$DATA" --out "$OUT" "$@"
