"""The GRU kernel's routes side by side: torch's, the package's Python loops, the
package's loops compiled in C (``sk_mtgru/_native.py``), the hand-written torch
loop and Keras 3 on JAX -- every one pinned to the same single core.

Each measurement runs in a fresh process, one torch thread, the processes pinned
to CPU 0 (``os.sched_setaffinity``; JAX/XLA told to use one thread as well), and
the implementations alternate over ``--repeats`` rounds: read the ratios.

Rows:

- one batch, forward + backward (64 sequences x 50 steps x 8 features, hidden
  64; and bidirectional, 10-50 steps), per kernel, with the achieved GFLOP/s beside
  a float32 matrix product's on the same core;
- the standard case of ``benchmarks/speed.py`` (4,000 x 50 x 8, 3 tasks, batch
  64, the hand loop's model): seconds per epoch after the first, and the total
  time of a 4-epoch fit -- for the estimator the whole ``fit`` call (checks,
  first epoch, and in the "cold build" row the one-time build of the C loops in
  an empty cache); for the hand loop and Keras the sum of their 4 epochs (Keras's
  first holds XLA's compile);
- the same estimator with its GRU replaced by a stand-in of the same output
  shapes that costs nothing: what the rest of the training step (skorch's loop,
  heads, losses, per-task metrics, optimiser) takes per epoch;
- variable lengths (2,000 x 10-200 steps, ``speed.py``'s ``variable`` case), with
  and without length bucketing: the Python loops run every padded step, the
  compiled ones only the steps of the sequences not yet ended;
- ``GridSearchCV`` of 4 candidates x 3 folds (12 fits of 4 epochs, ``n_jobs=1``):
  its wall time with each route;
- the tagger (bidirectional, hidden 64, 2,000 x 50 x 8, batch 32): seconds per
  epoch after the first.

Run: ``python benchmarks/gru_loops.py [--repeats 3]`` (about 10 minutes; Keras
rows when ``keras`` and ``jax`` are installed).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))

import speed  # noqa: E402  (the standard case, the hand loop, Keras)

ROUTES = {"python loops": "0", "compiled loops": "1"}


def _route(native: str, cache: str | None = None) -> None:
    os.environ["SK_MTGRU_NATIVE"] = native
    if cache is not None:
        os.environ["SK_MTGRU_CACHE"] = cache


def kernels(native: str) -> dict:
    """One batch forward + backward, ms, median of 50 after 10."""
    _route(native)
    torch = speed._setup()
    from sk_mtgru._gru import run_gru

    torch.manual_seed(0)
    result = {}
    for name, bidirectional, lengths in (
        ("forward", False, torch.full((64,), 50)),
        ("bidirectional", True, torch.randint(10, 51, (64,))),
    ):
        gru = torch.nn.GRU(8, 64, batch_first=True, bidirectional=bidirectional)
        x = torch.randn(64, int(lengths.max()), 8)
        kernel = "torch" if native == "torch" else "sk_mtgru"
        times = []
        for repeat in range(60):
            start = time.perf_counter()
            output, top = run_gru(gru, x, lengths, kernel)
            (output.sum() + top.sum()).backward()
            if repeat >= 10:
                times.append(1e3 * (time.perf_counter() - start))
        result[name] = statistics.median(times)
        result[f"{name}_steps"] = int(lengths.sum())
    return result


def fit(native: str, cache: str | None = None) -> dict:
    """The standard case's 4-epoch fit: epochs, the whole fit's wall time, and the
    GRU layer's forward and backward passes per batch (ms, medians)."""
    _route(native, cache)
    speed._setup()
    from sk_mtgru._gru import GRULayerFunction

    sections: dict[str, list[float]] = {"forward": [], "backward": []}
    for name in sections:
        original = getattr(GRULayerFunction, name)

        def timed(ctx, *args, _original=original, _name=name):
            start = time.perf_counter()
            result = _original(ctx, *args)
            sections[_name].append(1e3 * (time.perf_counter() - start))
            return result

        setattr(GRULayerFunction, name, staticmethod(timed))
    X, Y = speed._data("standard")
    n_train = int(0.8 * len(X))
    start = time.perf_counter()
    clf = speed._classifier(task_affinity_interval=None)
    clf.fit(X[:n_train], Y[:n_train])
    return {
        "epochs": list(clf.history_[:, "dur"]),
        "total_s": time.perf_counter() - start,
        **{name: statistics.median(ms) for name, ms in sections.items() if ms},
    }


