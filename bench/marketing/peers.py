#!/usr/bin/env python3
"""Peers for the marketing benchmark (run through bench/marketing/run_peers.sh; bench/marketing/README.md).

Reads DATA/train.csv, valid.csv and test.csv from `mtrec simulate --preset marketing` and fits

- customer value: LightGBM on log1p(revenue) (expm1 of the output, scaled so that the mean on valid matches) and
  the two-part model P(revenue > 0) x exp(mu + sigma^2/2); the one with the better normalised Gini on valid is kept;
- campaign effect on `converted` and on `revenue`: causalml's T-, X- and DR-learners over LightGBM, with the
  propensity estimated by a LightGBM classifier of the treatment (clipped to [0.05, 0.95]);

and scores them on test with the contract's metrics (marketing_metrics.py), next to the oracle (the truth columns
as predictions). Writes OUT/peers_predictions.csv (test.csv's row order) and OUT/peers_metrics.json. Last line:
`peers: gbdt_gini=X causalml_qini=X causalml_learner=NAME oracle_gini=X oracle_qini=X train_s=X`.

--score PREDICTIONS.csv computes the same metrics for another model's test predictions (in test.csv's row order),
read from --value-column, --uplift-column and --revenue-uplift-column; nothing is fitted.

--bound measures the features-only bound instead: LightGBM regressions of the truth columns themselves
(true_expected_revenue, true_uplift_conversion, true_uplift_revenue) on the same inputs, fitted on train with early
stopping on valid and scored on test with the same metrics. The simulator's truth also depends on traits no input
shows, so no model of the inputs reaches the oracle; one taught the truth itself shows how close a model can come.
Writes OUT/bound_metrics.json; last line `bound: gini=X qini=X true_qini=X revenue_qini=X revenue_true_qini=X`.
"""

import argparse
import json
import math
import os
import platform
import sys
import time
from importlib import metadata

# OpenMP threads that spin while waiting for work slow LightGBM down by an order of magnitude when the machine's
# cores are shared: they wait passively unless told otherwise (as the retail peer does).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import marketing_metrics as mm  # noqa: E402

ID = "customer_id"
TREATMENT = "treatment"
OUTCOMES = ["converted", "revenue", "churned"]
MULTI = "categories"
LEARNERS = ["t", "x", "dr"]
LEARNER_NAMES = {"t": "t_learner", "x": "x_learner", "dr": "dr_learner"}
PROPENSITY_CLIP = (0.05, 0.95)

# Wall seconds of every LightGBM fit, added up (the base learners inside causalml included).
FIT_SECONDS = [0.0]
# The boosting rounds kept by each causalml base-learner fit, in order.
BASE_ROUNDS = []


def is_truth(column):
    return column.startswith("true_")


def read_split(data_dir, name):
    frame = pd.read_csv(os.path.join(data_dir, name + ".csv"), dtype={ID: str, MULTI: str}, keep_default_na=False,
                        na_values={c: ["", "NaN", "nan"] for c in OUTCOMES})
    return frame


def read_data(data_dir):
    parts = []
    for name in ("train", "valid", "test"):
        frame = read_split(data_dir, name)
        frame["_part"] = name
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def feature_frame(rows):
    """Every input column: numeric as is, text columns as LightGBM categoricals (one category list over the three
    files), the '|'-separated `categories` as one 0/1 column per category."""
    skip = {ID, TREATMENT, "_part", MULTI} | set(OUTCOMES)
    x = pd.DataFrame(index=rows.index)
    categorical = []
    for c in rows.columns:
        if c in skip or is_truth(c):
            continue
        column = rows[c]
        if pd.api.types.is_numeric_dtype(column):
            x[c] = column.astype(np.float64)
            continue
        # Text: numbers with blanks (missing values) stay numeric, anything else is a categorical.
        numeric = pd.to_numeric(column, errors="coerce")
        if numeric.isna().sum() == (column.astype(str) == "").sum():
            x[c] = numeric.astype(np.float64)
        else:
            values = column.astype(str)
            x[c] = pd.Categorical(values, categories=sorted(values.unique()))
            categorical.append(c)
    if MULTI in rows.columns:
        lists = rows[MULTI].fillna("").astype(str)
        names = sorted({v for s in lists.unique() for v in s.split("|") if v})
        sets = lists.map(lambda s: set(s.split("|")))
        for name in names:
            x[f"{MULTI}_{name}"] = sets.map(lambda s, name=name: name in s).astype(np.float64)
    return x, categorical


