"""Quickstart: the main job of ``make demo``.

Trains a multi-task GRU on synthetic sequences of different lengths with three labels
each, searches the task weights with cross-validation, prints each task's test
accuracy beside a majority-class baseline, then saves the model with joblib, loads it
back and checks that the predictions are identical.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline

from sk_mtgru import MultiTaskGRUClassifier, SequenceScaler
from sk_mtgru.datasets import make_multitask_sequences
from sk_mtgru.metrics import per_task_accuracy


def main() -> None:
    X, Y = make_multitask_sequences(
        600,
        n_tasks=3,
        n_classes=[2, 3, 4],
        n_features=4,
        length=(20, 60),
        noise=0.3,
        task_relatedness=0.7,
        random_state=0,
    )
    X_train, X_test, Y_train, Y_test = train_test_split(
        X, Y, test_size=0.25, random_state=0
    )
    print(
        f"{len(X)} sequences of {min(map(len, X))}-{max(map(len, X))} steps x "
        f"{X[0].shape[1]} features, {Y.shape[1]} tasks"
    )

    pipe = make_pipeline(
        SequenceScaler(),
        MultiTaskGRUClassifier(
            hidden_size=32, max_iter=25, learning_rate_init=3e-3, random_state=0
        ),
    )
    grid = {"multitaskgruclassifier__task_weights": [(1, 1, 1), (1, 1, 3), (3, 1, 1)]}
    start = time.perf_counter()
    search = GridSearchCV(pipe, grid, cv=3, n_jobs=2).fit(X_train, Y_train)
    elapsed = time.perf_counter() - start
    print(f"grid search: 3 weightings x 3 folds + refit in {elapsed:.1f} s")
    print(f"best task_weights: {search.best_params_}")

    model = search.best_estimator_
    accuracy = per_task_accuracy(Y_test, model.predict(X_test))
    majority = [
        np.mean(Y_test[:, k] == np.bincount(Y_train[:, k]).argmax()) for k in range(3)
    ]
    names = model[-1].task_names_
    print(f"\n{'task':<8} {'classes':>7} {'accuracy':>9} {'majority':>9}")
    for name, classes, acc, base in zip(names, model[-1].classes_, accuracy, majority):
        print(f"{name:<8} {len(classes):>7} {acc:>9.3f} {base:>9.3f}")
    print(f"{'mean':<8} {'':>7} {model.score(X_test, Y_test):>9.3f}")

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.joblib"
        joblib.dump(model, path)
        reloaded = joblib.load(path)
        same = np.array_equal(reloaded.predict(X_test), model.predict(X_test))
        print(
            f"\nsaved {path.stat().st_size / 1024:.0f} KiB; "
            f"reloaded predictions identical: {same}"
        )
    if not same:
        raise SystemExit("the reloaded model predicts differently")


if __name__ == "__main__":
    main()
