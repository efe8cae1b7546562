#!/usr/bin/env python3
"""Holds the peer server's scores against `mtrec predict` on the same rows.

    mtrec predict --model model.mtrec --data test.csv --out predictions.csv
    mtrec export --model model.mtrec --format safetensors --out model.safetensors
    check_peer.py --model model.safetensors --data test.csv --predictions predictions.csv [--tolerance 1e-4]

The rows go through the peer's request path twice: as items of requests of 256 rows with every column in the items,
and as requests grouped by the user-side columns (USER_COLUMNS in rows.py, those present), those columns in the
context. Prints the largest absolute difference per task for each and exits non-zero above the tolerance.
"""

import argparse
import csv
import json
import os
import struct
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_server import Peer  # noqa: E402
from rows import USER_COLUMNS, read_rows  # noqa: E402


def read_metadata_features(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n))["__metadata__"]["features"]


def read_predictions(path):
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        values = np.array([[float(x) for x in record] for record in reader], dtype=np.float64)
    return header, values


def score_as_items(peer, rows, chunk=256):
    out = []
    for start in range(0, len(rows), chunk):
        scores, _ = peer.score_rows({}, rows[start:start + chunk])
        out.append(scores)
    return np.concatenate(out)


def score_with_context(peer, rows, context_columns):
    groups = {}
    for i, row in enumerate(rows):
        key = json.dumps([row[c] for c in context_columns])
        groups.setdefault(key, []).append(i)
    out = np.zeros((len(rows), len(peer.tasks)))
    for indices in groups.values():
        context = {c: rows[indices[0]][c] for c in context_columns}
        items = [{c: v for c, v in rows[i].items() if c not in context} for i in indices]
        scores, _ = peer.score_rows(context, items)
        out[indices] = scores
    return out, len(groups)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="safetensors export of the model")
    parser.add_argument("--data", required=True, help="the data file predict scored")
    parser.add_argument("--predictions", required=True, help="predict's CSV for that file")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    peer = Peer(args.model)
    spec = json.loads(read_metadata_features(args.model))
    columns, rows = read_rows(args.data, peer.config, spec)
    header, expected = read_predictions(args.predictions)
    if header[:len(peer.tasks)] != peer.tasks:
        raise SystemExit(f"{args.predictions}: columns {header}, expected the tasks {peer.tasks} first")
    if len(expected) != len(rows):
        raise SystemExit(f"{args.predictions}: {len(expected)} rows, {args.data}: {len(rows)}")
    expected = expected[:, :len(peer.tasks)]

    worst = 0.0
    start = time.time()
    as_items = score_as_items(peer, rows)
    context_columns = [c for c in USER_COLUMNS if c in columns]
    with_context, groups = score_with_context(peer, rows, context_columns)
    for name, scores, what in (("items", as_items, "requests of 256 rows, every column per item"),
                               ("context", with_context,
                                f"{groups} requests, {', '.join(context_columns)} in the context")):
        diff = np.abs(scores - expected).max(axis=0)
        worst = max(worst, float(diff.max()))
        cells = " ".join(f"{task}={d:.2e}" for task, d in zip(peer.tasks, diff))
        print(f"{name:8s} max |peer - predict|: {cells}   ({what})")
    print(f"{len(rows)} rows, arch {peer.network.arch}, {time.time() - start:.1f} s; "
          f"max abs difference {worst:.3g} (tolerance {args.tolerance:g})")
    if not worst <= args.tolerance:
        print("FAIL: the peer does not reproduce mtrec predict", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