# ---------------------------------------------------------------------------------------------------------------
# LightGBM
# ---------------------------------------------------------------------------------------------------------------

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


def train(args, params, x_train, y_train, x_valid, y_valid):
    import lightgbm as lgb
    train_set = lgb.Dataset(x_train, y_train, free_raw_data=False)
    valid_set = lgb.Dataset(x_valid, y_valid, reference=train_set)
    start = time.perf_counter()
    booster = lgb.train(dict(base_params(args), **params), train_set, num_boost_round=args.rounds,
                        valid_sets=[valid_set],
                        callbacks=[lgb.early_stopping(args.early_stopping, first_metric_only=True, verbose=False)])
    seconds = time.perf_counter() - start
    FIT_SECONDS[0] += seconds
    return booster, seconds


def predict(booster, x):
    return booster.predict(x, num_iteration=booster.best_iteration)


def sklearn_base_learners(args):
    """LightGBM estimators for causalml: each fit holds out a random share of the rows it is given (--holdout) for
    early stopping; the classifier's predict() returns P(y = 1) (causalml 0.18's DR-learner builds its pseudo-outcome
    from the outcome models' predict(), which for a plain classifier is the 0/1 label)."""
    import lightgbm as lgb

    p = base_params(args)
    kwargs = dict(learning_rate=p["learning_rate"], num_leaves=p["num_leaves"], min_child_samples=p["min_data_in_leaf"],
                  colsample_bytree=p["feature_fraction"], subsample=p["bagging_fraction"],
                  subsample_freq=p["bagging_freq"], reg_lambda=p["lambda_l2"], max_bin=p["max_bin"],
                  n_jobs=p["num_threads"], random_state=p["seed"], deterministic=True, force_row_wise=True,
                  verbosity=-1, n_estimators=args.rounds)
    holdout, patience, seed = args.holdout, args.early_stopping, args.seed

    def take(x, index):
        return x.iloc[index] if hasattr(x, "iloc") else x[index]

    def early_stopped_fit(model, parent, x, y):
        y = np.asarray(y)
        order = np.random.default_rng(seed).permutation(len(y))
        cut = int(round(len(y) * (1 - holdout)))
        fit_rows, hold_rows = np.sort(order[:cut]), np.sort(order[cut:])
        start = time.perf_counter()
        parent.fit(model, take(x, fit_rows), y[fit_rows], eval_X=take(x, hold_rows), eval_y=y[hold_rows],
                   callbacks=[lgb.early_stopping(patience, first_metric_only=True, verbose=False)])
        FIT_SECONDS[0] += time.perf_counter() - start
        BASE_ROUNDS.append(int(model.best_iteration_))
        return model

    class Regressor(lgb.LGBMRegressor):
        def fit(self, X, y, **_):
            return early_stopped_fit(self, lgb.LGBMRegressor, X, y)

    class Classifier(lgb.LGBMClassifier):
        def fit(self, X, y, **_):
            return early_stopped_fit(self, lgb.LGBMClassifier, X, y)

        def predict(self, X, **kw):
            return self.predict_proba(X, **kw)[:, 1]

    return Regressor(**kwargs), Classifier(**kwargs)


# ---------------------------------------------------------------------------------------------------------------
# Customer value
# ---------------------------------------------------------------------------------------------------------------

