"""The main job of ``make demo``: three tasks learnt together from smartwatch data.

On the bundled watch recordings (140 recordings of 6 inertial channels; labels:
exercise, participant, arm), this script

1. splits the recordings into training and test sets (stratified by exercise), and
   cuts them into 4-second windows that inherit their recording's labels;
2. searches the task weights of a ``SequenceScaler`` + ``MultiTaskGRUClassifier``
   pipeline with ``GridSearchCV`` under ``GroupKFold``, so that the windows of one
   recording never sit on both sides of a split;
3. trains one single-task GRU of the same size per task, for comparison;
4. prints a table of test accuracy per task -- per window, and per recording (the
   mean of its windows' probabilities) -- beside a majority-class baseline;
5. saves the model with joblib, loads it back and checks the predictions;
6. writes a PNG of the per-task learning curves from ``history_``.

Run it with ``make demo`` or ``python examples/watch_demo.py [--out FOLDER]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, GroupKFold, train_test_split
from sklearn.pipeline import make_pipeline

from sk_mtgru import MultiTaskGRUClassifier, SequenceScaler, sliding_windows
from sk_mtgru.datasets import load_watch
from sk_mtgru.metrics import per_task_accuracy

DOWNSAMPLE = 5  # 50 Hz -> 10 Hz: the exercises' movements are slower than 2 Hz
WIDTH = 40  # steps per window at 10 Hz: 4 seconds


def downsample(recording: np.ndarray, factor: int = DOWNSAMPLE) -> np.ndarray:
    """Average each run of ``factor`` steps (a low-pass filter, then decimation)."""
    usable = len(recording) // factor * factor
    return recording[:usable].reshape(-1, factor, recording.shape[1]).mean(axis=1)


def recording_accuracy(proba, classes, groups, labels) -> float:
    """Accuracy of each recording's class of highest mean window probability.

    ``proba`` holds one task's window probabilities, ``groups`` each window's
    recording (0 .. n-1, as :func:`sliding_windows` numbers them) and ``labels``
    each recording's true class.
    """
    mean = np.stack([proba[groups == r].mean(axis=0) for r in range(len(labels))])
    return float(np.mean(classes[mean.argmax(axis=1)] == labels))


def main(out: Path) -> None:
    start = time.perf_counter()
    watch = load_watch()
    recordings = [downsample(x) for x in watch.data]
    Y = pd.DataFrame(watch.target, columns=watch.target_names)  # names the tasks
    train, test = train_test_split(
        np.arange(len(Y)), test_size=0.25, stratify=Y["exercise"], random_state=0
    )
    Y_train_rec, Y_test_rec = Y.iloc[train], Y.iloc[test]
    X_train, Y_train, g_train = sliding_windows(
        [recordings[i] for i in train], Y_train_rec, width=WIDTH, step=WIDTH
    )
    X_test, Y_test, g_test = sliding_windows(
        [recordings[i] for i in test], Y_test_rec, width=WIDTH, step=WIDTH
    )
    tasks = watch.target_names
    print(
        f"watch: {len(Y)} recordings, 6 channels, tasks {', '.join(tasks)}; "
        f"{len(train)} training recordings -> {len(X_train)} windows of {WIDTH} steps,"
        f" {len(test)} test recordings -> {len(X_test)} windows"
    )

    gru = MultiTaskGRUClassifier(
        hidden_size=32,
        max_iter=15,
        learning_rate_init=3e-3,
        summary="mean",  # the mean of the GRU's outputs over the window
        random_state=0,
    )
    pipe = make_pipeline(SequenceScaler(), gru)
    weights = [(1, 1, 1), (2, 0.5, 1), (1, 0.5, 1)]
    grid = {"multitaskgruclassifier__task_weights": weights}
    search = GridSearchCV(pipe, grid, cv=GroupKFold(n_splits=3), n_jobs=2)
    t = time.perf_counter()
    search.fit(X_train, Y_train, groups=g_train)
    print(
        f"grid search: 3 task weightings x 3 group folds + refit, n_jobs=2: "
        f"{time.perf_counter() - t:.0f} s; best task_weights "
        f"{search.best_params_['multitaskgruclassifier__task_weights']}"
    )
    model = search.best_estimator_

    t = time.perf_counter()
    single = joblib.Parallel(n_jobs=2)(
        joblib.delayed(clone(pipe).fit)(X_train, Y_train[task]) for task in tasks
    )
    print(
        "3 single-task GRUs of the same size, n_jobs=2: "
        f"{time.perf_counter() - t:.0f} s"
    )

    multi_window = per_task_accuracy(Y_test, model.predict(X_test))
    multi_recording = [
        recording_accuracy(proba, classes, g_test, Y_test_rec[task].to_numpy())
        for task, proba, classes in zip(
            tasks, model.predict_proba(X_test), model[-1].classes_
        )
    ]
    single_window = [
        float(np.mean(clf.predict(X_test) == Y_test[task]))
        for task, clf in zip(tasks, single)
    ]
    single_recording = [
        recording_accuracy(
            clf.predict_proba(X_test),
            clf[-1].classes_,
            g_test,
            Y_test_rec[task].to_numpy(),
        )
        for task, clf in zip(tasks, single)
    ]
    majority = [
        float(np.mean(Y_test_rec[task] == Y_train_rec[task].mode()[0]))
        for task in tasks
    ]

    header = (
        f"{'task':<9}{'classes':>8} | {'multi-task':>10}{'single':>8} | "
        f"{'multi-task':>10}{'single':>8}{'majority':>9}"
    )
    print("\ntest accuracy  " + " " * 2 + "per window".center(20) + "   per recording")
    print(header)
    print("-" * len(header))
    for k, name in enumerate(tasks):
        print(
            f"{name:<9}{len(model[-1].classes_[k]):>8} | {multi_window[k]:>10.3f}"
            f"{single_window[k]:>8.3f} | {multi_recording[k]:>10.3f}"
            f"{single_recording[k]:>8.3f}{majority[k]:>9.3f}"
        )

    print(
        "\nOne split, for illustration: benchmarks/watch_accuracy.py compares the\n"
        "models over 15 splits (the user guide has its table). On this data the\n"
        "tasks are hardly related and single-task models do at least as well."
    )

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "watch_model.joblib"
        joblib.dump(model, path)
        reloaded = joblib.load(path)
        same = np.array_equal(reloaded.predict(X_test), model.predict(X_test))
        print(
            f"\nsaved {path.stat().st_size / 1024:.0f} KiB with joblib; "
            f"reloaded model predicts identically: {same}"
        )
    if not same:
        raise SystemExit("the reloaded model predicts differently")

    import matplotlib

    matplotlib.use("Agg")
    from sk_mtgru.plotting import plot_learning_curves

    out.mkdir(parents=True, exist_ok=True)
    ax = plot_learning_curves(model, metric="acc")
    ax.set_title("watch: per-task training accuracy of the selected model")
    png = out / "watch_learning_curves.png"
    ax.figure.savefig(png, dpi=100, bbox_inches="tight")
    print(f"learning curves: {png}")
    print(f"total: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo_output"))
    main(parser.parse_args().out)
