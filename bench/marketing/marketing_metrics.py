#!/usr/bin/env python3
"""The marketing benchmark's metrics, exactly as issue 22's contract defines them (bench/marketing/README.md).

Value (predicted value s, actual a >= 0): normalised Gini, Spearman, deciles, top shares.
Uplift (predicted uplift u, outcome y, treatment t, optional propensity e, optional true uplift tau): Qini, AUUC,
uplift in the top k%, IPW policy values, and with tau the true Qini, the true uplift in the top k% and PEHE.

Ties in a score: each tie group counts as if its rows were in random order, in expectation, i.e. within a tie group
every cumulative sum grows linearly from its value before the group to its value after it. Rows whose actual or
outcome is NaN are skipped.

`python3 marketing_metrics.py --self-test` checks every function against slow, direct per-row loops (and the Gini
against an exhaustive average over the orders of the tied rows) on random data with ties; status 1 on a mismatch.
Needs numpy only.
"""

import math
import sys

import numpy as np


def top_rows(k, n):
    """m = ceil(k% of n), for k given in percent."""
    return int(math.ceil(round(k * n / 100.0, 9)))


class TieCumsum:
    """Cumulative sums over rows sorted by a score (descending), with tie groups spread linearly.

    at(values, i) gives, for positions i (number of rows taken, 0..n), the sum of `values` over the first i rows
    when the rows of a tie group are in random order, in expectation.
    """

    def __init__(self, score):
        score = np.asarray(score, dtype=np.float64)
        if np.isnan(score).any():
            raise ValueError("NaN in a score")
        self.n = len(score)
        self.order = np.argsort(-score, kind="stable")
        s = score[self.order]
        # Group boundaries: group g covers sorted positions [starts[g], ends[g]).
        new = np.ones(self.n, dtype=bool)
        new[1:] = s[1:] != s[:-1]
        self.starts = np.flatnonzero(new)
        self.ends = np.append(self.starts[1:], self.n)

    def at(self, values, positions):
        """Sum of values over the first `positions` rows (an int or an array of ints in 0..n)."""
        v = np.asarray(values, dtype=np.float64)[self.order]
        prefix = np.concatenate([[0.0], np.cumsum(v)])
        positions = np.asarray(positions)
        # The group holding position i (the i-th row, 1-based): the last group that starts before i.
        g = np.searchsorted(self.starts, positions, side="left") - 1
        g = np.maximum(g, 0)
        a = self.starts[g]
        b = self.ends[g]
        inside = (positions > a) & (positions < b)
        lo, hi = prefix[a], prefix[b]
        frac = np.where(inside, (positions - a) / np.maximum(b - a, 1), 0.0)
        out = np.where(inside, lo + frac * (hi - lo), prefix[positions])
        return out

    def curve(self, values):
        """The cumulative sums at i = 1..n."""
        return self.at(values, np.arange(1, self.n + 1))


def _keep(mask, *arrays):
    return [None if x is None else np.asarray(x, dtype=np.float64)[mask] for x in arrays]


# ---------------------------------------------------------------------------------------------------------------
# Value
# ---------------------------------------------------------------------------------------------------------------

def gini(score, actual):
    """(1/n) sum_i L(i) - (n+1)/(2n), L(i) the share of the total actual in the first i rows by score."""
    score, actual = np.asarray(score, dtype=np.float64), np.asarray(actual, dtype=np.float64)
    n = len(actual)
    total = actual.sum()
    if n == 0 or total == 0:
        return float("nan")
    lorenz = TieCumsum(score).curve(actual) / total
    return float(lorenz.sum() / n - (n + 1) / (2 * n))


def normalised_gini(score, actual):
    best = gini(actual, actual)
    return float(gini(score, actual) / best) if best else float("nan")


