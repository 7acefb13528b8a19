"""Fits side by side on one machine: what torch's threads cost (not a test).

1, 2 and 4 fits run at once, each in its own process, started together; each is a
default ``MultiTaskGRUClassifier`` (3 tasks, 140 sequences of 30 to 60 steps x 6
features, 10 epochs). Settings: ``n_threads='auto'`` (the default: one thread for
networks this size), ``n_threads=1``, ``n_threads=2``, and ``n_threads=None``
(torch's own setting, one thread per core: the package before ``n_threads``).
The settings are interleaved, 3 rounds; reported: the mean seconds per fit and
its ratio to the best setting at that concurrency.

Run::

    python benchmarks/threads.py [--text F] [--rounds 3]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
import warnings
from pathlib import Path

import numpy as np

SETTINGS = {"auto (default)": "auto", "1 thread": 1, "2 threads": 2, "torch's": None}


def _fit(n_threads, barrier, results) -> None:
    import torch

    from sk_mtgru import MultiTaskGRUClassifier
    from sk_mtgru.datasets import make_multitask_sequences

    X, Y = make_multitask_sequences(
        140, n_tasks=3, n_features=6, length=(30, 60), random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MultiTaskGRUClassifier(max_iter=1).fit(X[:32], Y[:32])  # first-use costs
        barrier.wait()
        start = time.perf_counter()
        MultiTaskGRUClassifier(max_iter=10, random_state=0, n_threads=n_threads).fit(
            X, Y
        )
    results.put((time.perf_counter() - start, torch.get_num_threads()))


def run(n_threads, n_concurrent: int) -> list[float]:
    context = mp.get_context("spawn")
    barrier = context.Barrier(n_concurrent)
    results = context.Queue()
    processes = [
        context.Process(target=_fit, args=(n_threads, barrier, results))
        for _ in range(n_concurrent)
    ]
    for process in processes:
        process.start()
    times = [results.get()[0] for _ in processes]
    for process in processes:
        process.join()
    return times


def main(args) -> None:
    times: dict = {}
    for _ in range(args.rounds):
        for n in (1, 2, 4):
            for name, value in SETTINGS.items():
                times.setdefault((n, name), []).extend(run(value, n))
    lines = [
        f"# seconds per fit with 1, 2 and 4 fits at once ({args.rounds} rounds, "
        "interleaved); ratio to the best setting at that concurrency"
    ]
    for n in (1, 2, 4):
        means = {name: float(np.mean(times[(n, name)])) for name in SETTINGS}
        best = min(means.values())
        lines.append(f"\n{n} fit(s) at once")
        for name, mean in means.items():
            spread = np.std(times[(n, name)])
            lines.append(
                f"  {name:<16} {mean:6.2f} ± {spread:4.2f} s   x{mean / best:.2f}"
            )
    text = "\n".join(lines)
    print(text)
    if args.text is not None:
        args.text.write_text(text + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--text", type=Path, default=None)
    main(parser.parse_args())
