"""Front ends for shapes: the classifier's convolution settings and statistics on
the univariate sets aeon bundles, against its defaults.

Shape-based series (ArrowHead above all) are where convolution-first methods
lead. This script measures what the estimator's existing front-end parameters
give there, each changed alone from the defaults: a third convolution, wider
filters (9 steps), no striding, the 'rich' input statistics, half the
filters (32: the cheaper front end), dilated stacks (``conv_dilation=2``: each
convolution reads steps twice as far apart as the one before, WaveNet's way to a
wide view at little cost) of 3 and 4 convolutions, and MiniRocket's
random-convolution features as a wide input of the heads (``random_features``,
about 2,000 and 10,000 of them). ``--configs`` runs some rows only (the
defaults always, as the ratios' base). Official
splits; every configuration on the same seeds, interleaved per seed in one
process; test accuracy mean ± std over seeds, training accuracy, median fit time
and its ratio to the defaults'.

    python benchmarks/front_end.py --seeds 0 1 2 > benchmarks/results/front_end.txt
    python benchmarks/front_end.py --configs "random_features=2000" \
        "random_features=10000" > benchmarks/results/front_end_random.txt
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.pipeline import make_pipeline

from sk_mtgru import MultiTaskGRUClassifier, SequenceScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import aeon_set  # noqa: E402

DATASETS = ["ArrowHead", "GunPoint", "ItalyPowerDemand", "PickupGestureWiimoteZ"]
CONFIGS = {
    "defaults": {},
    "conv_layers=3": {"conv_layers": 3},
    "conv_kernel_size=9": {"conv_kernel_size": 9},
    "conv_layers=3, kernel 9": {"conv_layers": 3, "conv_kernel_size": 9},
    "conv_stride=1": {"conv_stride": 1},
    "input_statistics='rich'": {"input_statistics": "rich"},
    "conv_channels=32": {"conv_channels": 32},
    "3 layers dilated ×2": {"conv_layers": 3, "conv_dilation": 2},
    "4 layers dilated ×2": {"conv_layers": 4, "conv_dilation": 2},
    "random_features=2000": {"random_features": 2000},
    "random_features=10000": {"random_features": 10_000},
}


def _load(name: str):
    """The set's sequences (T, C) and labels, as the accuracy suite loads them."""
    split = aeon_set(name)(seeds=(0,)).splits[0][0]
    return split.X_train, split.Y_train[:, 0], split.X_test, split.Y_test[:, 0]


def main(args) -> None:
    for name in args.datasets:
        X_train, y_train, X_test, y_test = _load(name)
        configs = {c: p for c, p in CONFIGS.items() if c in args.configs}
        rows: dict[str, list[tuple[float, float, float]]] = {c: [] for c in configs}
        for seed in args.seeds:
            for config, params in configs.items():  # interleaved per seed
                model = make_pipeline(
                    SequenceScaler(),
                    MultiTaskGRUClassifier(random_state=seed, **params),
                )
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model.fit(X_train, y_train)
                fit = time.perf_counter() - start
                rows[config].append(
                    (model.score(X_test, y_test), model.score(X_train, y_train), fit)
                )
        print(f"\n{name} ({len(X_train)} training series, seeds {args.seeds})")
        print(f"  {'configuration':<26}{'test':>16}{'train':>9}{'fit s':>8}{'×':>6}")
        base = np.median([r[2] for r in rows["defaults"]])
        for config, results in rows.items():
            test, train, fit = (np.asarray(c) for c in zip(*results))
            print(
                f"  {config:<26}{test.mean():>8.3f} ± {test.std():.3f}"
                f"{train.mean():>9.3f}{np.median(fit):>8.1f}"
                f"{np.median(fit) / base:>6.2f}",
                flush=True,
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", default=DATASETS)
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=[])
    arguments = parser.parse_args()
    arguments.configs = ["defaults", *(arguments.configs or list(CONFIGS)[1:])]
    main(arguments)