def average_ranks(x):
    """Ranks 1..n, ties get the mean of their ranks."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="stable")
    s = x[order]
    new = np.ones(len(s), dtype=bool)
    new[1:] = s[1:] != s[:-1]
    group = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], len(s))
    mean_rank = (starts + 1 + ends) / 2.0  # mean of starts+1 .. ends
    ranks = np.empty(len(x))
    ranks[order] = mean_rank[group]
    return ranks


def spearman(score, actual):
    rs, ra = average_ranks(score), average_ranks(actual)
    rs, ra = rs - rs.mean(), ra - ra.mean()
    denominator = math.sqrt((rs * rs).sum() * (ra * ra).sum())
    return float((rs * ra).sum() / denominator) if denominator else float("nan")


def deciles(score, actual):
    """Sorted by score ascending (ties by row order); decile d holds the rows with floor(10 i / n) == d."""
    score, actual = np.asarray(score, dtype=np.float64), np.asarray(actual, dtype=np.float64)
    n = len(score)
    order = np.argsort(score, kind="stable")
    d = (10 * np.arange(n)) // max(n, 1)
    out = []
    for k in range(10):
        rows = order[d == k]
        out.append({"decile": k, "rows": int(len(rows)),
                    "mean_predicted": float(score[rows].mean()) if len(rows) else float("nan"),
                    "mean_actual": float(actual[rows].mean()) if len(rows) else float("nan")})
    return out


def decile_max_rel_error(table):
    errors = [abs(row["mean_predicted"] / row["mean_actual"] - 1) for row in table
              if row["rows"] and row["mean_actual"] > 0]
    return float(max(errors)) if errors else float("nan")


def top_share(score, actual, k):
    actual = np.asarray(actual, dtype=np.float64)
    total = actual.sum()
    if total == 0:
        return float("nan")
    m = top_rows(k, len(actual))
    return float(TieCumsum(score).at(actual, m) / total)


def value_metrics(score, actual, top_percent=(10, 30)):
    """All value figures; rows with a NaN actual are skipped."""
    score, actual = np.asarray(score, dtype=np.float64), np.asarray(actual, dtype=np.float64)
    keep = ~np.isnan(actual)
    score, actual = score[keep], actual[keep]
    table = deciles(score, actual)
    out = {"rows": int(len(actual)), "gini": normalised_gini(score, actual), "spearman": spearman(score, actual),
           "mean_predicted": float(score.mean()), "mean_actual": float(actual.mean()),
           "decile_max_rel_error": decile_max_rel_error(table)}
    for k in top_percent:
        out[f"revenue_share_top{k:g}"] = top_share(score, actual, k)
    out["deciles"] = table
    return out


# ---------------------------------------------------------------------------------------------------------------
# Uplift
# ---------------------------------------------------------------------------------------------------------------

class UpliftCurves:
    """N_t, N_c, Y_t, Y_c at each position, rows sorted by predicted uplift descending, ties spread linearly."""

    def __init__(self, uplift, y, t):
        self.cum = TieCumsum(uplift)
        self.n = len(y)
        self.y, self.t = y, t

    def counts(self, positions):
        t, y = self.t, self.y
        return (self.cum.at(t, positions), self.cum.at(1 - t, positions),
                self.cum.at(t * y, positions), self.cum.at((1 - t) * y, positions))


def _qini_points(nt, nc, yt, yc):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(nc > 0, yt - yc * nt / np.where(nc > 0, nc, 1.0), 0.0)


def _uplift_points(nt, nc, yt, yc, i):
    ok = (nt > 0) & (nc > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ok, (yt / np.where(ok, nt, 1.0) - yc / np.where(ok, nc, 1.0)) * i, 0.0)


def _area(points, n):
    i = np.arange(1, n + 1)
    return float((points - i / n * points[-1]).sum() / (n * n))


def uplift_metrics(uplift, y, t, propensity=None, tau=None, top_percent=(10, 30)):
    """All uplift figures; rows with a NaN outcome are skipped. propensity: e_i for the policy values (None: the
    treated share of the rows); tau: the true uplift (adds true_qini, true_uplift_top{k}, pehe)."""
    uplift, y, t = (np.asarray(x, dtype=np.float64) for x in (uplift, y, t))
    keep = ~np.isnan(y)
    uplift, y, t, propensity, tau = _keep(keep, uplift, y, t, propensity, tau)
    n = len(y)
    out = {"rows": int(n), "treated_share": float(t.mean()) if n else float("nan")}
    if n == 0:
        return out
    curves = UpliftCurves(uplift, y, t)
    i = np.arange(1, n + 1)
    nt, nc, yt, yc = curves.counts(i)
    out["qini"] = _area(_qini_points(nt, nc, yt, yc), n)
    out["auuc"] = _area(_uplift_points(nt, nc, yt, yc, i), n)
    e = np.full(n, t.mean()) if propensity is None else propensity
    with np.errstate(divide="ignore", invalid="ignore"):
        treat_term = np.where(t == 1, y / e, 0.0)
        control_term = np.where(t == 0, y / (1 - e), 0.0)
    out["policy_value_none"] = float(control_term.sum() / n)
    out["policy_value_all"] = float(treat_term.sum() / n)
    for k in top_percent:
        m = top_rows(k, n)
        ntm, ncm, ytm, ycm = (float(x) for x in curves.counts(m))
        out[f"uplift_top{k:g}"] = (ytm / ntm - ycm / ncm) if ntm > 0 and ncm > 0 else 0.0
        out[f"policy_value_top{k:g}"] = float(
            (curves.cum.at(treat_term, m) + control_term.sum() - curves.cum.at(control_term, m)) / n)
    if tau is not None:
        c = curves.cum.curve(tau)
        out["true_qini"] = _area(c, n)
        for k in top_percent:
            m = top_rows(k, n)
            out[f"true_uplift_top{k:g}"] = float(curves.cum.at(tau, m) / m) if m else float("nan")
        out["pehe"] = float(np.sqrt(np.mean((uplift - tau) ** 2)))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Self-test: slow direct loops
# ---------------------------------------------------------------------------------------------------------------

def _slow_weights(score, i):
    """Row j's share in 'the first i rows by score, descending, ties in random order' (expected): 1 if all of its
    tie group comes before position i, 0 if all after, else the fraction of the group's places that are <= i."""
    n = len(score)
    w = [0.0] * n
    for j in range(n):
        above = sum(1 for x in score if x > score[j])
        same = sum(1 for x in score if x == score[j])
        taken = min(max(i - above, 0), same)
        w[j] = taken / same
    return w


