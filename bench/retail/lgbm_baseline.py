#!/usr/bin/env python3
"""LightGBM peer for the retail forecasting benchmark (run through bench/retail/run_lgbm.sh).

Reads DATA/train.csv, valid.csv and test.csv from `mtrec simulate --preset retail`, computes mtrec's time-series
features (the definitions are in bench/retail/README.md) with history (valid's rows read train's, test's read
train's and valid's), fits one LightGBM model per task on train with early stopping on valid, and scores test.

Writes OUT/lgbm_predictions.csv (test.csv's row order, one column per task) and OUT/lgbm_metrics.json. Last line:
`lgbm: sales_wape=X units7_wape=X sales_pinball90=X coverage90=X naive_wape=X oracle_wape=X train_s=X`.

--self-check compares the vectorised features with a slow per-row loop over the raw rows on a few hundred rows of
each file, prints the largest difference per feature and exits (status 1 on a mismatch).
"""

import argparse
import json
import os
import platform
import sys
import time

# OpenMP threads that spin while waiting for work slow LightGBM down by an order of magnitude when the machine's
# cores are shared (with compiles, with the engine it is compared with): they wait passively unless told otherwise.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import lightgbm as lgb  # noqa: E402
import numpy as np
import pandas as pd

CATEGORICAL = ["store_id", "item_id", "department", "category"]
CALENDAR = ["weekday", "month", "holiday"]
NUMERIC = ["price", "regular_price", "promo", "stock_on_hand"]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

# name -> (op, source column, window W, lag L, group). Windows cover the dates [d-L-W+1, d-L].
FEATURES = {
    "sales_lag1": ("lag", "sales", None, 1, "series"),
    "sales_lag7": ("lag", "sales", None, 7, "series"),
    "sales_lag14": ("lag", "sales", None, 14, "series"),
    "sales_lag28": ("lag", "sales", None, 28, "series"),
    "sales_mean7": ("mean", "sales", 7, 1, "series"),
    "sales_mean28": ("mean", "sales", 28, 1, "series"),
    "sales_std28": ("std", "sales", 28, 1, "series"),
    "sales_zero28": ("zero_share", "sales", 28, 1, "series"),
    "stockout_mean28": ("mean", "stockout", 28, 1, "series"),
    "item_sales_mean7": ("mean", "sales", 7, 1, "item_id"),
    "store_sales_mean7": ("mean", "sales", 7, 1, "store_id"),
    "days_since_promo": ("days_since", "promo", None, None, "series"),
    "price_ratio28": ("ratio_to_mean", "price", 28, 1, "series"),
}

TASKS = ["sales", "units_next_7d", "sales_p90", "stockout", "stockout_next_7d"]
LABEL = {"sales": "sales", "units_next_7d": "units_next_7d", "sales_p90": "sales", "stockout": "stockout",
         "stockout_next_7d": "stockout_next_7d"}
TWEEDIE_POWERS = [1.1, 1.2, 1.3, 1.4, 1.5]


def read_data(data_dir):
    parts = []
    for name in ("train", "valid", "test"):
        frame = pd.read_csv(os.path.join(data_dir, name + ".csv"), dtype={c: str for c in CATEGORICAL})
        frame["part"] = name
        parts.append(frame)
    rows = pd.concat(parts, ignore_index=True)
    rows["date"] = pd.to_datetime(rows["date"], format="%Y-%m-%d")
    rows["day"] = (rows["date"] - rows["date"].min()).dt.days.astype(np.int64)
    return rows


# ---------------------------------------------------------------------------------------------------------------
# Vectorised features: each series (or entity) becomes a row of a dense day grid, NaN on the days it has no row.
# Every feature reads only days before the row's own (the ratio's numerator aside), so computing them once on
# train+valid+test in date order gives each file exactly its history: valid reads train, test reads train+valid
# (and, like any day-ahead forecast, the earlier days of its own file).
# ---------------------------------------------------------------------------------------------------------------

