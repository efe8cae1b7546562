#!/usr/bin/env python3
"""Fine-tunes an exported mtrec model in PyTorch: every weight (embeddings included) trains with Adam on one or
more binary tasks' log loss over a training file, the validation file's log loss printed before and after.

    fine_tune.py --model model.safetensors --data train.csv --valid valid.csv --task click [--task purchase]
                 [--epochs 1] [--lr 1e-4] [--batch-size 512] [--out tuned.safetensors]

A binary task's output column is the logit of its prediction (a chain task's of its unconditional
probability), so the loss is binary cross-entropy with logits on that column and the task's label; rows whose
label is missing are left out. --out writes the tuned weights with the model's metadata (mtrec_torch.load reads
them). Last line:
    fine_tune: tasks=click epochs=E steps=S valid_logloss=A->B
"""

import argparse
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtrec_torch  # noqa: E402


def labels_of(model, columns, tasks):
    """float32 [rows, tasks] (NaN missing) and the tasks' output columns."""
    na_values = model.encoder.na_values
    out = []
    indices = []
    for name in tasks:
        head = next((h for h in model.heads if h.name == name), None)
        if head is None or head.kind != "binary" or not head.single:
            raise SystemExit(f"--task {name}: not a binary task with one output column of this model "
                             f"({', '.join(h.name for h in model.heads if h.kind == 'binary' and h.single)})")
        task = next(t for t in model.config["tasks"] if t["name"] == name)
        if task.get("positive") or task.get("equals"):
            raise SystemExit(f"--task {name}: its label is a rule on column '{task.get('column')}' (positive/equals); "
                             "this example reads 0/1 labels only")
        if task.get("parent") and task.get("mode", "chain") == "masked":
            raise SystemExit(f"--task {name}: a masked task learns only on rows whose parent label is 1; this "
                             "example fine-tunes tasks learned on every row")
        column = task.get("column") or name
        if column not in columns:
            raise SystemExit(f"--task {name}: the file has no label column '{column}'")
        values = []
        for row, text in enumerate(columns[column]):
            text = text.strip(" \t")
            if text in na_values:
                values.append(np.nan)
            elif text in ("0", "1"):
                values.append(float(text))
            else:
                raise SystemExit(f"--task {name}: column '{column}', data row {row + 1}: '{text}' is not a "
                                 "0/1 label")
        out.append(values)
        indices.append(head.first)
    return torch.tensor(np.asarray(out, dtype=np.float32).T), indices


def logloss(model, inputs, labels, indices, batch_size):
    total, count = 0.0, 0
    with torch.no_grad():
        for begin in range(0, inputs.rows, batch_size):
            end = min(begin + batch_size, inputs.rows)
            logits = model(inputs.slice(begin, end))[:, indices]
            y = labels[begin:end]
            known = ~torch.isnan(y)
            total += F.binary_cross_entropy_with_logits(logits[known], y[known], reduction="sum").item()
            count += int(known.sum())
    return total / max(count, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True, help="training CSV (with a header row)")
    parser.add_argument("--valid", required=True, help="validation CSV")
    parser.add_argument("--task", action="append", required=True, help="binary task to fine-tune (repeatable)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", help="write the tuned weights here (safetensors)")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)

    model = mtrec_torch.load(args.model)
    train_columns = mtrec_torch.read_data(model, args.data)
    valid_columns = mtrec_torch.read_data(model, args.valid)
    train, valid = model.encode(train_columns), model.encode(valid_columns)
    train_labels, indices = labels_of(model, train_columns, args.task)
    valid_labels, _ = labels_of(model, valid_columns, args.task)

    before = logloss(model, valid, valid_labels, indices, args.batch_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps = 0
    model.train()  # no dropout or batch statistics here: the module always runs as in inference
    for _ in range(args.epochs):
        order = torch.randperm(train.rows)
        shuffled_inputs = train.take(order)
        shuffled_labels = train_labels[order]
        for begin in range(0, train.rows, args.batch_size):
            end = min(begin + args.batch_size, train.rows)
            y = shuffled_labels[begin:end]
            known = ~torch.isnan(y)
            if not known.any():
                continue
            logits = model(shuffled_inputs.slice(begin, end))[:, indices]
            loss = F.binary_cross_entropy_with_logits(logits[known], y[known])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
    model.eval()
    after = logloss(model, valid, valid_labels, indices, args.batch_size)
    if args.out:
        model.save(args.out)
    print(f"fine_tune: tasks={','.join(args.task)} epochs={args.epochs} steps={steps} "
          f"valid_logloss={before:.5f}->{after:.5f}")


if __name__ == "__main__":
    main()