def _slow_sum(score, values, i):
    w = _slow_weights(score, i)
    return sum(w[j] * values[j] for j in range(len(score)))


def _slow_gini(score, actual):
    n = len(score)
    total = sum(actual)
    lorenz = [_slow_sum(score, actual, i) / total for i in range(1, n + 1)]
    return sum(lorenz) / n - (n + 1) / (2 * n)


def _exhaustive_gini(score, actual):
    """The mean Gini over every order of the rows within each tie group (small n only)."""
    import itertools
    values = sorted(set(score), reverse=True)
    groups = [[j for j in range(len(score)) if score[j] == v] for v in values]
    results = []
    for perms in itertools.product(*(itertools.permutations(g) for g in groups)):
        order = [j for p in perms for j in p]
        total = sum(actual)
        run, lorenz = 0.0, []
        for j in order:
            run += actual[j]
            lorenz.append(run / total)
        n = len(order)
        results.append(sum(lorenz) / n - (n + 1) / (2 * n))
    return sum(results) / len(results)


def _slow_spearman(score, actual):
    def ranks(x):
        return [sum(1 for v in x if v < x[j]) + (sum(1 for v in x if v == x[j]) + 1) / 2 for j in range(len(x))]
    rs, ra = ranks(score), ranks(actual)
    ms, ma = sum(rs) / len(rs), sum(ra) / len(ra)
    cov = sum((a - ms) * (b - ma) for a, b in zip(rs, ra))
    return cov / math.sqrt(sum((a - ms) ** 2 for a in rs) * sum((b - ma) ** 2 for b in ra))


def _slow_uplift(u, y, t, e, tau, ks):
    n = len(u)
    out = {}
    q, up, cc = [], [], []
    for i in range(1, n + 1):
        w = _slow_weights(u, i)
        nt = sum(w[j] for j in range(n) if t[j] == 1)
        nc = sum(w[j] for j in range(n) if t[j] == 0)
        yt = sum(w[j] * y[j] for j in range(n) if t[j] == 1)
        yc = sum(w[j] * y[j] for j in range(n) if t[j] == 0)
        q.append(yt - yc * nt / nc if nc > 0 else 0.0)
        up.append((yt / nt - yc / nc) * i if nt > 0 and nc > 0 else 0.0)
        cc.append(sum(w[j] * tau[j] for j in range(n)))
    out["qini"] = sum(q[i - 1] - i / n * q[-1] for i in range(1, n + 1)) / n ** 2
    out["auuc"] = sum(up[i - 1] - i / n * up[-1] for i in range(1, n + 1)) / n ** 2
    out["true_qini"] = sum(cc[i - 1] - i / n * cc[-1] for i in range(1, n + 1)) / n ** 2
    out["pehe"] = math.sqrt(sum((u[j] - tau[j]) ** 2 for j in range(n)) / n)
    out["policy_value_none"] = sum((1 - t[j]) * y[j] / (1 - e[j]) for j in range(n)) / n
    out["policy_value_all"] = sum(t[j] * y[j] / e[j] for j in range(n)) / n
    for k in ks:
        m = math.ceil(k * n / 100 - 1e-9)
        pi = _slow_weights(u, m)
        nt = sum(pi[j] for j in range(n) if t[j] == 1)
        nc = sum(pi[j] for j in range(n) if t[j] == 0)
        yt = sum(pi[j] * y[j] for j in range(n) if t[j] == 1)
        yc = sum(pi[j] * y[j] for j in range(n) if t[j] == 0)
        out[f"uplift_top{k}"] = yt / nt - yc / nc if nt > 0 and nc > 0 else 0.0
        out[f"policy_value_top{k}"] = sum(t[j] * pi[j] * y[j] / e[j] + (1 - t[j]) * (1 - pi[j]) * y[j] / (1 - e[j])
                                          for j in range(n)) / n
        out[f"true_uplift_top{k}"] = sum(pi[j] * tau[j] for j in range(n)) / m
    return out


