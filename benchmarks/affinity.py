"""Does task affinity predict transfer? Pairs of tasks whose relation is known by
construction, each pair's affinity from a warm-up, and what sharing measurably
does to the pair (not a test).

Pairs (two tasks per data set, ``make_multitask_sequences`` unless said):

- ``copy``: the second task is the first one's labels (the same task twice);
- ``related-0.9``, ``related-0.5``: task relatedness 0.9 and 0.5 (tasks read the
  same latent directions to that degree);
- ``unrelated``: relatedness 0 (each task reads its own directions);
- ``noise``: the second task's labels are random (nothing to learn: training it
  can only take the encoder's capacity from the first);
- ``noise-heavy``: the second task is random labels with 5 classes, weighted 3.

Per pair and seed: the warm-up that ``task_groups='auto'`` runs
(:func:`sk_mtgru.model_selection.recommend_task_groups`, lookahead) and the same
warm-up measuring the gradient cosine; the pair's affinity is the mean of the two
off-diagonal entries (the lookahead's each divided by the diagonal entry of its
column, the task's own step: a scale-free figure). Then the default classifier is
fitted on both tasks and on each alone, and Δm (the mean relative gain of the
shared model's test accuracy over the single-task models', in %) is measured
(for the noise pairs, over the real task only). Reported: per pair, mean ± std
over the seeds; over every pair and seed, Spearman's rank correlation of each
affinity with Δm; and the warm-up's cost as a share of the default fit.

``--cost`` measures instead what measuring affinity costs a default fit, on the
standard speed case (1,000 sequences x 50 steps x 8 features, 3 tasks, 3
epochs, one torch thread): ``task_affinity_interval=None``, the
lookahead every 10 batches, and the cosine, interleaved in one process, 3
rounds; fit times as ratios to ``None``.

Run::

    python benchmarks/affinity.py [--seeds 0 1 2 3 4 5] [--text F] [--cost]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from scipy.stats import spearmanr
from sklearn.base import clone

from sk_mtgru import MultiTaskGRUClassifier
from sk_mtgru._grouping import warm_up_affinity
from sk_mtgru.datasets import make_multitask_sequences

N_TRAIN, N_TEST = 80, 1000
PAIRS = ("copy", "related-0.9", "related-0.5", "unrelated", "noise", "noise-heavy")


def pair_data(name: str, seed: int):
    relatedness = {"related-0.9": 0.9, "related-0.5": 0.5}.get(name, 0.0)
    X, Y = make_multitask_sequences(
        N_TRAIN + N_TEST,
        n_tasks=2,
        length=(20, 30),
        task_relatedness=relatedness,
        random_state=seed,
    )
    rng = np.random.default_rng(seed)
    weights = None
    if name == "copy":
        Y[:, 1] = Y[:, 0]
    elif name == "noise":
        Y[:, 1] = rng.integers(0, 3, len(Y))
    elif name == "noise-heavy":
        Y[:, 1] = rng.integers(0, 5, len(Y))
        weights = (1.0, 3.0)
    return X[:N_TRAIN], Y[:N_TRAIN], X[N_TRAIN:], Y[N_TRAIN:], weights


def run(name: str, seed: int) -> dict:
    import torch

    torch.set_num_threads(1)
    X, Y, X_test, Y_test, weights = pair_data(name, seed)
    model = MultiTaskGRUClassifier(random_state=seed, task_weights=weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        lookahead, _ = warm_up_affinity(model, X, Y)
        warm_up = time.perf_counter() - start
        cosine, _ = warm_up_affinity(model, X, Y, measure="cosine")
        start = time.perf_counter()
        shared = clone(model).fit(X, Y)
        fit_time = time.perf_counter() - start
        multi = [
            np.mean(p == Y_test[:, k]) for k, p in enumerate(shared.predict(X_test).T)
        ]
        # the first task is the one that matters: the second is its helper (or
        # its burden); Δm is over both where both are real tasks
        single = []
        for k in range(2):
            alone = MultiTaskGRUClassifier(random_state=seed).fit(X, Y[:, k])
            single.append(np.mean(alone.predict(X_test) == Y_test[:, k]))
    real = [0] if name.startswith("noise") else [0, 1]
    delta = 100 * np.mean([(multi[k] - single[k]) / single[k] for k in real])
    return {
        "pair": name,
        "seed": seed,
        # each entry relative to the task's own (the diagonal): scale-free
        "lookahead": float(
            (lookahead[0, 1] / lookahead[1, 1] + lookahead[1, 0] / lookahead[0, 0]) / 2
        ),
        "cosine": float((cosine[0, 1] + cosine[1, 0]) / 2),
        "delta_m": float(delta),
        "warm_up_share": warm_up / fit_time,
    }


def cost(args) -> None:
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 50, 8)).astype(np.float32)
    Y = np.column_stack([rng.integers(0, k, 1000) for k in (3, 4, 5)])
    settings: dict[str, dict] = {
        "none": {"task_affinity_interval": None},
        "lookahead/10": {},
        "cosine/10": {"task_affinity_measure": "cosine"},
    }
    times: dict[str, list[float]] = {name: [] for name in settings}
    MultiTaskGRUClassifier(max_iter=1).fit(X[:64], Y[:64])  # pay first-use costs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(3):
            for name, params in settings.items():
                model = MultiTaskGRUClassifier(max_iter=3, random_state=0, **params)
                start = time.perf_counter()
                model.fit(X, Y)
                times[name].append(time.perf_counter() - start)
    base = np.array(times["none"])
    lines = ["# fit time with task affinity measured / without (3 interleaved rounds)"]
    for name, values in times.items():
        ratio = np.array(values) / base
        lines.append(
            f"{name:<14} fit {np.mean(values):6.2f} s   ratio {np.mean(ratio):.2f} "
            f"(rounds: {', '.join(f'{r:.2f}' for r in ratio)})"
        )
    text = "\n".join(lines)
    print(text)
    if args.text is not None:
        args.text.write_text(text + "\n")


def main(args) -> None:
    if args.cost:
        return cost(args)
    start = time.perf_counter()
    rows = Parallel(n_jobs=args.n_jobs)(
        delayed(run)(name, seed) for name in PAIRS for seed in args.seeds
    )
    lines = [
        f"# task affinity against transfer: seeds {args.seeds}, {N_TRAIN} training "
        f"and {N_TEST} test sequences per pair; defaults of MultiTaskGRUClassifier",
        "",
        f"{'pair':<12} {'lookahead':>16} {'cosine':>16} {'Δm %':>14}",
    ]
    for name in PAIRS:
        mine = [r for r in rows if r["pair"] == name]

        def cell(key: str, digits: int, rows=mine) -> str:
            values = [r[key] for r in rows]
            return f"{np.mean(values):+.{digits}f} ± {np.std(values):.{digits}f}"

        lines.append(
            f"{name:<12} {cell('lookahead', 3):>16} {cell('cosine', 3):>16} "
            f"{cell('delta_m', 1):>14}"
        )
    deltas = [r["delta_m"] for r in rows]
    for key in ("lookahead", "cosine"):
        rho, p = spearmanr([r[key] for r in rows], deltas)
        lines.append(
            f"\nSpearman's rank correlation of the {key} affinity with Δm over "
            f"{len(rows)} pair-seeds: {rho:+.2f} (p = {p:.3f})"
        )
    share = [r["warm_up_share"] for r in rows]
    lines.append(
        f"\nwarm-up (lookahead) time / default fit time: {np.mean(share):.2f} ± "
        f"{np.std(share):.2f}"
    )
    lines.append(f"total: {time.perf_counter() - start:.0f} s on {args.n_jobs} job(s)")
    text = "\n".join(lines)
    print(text)
    if args.text is not None:
        args.text.write_text(text + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--text", type=Path, default=None)
    parser.add_argument("--cost", action="store_true")
    main(parser.parse_args())