class Grid:
    """values[g, day] of one column, NaN where group g has no row on that day."""

    def __init__(self, group_codes, n_groups, days, n_days, values):
        self.values = np.full((n_groups, n_days), np.nan)
        self.values[group_codes, days] = values
        present = ~np.isnan(self.values)
        filled = np.where(present, self.values, 0.0)
        zero = np.zeros((n_groups, 1))
        # Prefix sums over the day axis: column k holds the sum over days < k.
        self.count = np.hstack([zero, np.cumsum(present, axis=1)])
        self.total = np.hstack([zero, np.cumsum(filled, axis=1)])
        self.squares = np.hstack([zero, np.cumsum(filled * filled, axis=1)])
        self.zeros = np.hstack([zero, np.cumsum(present & (filled == 0), axis=1)])
        nonzero = present & (filled != 0)
        last = np.where(nonzero, np.arange(n_days)[None, :], -1)
        self.last_nonzero = np.maximum.accumulate(last, axis=1)  # last day <= k with a non-zero value, else -1

    def window(self, codes, days, width, lag):
        """count, sum, sum of squares, zero count over the days [d-lag-width+1, d-lag] of each row."""
        n_days = self.values.shape[1]
        start = np.clip(days - lag - width + 1, 0, n_days)
        stop = np.clip(days - lag + 1, 0, n_days)
        take = lambda prefix: prefix[codes, stop] - prefix[codes, start]
        return take(self.count), take(self.total), take(self.squares), take(self.zeros)


def window_op(op, count, total, squares, zeros):
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        if op == "mean":
            return mean
        if op == "zero_share":
            return np.where(count > 0, zeros / np.maximum(count, 1), np.nan)
        if op == "std":  # population (ddof 0); needs two values
            variance = np.maximum(squares / np.maximum(count, 1) - mean * mean, 0.0)
            return np.where(count >= 2, np.sqrt(variance), np.nan)
    raise ValueError(op)


def compute_features(rows):
    n_days = int(rows["day"].max()) + 1
    days = rows["day"].to_numpy()
    series_codes, series = pd.factorize(pd.MultiIndex.from_arrays([rows["store_id"], rows["item_id"]]))
    if pd.Series(series_codes * n_days + days).duplicated().any():
        raise SystemExit("lgbm_baseline: two rows of one store-item on one date")
    groups = {"series": (series_codes, len(series))}
    for entity in ("item_id", "store_id"):
        codes, uniques = pd.factorize(rows[entity])
        groups[entity] = (codes, len(uniques))

    grids = {}

    def grid(group, column):
        key = (group, column)
        if key not in grids:
            codes, n = groups[group]
            if group == "series":
                grids[key] = Grid(codes, n, days, n_days, rows[column].to_numpy(dtype=np.float64))
            else:  # the entity's daily value: the mean over its rows on that date
                daily = rows.groupby([codes, days])[column].mean()
                grids[key] = Grid(daily.index.get_level_values(0).to_numpy(),
                                  n, daily.index.get_level_values(1).to_numpy(), n_days, daily.to_numpy())
        return grids[key]

    out = pd.DataFrame(index=rows.index)
    for name, (op, column, width, lag, group) in FEATURES.items():
        codes = groups[group][0]
        g = grid(group, column)
        if op == "lag":
            source = days - lag
            out[name] = np.where(source >= 0, g.values[codes, np.maximum(source, 0)], np.nan)
        elif op == "days_since":
            last = np.where(days >= 1, g.last_nonzero[codes, np.maximum(days - 1, 0)], -1)
            out[name] = np.where(last >= 0, days - last, np.nan).astype(np.float64)
        elif op == "ratio_to_mean":
            mean = window_op("mean", *g.window(codes, days, width, lag))
            with np.errstate(invalid="ignore", divide="ignore"):
                out[name] = rows[column].to_numpy(dtype=np.float64) / mean
        else:
            out[name] = window_op(op, *g.window(codes, days, width, lag))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Slow per-row features for --self-check: each file with its history prepended, one row at a time, by date.
# ---------------------------------------------------------------------------------------------------------------

class RowsOf:
    """The rows of `frame` (a file and its history) of one series, item or store."""

    def __init__(self, frame):
        self.frame = frame
        self.index = {"series": frame.groupby(["store_id", "item_id"]).indices,
                      "item_id": frame.groupby("item_id").indices, "store_id": frame.groupby("store_id").indices}

    def __call__(self, group, key):
        return self.frame.iloc[self.index[group][key]]


