"""Peak memory of ``fit`` against the size of X.

Each case runs in a fresh process: it builds X, pays the one-off costs of a first fit
on a few sequences, then fits on X and reports, against the size of one float32 copy
of X (what the network trains on):

- ``copies``: the peak of numpy allocations during ``fit`` (tracemalloc), that is the
  copies ``fit`` makes of X: none for a float32 3-D array, one otherwise (for ragged
  input, one zero-padded to the longest sequence);
- ``rss``: the growth of the process's peak resident memory, which adds torch's
  working memory (activations kept for backpropagation, packed batches) and what the
  allocator keeps cached.

Run: ``python benchmarks/memory.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tracemalloc

CASES = [
    # layout, n_sequences, n_timesteps, n_features
    ("3-D float32", 2000, 200, 16),
    ("3-D float64", 2000, 200, 16),
    ("3-D float64", 4000, 200, 16),
    ("ragged float64", 2000, 200, 16),
    ("ragged float64", 4000, 200, 16),
]


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def run_case(layout: str, n: int, length: int, n_features: int) -> dict:
    import numpy as np

    from sk_mtgru import MultiTaskGRUClassifier

    rng = np.random.default_rng(0)
    if layout.startswith("ragged"):
        X = [rng.normal(size=(length - i % 100, n_features)) for i in range(n)]
    else:
        X = rng.normal(size=(n, length, n_features))
        if layout.endswith("float32"):
            X = X.astype(np.float32)
    Y = np.column_stack([np.arange(n) % 3, np.arange(n) % 4])
    params = dict(hidden_size=32, max_iter=1, batch_size=64, random_state=0)
    MultiTaskGRUClassifier(**params).fit(X[:50], Y[:50])  # one-off costs
    before = _rss_bytes()
    tracemalloc.start()
    MultiTaskGRUClassifier(**params).fit(X, Y)
    _, copies = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    float32_size = sum(len(x) for x in X) * n_features * 4
    return {
        "layout": layout,
        "shape": f"{n} x {length} x {n_features}",
        "X_float32_MB": float32_size / 1e6,
        "copies_MB": copies / 1e6,
        "rss_MB": (peak - before) / 1e6,
    }


def main() -> None:
    if len(sys.argv) > 1:  # a child process: one case
        print(json.dumps(run_case(sys.argv[1], *map(int, sys.argv[2:]))))
        return
    header = f"{'layout':<16} {'n x T x F':<16} {'X float32':>10} {'copies':>15} "
    print(header + f"{'rss':>15}")
    for case in CASES:
        out = subprocess.run(
            [sys.executable, __file__, *map(str, case)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        size = r["X_float32_MB"]
        print(
            f"{r['layout']:<16} {r['shape']:<16} {size:>8.1f}MB "
            f"{r['copies_MB']:>7.1f}MB {r['copies_MB'] / size:>5.2f}x "
            f"{r['rss_MB']:>7.1f}MB {r['rss_MB'] / size:>5.2f}x"
        )


if __name__ == "__main__":
    main()