def value_models(args, x, revenue, parts):
    """Both value models; returns {name: (valid prediction, test prediction, details)}."""
    tr, va, te = parts
    out = {}

    # (1) LightGBM regression (L2) on log1p(revenue); prediction c * expm1(f), clipped at 0, with c fitted on valid
    # so that the mean prediction there equals the mean revenue (a ratio correction of the retransformation bias).
    booster, seconds = train(args, {"objective": "regression", "metric": "l2"},
                             x[tr], np.log1p(revenue[tr]), x[va], np.log1p(revenue[va]))
    raw_valid = np.maximum(np.expm1(predict(booster, x[va])), 0.0)
    raw_test = np.maximum(np.expm1(predict(booster, x[te])), 0.0)
    scale = float(revenue[va].sum() / raw_valid.sum())
    out["log1p"] = (scale * raw_valid, scale * raw_test,
                    {"best_iteration": booster.best_iteration, "train_s": seconds, "mean_scale": scale})

    # (2) Two-part: P(revenue > 0) (binary) x exp(mu + sigma^2 / 2), mu from an L2 regression of log(revenue) on the
    # buyers, sigma^2 the mean squared residual of log(revenue) on valid's buyers.
    buy = revenue > 0
    clf, s1 = train(args, {"objective": "binary", "metric": "binary_logloss"},
                    x[tr], buy[tr].astype(float), x[va], buy[va].astype(float))
    tb, vb = tr & buy, va & buy
    reg, s2 = train(args, {"objective": "regression", "metric": "l2"},
                    x[tb], np.log(revenue[tb]), x[vb], np.log(revenue[vb]))
    residual = np.log(revenue[vb]) - predict(reg, x[vb])
    sigma2 = float(np.mean(residual ** 2))
    factor = math.exp(sigma2 / 2)
    valid_pred = predict(clf, x[va]) * np.exp(predict(reg, x[va])) * factor
    test_pred = predict(clf, x[te]) * np.exp(predict(reg, x[te])) * factor
    out["two_part"] = (valid_pred, test_pred,
                       {"best_iteration_purchase": clf.best_iteration, "best_iteration_log_revenue": reg.best_iteration,
                        "sigma2": sigma2, "mean_log_residual": float(residual.mean()), "train_s": s1 + s2,
                        "valid_buyers": int(vb.sum())})
    return out


# ---------------------------------------------------------------------------------------------------------------
# Campaign effect
# ---------------------------------------------------------------------------------------------------------------

def auc(y, p):
    ranks = mm.average_ranks(p)
    positive = y == 1
    n_pos, n_neg = positive.sum(), (~positive).sum()
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def propensity_model(args, x, t, parts, folds=3):
    """P(treatment = 1 | features), as a user would estimate it: a LightGBM classifier with early stopping on valid,
    out-of-fold on train (3 folds; valid and test get the mean of the fold models), clipped to [0.05, 0.95]."""
    tr, va, te = parts
    train_rows = np.flatnonzero(tr)
    fold = np.random.default_rng(args.seed).permutation(len(train_rows)) % folds
    p = np.full(len(t), np.nan)
    p_valid, p_test = np.zeros(va.sum()), np.zeros(te.sum())
    seconds, rounds = 0.0, []
    for k in range(folds):
        fit_rows, out_rows = train_rows[fold != k], train_rows[fold == k]
        booster, s = train(args, {"objective": "binary", "metric": "binary_logloss"},
                           x.iloc[fit_rows], t[fit_rows], x[va], t[va])
        seconds += s
        rounds.append(booster.best_iteration)
        p[out_rows] = predict(booster, x.iloc[out_rows])
        p_valid += predict(booster, x[va]) / folds
        p_test += predict(booster, x[te]) / folds
    p[va], p[te] = p_valid, p_test
    raw_test = p[te].copy()
    p = np.clip(p, *PROPENSITY_CLIP)
    details = {"train_s": seconds, "best_iterations": rounds, "test_auc": auc(t[te], raw_test),
               "test_mean": float(raw_test.mean()), "share_clipped": float(np.mean((raw_test < PROPENSITY_CLIP[0]) |
                                                                              (raw_test > PROPENSITY_CLIP[1])))}
    return p, details


