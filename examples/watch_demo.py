"""The main job of ``make demo``: three tasks learnt together from smartwatch data.

On the bundled watch recordings (140 recordings of 6 inertial channels at 50 Hz;
labels: the exercise, the subject and the arm), this script

1. trains on the first 70 % of every recording and tests on the last 30 %, so that
   every subject, exercise and arm is seen in training and every task means what
   it says;
2. averages the recordings down to 10 Hz and cuts the training parts into
   4-second windows that inherit their recording's labels;
3. fits a ``SequenceScaler`` + ``MultiTaskGRUClassifier`` pipeline with the
   estimator's defaults, on the three tasks at once;
4. fits, for comparison, one single-task GRU per task (the same defaults) and two
   baselines per task on summary statistics of each recording part (logistic
   regression and a random forest);
5. prints each task's test accuracy per recording part -- the GRUs label a part by
   the mean of its windows' probabilities -- for every model;
6. saves the model with joblib, loads it back and checks the predictions;
7. writes a PNG of the per-task learning curves from ``history_``.

Run it with ``make demo`` or ``python examples/watch_demo.py [--out FOLDER]``.
``benchmarks/accuracy.py`` runs this comparison with three seeds, beside
MiniRocket, and under the other protocol too (held-out recordings), where the
subject task is a different question: see the benchmarks page of the docs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_mtgru import MultiTaskGRUClassifier, SequenceScaler, sliding_windows
from sk_mtgru.datasets import load_watch

DOWNSAMPLE = 5  # 50 Hz -> 10 Hz: the exercises' movements are slower than 2 Hz
WIDTH = 40  # steps per window at 10 Hz: 4 seconds
TRAIN_SHARE = 0.7  # of every recording, from its start


def downsample(recording: np.ndarray, factor: int = DOWNSAMPLE) -> np.ndarray:
    """Average each run of ``factor`` steps (a low-pass filter, then decimation)."""
    usable = len(recording) // factor * factor
    return recording[:usable].reshape(-1, factor, recording.shape[1]).mean(axis=1)


def summary_statistics(x: np.ndarray) -> np.ndarray:
    """Per channel: mean, std, min, max, 10/50/90th percentiles, mean absolute
    step-to-step change; and the log of the length."""
    steps = np.abs(np.diff(x, axis=0)).mean(axis=0)
    percentiles = np.percentile(x, [10, 50, 90], axis=0).ravel()
    return np.concatenate(
        [x.mean(0), x.std(0), x.min(0), x.max(0), percentiles, steps, [np.log(len(x))]]
    )


def part_probabilities(
    model, parts: list[np.ndarray], width: int = WIDTH
) -> list[np.ndarray]:
    """Per task, each part's mean probabilities over its windows of ``width``."""
    X, _, groups = sliding_windows(parts, width=width, step=width)
    proba = model.predict_proba(X)
    proba = proba if isinstance(proba, list) else [proba]
    return [
        np.stack([p[groups == i].mean(0) for i in range(len(parts))]) for p in proba
    ]


def gru_accuracy(model, parts, Y, tasks: list[int]) -> list[float]:
    """Accuracy of each task in ``tasks`` (columns of ``Y``) per recording part."""
    classes = model[-1].classes_
    classes = classes if isinstance(classes, list) else [classes]
    return [
        float(np.mean(c[p.argmax(1)] == Y[:, k]))
        for p, c, k in zip(part_probabilities(model, parts), classes, tasks)
    ]


def main(out: Path) -> None:
    start = time.perf_counter()
    watch = load_watch()
    tasks = list(watch.target_names)
    Y = watch.target
    cuts = [int(TRAIN_SHARE * len(x)) for x in watch.data]
    train_raw = [x[:c] for x, c in zip(watch.data, cuts)]
    test_raw = [x[c:] for x, c in zip(watch.data, cuts)]
    train = [downsample(x) for x in train_raw]
    test = [downsample(x) for x in test_raw]
    X_win, Y_win, _ = sliding_windows(train, Y, width=WIDTH, step=WIDTH)
    print(
        f"watch: {len(Y)} recordings, 6 channels, tasks {', '.join(tasks)}; first "
        f"{TRAIN_SHARE:.0%} of each for training -> {len(X_win)} windows of {WIDTH} "
        f"steps at 10 Hz; the last {1 - TRAIN_SHARE:.0%} of each for testing"
    )

    model = make_pipeline(SequenceScaler(), MultiTaskGRUClassifier(random_state=0))
    t = time.perf_counter()
    model.fit(X_win, Y_win)
    print(
        f"multi-task GRU, defaults: {model[-1].n_iter_} epochs, "
        f"{time.perf_counter() - t:.0f} s"
    )
    t = time.perf_counter()
    single = joblib.Parallel(n_jobs=2)(
        joblib.delayed(clone(model).fit)(X_win, Y_win[:, k]) for k in range(len(tasks))
    )
    print(
        f"{len(tasks)} single-task GRUs, same defaults, n_jobs=2: "
        f"{time.perf_counter() - t:.0f} s"
    )

    F_train = np.stack([summary_statistics(x) for x in train_raw])
    F_test = np.stack([summary_statistics(x) for x in test_raw])
    baselines = {
        "logistic regression": lambda: make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=5000)
        ),
        "random forest": lambda: RandomForestClassifier(300, random_state=0),
    }
    table = {
        "multi-task GRU": gru_accuracy(model, test, Y, list(range(len(tasks)))),
        "single-task GRUs": [
            gru_accuracy(m, test, Y, [k])[0] for k, m in enumerate(single)
        ],
    }
    for name, make in baselines.items():
        table[f"{name} (statistics)"] = [
            float(np.mean(make().fit(F_train, Y[:, k]).predict(F_test) == Y[:, k]))
            for k in range(len(tasks))
        ]
    table["chance"] = [1 / len(np.unique(Y[:, k])) for k in range(len(tasks))]

    width = max(map(len, table))
    print(f"\ntest accuracy per recording part\n{'model':<{width}}", end="")
    print("".join(f"{t:>10}" for t in tasks) + f"{'mean':>10}")
    for name, scores in table.items():
        cells = "".join(f"{s:>10.3f}" for s in scores)
        print(f"{name:<{width}}{cells}{np.mean(scores):>10.3f}")
    print(
        "\nOne split, one seed: benchmarks/accuracy.py repeats it with three seeds, "
        "beside\nMiniRocket, and tests on held-out recordings too."
    )

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "watch_model.joblib"
        joblib.dump(model, path)
        reloaded = joblib.load(path)
        X_test, _, _ = sliding_windows(test, width=WIDTH, step=WIDTH)
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
    ax.set_title("watch: per-task training accuracy of the multi-task model")
    png = out / "watch_learning_curves.png"
    ax.figure.savefig(png, dpi=100, bbox_inches="tight")
    print(f"learning curves: {png}")
    print(f"total: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo_output"))
    main(parser.parse_args().out)
