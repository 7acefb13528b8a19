"""Accuracy on the bundled watch data under a fixed protocol (not a test).

Protocol: the 140 recordings are split by stratified 5-fold cross-validation on the
exercise label, repeated with 3 seeds (15 splits). Every model sees the same
training recordings and is scored on the held-out recordings, one prediction per
recording; the table gives the mean and standard deviation over the 15 splits.

Models:

- ``multi-task GRU``: ``SequenceScaler`` + ``MultiTaskGRUClassifier`` on the three
  tasks at once (hidden size 32, ``summary='mean'``, 15 epochs), equal task
  weights, trained on 4-second windows (10 Hz) of the recordings; a recording's
  prediction is the class of highest mean probability over its windows.
- ``multi-task GRU, weights searched``: the same, with ``task_weights`` chosen among
  (1, 1, 1), (2, 0.5, 1) and (1, 0.5, 1) by ``GridSearchCV`` with ``GroupKFold(3)``
  on the training recordings' windows only.
- ``multi-task GRU (exercise + side)``: the same without the participant task.
- ``single-task GRU``: the same network and training, one per task.
- ``random forest``: scikit-learn's ``RandomForestClassifier`` per task on summary
  statistics of each whole recording (per channel: mean, standard deviation,
  minimum, maximum, 10th/50th/90th percentiles, mean absolute step-to-step change).

Run::

    python benchmarks/watch_accuracy.py [--json results.json]

Variants: ``--seeds 0`` runs the 5 splits of one seed; ``--set PARAM=VALUE``
changes a parameter of every GRU (for example ``--set summary=last`` or ``--set
loss_balancing=pcgrad``).

It uses both cores (one split per worker, one torch thread each); about 5 minutes
here (13.5 before the package's GRU kernel).
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import time
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedKFold
from sklearn.pipeline import make_pipeline

from sk_mtgru import MultiTaskGRUClassifier, SequenceScaler, sliding_windows
from sk_mtgru.datasets import load_watch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from watch_demo import WIDTH, downsample  # noqa: E402  (the demo's preprocessing)

TASKS = ["exercise", "subject", "side"]
SEEDS = (0, 1, 2)
N_SPLITS = 5


GRU_PARAMS = {
    "hidden_size": 32,
    "max_iter": 15,
    "learning_rate_init": 3e-3,
    "summary": "mean",
}


def gru(random_state: int, overrides: dict):
    params = GRU_PARAMS | overrides | {"random_state": random_state}
    return make_pipeline(SequenceScaler(), MultiTaskGRUClassifier(**params))


def recording_predictions(model, recordings, n_outputs):
    """Class of highest mean window probability, per recording and task."""
    X, _, groups = sliding_windows(recordings, width=WIDTH, step=WIDTH)
    probabilities = model.predict_proba(X)
    if n_outputs == 1:
        probabilities = [probabilities]
    classes = model[-1].classes_ if n_outputs > 1 else [model[-1].classes_]
    columns = []
    for proba, task_classes in zip(probabilities, classes):
        mean = np.stack(
            [proba[groups == r].mean(axis=0) for r in range(len(recordings))]
        )
        columns.append(task_classes[mean.argmax(axis=1)])
    return np.column_stack(columns)


def summary_statistics(recording: np.ndarray) -> np.ndarray:
    steps = np.abs(np.diff(recording, axis=0)).mean(axis=0)
    percentiles = np.percentile(recording, [10, 50, 90], axis=0).ravel()
    return np.concatenate(
        [
            recording.mean(axis=0),
            recording.std(axis=0),
            recording.min(axis=0),
            recording.max(axis=0),
            percentiles,
            steps,
        ]
    )


def evaluate_split(seed, fold, train, test, recordings, raw, Y, overrides):
    import torch

    torch.set_num_threads(1)
    train_rec = [recordings[i] for i in train]
    test_rec = [recordings[i] for i in test]
    X_win, Y_win, groups = sliding_windows(train_rec, Y[train], width=WIDTH, step=WIDTH)
    truth = Y[test]
    scores = {}

    multi = gru(seed, overrides).fit(X_win, Y_win)
    pred = recording_predictions(multi, test_rec, 3)
    scores["multi-task GRU"] = (pred == truth).mean(axis=0).tolist()

    search = GridSearchCV(
        gru(seed, overrides),
        {"multitaskgruclassifier__task_weights": [(1, 1, 1), (2, 0.5, 1), (1, 0.5, 1)]},
        cv=GroupKFold(n_splits=3),
    ).fit(X_win, Y_win, groups=groups)
    pred = recording_predictions(search.best_estimator_, test_rec, 3)
    scores["multi-task GRU, weights searched"] = (pred == truth).mean(axis=0).tolist()

    pair = gru(seed, overrides).fit(X_win, Y_win[:, [0, 2]])
    pred = recording_predictions(pair, test_rec, 2)
    ex, side = (pred == truth[:, [0, 2]]).mean(axis=0).tolist()
    scores["multi-task GRU (exercise + side)"] = [ex, float("nan"), side]

    single = []
    for k in range(3):
        model = gru(seed, overrides).fit(X_win, Y_win[:, k])
        single.append(
            float(
                np.mean(recording_predictions(model, test_rec, 1)[:, 0] == truth[:, k])
            )
        )
    scores["single-task GRU"] = single

    features = np.stack([summary_statistics(x) for x in raw])
    forest = []
    for k in range(3):
        rf = RandomForestClassifier(n_estimators=300, random_state=seed, n_jobs=1)
        rf.fit(features[train], Y[train, k])
        forest.append(float(np.mean(rf.predict(features[test]) == Y[test, k])))
    scores["random forest on summary statistics"] = forest
    return seed, fold, scores


def main(json_path: Path | None, seeds: tuple[int, ...], overrides: dict) -> None:
    start = time.perf_counter()
    watch = load_watch()
    Y = watch.target
    recordings = [downsample(x) for x in watch.data]
    splits = [
        (seed, fold, train, test)
        for seed in seeds
        for fold, (train, test) in enumerate(
            StratifiedKFold(N_SPLITS, shuffle=True, random_state=seed).split(
                np.zeros(len(Y)), Y[:, 0]
            )
        )
    ]
    results = Parallel(n_jobs=2)(
        delayed(evaluate_split)(
            seed, fold, train, test, recordings, watch.data, Y, overrides
        )
        for seed, fold, train, test in splits
    )
    models = list(results[0][2])
    table = {
        model: np.array([scores[model] for _, _, scores in results]) for model in models
    }
    width = max(map(len, models))
    print(
        f"watch: stratified {N_SPLITS}-fold by recording x {len(seeds)} seeds; "
        f"test accuracy per recording, mean ± std over the {len(splits)} splits\n"
    )
    print(f"{'model':<{width}}  " + "  ".join(f"{t:>13}" for t in TASKS))
    for model, values in table.items():
        cells = [
            "—".center(13)
            if np.isnan(values[:, k]).all()
            else f"{values[:, k].mean():.3f} ± {values[:, k].std():.3f}"
            for k in range(3)
        ]
        print(f"{model:<{width}}  " + "  ".join(f"{c:>13}" for c in cells))
    print(f"\nchance (uniform): {1 / 7:.3f}  {1 / 10:.3f}  {1 / 2:.3f}")
    print(f"total: {time.perf_counter() - start:.0f} s")
    if json_path is not None:
        json_path.write_text(
            json.dumps(
                {
                    "protocol": f"StratifiedKFold({N_SPLITS}), exercise, seeds {seeds}",
                    "tasks": TASKS,
                    "splits": [
                        {"seed": s, "fold": f, "accuracy": _json_safe(scores)}
                        for s, f, scores in results
                    ],
                },
                indent=1,
            )
        )


def _parse(item: str) -> tuple[str, object]:
    key, _, value = item.partition("=")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def _json_safe(scores: dict) -> dict:
    """NaN (a task the model does not learn) as null: JSON has no NaN."""
    return {m: [None if np.isnan(v) else v for v in vs] for m, vs in scores.items()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Accuracy on the watch data.")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PARAM=VALUE",
        help="change a parameter of every GRU, e.g. --set summary=last "
        "--set loss_balancing=pcgrad (values are Python literals or strings)",
    )
    args = parser.parse_args()
    main(args.json, tuple(args.seeds), dict(_parse(item) for item in args.set))