def slow_features(rows_of, row):
    """The features of `row` from its file and its history, read by date, literally per definition."""
    d = row["date"]
    in_series = rows_of("series", (row["store_id"], row["item_id"]))
    by_date = {day: r for day, r in zip(in_series["date"], in_series.itertuples(index=False))}
    out = {}

    def window_values(table, column, width, lag):
        lo, hi = d - pd.Timedelta(days=lag + width - 1), d - pd.Timedelta(days=lag)
        return table[(table["date"] >= lo) & (table["date"] <= hi)][column].to_numpy(dtype=np.float64)

    for name, (op, column, width, lag, group) in FEATURES.items():
        if op == "lag":
            r = by_date.get(d - pd.Timedelta(days=lag))
            out[name] = np.nan if r is None else float(getattr(r, column))
            continue
        if op == "days_since":
            past = in_series[(in_series["date"] < d) & (in_series[column] != 0)]
            out[name] = np.nan if past.empty else float((d - past["date"].max()).days)
            continue
        if group == "series":
            values = window_values(in_series, column, width, lag)
        else:
            entity = rows_of(group, row[group])
            values = window_values(entity, column, width, lag)
            dates = window_values(entity, "day", width, lag)
            values = np.array([values[dates == x].mean() for x in np.unique(dates)])
        if values.size == 0:
            out[name] = np.nan
        elif op in ("mean", "ratio_to_mean"):
            out[name] = float(np.mean(values))
            if op == "ratio_to_mean":
                out[name] = float(row[column]) / out[name]
        elif op == "std":
            out[name] = float(np.std(values, ddof=0)) if values.size >= 2 else np.nan
        elif op == "zero_share":
            out[name] = float(np.mean(values == 0))
    return out


def self_check(rows, features, per_file=120, seed=7):
    rng = np.random.default_rng(seed)
    history = {"train": ["train"], "valid": ["train", "valid"], "test": ["train", "valid", "test"]}
    worst = {name: 0.0 for name in FEATURES}
    mismatches = 0
    checked = 0
    for part, parts in history.items():
        frame = rows[rows["part"].isin(parts)]
        rows_of = RowsOf(frame)
        index = rows.index[rows["part"] == part].to_numpy()
        # Random rows, plus the file's first date (where the history join shows), promotion days and young series
        # (partial windows, missing lags).
        first = index[rows.loc[index, "day"].to_numpy() == rows.loc[index, "day"].min()]
        promos = index[rows.loc[index, "promo"].to_numpy() != 0]
        young = index[features.loc[index, "sales_lag28"].isna().to_numpy()]
        pick = [rng.choice(index, per_file, replace=False)]
        for extra in (first, promos, young):
            pick.append(rng.choice(extra, min(20, len(extra)), replace=False))
        pick = np.concatenate(pick)
        for i in pick:
            slow = slow_features(rows_of, rows.loc[i])
            checked += 1
            for name, expected in slow.items():
                got = features.at[i, name]
                if np.isnan(expected) or np.isnan(got):
                    ok = np.isnan(expected) and np.isnan(got)
                    diff = 0.0 if ok else np.inf
                else:
                    diff = abs(got - expected) / max(1.0, abs(expected))
                    ok = diff <= 1e-9
                worst[name] = max(worst[name], diff)
                if not ok:
                    mismatches += 1
                    if mismatches <= 10:
                        print(f"mismatch: {part} row {i} {name}: vectorised {got!r}, per-row {expected!r}")
    for name, diff in worst.items():
        nan_share = features[name].isna().mean()
        print(f"{name:20s} max relative difference {diff:.3g}   (NaN share over all rows {nan_share:.3f})")
    print(f"self-check: {checked} rows x {len(FEATURES)} features, {mismatches} mismatches")
    return mismatches == 0


# ---------------------------------------------------------------------------------------------------------------
# Models and metrics
# ---------------------------------------------------------------------------------------------------------------

def model_inputs(rows, features):
    x = pd.DataFrame(index=rows.index)
    for c in CATEGORICAL:  # one category list over the three files, so the codes agree
        x[c] = pd.Categorical(rows[c], categories=sorted(rows[c].unique()))
    x["weekday"] = rows["weekday"].map({w: i for i, w in enumerate(WEEKDAYS)}).astype(np.int8)
    x["month"] = rows["month"].map({m: i + 1 for i, m in enumerate(MONTHS)}).astype(np.int8)
    for c in ["holiday"] + NUMERIC:
        x[c] = rows[c].astype(np.float64)
    for name in FEATURES:
        x[name] = features[name]
    return x


def base_params(args):
    return {
        "learning_rate": args.learning_rate,
        "num_leaves": 63,
        "min_data_in_leaf": 100,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "max_bin": 255,
        "num_threads": args.threads,
        "seed": args.seed,
        "deterministic": True,
        "force_row_wise": True,
        "verbosity": -1,
    }


