#!/usr/bin/env bash
# `pip install .` from this checkout into a fresh virtual environment of Debian's python3, then import mtrec there
# and train and predict on simulated data (without pandas: its numpy fallback). Needs PyPI (scikit-build-core,
# pybind11 and numpy come from there); ctest's slow tier runs it.
#
#   python/tests/wheel_check.sh [SOURCE_DIR]
set -euo pipefail
source_dir=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$source_dir"
cd "$work"
"$work/venv/bin/python" - <<'PY'
import os
import mtrec
sim = mtrec.simulate("ecommerce", rows=3000, seed=2)
model = mtrec.train(sim.config, epochs=1)
scores = model.predict(os.path.join(sim.folder, "test.csv"))
assert set(scores) == {"click", "cart", "purchase", "gmv"}, scores
assert all(len(values) == len(sim.test["click"]) for values in scores.values())
print("wheel: installed by pip, trained and predicted from", mtrec.__file__)
PY
