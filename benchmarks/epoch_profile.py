"""What each default costs per epoch: from the hand-written loop's network to every
default, one default added at a time.

The speed suite's standard case (4,000 sequences x 50 steps x 8 features, three
tasks; 3,200 train), one torch thread, every run in a fresh process, the rows
interleaved ``--repeats`` times; seconds per epoch are medians after the first
epoch, ratios against the hand-written loop (``benchmarks/speed.py``: ``nn.GRU``,
its last state, a linear head per task, Adam, batches of 64). Each row adds one
default to the row above it, so the differences between rows are what the
defaults cost; the last row is ``MultiTaskGRUClassifier()`` with every default
but ``max_iter`` (the accuracy each default buys is in
``benchmarks/results/ablations.txt``).

    python benchmarks/epoch_profile.py > benchmarks/results/epoch_profile.txt
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import (  # noqa: E402
    BATCH,
    EPOCHS,
    HAND_LOOP_MODEL,
    _data,
    _run,
    _setup,
    _train_part,
    hand_loop,
)

# Each step adds these parameters to the ones before it.
STEPS = [
    ("estimator, the hand loop's network", HAND_LOOP_MODEL | {"batch_size": BATCH}),
    ("+ batches of 32 ('auto' here)", {"batch_size": "auto"}),
    (
        "+ AdamW 3e-3, one-cycle, clipping",
        {
            "solver": "adamw",
            "alpha": 1e-2,
            "learning_rate_init": 3e-3,
            "learning_rate": "one_cycle",
            "max_grad_norm": 1.0,
            "n_iter_no_change": 10,
        },
    ),
    ("+ mean and max pooling", {"summary": "mean_max"}),
    ("+ input statistics", {"input_statistics": True}),
    ("+ convolutional front end = defaults", {"conv_layers": 2}),
]


def estimator_epochs(case: str, params: dict) -> dict:
    from sk_mtgru import MultiTaskGRUClassifier

    _setup()
    X, Y = _train_part(*_data(case))
    clf = MultiTaskGRUClassifier(max_iter=EPOCHS, random_state=0, **params)
    clf.fit(X, Y)
    return {"epochs": list(clf.history_[:, "dur"])}


def main(repeats: int) -> None:
    rows: list[tuple[str, dict]] = []
    params: dict = {}
    for name, added in STEPS:
        params = params | added
        rows.append((name, dict(params)))
    from sk_mtgru import MultiTaskGRUClassifier

    defaults = MultiTaskGRUClassifier().get_params()
    assert all(defaults[k] == v for k, v in params.items()), "the last row differs"
    runs: dict[str, list[float]] = {"hand loop": []} | {n: [] for n, _ in rows}
    for _ in range(repeats):  # interleaved: every row once per round
        runs["hand loop"] += _run(hand_loop, "standard")["epochs"][1:]
        for name, row_params in rows:
            runs[name] += _run(estimator_epochs, "standard", row_params)["epochs"][1:]
    floor = statistics.median(runs["hand loop"])
    print(
        f"standard case, 1 thread, {repeats} rounds: seconds per epoch (median "
        "after the first)"
    )
    print(f"{'':<40}{'epoch':>8}{'× hand loop':>13}{'step':>8}")
    before = None
    for name, times in runs.items():
        epoch = statistics.median(times)
        step = "" if before is None else f"{epoch - before:+.3f}"
        print(f"{name:<40}{epoch:>8.3f}{epoch / floor:>13.2f}{step:>8}")
        before = epoch if name != "hand loop" else None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    main(parser.parse_args().repeats)