def uplift_learners(args, x, t, y, p, parts, binary):
    """{learner: (test uplift, seconds)} for the T-, X- and DR-learner on outcome y."""
    from causalml.inference.meta import (BaseDRClassifier, BaseDRRegressor, BaseTClassifier, BaseTRegressor,
                                         BaseXClassifier, BaseXRegressor)

    tr, _, te = parts
    regressor, classifier = sklearn_base_learners(args)
    outcome = classifier if binary else regressor
    if binary:
        make = {"t": lambda: BaseTClassifier(learner=outcome),
                "x": lambda: BaseXClassifier(outcome_learner=outcome, effect_learner=regressor),
                "dr": lambda: BaseDRClassifier(control_outcome_learner=outcome, treatment_outcome_learner=outcome,
                                               treatment_effect_learner=regressor)}
    else:
        make = {"t": lambda: BaseTRegressor(learner=regressor),
                "x": lambda: BaseXRegressor(learner=regressor),
                "dr": lambda: BaseDRRegressor(learner=regressor)}
    x_train, x_test = x[tr], x[te]
    t_train, y_train = t[tr].astype(int), y[tr]
    out = {}
    for name in args.learners:
        learner = make[name]()
        before = FIT_SECONDS[0]
        first_fit = len(BASE_ROUNDS)
        start = time.perf_counter()
        if name == "t":
            learner.fit(x_train, treatment=t_train, y=y_train)
            u = learner.predict(x_test)
        elif name == "x":
            learner.fit(x_train, treatment=t_train, y=y_train, p=p[tr])
            u = learner.predict(x_test, p=p[te])
        else:
            learner.fit(x_train, treatment=t_train, y=y_train, p=p[tr], seed=args.seed)
            u = learner.predict(x_test)
        wall = time.perf_counter() - start
        out[name] = (np.ravel(np.asarray(u, dtype=np.float64)), FIT_SECONDS[0] - before, wall,
                     BASE_ROUNDS[first_fit:])
        print(f"{'converted' if binary else 'revenue'} {LEARNER_NAMES[name]}: fits {FIT_SECONDS[0] - before:.1f} s",
              flush=True)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------------------------

