#!/usr/bin/env python3
"""Successive halving replayed on the learning curves of full-budget `mtrec tune` runs.

Every full-budget trial logs its validation metrics after each epoch (trials/NNNN/train.log, "epoch E valid: ...").
From those curves this script measures how well an early epoch ranks the trials (Spearman's rank correlation
with the last epoch), then draws searches of --trials points from the pooled curves (with replacement) and scores
each on both sides: the best final value of a full-budget search, and the best value a successive-halving search
over the same kind of points reaches with the given rungs and eta, with its cost in epochs relative to the
full-budget search. It answers "which rungs keep the best points?" without training anything more.

    bench/tune/asha_replay.py out/bench-tune/sim-tpe-1 out/bench-tune/sim-tpe-2 --trials 30 \
        --setting 1,3,9:3 --setting 2,4,8,9:2

A trial's value at epoch e is its best validation objective up to e (a trial restores its best epoch, and that is
its score in tune.json); the objective is the mean AUC over the tasks on the "valid:" line, mtrec tune's default.
Synchronous halving stands in for ASHA's asynchronous promotions, and points are drawn uniformly from the pool,
not by TPE: a model of the choice of rungs, not a prediction of one search.
"""
import argparse
import json
import os
import random
import re
import statistics
import sys

VALID_LINE = re.compile(r"^epoch (\d+) valid:(.*)$", re.M)
AUC = re.compile(r"\bauc (-?[0-9.]+)")


def curves_of(run_dir):
    """Per trial of one tune run: {epoch: best objective up to that epoch}, through the last epoch of the run."""
    with open(os.path.join(run_dir, "tune.json")) as f:
        tune = json.load(f)
    curves = []
    for trial in tune["trials"]:
        log_path = os.path.join(run_dir, "trials", f"{trial['id']:04d}", "train.log")
        if not os.path.exists(log_path):
            continue
        with open(log_path) as f:
            log = f.read()
        values = {}
        for epoch, metrics in VALID_LINE.findall(log):
            aucs = [float(v) for v in AUC.findall(metrics)]
            if aucs:
                values[int(epoch)] = sum(aucs) / len(aucs)
        if not values:
            continue
        curve, best = {}, float("-inf")
        for epoch in range(1, int(trial["epochs"]) + 1):
            best = max(best, values.get(epoch, best))  # a trial stopped early keeps its best
            curve[epoch] = best
        curves.append(curve)
    return curves


def spearman(a, b):
    def ranks(x):
        order = sorted(range(len(x)), key=lambda i: x[i])
        r = [0.0] * len(x)
        for k, i in enumerate(order):
            r[i] = float(k)
        return r

    ra, rb = ranks(a), ranks(b)
    ma, mb = statistics.fmean(ra), statistics.fmean(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    var = (sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb)) ** 0.5
    return cov / var if var else float("nan")


def halving(points, rungs, eta):
    """Best value and epochs trained of successive halving over `points` (curves) with these rungs."""
    alive, cost, best, previous = list(range(len(points))), 0, float("-inf"), 0
    for k, rung in enumerate(rungs):
        cost += len(alive) * (rung - previous)
        previous = rung
        alive.sort(key=lambda i: -points[i][rung])
        best = max(best, points[alive[0]][rung])
        if k + 1 < len(rungs):
            alive = alive[: max(1, len(alive) // eta)]
    return best, cost


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="folders of full-budget mtrec tune runs")
    parser.add_argument("--trials", type=int, default=30, help="points of the full-budget search compared with")
    parser.add_argument("--setting", action="append", default=[],
                        help="RUNGS:ETA[:POINTS], e.g. 2,4,8,9:2 (POINTS defaults to --trials); repeatable")
    parser.add_argument("--draws", type=int, default=6000, help="searches drawn per setting")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    curves = [c for run in args.runs for c in curves_of(run)]
    if not curves:
        sys.exit("asha_replay.py: no trial curves found (tune.json and trials/*/train.log) in " + " ".join(args.runs))
    last = min(max(c) for c in curves)
    curves = [c for c in curves if max(c) >= last]
    print(f"{len(curves)} trial curves of {last} epochs from {len(args.runs)} run(s)")
    finals = [c[last] for c in curves]
    print("rank correlation with epoch {}: {}".format(
        last, "  ".join(f"epoch {e} {spearman([c[e] for c in curves], finals):.2f}" for e in range(1, last))))

    for setting in args.setting:
        fields = setting.split(":")
        rungs = [int(r) for r in fields[0].split(",")]
        eta = int(fields[1])
        points = int(fields[2]) if len(fields) > 2 else args.trials
        if rungs != sorted(rungs) or rungs[-1] != last or rungs[0] < 1:
            sys.exit(f"asha_replay.py: --setting {setting}: rungs must rise from 1 or more to the last epoch ({last})")
        rng = random.Random(args.seed)
        full_best, halving_best, cost_ratio, at_least = [], [], [], 0
        for _ in range(args.draws):
            full = max(rng.choice(curves)[last] for _ in range(args.trials))
            best, cost = halving([rng.choice(curves) for _ in range(points)], rungs, eta)
            full_best.append(full)
            halving_best.append(best)
            cost_ratio.append(cost / (last * args.trials))
            at_least += best >= full
        print(f"rungs {','.join(map(str, rungs))} eta {eta}, {points} points: mean best {statistics.fmean(halving_best):.5f} "
              f"against full-budget {statistics.fmean(full_best):.5f} ({args.trials} points), "
              f"epochs {statistics.fmean(cost_ratio):.2f}x, as good or better in {at_least / args.draws:.0%} of draws")


if __name__ == "__main__":
    main()
