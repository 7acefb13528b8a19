"""The figure behind each default: the multi-task model with one default changed at
a time, on a cheaper part of the accuracy suite (not a test).

Each row changes the defaults as it says (``old defaults`` restores those of the
first release: no convolutions, the last state, no input statistics, Adam at a
constant 1e-3 without weight decay or clipping, batches of 64, no dropout, 50
epochs). Columns: the mean accuracy over tasks and splits of the multi-task model
(``MultiTaskGRUTagger`` on ``streams``, which takes the training parameters only),
on the data sets and seeds of ``benchmarks/accuracy.py`` given here, and the mean
fit time over all of them. Run::

    python benchmarks/ablations.py [--json F] [--text F] [--seeds 0 1 2]
                                   [--datasets NAME ...] [--variants NAME ...]
                                   [--set PARAM=VALUE ...]

``benchmarks/results/tuning.txt`` holds the rows of the tuning page (hidden size,
layers, private task layers, balancing), run on today's defaults with
``--variants defaults hidden_size=32 ...`` (the full command is on the tuning
page, docs/tuning.rst).

The stored ``benchmarks/results/ablations.txt`` was run on the candidate defaults
before the two changes it led to: ``dropout=0.2`` (now 0) and the tagger's
``max_iter=100`` (now 50); ``--set dropout=0.2 --set max_iter=100`` reruns it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import DATASETS, _parse, run_job  # noqa: E402

VARIANTS = {
    "defaults": {},
    "conv_layers=0": {"conv_layers": 0},
    "summary='mean'": {"summary": "mean"},
    "summary='last'": {"summary": "last"},
    "input_statistics=False": {"input_statistics": False},
    "dropout=0": {"dropout": 0.0},
    "learning_rate='constant'": {"learning_rate": "constant"},
    "max_grad_norm=None": {"max_grad_norm": None},
    "solver='adam', alpha=0": {"solver": "adam", "alpha": 0.0},
    "batch_size=64": {"batch_size": 64},
    "max_iter=50": {"max_iter": 50},
    "sharing='mmoe'": {"sharing": "mmoe"},
    "old defaults": {
        "conv_layers": 0,
        "summary": "last",
        "input_statistics": False,
        "dropout": 0.0,
        "solver": "adam",
        "alpha": 0.0,
        "learning_rate_init": 1e-3,
        "learning_rate": "constant",
        "max_grad_norm": None,
        "batch_size": 64,
        "max_iter": 50,
    },
    # For the tuning page: the sizes, private layers and balancing, which are not
    # defaults to defend but choices a user makes (run with --variants).
    "hidden_size=32": {"hidden_size": 32},
    "hidden_size=128": {"hidden_size": 128},
    "num_layers=2": {"num_layers": 2},
    "task_layers=1": {"task_layers": 1},
    "loss_balancing='uncertainty'": {"loss_balancing": "uncertainty"},
    "loss_balancing='pcgrad'": {"loss_balancing": "pcgrad"},
}
# The rows of results/ablations.txt (the tuning rows are in results/tuning.txt).
DEFAULT_VARIANTS = [
    name
    for name in VARIANTS
    if not name.startswith(
        ("hidden_size", "num_layers", "task_layers", "loss_balancing")
    )
]
DEFAULT_DATASETS = (
    "watch-recording-crops",
    "JapaneseVowels",
    "GunPoint",
    "synthetic-related",
    "streams",
)


def main(args) -> None:
    start = time.perf_counter()
    base = dict(_parse(item) for item in args.set)
    problems = [DATASETS[name](tuple(args.seeds)) for name in args.datasets]
    jobs = [
        (variant, problem, seed, index)
        for variant in args.variants
        for problem in problems
        for seed in args.seeds
        for index in range(len(problem.splits[seed]))
    ]
    results = Parallel(n_jobs=args.n_jobs)(
        delayed(run_job)(
            problem, seed, index, "multi-task GRU", 0, base | VARIANTS[variant]
        )
        for variant, problem, seed, index in jobs
    )
    table: dict = {}
    for (variant, *_), (name, _, _, _, _, (accuracy, fit_time, _)) in zip(
        jobs, results
    ):
        entry = table.setdefault(variant, {}).setdefault(name, {"acc": [], "s": []})
        entry["acc"].append(float(np.mean(accuracy)))
        entry["s"].append(fit_time)
    names = [p.name for p in problems]
    width = max(map(len, args.variants))
    lines = [
        f"# ablations: multi-task model, mean accuracy over tasks and splits, "
        f"seeds {list(args.seeds)}, defaults changed by {base}",
        f"{'variant':<{width}}  "
        + "  ".join(f"{n[:15]:>15}" for n in names)
        + f"  {'fit s':>7}",
    ]
    for variant in args.variants:
        cells = [f"{np.mean(table[variant][n]['acc']):>15.3f}" for n in names]
        seconds = np.mean([s for n in names for s in table[variant][n]["s"]])
        lines.append(f"{variant:<{width}}  " + "  ".join(cells) + f"  {seconds:>7.1f}")
    lines.append(f"\ntotal: {time.perf_counter() - start:.0f} s")
    text = "\n".join(lines)
    print(text)
    if args.text is not None:
        args.text.write_text(text + "\n")
    if args.json is not None:
        args.json.write_text(
            json.dumps({"seeds": list(args.seeds), "results": table}, indent=1)
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="One default changed at a time.")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--text", type=Path, default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", default=list(DEFAULT_DATASETS))
    parser.add_argument("--variants", nargs="+", default=DEFAULT_VARIANTS)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PARAM=VALUE",
        help="change a default under every variant (the stored table: --set "
        "dropout=0.2 --set max_iter=100, the candidate defaults it was run on)",
    )
    main(parser.parse_args())
