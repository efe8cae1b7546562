#!/usr/bin/env python3
"""Optuna's TPE driving `mtrec train` through the command line, on a search space of `mtrec tune` (bench/tune).

The way a PyTorch user tunes today, pointed at mtrec: each trial suggests the space's params define-by-run (a
conditional param only where its condition holds), runs `mtrec train --config C --out DIR/NNNN/model.mtrec
<overrides> <point> train.threads=T`, and scores the trial as `mtrec tune` does: the mean validation AUC of the
config's main tasks (not auxiliary) at the best epoch, read with `mtrec inspect --history-json`.

  peer_optuna.py --mtrec build/src/mtrec --config C --space S --trials 40 --seed 1 --out DIR [-- overrides...]

Prints a line per trial (value, best so far, CPU seconds so far) and last `optuna: best=X trials=N cpu_s=X`.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tomllib

import optuna

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from trial_objective import main_tasks, objective_of  # noqa: E402


def toml_literal(value):
    """A Python value of the space as TOML text, as `mtrec train` overrides take it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    return repr(value)


def ordered_params(space):
    """The params with every condition's param before the params it conditions."""
    params = space["params"]
    order, placed = [], set()

    def place(key, path=()):
        if key in placed:
            return
        if key in path:
            sys.exit(f"the conditions of {key} form a cycle")
        for other in params[key].get("when", {}):
            place(other, path + (key,))
        placed.add(key)
        order.append(key)

    for key in sorted(params):
        place(key)
    return order


def suggest(trial, space, order):
    chosen = {}
    for key in order:
        spec = space["params"][key]
        active = True
        for other, allowed in spec.get("when", {}).items():
            allowed = allowed if isinstance(allowed, list) else [allowed]
            if other not in chosen or chosen[other] not in allowed:
                active = False
        if not active:
            continue
        if "choices" in spec:
            labels = [json.dumps(c) for c in spec["choices"]]
            chosen[key] = json.loads(trial.suggest_categorical(key, labels))
        elif spec.get("int", False):
            chosen[key] = trial.suggest_int(key, int(spec["low"]), int(spec["high"]), log=spec.get("log", False))
        else:
            chosen[key] = trial.suggest_float(key, float(spec["low"]), float(spec["high"]), log=spec.get("log", False))
    return chosen


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mtrec", default="build/src/mtrec")
    parser.add_argument("--config", required=True)
    parser.add_argument("--space", required=True)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="threads of each trial (0: all cores)")
    parser.add_argument("--out", required=True)
    parser.add_argument("overrides", nargs="*", help="section.key=value settings applied to every trial")
    args = parser.parse_args()

    with open(args.space, "rb") as f:
        space = tomllib.load(f)
    order = ordered_params(space)
    tasks = main_tasks(args.config)
    os.makedirs(args.out, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=args.seed))
    start = time.time()
    log = []

    def objective(trial):
        chosen = suggest(trial, space, order)
        folder = os.path.join(args.out, f"{trial.number:04d}")
        os.makedirs(folder, exist_ok=True)
        model = os.path.join(folder, "model.mtrec")
        command = [args.mtrec, "train", "--config", args.config, "--out", model, *args.overrides,
                   *[f"{k}={toml_literal(v)}" for k, v in chosen.items()], f"train.threads={args.threads}"]
        with open(os.path.join(folder, "train.log"), "w") as out:
            status = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT).returncode
        if status != 0:
            raise optuna.TrialPruned(f"mtrec train exited with {status}")
        value = objective_of(args.mtrec, model, tasks)
        if value is None:
            raise optuna.TrialPruned("no validation auc")
        return value

    def cpu_seconds():  # the trials' processes and Optuna's own sampling
        return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_CHILDREN),
                                                     resource.getrusage(resource.RUSAGE_SELF)))

    def report(study, trial):
        cpu = cpu_seconds()
        best = study.best_value if any(t.value is not None for t in study.trials) else float("nan")
        log.append({"trial": trial.number, "value": trial.value, "best": best, "cpu_s": cpu,
                    "seconds": time.time() - start, "params": trial.params})
        print(f"trial {trial.number}: {trial.value} best {best:.5f} cpu_s {cpu:.1f}", flush=True)

    study.optimize(objective, n_trials=args.trials, callbacks=[report])
    with open(os.path.join(args.out, "optuna.json"), "w") as f:
        json.dump({"optuna": optuna.__version__, "trials": log}, f, indent=1)
    print(f"optuna: best={study.best_value:.5f} trials={len(study.trials)} cpu_s={cpu_seconds():.1f}")


if __name__ == "__main__":
    main()
