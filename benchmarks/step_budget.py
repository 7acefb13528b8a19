"""The optimiser-step budget on small data: ``batch_size`` 32 against 'auto', and
``max_iter`` at its default against four times it.

Small data get few optimiser steps at batches of 32 (ArrowHead's 36 training
sequences make two an epoch); 'auto' shrinks the batches below 256 training
sequences. Raising ``max_iter`` stretches the one-cycle schedule; the stopping
rule waits for its warm-up and cools the rate down before it stops. This script
checks both on aeon's bundled small sets (official splits) and a 50-sequence
multi-task synthetic set:

- classification: test accuracy (mean over tasks), training accuracy, fit time,
  epochs run;
- regression (``MultiTaskGRURegressor``): test R² and RMSE, beside the RMSE of
  predicting the training mean.

Each configuration runs on the same seeds, interleaved in one process; fit times
are medians and ratios against the defaults on the same set.

    python benchmarks/step_budget.py --seeds 0 1 2 > benchmarks/results/step_budget.txt
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.pipeline import make_pipeline

from sk_mtgru import MultiTaskGRUClassifier, MultiTaskGRURegressor, SequenceScaler
from sk_mtgru.datasets import make_multitask_sequences

CLASSIFICATION = [
    "ArrowHead",
    "GunPoint",
    "ItalyPowerDemand",
    "BasicMotions",
    "PickupGestureWiimoteZ",
]
REGRESSION = ["Covid3Month", "CardanoSentiment"]
CONFIGS = {
    "batch 32, max_iter 100": dict(batch_size=32, max_iter=100),
    "batch 32, max_iter 400": dict(batch_size=32, max_iter=400),
    "auto, max_iter 100 (default)": dict(batch_size="auto", max_iter=100),
    "auto, max_iter 400": dict(batch_size="auto", max_iter=400),
}
DEFAULT = "auto, max_iter 100 (default)"


def _aeon(name: str, regression: bool):
    from aeon.datasets import load_classification, load_regression

    load = load_regression if regression else load_classification
    parts = []
    for split in ("train", "test"):
        X, y = load(name, split=split)
        if isinstance(X, np.ndarray):
            X = list(np.transpose(X, (0, 2, 1)))
        else:  # unequal lengths: a list of (channels, time)
            X = [x.T for x in X]
        parts += [X, np.asarray(y, dtype=float) if regression else y]
    return parts


def _synthetic(seed: int):
    X, Y = make_multitask_sequences(
        550, n_tasks=3, length=30, noise=0.3, random_state=seed
    )
    return list(X[:50]), Y[:50], list(X[50:]), Y[50:]


def _fit(regression: bool, data, params: dict, seed: int) -> dict:
    Xtr, ytr, Xte, yte = data
    estimator = (MultiTaskGRURegressor if regression else MultiTaskGRUClassifier)(
        random_state=seed, **params
    )
    pipe = make_pipeline(SequenceScaler(), estimator)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(Xtr, ytr)
    row = {"fit": time.perf_counter() - start, "epochs": estimator.n_iter_}
    if regression:
        predicted = pipe.predict(Xte).ravel()
        row["r2"] = r2_score(yte, predicted)
        row["rmse"] = mean_squared_error(yte, predicted) ** 0.5
        row["train_r2"] = r2_score(ytr, pipe.predict(Xtr).ravel())
    else:
        row["test"] = pipe.score(Xte, yte)
        row["train"] = pipe.score(Xtr, ytr)
    return row


def _cell(values) -> str:
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.3f} ± {values.std():.3f}"


def main(args) -> None:
    sets = [(name, False) for name in args.classification]
    sets += [(name, True) for name in args.regression]
    if args.synthetic:
        sets.append(("synthetic-50 (3 tasks)", False))
    for name, regression in sets:
        results: dict[str, list[dict]] = {config: [] for config in CONFIGS}
        fixed = None if name.startswith("synthetic") else _aeon(name, regression)
        for seed in args.seeds:
            data = fixed if fixed is not None else _synthetic(seed)
            for config, params in CONFIGS.items():  # interleaved per seed
                results[config].append(_fit(regression, data, params, seed))
        n_train = len(data[0])
        print(f"\n{name} ({n_train} training sequences, seeds {args.seeds})")
        if regression:
            ytr, yte = data[1], data[3]
            mean_rmse = float(np.sqrt(np.mean((yte - ytr.mean()) ** 2)))
            print(f"  predicting the training mean: RMSE {mean_rmse:.3f}")
            head = "test R²          test RMSE        train R²"
        else:
            head = "test accuracy    train accuracy"
        print(f"  {'configuration':<30} {head}    fit s  ×default  epochs")
        base = np.median([r["fit"] for r in results[DEFAULT]])
        for config, rows in results.items():
            if regression:
                cells = [
                    _cell([r[k] for r in rows]) for k in ("r2", "rmse", "train_r2")
                ]
            else:
                cells = [_cell([r[k] for r in rows]) for k in ("test", "train")]
            fit = np.median([r["fit"] for r in rows])
            epochs = np.mean([r["epochs"] for r in rows])
            print(
                f"  {config:<30} {'  '.join(cells)}  {fit:6.1f}  {fit / base:6.2f}"
                f"  {epochs:6.1f}",
                flush=True,
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--classification", nargs="*", default=CLASSIFICATION)
    parser.add_argument("--regression", nargs="*", default=REGRESSION)
    parser.add_argument("--no-synthetic", dest="synthetic", action="store_false")
    main(parser.parse_args())
