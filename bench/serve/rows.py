"""Rows of a data file as request values, shared by check_peer.py and make_bodies.py.

A CSV field becomes the JSON value a client would send for it: a number or null (one of data.na_values) for a
numeric feature's column, the text for a categorical or multi-valued one (a multi-valued field stays
separator-joined; mtrec splits it exactly as in a file).
"""

import csv

# The columns of `mtrec simulate --preset ecommerce` that describe the user and the session rather than the item
# (src/data/simulator.cc writes them per session): one request's context.
USER_COLUMNS = ("user_id", "age_bucket", "gender", "city", "user_level", "hour", "device", "user_activity",
                "recent_categories")


def read_rows(path, config, spec, limit=None):
    """(columns the model reads, rows as {column: JSON value}) of a data file, in file order."""
    data = config.get("data", {})
    delimiter = data.get("delimiter", ",")
    if len(delimiter) != 1:
        raise SystemExit(f"read_rows: delimiter {delimiter!r} of more than one character is not supported here")
    trim = spec["trim"]
    na_values = set(spec["na_values"])
    kinds = {}
    for f in spec["features"]:
        kinds.setdefault(f["column"], set()).add(f["kind"])
    columns = list(kinds)
    rows = []
    with open(path, newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        header = next(reader) if data.get("header", True) else data["columns"]
        position = {name: i for i, name in enumerate(header)}
        missing = [c for c in columns if c not in position]
        if missing:
            raise SystemExit(f"{path}: no column(s) {missing}")
        for record in reader:
            row = {}
            for column in columns:
                text = record[position[column]]
                if trim:
                    text = text.strip(" \t")
                if "numeric" in kinds[column]:
                    row[column] = None if text in na_values else float(text)
                else:
                    row[column] = text
            rows.append(row)
            if limit is not None and len(rows) >= limit:
                break
    return columns, rows
