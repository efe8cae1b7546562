#!/usr/bin/env python3
"""Scores a file with an exported mtrec model in PyTorch (mtrec_torch.py) and compares the scores with what
`mtrec predict` wrote for the same file, column by column.

    round_trip.py --model model.safetensors --data test.csv --predictions predictions.csv [--tolerance 1e-5]

A column matches when every row's |torch − mtrec| <= tolerance · max(1, |mtrec|): absolute for probabilities and
values below 1, relative above (predict writes 7 significant digits). An uplift is a difference of two
predictions, so its scale is the larger of its treated and control predictions (a small difference of two large
values is as exact as they are, not more). A ziln quantile is as exact as the probability p it is computed from:
its scale is at least |d quantile / d p|, which is large where q is just above 1 − p (Φ⁻¹ near 0 is steep), so
the last-bit differences every other column shows may move it by more than the tolerance there. Last line:
    round_trip: arch=<arch> rows=<n> columns=<k> max_diff=<largest scaled difference> (ok|MISMATCH)
Exit status 1 when a column differs by more than the tolerance or is missing.
"""

import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtrec_torch  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="safetensors file written by `mtrec export`")
    parser.add_argument("--data", required=True, help="CSV file with a header row, as the model was trained on")
    parser.add_argument("--predictions", required=True, help="what `mtrec predict` wrote for --data")
    parser.add_argument("--tolerance", type=float, default=1e-5)
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model = mtrec_torch.load(args.model)
    inputs = model.encode(mtrec_torch.read_data(model, args.data))
    slopes = {}
    ours = model.predict(inputs, quantile_slopes=slopes)
    theirs = mtrec_torch.read_csv(args.predictions)
    worst = 0.0
    ok = True
    for name, values in ours.items():
        if name not in theirs:
            print(f"{name}: not in {args.predictions} (its columns: {', '.join(theirs)})")
            ok = False
            continue
        expected = np.asarray(theirs[name], dtype=np.float64)
        got = values.numpy()
        if len(expected) != len(got):
            print(f"{name}: {len(got)} rows here, {len(expected)} in {args.predictions}")
            ok = False
            continue
        scale = np.maximum(1.0, np.abs(expected))
        if name.endswith("_uplift") and name[:-len("_uplift")] + "_treated" in ours:
            task = name[:-len("_uplift")]
            scale = np.maximum(scale, np.maximum(np.abs(ours[task + "_treated"].numpy()),
                                                 np.abs(ours[task + "_control"].numpy())))
        if name in slopes:
            scale = np.maximum(scale, slopes[name])
        scaled = np.abs(got - expected) / scale
        row = int(np.argmax(scaled)) if len(scaled) else 0
        diff = float(scaled[row]) if len(scaled) else 0.0
        worst = max(worst, diff)
        verdict = "ok" if diff <= args.tolerance else "MISMATCH"
        ok = ok and diff <= args.tolerance
        print(f"{name}: max_diff={diff:.3g} (row {row}: torch {got[row]:.9g}, mtrec {expected[row]:.9g}) {verdict}"
              if len(scaled) else f"{name}: no rows")
    for name in theirs:
        if name not in ours:
            print(f"{name}: written by mtrec predict, not predicted here")
            ok = False
    print(f"round_trip: arch={model.arch} rows={inputs.rows} columns={len(ours)} max_diff={worst:.3g} "
          f"{'ok' if ok else 'MISMATCH'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
