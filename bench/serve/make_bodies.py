#!/usr/bin/env python3
"""Writes /v1/rank request bodies for the load benchmark from the rows of a data file.

    make_bodies.py --model model.safetensors --data test.csv --out DIR [--bodies 32] [--items 100] [--seed 1]

Body b: the context is the user-side columns (USER_COLUMNS in rows.py) of one row, the items the other columns of
`--items` rows drawn from the file; DIR/body_<b>.json, plus DIR/list.txt naming them for rank.lua.
"""

import argparse
import json
import os
import random
import struct
import sys
import tomllib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rows import USER_COLUMNS, read_rows  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="safetensors export (its config and features metadata)")
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--bodies", type=int, default=32)
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rows", type=int, default=20000, help="rows of the file to draw from")
    args = parser.parse_args()

    with open(args.model, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        metadata = json.loads(f.read(n))["__metadata__"]
    config = tomllib.loads(metadata["config"])
    spec = json.loads(metadata["features"])
    columns, rows = read_rows(args.data, config, spec, limit=args.rows)
    context_columns = [c for c in USER_COLUMNS if c in columns]
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    names = []
    for b in range(args.bodies):
        user = rng.choice(rows)
        picked = rng.sample(rows, args.items)
        body = {
            "context": {c: user[c] for c in context_columns},
            "items": [{c: row[c] for c in columns if c not in context_columns} for row in picked],
        }
        name = f"body_{b:03d}.json"
        with open(os.path.join(args.out, name), "w") as f:
            json.dump(body, f, separators=(",", ":"))
        names.append(name)
    with open(os.path.join(args.out, "list.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    print(f"{args.out}: {len(names)} bodies of {args.items} items; context {', '.join(context_columns)}")


if __name__ == "__main__":
    main()