def clean(value):
    """JSON-safe: NaN and infinities become null."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def policy_propensity(args, test):
    if args.policy_propensity == "true" and "true_propensity" in test.columns:
        return test["true_propensity"].to_numpy(dtype=np.float64), "true_propensity"
    return None, "treated_share"


def score_uplift(u, test, outcome, tau_column, e, top):
    tau = test[tau_column].to_numpy(dtype=np.float64) if tau_column in test.columns else None
    m = mm.uplift_metrics(u, test[outcome].to_numpy(dtype=np.float64), test[TREATMENT].to_numpy(dtype=np.float64),
                          e, tau, top)
    m["mean_predicted"] = float(np.mean(u))
    if tau is not None:
        m["mean_true"] = float(np.mean(tau))
    return m


def oracle_figures(test, e, top):
    out = {}
    revenue = test["revenue"].to_numpy(dtype=np.float64)
    if "true_expected_revenue" in test.columns:
        m = mm.value_metrics(test["true_expected_revenue"].to_numpy(dtype=np.float64), revenue, top)
        out.update({"oracle_" + k: v for k, v in m.items()})
    for outcome, tau_column, prefix in (("converted", "true_uplift_conversion", "oracle_"),
                                        ("revenue", "true_uplift_revenue", "oracle_revenue_")):
        if tau_column in test.columns:
            m = score_uplift(test[tau_column].to_numpy(dtype=np.float64), test, outcome, tau_column, e, top)
            out.update({prefix + k: v for k, v in m.items() if k not in ("rows", "treated_share", "mean_predicted")})
    return out


def bound_mode(args, top):
    rows = read_data(args.data)
    x, _ = feature_frame(rows)
    part = rows["_part"].to_numpy()
    tr, va, te = (part == "train", part == "valid", part == "test")
    test = rows[te].reset_index(drop=True)
    e, e_name = policy_propensity(args, test)
    xv = x.copy()
    xv[TREATMENT] = rows[TREATMENT].to_numpy(dtype=np.float64)  # the expected value is at the row's treatment
    out = {"policy_propensity": e_name}
    for column, inputs, score in (
            ("true_expected_revenue", xv,
             lambda u: mm.value_metrics(u, test["revenue"].to_numpy(dtype=np.float64), top)),
            ("true_uplift_conversion", x, lambda u: score_uplift(u, test, "converted", "true_uplift_conversion", e, top)),
            ("true_uplift_revenue", x, lambda u: score_uplift(u, test, "revenue", "true_uplift_revenue", e, top))):
        if column not in rows.columns:
            raise SystemExit(f"peers --bound: {args.data} has no {column} column (simulated data only)")
        y = rows[column].to_numpy(dtype=np.float64)
        booster, seconds = train(args, {"objective": "regression", "metric": "l2"}, inputs[tr], y[tr], inputs[va],
                                 y[va])
        u = predict(booster, inputs[te])
        m = score(u)
        m.update(r2=float(1 - np.mean((u - y[te]) ** 2) / np.var(y[te])), train_s=seconds,
                 rounds=booster.best_iteration)
        out[column] = m
        print(f"bound {column}: r2 {m['r2']:.4f}" + "".join(
            f", {k} {m[k]:.5f}" for k in ("gini", "qini", "true_qini") if k in m), flush=True)
    if args.out:
        with open(os.path.join(args.out, "bound_metrics.json"), "w") as f:
            json.dump(clean(out), f, indent=1)
    print(f"bound: gini={fmt(out['true_expected_revenue']['gini'])} "
          f"qini={out['true_uplift_conversion']['qini']:.5f} "
          f"true_qini={out['true_uplift_conversion']['true_qini']:.5f} "
          f"revenue_qini={fmt(out['true_uplift_revenue']['qini'])} "
          f"revenue_true_qini={fmt(out['true_uplift_revenue']['true_qini'])}")


def fmt(value):
    return "nan" if value is None or not math.isfinite(value) else f"{value:.4f}"


def score_mode(args, top):
    test = read_split(args.data, "test")
    pred = pd.read_csv(args.score)
    if len(pred) != len(test):
        raise SystemExit(f"peers: {args.score} has {len(pred)} rows, test.csv {len(test)}")
    if ID in pred.columns and not (pred[ID].astype(str).to_numpy() == test[ID].astype(str).to_numpy()).all():
        raise SystemExit(f"peers: {args.score}'s {ID} column is not in test.csv's row order")
    e, e_name = policy_propensity(args, test)
    out = {"predictions": os.path.basename(args.score), "policy_propensity": e_name, "top_percent": top}
    if args.value_column in pred.columns:
        out["value"] = mm.value_metrics(pred[args.value_column].to_numpy(dtype=np.float64),
                                        test["revenue"].to_numpy(dtype=np.float64), top)
        out["value"]["column"] = args.value_column
    for column, outcome, tau_column, key in ((args.uplift_column, "converted", "true_uplift_conversion", "uplift"),
                                             (args.revenue_uplift_column, "revenue", "true_uplift_revenue",
                                              "revenue_uplift")):
        if column and column in pred.columns:
            out[key] = score_uplift(pred[column].to_numpy(dtype=np.float64), test, outcome, tau_column, e, top)
            out[key]["column"] = column
    out["oracle"] = oracle_figures(test, e, top)
    if not any(k in out for k in ("value", "uplift", "revenue_uplift")):
        raise SystemExit(f"peers: none of {args.value_column}, {args.uplift_column}, {args.revenue_uplift_column} "
                         f"in {args.score} (columns: {', '.join(pred.columns)})")
    text = json.dumps(clean(out), indent=2)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "score_metrics.json"), "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    fields = []
    if "value" in out:
        fields.append(f"gini={fmt(out['value']['gini'])}")
    if "uplift" in out:
        fields.append(f"qini={fmt(out['uplift']['qini'])}")
    if "revenue_uplift" in out:
        fields.append(f"revenue_qini={fmt(out['revenue_uplift']['qini'])}")
    o = out["oracle"]
    fields += [f"oracle_gini={fmt(o.get('oracle_gini'))}", f"oracle_qini={fmt(o.get('oracle_qini'))}"]
    print("score: " + " ".join(fields))


# ---------------------------------------------------------------------------------------------------------------

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def versions():
    out = {"python": platform.python_version()}
    for package in ("lightgbm", "causalml", "scikit-learn", "pandas", "numpy"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = None
    return out


def default_threads():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder with train.csv, valid.csv, test.csv")
    parser.add_argument("--out", help="folder for peers_predictions.csv and peers_metrics.json (--score: "
                                      "score_metrics.json; without it the figures go to stdout)")
    parser.add_argument("--threads", type=int, default=default_threads(), help="LightGBM threads (default: cores)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--learning-rate", type=float, default=0.03)
    parser.add_argument("--rounds", type=int, default=1000, help="most boosting rounds")
    parser.add_argument("--early-stopping", type=int, default=50, help="rounds without improvement before stopping")
    parser.add_argument("--holdout", type=float, default=0.2,
                        help="share of the rows each causalml base learner holds out for its early stopping")
    parser.add_argument("--learners", default=",".join(LEARNERS), help="causalml learners: t,x,dr")
    parser.add_argument("--no-revenue-uplift", action="store_true", help="fit the learners on converted only")
    parser.add_argument("--top-percent", default="10,30", help="the k of the top-k%% figures")
    parser.add_argument("--policy-propensity", choices=["true", "share"], default="true",
                        help="e_i in the policy values: test.csv's true_propensity (when present) or the treated "
                             "share")
    parser.add_argument("--score", metavar="PREDICTIONS.csv",
                        help="score these test predictions (test.csv's row order) instead of fitting the peers")
    parser.add_argument("--bound", action="store_true",
                        help="measure the features-only bound (LightGBM taught the truth columns) instead")
    parser.add_argument("--value-column", default="revenue", help="--score: the predicted value column")
    parser.add_argument("--uplift-column", default="converted_uplift",
                        help="--score: the predicted uplift on converted")
    parser.add_argument("--revenue-uplift-column", default="revenue_uplift",
                        help="--score: the predicted uplift on revenue")
    args = parser.parse_args()
    top = [float(k) if "." in k else int(k) for k in args.top_percent.split(",")]
    args.learners = [name.strip().lower() for name in args.learners.split(",")]
    for name in args.learners:
        if name not in LEARNERS:
            parser.error(f"unknown learner {name!r} (t, x, dr)")
    if args.score:
        score_mode(args, top)
        return
    if args.bound:
        bound_mode(args, top)
        return
    if not args.out:
        parser.error("--out is needed unless --score")

    wall_start = time.perf_counter()
    start = time.perf_counter()
    rows = read_data(args.data)
    x, categorical = feature_frame(rows)
    read_s = time.perf_counter() - start
    part = rows["_part"].to_numpy()
    parts = (part == "train", part == "valid", part == "test")
    tr, va, te = parts
    print(f"data: {len(rows)} rows (train {tr.sum()}, valid {va.sum()}, test {te.sum()}), {x.shape[1]} inputs "
          f"({len(categorical)} categorical), read {read_s:.1f} s; {args.threads} threads", flush=True)
    test = rows[te].reset_index(drop=True)
    t = rows[TREATMENT].to_numpy(dtype=np.float64)
    revenue = rows["revenue"].to_numpy(dtype=np.float64)
    converted = rows["converted"].to_numpy(dtype=np.float64)
    e, e_name = policy_propensity(args, test)
    metrics = {"rows": {"train": int(tr.sum()), "valid": int(va.sum()), "test": int(te.sum())},
               "inputs": list(x.columns), "categorical": categorical, "policy_propensity": e_name,
               "top_percent": top}
    predictions = pd.DataFrame({ID: test[ID]}) if ID in test.columns else pd.DataFrame(index=test.index)

    # (a) Customer value: the treatment is an input (mtrec's value task predicts at the row's treatment, and the
    # oracle, true_expected_revenue, is the expectation at the row's treatment).
    xv = x.copy()
    xv[TREATMENT] = t
    labelled = ~np.isnan(revenue)
    value = value_models(args, xv, np.nan_to_num(revenue), (tr & labelled, va & labelled, te))
    metrics["value"] = {}
    for name, (valid_pred, test_pred, details) in value.items():
        m = mm.value_metrics(test_pred, test["revenue"].to_numpy(dtype=np.float64), top)
        m["valid_gini"] = mm.normalised_gini(valid_pred, revenue[va & labelled])
        m.update(details)
        metrics["value"][name] = m
        print(f"value {name}: valid gini {m['valid_gini']:.4f}, test gini {m['gini']:.4f}, "
              f"fits {details['train_s']:.1f} s", flush=True)
        predictions[f"revenue_{name}"] = test_pred
    chosen = max(value, key=lambda k: (metrics["value"][k]["valid_gini"], k == "log1p"))
    metrics["value_chosen"] = chosen
    predictions.insert(1 if ID in predictions else 0, "revenue", value[chosen][1])

    # (b) Campaign effect.
    p, p_details = propensity_model(args, x, t, parts)
    metrics["propensity"] = p_details
    predictions["propensity"] = p[te]
    metrics["uplift"] = {}
    outcomes = [("converted", converted, True, "true_uplift_conversion")]
    if not args.no_revenue_uplift:
        outcomes.append(("revenue", revenue, False, "true_uplift_revenue"))
    for outcome, y, binary, tau_column in outcomes:
        keep = ~np.isnan(y)
        sub = tuple(mask & keep for mask in (tr, va)) + (te,)
        fitted = uplift_learners(args, x, t, np.nan_to_num(y), p, sub, binary)
        block = {}
        for name, (u, seconds, wall, rounds) in fitted.items():
            m = score_uplift(u, test, outcome, tau_column, e, top)
            m.update(train_s=seconds, wall_s=wall, base_learner_rounds=rounds)
            block[LEARNER_NAMES[name]] = m
            predictions[f"{outcome}_uplift_{name}"] = u
            print(f"{outcome} {LEARNER_NAMES[name]}: qini {m['qini']:.5f}, auuc {m['auuc']:.5f}"
                  + (f", true_qini {m['true_qini']:.5f}, pehe {m['pehe']:.4f}" if "pehe" in m else ""), flush=True)
        best = max(block, key=lambda k: block[k]["qini"])
        block["best_on_test"] = best
        metrics["uplift"][outcome] = block

    # (d) The oracle: the truth columns as predictions.
    metrics["oracle"] = oracle_figures(test, e, top)
    metrics["train_s"] = FIT_SECONDS[0]
    metrics["wall_s"] = time.perf_counter() - wall_start
    metrics["params"] = {k: v for k, v in base_params(args).items() if k != "verbosity"}
    metrics["params"].update(max_rounds=args.rounds, early_stopping_rounds=args.early_stopping,
                             base_learner_holdout=args.holdout, propensity_clip=list(PROPENSITY_CLIP))
    metrics["versions"] = versions()
    metrics["cpu"] = cpu_model()
    metrics["omp_wait_policy"] = os.environ.get("OMP_WAIT_POLICY")

    gbdt_gini = metrics["value"][chosen]["gini"]
    best = metrics["uplift"]["converted"]["best_on_test"]
    causalml_qini = metrics["uplift"]["converted"][best]["qini"]
    metrics["summary"] = {"gbdt_gini": gbdt_gini, "gbdt_model": chosen, "causalml_qini": causalml_qini,
                          "causalml_learner": best, "oracle_gini": metrics["oracle"].get("oracle_gini"),
                          "oracle_qini": metrics["oracle"].get("oracle_qini"), "train_s": FIT_SECONDS[0]}
    os.makedirs(args.out, exist_ok=True)
    predictions.to_csv(os.path.join(args.out, "peers_predictions.csv"), index=False)
    with open(os.path.join(args.out, "peers_metrics.json"), "w") as f:
        json.dump(clean(metrics), f, indent=2)
        f.write("\n")
    s = metrics["summary"]
    print(f"value model chosen on valid: {chosen}; best learner on test: {best}; whole run {metrics['wall_s']:.1f} s")
    print(f"peers: gbdt_gini={fmt(s['gbdt_gini'])} causalml_qini={fmt(s['causalml_qini'])} causalml_learner={best} "
          f"oracle_gini={fmt(s['oracle_gini'])} oracle_qini={fmt(s['oracle_qini'])} train_s={s['train_s']:.1f}")


if __name__ == "__main__":
    main()