def self_test(trials=60, seed=11):
    rng = np.random.default_rng(seed)
    worst = {}
    failures = 0

    def check(name, got, want, tol=1e-10):
        nonlocal failures
        diff = abs(got - want) / max(1.0, abs(want))
        worst[name] = max(worst.get(name, 0.0), diff)
        if not diff <= tol:
            failures += 1
            if failures <= 10:
                print(f"mismatch: {name}: fast {got!r}, slow {want!r}")

    ks = (10, 30, 25)
    for trial in range(trials):
        n = int(rng.integers(5, 60))
        # Coarse scores give many ties; some trials have a single tie group or no ties at all.
        levels = [2, 3, 5, 1000][trial % 4] if trial % 7 else 1
        score = rng.integers(0, levels, n).astype(float) / 2
        actual = np.where(rng.random(n) < 0.4, 0.0, np.round(rng.lognormal(2, 1, n), 1))
        actual[rng.integers(n)] = 5.0  # never all zero
        check("gini", gini(score, actual), _slow_gini(list(score), list(actual)))
        best = _slow_gini(list(actual), list(actual))
        check("normalised_gini", normalised_gini(score, actual), _slow_gini(list(score), list(actual)) / best)
        if trial % 4 == 0 and len(set(score)) < n:
            small = rng.integers(0, 3, 7).astype(float)
            small_actual = np.round(rng.lognormal(1, 1, 7), 1)
            check("gini_vs_all_orders", gini(small, small_actual),
                  _exhaustive_gini(list(small), list(small_actual)))
        if len(set(score)) > 1:
            check("spearman", spearman(score, actual), _slow_spearman(list(score), list(actual)))
        for k in ks:
            m = math.ceil(k * n / 100 - 1e-9)
            check(f"top_share{k}", top_share(score, actual, k), _slow_sum(list(score), list(actual), m) / actual.sum())
        table = deciles(score, actual)
        order = sorted(range(n), key=lambda j: (score[j], j))
        for d in range(10):
            rows = [order[i] for i in range(n) if (10 * i) // n == d]
            assert table[d]["rows"] == len(rows)
            if rows:
                check("decile_mean_predicted", table[d]["mean_predicted"], sum(score[j] for j in rows) / len(rows))
                check("decile_mean_actual", table[d]["mean_actual"], sum(actual[j] for j in rows) / len(rows))

        u = np.round(rng.normal(0, 1, n), [0, 1, 3][trial % 3])
        t = (rng.random(n) < 0.5).astype(float)
        t[0], t[1] = 1.0, 0.0
        y = np.where(rng.random(n) < 0.5, 0.0, np.round(rng.lognormal(1, 1, n), 1))
        e = np.clip(rng.random(n), 0.1, 0.9)
        tau = rng.normal(0, 1, n)
        fast = uplift_metrics(u, y, t, e, tau, top_percent=ks)
        slow = _slow_uplift(list(u), list(y), list(t), list(e), list(tau), ks)
        for name, want in slow.items():
            check(name, fast[name], want)
        # No propensity given: the treated share.
        share = np.full(n, t.mean())
        fast = uplift_metrics(u, y, t, None, tau, top_percent=ks)
        slow = _slow_uplift(list(u), list(y), list(t), list(share), list(tau), ks)
        for name in ("policy_value_none", "policy_value_all", "policy_value_top10"):
            check(name + "_share", fast[name], slow[name])

    # NaN outcomes are skipped.
    n = 40
    u, y, t = rng.normal(size=n), rng.random(n), (np.arange(n) % 2).astype(float)
    y_nan = y.copy()
    y_nan[::5] = np.nan
    keep = ~np.isnan(y_nan)
    a, b = uplift_metrics(u, y_nan, t), uplift_metrics(u[keep], y[keep], t[keep])
    check("nan_skip_qini", a["qini"], b["qini"])
    check("nan_skip_gini", value_metrics(u, y_nan)["gini"], value_metrics(u[keep], y[keep])["gini"])

    for name, diff in sorted(worst.items()):
        print(f"{name:24s} max relative difference {diff:.3g}")
    print(f"self-test: {trials} random data sets with ties, {failures} mismatches")
    return failures == 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(0 if self_test() else 1)
    print(__doc__)
    sys.exit(2)