def fit(params, x_train, y_train, x_valid, y_valid, rounds):
    train_set = lgb.Dataset(x_train, y_train, categorical_feature=CATEGORICAL, free_raw_data=False)
    valid_set = lgb.Dataset(x_valid, y_valid, reference=train_set)
    start = time.perf_counter()
    booster = lgb.train(params, train_set, num_boost_round=rounds, valid_sets=[valid_set],
                        callbacks=[lgb.early_stopping(50, first_metric_only=True, verbose=False)])
    seconds = time.perf_counter() - start
    return booster, seconds


def regression_metrics(y, p):
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    e = p - y
    return {"wape": float(np.abs(e).sum() / y.sum()), "rmse": float(np.sqrt(np.mean(e * e))),
            "mae": float(np.abs(e).mean()), "bias": float(e.sum() / y.sum())}


def auc(y, p):
    ranks = pd.Series(p).rank(method="average").to_numpy()
    positives = y == 1
    n_pos, n_neg = positives.sum(), (~positives).sum()
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def binary_metrics(y, p):
    y = np.asarray(y, dtype=np.float64)
    q = np.clip(p, 1e-15, 1 - 1e-15)
    m = regression_metrics(y, p)
    m["auc"] = auc(y, p)
    m["logloss"] = float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))
    return m


