#!/usr/bin/env python3
"""How well short complete runs rank the points of full-budget `mtrec tune` runs, against their own early epochs.

Successive halving can judge a point at rung e in two ways: by epoch e of the full run (what `mtrec tune --asha`
does: the rung stops the full run's schedule after e epochs and a promotion resumes it), or by a complete run of e
epochs with the schedule compressed into them (Hyperband's restarts). This script trains every trial of the named
runs again as a complete run of each --epochs E (`mtrec train ... train.epochs=E`, the trial's own overrides) and
prints, per E, Spearman's rank correlation of those values with the trials' full-budget values, beside the same
correlation for epoch E of the full runs' learning curves (asha_replay.py).

    bench/tune/short_runs.py --config out/bench-tune/sim/config.toml --epochs 1,3 out/bench-tune/sim-tpe-1

The value of a run is its mean validation AUC of the main tasks at its best epoch, mtrec tune's default objective.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from asha_replay import curves_of, spearman  # noqa: E402
from trial_objective import main_tasks, objective_of  # noqa: E402


def best_objective(mtrec, model, tasks):
    best = objective_of(mtrec, model, tasks)
    if best is None:
        sys.exit(f"short_runs.py: {model} has no validation AUC of {', '.join(tasks)} in its history")
    return best




def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="folders of full-budget mtrec tune runs")
    parser.add_argument("--config", required=True, help="the config the runs tuned")
    parser.add_argument("--epochs", default="1,3", help="lengths of the complete short runs, e.g. 1,3")
    parser.add_argument("--mtrec", default="build/src/mtrec")
    parser.add_argument("--threads", type=int, default=0, help="train.threads of each run (0: all cores)")
    args = parser.parse_args()
    lengths = [int(e) for e in args.epochs.split(",")]
    tasks = main_tasks(args.config)

    finals, short, in_run = [], {e: [] for e in lengths}, {e: [] for e in lengths}
    with tempfile.TemporaryDirectory() as scratch:
        model = os.path.join(scratch, "short.mtrec")
        for run in args.runs:
            with open(os.path.join(run, "tune.json")) as f:
                trials = [t for t in json.load(f)["trials"] if t["state"] == "complete"]
            curves = curves_of(run)
            if len(curves) != len(trials):
                sys.exit(f"short_runs.py: {run}: {len(trials)} complete trials but {len(curves)} learning curves "
                         "(give runs without --asha)")
            for trial, curve in zip(trials, curves):
                last = max(curve)
                finals.append(curve[last])
                for e in lengths:
                    command = [args.mtrec, "train", "--config", args.config, "--out", model, f"train.epochs={e}"]
                    if args.threads:
                        command.append(f"train.threads={args.threads}")
                    command += [f"{key}={value}" for key, value in trial["params"].items()]
                    subprocess.run(command, check=True, capture_output=True)
                    short[e].append(best_objective(args.mtrec, model, tasks))
                    in_run[e].append(curve[min(e, last)])
                print(f"{run} trial {trial['id']}: full {curve[last]:.5f}  " +
                      "  ".join(f"{e} epochs {short[e][-1]:.5f}" for e in lengths), flush=True)
    print(f"{len(finals)} points: rank correlation with the full-budget value")
    for e in lengths:
        print(f"{e} epochs: complete short run {spearman(short[e], finals):.2f}  "
              f"epoch {e} of the full run {spearman(in_run[e], finals):.2f}")


if __name__ == "__main__":
    main()
