"""What each loss-balancing strategy costs per epoch, against static weights.

For 2, 4 and 8 tasks, every strategy trains the same network on the same data for
a few epochs; the figure is the median epoch time after the first, divided by the
static strategy's, measured in the same process with runs interleaved (these
machines are shared and noisy: compare ratios, not seconds). One torch thread.
Task affinity is off in every run but the last column's: static weights with
affinity measured every 10 batches (the default).

Run: ``python benchmarks/balancing.py`` (about seven minutes on 2 cores).
"""

from __future__ import annotations

import statistics
import time

import torch

from sk_mtgru import MultiTaskGRUClassifier
from sk_mtgru.datasets import make_multitask_sequences

STRATEGIES = [
    "static",
    "uncertainty",
    "dwa",
    "rlw",
    "famo",
    "pcgrad",
    "gradnorm",
    "affinity/10",
]
REPEATS = 3


def epoch_seconds(X, Y, strategy: str) -> float:
    affinity = strategy == "affinity/10"
    clf = MultiTaskGRUClassifier(
        hidden_size=64,
        batch_size=64,
        max_iter=4,
        loss_balancing="static" if affinity else strategy,
        task_affinity_interval=10 if affinity else None,
        random_state=0,
    ).fit(X, Y)
    return statistics.median(clf.history_[1:, "dur"])


def main() -> None:
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread; median epoch after the first")
    print(f"{'tasks':>5} " + " ".join(f"{s:>12}" for s in STRATEGIES))
    for n_tasks in (2, 4, 8):
        X, Y = make_multitask_sequences(
            2000, n_tasks=n_tasks, n_classes=3, n_features=8, length=50, random_state=0
        )
        MultiTaskGRUClassifier(hidden_size=8, max_iter=1).fit(X[:64], Y[:64])  # warm up
        times: dict[str, list[float]] = {s: [] for s in STRATEGIES}
        for _ in range(REPEATS):
            for strategy in STRATEGIES:
                times[strategy].append(epoch_seconds(X, Y, strategy))
        base = statistics.median(times["static"])
        cells = [
            f"{statistics.median(times[s]) / base:>6.2f}x"
            + (f" {base:4.2f}s" if s == "static" else "      ")
            for s in STRATEGIES
        ]
        print(f"{n_tasks:>5} " + " ".join(cells))


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"({time.perf_counter() - start:.0f} s)")
