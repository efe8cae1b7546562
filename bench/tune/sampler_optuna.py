#!/usr/bin/env python3
"""Optuna's TPE on the synthetic objective of sampler_bench.cc: the same space, seeds and trials, the objective
evaluated by `mtrec_sampler_bench --serve` (one definition for both).

  sampler_optuna.py --bench build/bench/mtrec_sampler_bench --space examples/census/space.toml --seeds 200 --trials 40

Last line: `sampler: method=optuna seeds=S noise=SD regret10=X regret20=X regret40=X` (medians; lower is better).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tomllib

import optuna

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_optuna import ordered_params, suggest, toml_literal  # noqa: E402

BEST = 0.9737  # kCensusLikeBest in sampler_bench.cc


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench", required=True)
    parser.add_argument("--space", required=True)
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--noise", type=float, default=0.0, help="SD of the noise a search observes")
    args = parser.parse_args()
    with open(args.space, "rb") as f:
        space = tomllib.load(f)
    order = ordered_params(space)
    server = subprocess.Popen([args.bench, "--space", args.space, "--serve", "--noise", str(args.noise)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)

    def value_of(chosen):
        server.stdin.write(" ".join(f"{k}={toml_literal(v)}" for k, v in chosen.items()) + "\n")
        server.stdin.flush()
        observed, true = server.stdout.readline().split()
        return float(observed), float(true)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    marks = [m for m in (10, 20, 40) if m <= args.trials]
    regrets = {m: [] for m in marks}
    for seed in range(1, args.seeds + 1):
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
        best_observed, best_true = -float("inf"), 0.0
        for t in range(1, args.trials + 1):
            trial = study.ask()
            observed, true = value_of(suggest(trial, space, order))
            study.tell(trial, observed)
            if observed > best_observed:
                best_observed, best_true = observed, true
            if t in regrets:
                regrets[t].append(BEST - best_true)
    server.stdin.close()
    server.wait()
    print(f"sampler: method=optuna seeds={args.seeds} noise={args.noise:g} "
          + " ".join(f"regret{m}={statistics.median(regrets[m]):.6f}" for m in marks))


if __name__ == "__main__":
    main()