def quantile_metrics(y, q, alpha=0.9):
    y = np.asarray(y, dtype=np.float64)
    m = regression_metrics(y, q)
    diff = y - q
    m["pinball90"] = float(np.mean(np.maximum(alpha * diff, (alpha - 1) * diff)))
    m["coverage"] = float(np.mean(y <= q))
    return m


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder with train.csv, valid.csv, test.csv")
    parser.add_argument("--out", required=True, help="folder for lgbm_predictions.csv and lgbm_metrics.json")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--rounds", type=int, default=1000, help="most boosting rounds (early stopping: 50)")
    parser.add_argument("--powers", default=",".join(map(str, TWEEDIE_POWERS)),
                        help="Tweedie variance powers tried on valid for sales and units_next_7d")
    parser.add_argument("--tune-rows", type=int, default=300000,
                        help="train rows the Tweedie power candidates are fitted on when train has more")
    parser.add_argument("--tasks", default=",".join(TASKS), help="the tasks to fit (the last line needs all)")
    parser.add_argument("--self-check", action="store_true", help="check the features against a per-row loop")
    args = parser.parse_args()
    powers = [float(p) for p in args.powers.split(",")]

    start = time.perf_counter()
    rows = read_data(args.data)
    read_s = time.perf_counter() - start
    start = time.perf_counter()
    features = compute_features(rows)
    features_s = time.perf_counter() - start
    print(f"data: {len(rows)} rows ({', '.join(f'{p} {n}' for p, n in rows['part'].value_counts(sort=False).items())})"
          f", read {read_s:.1f} s, features {features_s:.1f} s")
    if args.self_check:
        sys.exit(0 if self_check(rows, features) else 1)

    x = model_inputs(rows, features)
    part = rows["part"].to_numpy()
    train, valid, test = (part == "train"), (part == "valid"), (part == "test")
    params = base_params(args)
    train_index = rows.index[train].to_numpy()
    predictions = pd.DataFrame(index=rows.index[test])
    metrics = {"tasks": {}}
    train_total = 0.0

    tasks = args.tasks.split(",")
    for task in tasks:
        label = rows[LABEL[task]].to_numpy(dtype=np.float64)
        y_train, y_valid, y_test = label[train], label[valid], label[test]
        if task in ("sales", "units_next_7d"):
            candidates = [dict(params, objective="tweedie", tweedie_variance_power=p, metric="tweedie")
                          for p in powers]
        elif task == "sales_p90":
            candidates = [dict(params, objective="quantile", alpha=0.9, metric="quantile")]
        else:
            candidates = [dict(params, objective="binary", metric="binary_logloss")]
        tried = []
        best = None
        task_s = 0.0
        # The Tweedie power is chosen by validation WAPE; on a large train file the candidates are fitted on a
        # random sample of its rows (--tune-rows) and the chosen one is then fitted again on all of them.
        tune_on = train_index
        if len(candidates) > 1 and len(train_index) > args.tune_rows:
            tune_on = np.sort(np.random.default_rng(args.seed).choice(train_index, args.tune_rows, replace=False))
        for candidate in candidates:
            booster, seconds = fit(candidate, x.loc[tune_on], label[tune_on], x[valid], y_valid, args.rounds)
            task_s += seconds
            p_valid = booster.predict(x[valid], num_iteration=booster.best_iteration)
            score = regression_metrics(y_valid, p_valid)["wape"]
            entry = {"best_iteration": booster.best_iteration, "valid_wape": score, "train_s": seconds,
                     "train_rows": len(tune_on)}
            if "tweedie_variance_power" in candidate:
                entry["tweedie_variance_power"] = candidate["tweedie_variance_power"]
            tried.append(entry)
            print(f"{task}: {json.dumps(entry)}", flush=True)
            if best is None or score < best[0]:
                best = (score, booster, candidate, entry)
        _, booster, candidate, entry = best
        if len(tune_on) < len(train_index):
            booster, seconds = fit(candidate, x[train], y_train, x[valid], y_valid, args.rounds)
            task_s += seconds
            p_valid = booster.predict(x[valid], num_iteration=booster.best_iteration)
            entry = {"best_iteration": booster.best_iteration, "valid_wape": regression_metrics(y_valid, p_valid)["wape"],
                     "train_s": seconds, "train_rows": len(train_index),
                     "tweedie_variance_power": candidate["tweedie_variance_power"]}
            print(f"{task}: {json.dumps(entry)}", flush=True)
        train_total += task_s
        p_test = booster.predict(x[test], num_iteration=booster.best_iteration)
        predictions[task] = p_test
        if task in ("stockout", "stockout_next_7d"):
            m = binary_metrics(y_test, p_test)
        elif task == "sales_p90":
            m = quantile_metrics(y_test, p_test)
        else:
            m = regression_metrics(y_test, p_test)
        m.update({"objective": candidate["objective"], "best_iteration": booster.best_iteration,
                  "valid_wape": entry["valid_wape"], "train_s": task_s, "final_model_train_s": entry["train_s"]})
        if "tweedie_variance_power" in candidate:
            m["tweedie_variance_power"] = candidate["tweedie_variance_power"]
            m["tried"] = tried
        metrics["tasks"][task] = m

    # Seasonal naive for sales: the same store-item's sales 7 days earlier; where that day has no row, the mean of
    # its last 28 days' sales (sales_mean28); where that is missing too (a new item), 0.
    lag7 = features["sales_lag7"].to_numpy()[test]
    mean28 = features["sales_mean28"].to_numpy()[test]
    naive = np.where(~np.isnan(lag7), lag7, np.where(~np.isnan(mean28), mean28, 0.0))
    y_sales = rows["sales"].to_numpy(dtype=np.float64)[test]
    metrics["seasonal_naive_sales"] = dict(
        regression_metrics(y_sales, naive), from_lag7=float(np.mean(~np.isnan(lag7))),
        from_mean28=float(np.mean(np.isnan(lag7) & ~np.isnan(mean28))),
        zero=float(np.mean(np.isnan(lag7) & np.isnan(mean28))))
    metrics["oracle_sales"] = regression_metrics(y_sales, rows["oracle_expected_sales"].to_numpy()[test])
    metrics["train_s"] = train_total
    metrics["rows"] = {p: int((part == p).sum()) for p in ("train", "valid", "test")}
    metrics["features_s"] = features_s
    metrics["params"] = {k: v for k, v in params.items() if k != "verbosity"}
    metrics["params"].update(max_rounds=args.rounds, early_stopping_rounds=50, tune_rows=args.tune_rows)
    metrics["inputs"] = list(x.columns)
    metrics["versions"] = {"lightgbm": lgb.__version__, "pandas": pd.__version__, "numpy": np.__version__,
                           "python": platform.python_version()}

    os.makedirs(args.out, exist_ok=True)
    predictions.to_csv(os.path.join(args.out, "lgbm_predictions.csv"), index=False, float_format="%.6g")
    with open(os.path.join(args.out, "lgbm_metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
        f.write("\n")
    t = metrics["tasks"]
    if set(tasks) != set(TASKS):
        print(f"lgbm: fitted {','.join(tasks)} only, train_s={train_total:.1f}")
        return
    print(f"lgbm: sales_wape={t['sales']['wape']:.4f} units7_wape={t['units_next_7d']['wape']:.4f} "
          f"sales_pinball90={t['sales_p90']['pinball90']:.4f} coverage90={t['sales_p90']['coverage']:.4f} "
          f"naive_wape={metrics['seasonal_naive_sales']['wape']:.4f} "
          f"oracle_wape={metrics['oracle_sales']['wape']:.4f} train_s={train_total:.1f}")


if __name__ == "__main__":
    main()
