"""The accuracy suite: sk_mtgru's defaults beside the classifiers users would
otherwise pick, on every data set available offline (not a test).

Data sets and protocols:

- ``watch-recording``: the bundled watch data (140 recordings, 6 channels, tasks
  exercise / subject / side), recordings averaged down to 10 Hz; stratified 5-fold
  by recording on the exercise, one fold set per seed. The GRUs train on 4-second
  windows (40 steps) of the training recordings and predict a recording by the
  mean of its windows' probabilities. A held-out recording's subject is, by the
  data's design, one who never did that exercise with that arm in training.
- ``watch-recording-crops``: the same splits; the GRUs train on whole recordings
  with ``crop_length=40`` (a random 4-second crop of every recording each epoch)
  and predict by the mean probability of windows every 2 seconds. The baselines
  are those of ``watch-recording``.
- ``watch-participant``: leave participants out -- 5 folds of 2 of the 10
  subjects, drawn anew per seed; tasks exercise and side (a held-out participant
  cannot be named). Windows and baselines as for ``watch-recording``.
- ``watch-time``: the first 70 % of every recording trains, the last 30 % tests
  (every subject, exercise and side is seen in training); seeds change the models.
- ``BasicMotions``, ``JapaneseVowels``, ``GunPoint``, ``ItalyPowerDemand``,
  ``ArrowHead``: UEA/UCR sets that aeon bundles, their own train/test split;
  single-task quality checks (ArrowHead: 36 training series of 251 steps, shapes).
- ``Covid3Month``, ``CardanoSentiment``: aeon's bundled regression sets, their own
  split; ``MultiTaskGRURegressor``, scored by R² (the table's cells) and RMSE.
- ``synthetic-related`` / ``synthetic-unrelated``: ``make_multitask_sequences``
  with 3 tasks, task relatedness 0.9 / 0.0, 400 training and 400 test sequences
  of 20 to 60 steps; a new data set per seed. ``-n50`` / ``-n200``: the small-data
  protocol, the first 50 or 200 of the training sequences (the same test set).
- ``streams``: the tagger on stream segmentation (``per_step=True``, 2 tasks),
  per-step accuracy; 150 training and 150 test streams; a new data set per seed.

Models, per data set, in the same run and on the same splits:

- ``multi-task GRU``: ``SequenceScaler`` + ``MultiTaskGRUClassifier`` with its
  defaults (``MultiTaskGRUTagger`` for ``streams``), all tasks at once;
- ``single-task GRUs``: the same, one model per task;
- ``logistic regression`` and ``random forest`` on per-channel summary statistics
  of each sequence (mean, std, min, max, 10/50/90th percentiles, mean absolute
  step-to-step change, and the log of the length); for ``streams``, logistic
  regression on each step's features and the means of the 9 and 31 steps around it;
- ``MiniRocket``: aeon's MiniRocket transform (sequences resampled to one length)
  + ``RidgeClassifierCV``, per task (the ``[bench]`` extra); on regression sets
  ``RidgeCV`` (as aeon's ``MiniRocketRegressor``);
- regression sets only: ``ridge`` (``RidgeCV`` on the summary statistics) and
  ``training mean`` (every prediction the training targets' mean); the random
  forest is a regressor there, and logistic regression does not apply.

The ``train`` column is the GRU models' mean accuracy (R²) on their own training
sequences: whether a fit can fit what it sees.

Δm is the mean relative gain, in %, of the multi-task model's accuracy over the
single-task models', over the tasks (Maninis et al., CVPR 2019): >= 0 means
multi-task training costs no task anything on average.

Run::

    python benchmarks/accuracy.py [--json F] [--datasets NAME ...] [--seeds 0 1 2]
                                  [--set PARAM=VALUE ...] [--models NAME ...]

``--set`` changes a parameter of every GRU (``--set summary=mean``). Jobs run on
both cores, one torch thread each.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, RidgeClassifierCV, RidgeCV
from sklearn.metrics import r2_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_mtgru import (
    MultiTaskGRUClassifier,
    MultiTaskGRURegressor,
    MultiTaskGRUTagger,
    SequenceScaler,
    sliding_windows,
)
from sk_mtgru.datasets import load_watch, make_multitask_sequences

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from watch_demo import (  # noqa: E402
    TRAIN_SHARE,
    WIDTH,
    downsample,
    part_probabilities,
    summary_statistics,
)

GRU_MODELS = ("multi-task GRU", "single-task GRUs")
# Not run by default (name them with --models): candidates for the defaults.
CANDIDATES = ("grouped GRU (auto)",)
BASELINES = (
    "logistic regression",
    "random forest",
    "MiniRocket",
    "ridge",
    "training mean",
)
REGRESSION_ONLY = ("ridge", "training mean")


@dataclass
class Split:
    """One train/test split of a data set: sequences ``(T_i, C)`` and labels."""

    X_train: list
    Y_train: np.ndarray
    X_test: list
    Y_test: np.ndarray
    # What the baselines read, when not X: the watch recordings at 50 Hz.
    B_train: list | None = None
    B_test: list | None = None


@dataclass
class Problem:
    name: str
    tasks: list[str]
    splits: dict  # seed -> list of Split
    window: int | None = None  # GRUs train on windows of this many steps
    crop: int | None = None  # GRUs train on whole sequences with this crop_length
    per_step: bool = False
    fixed_split: bool = False  # the same split for every seed (seeds: the GRUs')
    regression: bool = False  # values, scored by R² (and RMSE)


# ------------------------------------------------------------------ data sets
def _watch_splits(Y: np.ndarray, folds):
    """Per seed, the watch data's splits for ``folds(seed)``'s (train, test)
    indices: 10 Hz recordings for the GRUs, the 50 Hz ones for the baselines."""
    raw = load_watch().data
    X = [downsample(x) for x in raw]
    return lambda seed: [
        Split(
            [X[i] for i in tr],
            Y[tr],
            [X[i] for i in te],
            Y[te],
            [raw[i] for i in tr],
            [raw[i] for i in te],
        )
        for tr, te in folds(seed)
    ]


def watch_recording(seeds) -> Problem:
    watch = load_watch()
    Y = watch.target

    def folds(seed):
        stratified = StratifiedKFold(5, shuffle=True, random_state=seed)
        return stratified.split(np.zeros(len(Y)), Y[:, 0])

    split = _watch_splits(Y, folds)
    splits = {seed: split(seed) for seed in seeds}
    return Problem("watch-recording", list(watch.target_names), splits, WIDTH)


def watch_participant(seeds) -> Problem:
    """Leave participants out: 5 folds of 2 of the 10 subjects (a new draw of the
    pairs per seed); tasks exercise and side (a held-out subject cannot be named)."""
    watch = load_watch()
    names = list(watch.target_names)
    Y = watch.target[:, [names.index("exercise"), names.index("side")]]
    subjects = watch.target[:, names.index("subject")]

    def folds(seed):
        order = np.random.default_rng(seed).permutation(np.unique(subjects))
        for held_out in np.array_split(order, 5):
            test = np.isin(subjects, held_out)
            yield np.flatnonzero(~test), np.flatnonzero(test)

    split = _watch_splits(Y, folds)
    splits = {seed: split(seed) for seed in seeds}
    return Problem("watch-participant", ["exercise", "side"], splits, WIDTH)


def watch_recording_crops(seeds) -> Problem:
    problem = watch_recording(seeds)
    problem.name, problem.window, problem.crop = "watch-recording-crops", None, WIDTH
    return problem


def watch_time(seeds) -> Problem:
    watch = load_watch()
    cuts = [int(TRAIN_SHARE * len(x)) for x in watch.data]  # as the demo cuts
    head = [x[:c] for x, c in zip(watch.data, cuts)]
    tail = [x[c:] for x, c in zip(watch.data, cuts)]
    split = Split(
        [downsample(x) for x in head],
        watch.target,
        [downsample(x) for x in tail],
        watch.target,
        head,
        tail,
    )
    return Problem(
        "watch-time",
        list(watch.target_names),
        {seed: [split] for seed in seeds},
        WIDTH,
        fixed_split=True,
    )


def aeon_set(name: str, regression: bool = False):
    """A data set aeon bundles, on its own train/test split: one task, classes
    (``load_classification``) or values (``load_regression``)."""

    def load(seeds) -> Problem:
        from aeon.datasets import load_classification, load_regression

        parts = []
        for which in ("train", "test"):
            loader = load_regression if regression else load_classification
            X, y = loader(name, split=which)
            X = [np.asarray(x, dtype=np.float32).T for x in X]  # (T, C)
            y = np.asarray(y, dtype=float) if regression else np.asarray(y)
            parts += [X, y[:, None]]
        return Problem(
            name,
            ["target" if regression else "class"],
            {seed: [Split(*parts)] for seed in seeds},
            fixed_split=True,
            regression=regression,
        )

    return load


def synthetic(relatedness: float, name: str, n_train: int = 400):
    def load(seeds) -> Problem:
        splits = {}
        for seed in seeds:
            X, Y = make_multitask_sequences(
                800,
                n_tasks=3,
                length=(20, 60),
                noise=1.0,
                task_relatedness=relatedness,
                random_state=100 + seed,
            )
            splits[seed] = [Split(X[:n_train], Y[:n_train], X[400:], Y[400:])]
        return Problem(name, ["task_0", "task_1", "task_2"], splits)

    return load


def streams(seeds) -> Problem:
    splits = {}
    for seed in seeds:
        X, Y = make_multitask_sequences(
            300,
            n_tasks=2,
            length=(40, 120),
            per_step=True,
            segment_length=(5, 30),
            random_state=200 + seed,
        )
        splits[seed] = [Split(X[:150], Y[:150], X[150:], Y[150:])]
    return Problem("streams", ["task_0", "task_1"], splits, per_step=True)


DATASETS = {
    "watch-recording": watch_recording,
    "watch-recording-crops": watch_recording_crops,
    "watch-participant": watch_participant,
    "watch-time": watch_time,
    "BasicMotions": aeon_set("BasicMotions"),
    "JapaneseVowels": aeon_set("JapaneseVowels"),
    "GunPoint": aeon_set("GunPoint"),
    "ItalyPowerDemand": aeon_set("ItalyPowerDemand"),
    "ArrowHead": aeon_set("ArrowHead"),
    "Covid3Month": aeon_set("Covid3Month", regression=True),
    "CardanoSentiment": aeon_set("CardanoSentiment", regression=True),
    "synthetic-related": synthetic(0.9, "synthetic-related"),
    "synthetic-unrelated": synthetic(0.0, "synthetic-unrelated"),
    "streams": streams,
    **{
        f"synthetic-{kind}-n{n}": synthetic(r, f"synthetic-{kind}-n{n}", n)
        for n in (50, 200)
        for kind, r in (("related", 0.9), ("unrelated", 0.0))
    },
}


# --------------------------------------------------------------------- models
def _resample(X: list, length: int) -> np.ndarray:
    """(n, C, length) for MiniRocket: each channel linearly interpolated."""
    out = np.empty((len(X), X[0].shape[1], length))
    grid = np.linspace(0, 1, length)
    for i, x in enumerate(X):
        source = np.linspace(0, 1, len(x))
        for c in range(x.shape[1]):
            out[i, c] = np.interp(grid, source, x[:, c])
    return out


def _gru_predict_proba(model, X: list, window: int | None, n_outputs: int):
    """Per task, the class probabilities of each sequence (mean over windows)."""
    if window is None:
        proba = model.predict_proba(X)
        return [proba] if n_outputs == 1 else proba
    return part_probabilities(model, X, window)


def fit_gru(problem: Problem, split: Split, tasks: list[int], seed: int, overrides):
    """Fit a GRU model on ``tasks`` (column indices); accuracy of each."""
    Y_train = split.Y_train[:, tasks] if not problem.per_step else None
    X_train = split.X_train
    if problem.window is not None:
        X_train, Y_train, _ = sliding_windows(
            split.X_train, Y_train, width=problem.window, step=problem.window
        )
    if problem.per_step:
        Y_train = [y[:, tasks] for y in split.Y_train]
        accepted = MultiTaskGRUTagger().get_params()
        overrides = {k: v for k, v in overrides.items() if k in accepted}
        estimator = MultiTaskGRUTagger(random_state=seed, **overrides)
    elif problem.regression:
        estimator = MultiTaskGRURegressor(random_state=seed, **overrides)
    else:
        if problem.crop is not None:
            overrides = {"crop_length": problem.crop} | overrides
        estimator = MultiTaskGRUClassifier(random_state=seed, **overrides)
    single = len(tasks) == 1
    if single:
        Y_train = [y[:, 0] for y in Y_train] if problem.per_step else Y_train[:, 0]
    model = make_pipeline(SequenceScaler(), estimator)
    start = time.perf_counter()
    model.fit(X_train, Y_train)
    fit_time = time.perf_counter() - start
    extra = {}
    if problem.window is None and problem.crop is None:  # sequences as trained on
        extra["train"] = float(model.score(X_train, Y_train))
    if problem.regression:
        pred = model.predict(split.X_test).reshape(len(split.X_test), -1)
        scores = [r2_score(split.Y_test[:, k], pred[:, j]) for j, k in enumerate(tasks)]
        extra["rmse"] = [
            _rmse(split.Y_test[:, k], pred[:, j]) for j, k in enumerate(tasks)
        ]
        return scores, fit_time, int(model[-1].n_iter_), extra
    if problem.per_step:
        pred = model.predict(split.X_test)
        accuracies = []
        for j, k in enumerate(tasks):
            truth = np.concatenate([y[:, k] for y in split.Y_test])
            guess = np.concatenate([p if p.ndim == 1 else p[:, j] for p in pred])
            accuracies.append(float(np.mean(truth == guess)))
    else:
        proba = _gru_predict_proba(model, split.X_test, problem.window, len(tasks))
        classes = [model[-1].classes_] if single else model[-1].classes_
        accuracies = [
            float(np.mean(c[p.argmax(axis=1)] == split.Y_test[:, k]))
            for p, c, k in zip(proba, classes, tasks)
        ]
    return accuracies, fit_time, int(model[-1].n_iter_), extra


def _rmse(truth: np.ndarray, guess: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(truth) - np.asarray(guess)) ** 2)))


def _step_features(x: np.ndarray) -> np.ndarray:
    """Each step's features and centred moving means over 9 and 31 steps."""
    columns = [x]
    for width in (9, 31):
        kernel = np.ones(width) / width
        pad = np.pad(x, ((width // 2, width // 2), (0, 0)), mode="edge")
        columns.append(
            np.column_stack(
                [
                    np.convolve(pad[:, c], kernel, mode="valid")
                    for c in range(x.shape[1])
                ]
            )
        )
    return np.hstack(columns)


def _minirocket_features(split: Split, seed: int):
    """MiniRocket's features of the training and test sequences (resampled to one
    length of at most 512 steps)."""
    from aeon.transformations.collection.convolution_based import MiniRocket

    length = int(min(512, max(16, max(len(x) for x in split.X_train))))
    transform = MiniRocket(random_state=seed, n_jobs=1)
    F_train = transform.fit_transform(_resample(split.X_train, length))
    return F_train, transform.transform(_resample(split.X_test, length))


def fit_baseline(problem: Problem, split: Split, model: str, seed: int):
    n_tasks = len(problem.tasks)
    if (model in REGRESSION_ONLY) != problem.regression and model != "MiniRocket":
        if not (problem.regression and model == "random forest"):
            return None  # logistic regression on values, ridge on classes
    start = time.perf_counter()
    if split.B_train is not None:
        split = Split(split.B_train, split.Y_train, split.B_test, split.Y_test)
    if problem.per_step:
        if model != "logistic regression":
            return None
        F_train = np.vstack([_step_features(x) for x in split.X_train])
        F_test = np.vstack([_step_features(x) for x in split.X_test])
        Y_train = np.vstack(split.Y_train)
        Y_test = np.vstack(split.Y_test)
        accuracies = []
        for k in range(n_tasks):
            clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
            clf.fit(F_train, Y_train[:, k])
            accuracies.append(float(np.mean(clf.predict(F_test) == Y_test[:, k])))
        return accuracies, time.perf_counter() - start, 0, {}
    if problem.regression:
        return _fit_regression_baseline(split, model, seed, n_tasks, start)
    if model == "MiniRocket":
        F_train, F_test = _minirocket_features(split, seed)
        make = lambda: make_pipeline(  # noqa: E731
            StandardScaler(), RidgeClassifierCV(alphas=np.logspace(-3, 3, 10))
        )
    else:
        F_train = np.stack([summary_statistics(x) for x in split.X_train])
        F_test = np.stack([summary_statistics(x) for x in split.X_test])
        if model == "logistic regression":
            make = lambda: make_pipeline(  # noqa: E731
                StandardScaler(), LogisticRegression(max_iter=5000)
            )
        else:
            make = lambda: RandomForestClassifier(  # noqa: E731
                n_estimators=300, random_state=seed, n_jobs=1
            )
    accuracies = []
    for k in range(n_tasks):
        clf = make().fit(F_train, split.Y_train[:, k])
        accuracies.append(float(np.mean(clf.predict(F_test) == split.Y_test[:, k])))
    return accuracies, time.perf_counter() - start, 0, {}


def _fit_regression_baseline(split: Split, model: str, seed: int, n_tasks, start):
    """R² and RMSE of a baseline regressor per task."""
    if model == "MiniRocket":
        F_train, F_test = _minirocket_features(split, seed)
    else:
        F_train = np.stack([summary_statistics(x) for x in split.X_train])
        F_test = np.stack([summary_statistics(x) for x in split.X_test])
    scores, rmse = [], []
    for k in range(n_tasks):
        y = split.Y_train[:, k]
        if model == "training mean":
            guess = np.full(len(split.X_test), y.mean())
        elif model == "random forest":
            forest = RandomForestRegressor(
                n_estimators=300, random_state=seed, n_jobs=1
            )
            guess = forest.fit(F_train, y).predict(F_test)
        else:  # ridge on statistics, or on MiniRocket's features
            ridge = make_pipeline(
                StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 10))
            )
            guess = ridge.fit(F_train, y).predict(F_test)
        scores.append(float(r2_score(split.Y_test[:, k], guess)))
        rmse.append(_rmse(split.Y_test[:, k], guess))
    return scores, time.perf_counter() - start, 0, {"rmse": rmse}


def run_job(problem: Problem, seed: int, index: int, model: str, task, overrides):
    import torch

    torch.set_num_threads(1)
    split = problem.splits[seed][index]
    if model == "multi-task GRU":
        result = fit_gru(
            problem, split, list(range(len(problem.tasks))), seed, overrides
        )
    elif model == "grouped GRU (auto)":
        if problem.per_step:  # the tagger's tasks share one network
            return problem.name, seed, index, model, task, None
        auto = overrides | {"task_groups": "auto"}
        result = fit_gru(problem, split, list(range(len(problem.tasks))), seed, auto)
    elif model == "single-task GRUs":
        result = fit_gru(problem, split, [task], seed, overrides)
    else:
        result = fit_baseline(problem, split, model, seed)
    return problem.name, seed, index, model, task, result


# ------------------------------------------------------------------ reporting
def _cell(values: list[float]) -> str:
    if not values:
        return "—"
    if len(values) == 1:  # one split, one run: no spread to show
        return f"{values[0]:.3f}        "
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def report(problems, results, models) -> dict:
    table = {}
    lines = []
    for problem in problems:
        per_model = {}
        for model in models:
            rows = [r for r in results if r[0] == problem.name and r[3] == model]
            rows = [r for r in rows if r[5] is not None]
            if not rows:
                continue
            by_split: dict = {}
            times: dict = {}
            epochs = []
            train, rmse = [], []
            for _, seed, index, _, task, (acc, fit_time, n_iter, extra) in rows:
                key = (seed, index)
                if model == "single-task GRUs":
                    by_split.setdefault(key, [np.nan] * len(problem.tasks))[task] = acc[
                        0
                    ]
                else:
                    by_split[key] = acc
                times[key] = times.get(key, 0.0) + fit_time
                epochs.append(n_iter)
                if "train" in extra:
                    train.append(extra["train"])
                rmse += extra.get("rmse", [])
            accuracy = np.array(list(by_split.values()))
            per_model[model] = {
                "accuracy": accuracy.tolist(),
                "fit_time": list(times.values()),
                "epochs": epochs,
                **({"train": train} if train else {}),
                **({"rmse": rmse} if rmse else {}),
            }
        single = per_model.get("single-task GRUs")
        deltas = {}
        for name in ("multi-task GRU", *CANDIDATES):
            multi = per_model.get(name)
            if multi and single and len(problem.tasks) > 1:
                # From the mean accuracies over the splits: a per-split ratio
                # explodes where a single-task accuracy is near 0 (the subjects).
                m = np.mean(multi["accuracy"], axis=0)
                s = np.mean(single["accuracy"], axis=0)
                deltas[name] = float(100 * np.mean((m - s) / s))
        delta = deltas.get("multi-task GRU")
        table[problem.name] = {
            "tasks": problem.tasks,
            "models": per_model,
            "delta_m": delta,
            **({"delta_m_candidates": deltas} if len(deltas) > 1 else {}),
        }
        n_splits = len(next(iter(per_model.values()))["accuracy"]) if per_model else 0
        lines.append(
            f"\n## {problem.name}: {n_splits} split(s); mean ± std over them"
            + (" (per-step accuracy)" if problem.per_step else "")
            + (" (R²; RMSE of all tasks)" if problem.regression else "")
        )
        width = max(len(m) for m in per_model)
        header = f"{'model':<{width}}  " + "  ".join(f"{t:>13}" for t in problem.tasks)
        extra_columns = ["rmse"] if problem.regression else []
        if any("train" in entry for entry in per_model.values()):
            extra_columns.append("train")
        lines.append(
            header
            + f"  {'mean':>13}"
            + "".join(f"  {c:>13}" for c in extra_columns)
            + f"  {'fit s':>7}  {'epochs':>6}"
        )
        for model, entry in per_model.items():
            a = np.array(entry["accuracy"])
            cells = [_cell(a[:, k].tolist()) for k in range(a.shape[1])]
            cells.append(_cell(a.mean(axis=1).tolist()))
            cells += [_cell(entry.get(c, [])) for c in extra_columns]
            lines.append(
                f"{model:<{width}}  "
                + "  ".join(f"{c:>13}" for c in cells)
                + f"  {np.mean(entry['fit_time']):>7.1f}"
                + (
                    f"  {np.mean(entry['epochs']):>6.0f}"
                    if model in GRU_MODELS + CANDIDATES
                    else ""
                )
            )
        for name, value in deltas.items():
            which = "multi-task" if name == "multi-task GRU" else name
            lines.append(f"Δm ({which} vs single-task, from the means): {value:+.2f} %")
    return table, lines


def main(args) -> None:
    start = time.perf_counter()
    overrides = dict(_parse(item) for item in args.set)
    problems = [DATASETS[name](tuple(args.seeds)) for name in args.datasets]
    if args.window is not None:
        for problem in problems:
            if problem.window is not None:
                problem.window = args.window or None
    jobs = []
    for problem in problems:
        for seed in args.seeds:
            for index in range(len(problem.splits[seed])):
                for model in args.models:
                    # On a fixed split, the baselines run once; with crops, they
                    # are those of the same splits without.
                    if model in BASELINES and problem.crop is not None:
                        continue
                    if model in BASELINES and seed != args.seeds[0]:
                        if problem.fixed_split:
                            continue
                    tasks = (
                        range(len(problem.tasks))
                        if model == "single-task GRUs" and len(problem.tasks) > 1
                        else [0]
                    )
                    if model != "multi-task GRU" and len(problem.tasks) == 1:
                        if model in GRU_MODELS + CANDIDATES:
                            continue  # the multi-task model is the single-task one
                    for task in tasks:
                        jobs.append((problem, seed, index, model, task))
    # The longest jobs first, so that both workers finish together.
    jobs.sort(key=lambda j: j[3] not in GRU_MODELS + CANDIDATES)
    results = Parallel(n_jobs=args.n_jobs, verbose=0)(
        delayed(run_job)(problem, seed, index, model, task, overrides)
        for problem, seed, index, model, task in jobs
    )
    table, lines = report(problems, results, args.models)
    total = time.perf_counter() - start
    text = "\n".join(
        [f"# accuracy suite: seeds {list(args.seeds)}, GRU overrides {overrides}"]
        + lines
        + [f"\ntotal: {total:.0f} s on {args.n_jobs} worker(s)"]
    )
    print(text)
    if args.text is not None:
        args.text.write_text(text + "\n")
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "seeds": list(args.seeds),
                    "overrides": {k: repr(v) for k, v in overrides.items()},
                    "datasets": table,
                    "total_seconds": total,
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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The accuracy suite.")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--text", type=Path, default=None, help="the table, as printed")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument(
        "--models",
        nargs="+",
        default=list(GRU_MODELS + BASELINES),
        choices=list(GRU_MODELS + CANDIDATES + BASELINES),
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument(
        "--window",
        type=int,
        default=None,
        help="GRUs on the watch data train on windows of this many steps "
        "(0: on whole recordings); default 40",
    )
    parser.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE")
    main(parser.parse_args())
    sys.exit(0)