def without_gru() -> dict:
    """The standard case's epochs with a GRU that costs nothing."""
    _route("1")
    speed._setup()
    import sk_mtgru._module

    def stand_in(gru, x, lengths, kernel="auto"):
        # (batch, steps, hidden) and (1, batch, hidden), still trained (one weight)
        top = x[:, -1, :1] * gru.weight_hh_l0[:, 0][: gru.hidden_size]
        return top[:, None, :].expand(-1, x.shape[1], -1), top[None]

    sk_mtgru._module.run_gru = stand_in
    X, Y = speed._data("standard")
    clf = speed._classifier(task_affinity_interval=None)
    clf.fit(X[: int(0.8 * len(X))], Y[: int(0.8 * len(X))])
    return {"epochs": list(clf.history_[:, "dur"])}


def variable(native: str, bucketing: bool) -> dict:
    _route(native)
    return speed.sk_mtgru_fit(
        "variable", length_bucketing=bucketing, task_affinity_interval=None
    )


def hand(case: str = "standard") -> dict:
    result = speed.hand_loop(case)  # its fit is its epochs, the first included
    return result | {"total_s": sum(result["epochs"])}


def keras(case: str = "standard") -> dict:
    # one thread for XLA as for torch (the process is pinned to one core too)
    os.environ["XLA_FLAGS"] = (
        "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    )
    result = speed.keras_fit(case, "jax")  # the first epoch holds XLA's compile
    return result | {"total_s": sum(result["epochs"])}


def search(native: str) -> dict:
    _route(native)
    return speed.grid_search(1)


def tagger(native: str) -> dict:
    _route(native)
    speed._setup()
    from tagger_throughput import streams

    from sk_mtgru import MultiTaskGRUTagger

    X, Y = streams()
    model = MultiTaskGRUTagger(
        hidden_size=64,
        batch_size=32,
        max_iter=4,
        learning_rate="constant",
        max_grad_norm=None,
        task_affinity_interval=None,
        random_state=0,
    ).fit(X, Y)
    return {"epochs": list(model.history_[:, "dur"])}


def matmul() -> dict:
    return speed.matmul_peak(1)


def main(repeats: int) -> None:
    os.sched_setaffinity(0, {0})  # inherited by every spawned worker
    run = speed._run
    median = statistics.median
    have_keras = (
        importlib.util.find_spec("keras") is not None
        and importlib.util.find_spec("jax") is not None
    )
    peak = run(matmul)["gflops"]
    routes = {"torch": "torch", **ROUTES}
    batch = {name: [] for name in routes}
    for _ in range(repeats):
        for name, native in routes.items():
            batch[name].append(run(kernels, native))
    print("pinned to CPU 0, one thread; medians over", repeats, "rounds")
    print(f"float32 matrix product: {peak:.0f} GFLOP/s")
    print("\none batch, forward + backward (64 x 50 x 8, hidden 64):")
    for case in ("forward", "bidirectional"):
        steps = batch["torch"][0][f"{case}_steps"]
        directions = 2 if case == "bidirectional" else 1
        # per step and direction: 3 products with the state and the input, and
        # twice that backwards (the state's and the weights' gradients)
        gflop = 3 * 2 * 3 * 64 * (64 + 8) * steps * directions / 1e9
        row = {name: median(r[case] for r in rs) for name, rs in batch.items()}
        cells = ", ".join(
            f"{name} {ms:.2f} ms ({gflop / ms * 1e3:.0f} GFLOP/s)"
            for name, ms in row.items()
        )
        print(
            f"  {case}: {cells}; compiled {row['torch'] / row['compiled loops']:.2f}x "
            f"torch, {row['python loops'] / row['compiled loops']:.2f}x Python loops"
        )

    fits = {
        "hand loop": [],
        **{name: [] for name in ROUTES},
        "compiled, cold build": [],
    }
    if have_keras:
        fits["keras[jax]"] = []
    for _ in range(repeats):
        fits["hand loop"].append(run(hand))
        for name, native in ROUTES.items():
            fits[name].append(run(fit, native))
        with tempfile.TemporaryDirectory() as empty:
            fits["compiled, cold build"].append(run(fit, "1", empty))
        if have_keras:
            fits["keras[jax]"].append(run(keras))
    floor = speed._median_epoch(fits["hand loop"])
    floor_total = median(r["total_s"] for r in fits["hand loop"])
    gru_gflop = 3 * 3 * 2 * (8 * 64 + 64 * 64) * 3200 * 50 / 1e9
    print("\nstandard case, seconds per epoch after the first / whole 4-epoch fit:")
    for name, rs in fits.items():
        epoch, total = speed._median_epoch(rs), median(r["total_s"] for r in rs)
        print(
            f"  {name:<22}{epoch:>7.3f} ({epoch / floor:.2f}){total:>8.2f} s "
            f"({total / floor_total:.2f})  GRU at most {gru_gflop / epoch:.0f} GFLOP/s"
            " over the epoch"
        )

    rest = [run(without_gru) for _ in range(repeats)]
    rest_epoch = speed._median_epoch(rest)
    batches = 3200 / speed.BATCH
    print(
        f"  without the GRU (a stand-in){rest_epoch:>7.3f}: the rest of the "
        f"training step, {rest_epoch / batches * 1e3:.1f} ms a batch"
    )
    print("  per batch, the GRU layer's passes inside the fit (ms):")
    for name in ROUTES:
        epoch = speed._median_epoch(fits[name])
        forward = median(r["forward"] for r in fits[name])
        backward = median(r["backward"] for r in fits[name])
        print(
            f"    {name}: forward {forward:.2f}, backward {backward:.2f}, of "
            f"{epoch / batches * 1e3:.1f} a batch"
        )

    lengths = {(name, b): [] for name in ROUTES for b in (False, True)}
    for _ in range(repeats):
        for name, native in ROUTES.items():
            for bucketing in (False, True):
                lengths[name, bucketing].append(run(variable, native, bucketing))
    print("\nvariable lengths (2,000 x 10-200 steps), seconds per epoch:")
    for bucketing in (False, True):
        py, c = (speed._median_epoch(lengths[n, bucketing]) for n in ROUTES)
        print(
            f"  {'with' if bucketing else 'without'} length bucketing: python loops "
            f"{py:.3f}, compiled loops {c:.3f} ({py / c:.2f}x)"
        )

    searches = {name: [] for name in ROUTES}
    for _ in range(repeats):
        for name, native in ROUTES.items():
            searches[name].append(run(search, native)["seconds"])
    print(
        "\nGridSearchCV, 12 fits of 4 epochs, n_jobs=1: "
        + ", ".join(f"{name} {median(s):.1f} s" for name, s in searches.items())
    )

    taggers = {name: [] for name in ROUTES}
    for _ in range(repeats):
        for name, native in ROUTES.items():
            taggers[name].append(run(tagger, native))
    t = {name: speed._median_epoch(rs) for name, rs in taggers.items()}
    print(
        f"\ntagger (bidirectional), seconds per epoch: python loops "
        f"{t['python loops']:.3f}, compiled loops {t['compiled loops']:.3f} "
        f"({t['python loops'] / t['compiled loops']:.2f}x)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    main(parser.parse_args().repeats)
