"""Speed of MultiTaskGRUClassifier against what a user would otherwise run.

Every measurement runs in a fresh process (one at a time, one torch thread unless
said otherwise), and implementations alternate over ``--repeats`` rounds: these
machines are shared and noisy, so read the ratios, measured side by side, rather
than the seconds. Figures are medians of the epochs after the first.

Cases
-----
- ``standard``: 4,000 sequences x 50 steps x 8 features; 3 tasks of 3, 4 and 5
  classes; GRU hidden size 64; batch 64; Adam, learning rate 1e-3.
- ``8 tasks``: the same with 8 tasks of 3 classes.
- ``variable``: 2,000 sequences of 10 to 200 steps (and the watch recordings at
  10 Hz, 189 to 523 steps), with and without length bucketing.

Implementations
---------------
- ``hand loop``: ``nn.GRU`` + one ``nn.Linear`` per task, a shuffled index sliced
  into batches of preloaded tensors, Adam -- the floor.
- ``sk_mtgru``: ``MultiTaskGRUClassifier`` on the hand loop's network and training
  (``HAND_LOOP_MODEL`` below; per-task metrics each batch, the package's GRU
  kernel) with task affinity every 10 batches (``task_affinity_interval=10``,
  the default when these figures were stored), without it (today's default), and
  with ``gru_kernel='torch'`` (``nn.GRU``'s own backward pass) as well. What the
  estimator's accuracy defaults add per epoch: ``benchmarks/epoch_profile.py``.
- ``MultiOutputClassifier``: scikit-learn's ``MultiOutputClassifier`` of one
  single-task GRU classifier per task (the package's estimator given one column,
  with ``gru_kernel='torch'``: a skorch net around ``nn.GRU``, which is what a user
  has without this package): three GRUs read every sequence. Again with the
  package's kernel (``gru_kernel='auto'``), which splits the multi-task model's
  gain into what sharing gives and what the kernel gives. Also: how long the
  multi-task model takes to reach the same held-out accuracy, fitting one epoch
  at a time.
- ``keras[torch]``, ``keras[jax]``: the design's Keras 3 functional model (GRU ->
  one softmax Dense per task, compiled with ``loss_weights``), when ``keras`` (and
  ``jax``) are installed: ``pip install -e ".[bench]"``. Skipped otherwise.

Also: the GRU kernels alone (forward + backward of one batch, ``nn.GRU`` against
the package's), predict throughput on 10,000 sequences against the bare torch
module, the latency of one sequence, ``GridSearchCV(n_jobs=2)`` against
``n_jobs=1``, peak memory (resident set growth of the measuring process), and the
GRU's achieved GFLOP/s beside a float32 matrix product's on the same machine.

Run: ``make bench`` or ``python benchmarks/speed.py [--repeats 3] [--json F]``
(about 15 minutes on 2 cores with 3 repeats, Keras included).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np

HIDDEN, BATCH, EPOCHS, LR = 64, 64, 4, 1e-3


# ----------------------------------------------------------------- the workers
def _setup(threads: int = 1):
    import torch

    torch.set_num_threads(threads)
    torch.optim.Adam(torch.nn.Linear(1, 1).parameters())  # pay the first Adam's ~1 s
    return torch


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _data(case: str):
    from sk_mtgru.datasets import load_watch, make_multitask_sequences

    if case == "standard":
        return make_multitask_sequences(
            4000,
            n_tasks=3,
            n_classes=[3, 4, 5],
            n_features=8,
            length=50,
            random_state=0,
        )
    if case == "8 tasks":
        return make_multitask_sequences(
            4000, n_tasks=8, n_classes=3, n_features=8, length=50, random_state=0
        )
    if case == "variable":
        return make_multitask_sequences(
            2000,
            n_tasks=3,
            n_classes=[3, 4, 5],
            n_features=8,
            length=(10, 200),
            noise=0.3,
            random_state=0,
        )
    if case == "watch":
        watch = load_watch()
        X = [x[: len(x) // 5 * 5].reshape(-1, 5, 6).mean(axis=1) for x in watch.data]
        return X, watch.target
    raise ValueError(case)


def _train_part(X, Y):
    """The first 80 %: what every implementation trains on (the rest scores)."""
    n_train = int(0.8 * len(X))
    return X[:n_train], Y[:n_train]


def hand_loop(case: str) -> dict:
    torch = _setup()
    X, Y = _train_part(*_data(case))
    base = _rss_mb()
    n_classes = [int(Y[:, k].max()) + 1 for k in range(Y.shape[1])]
    X_t, Y_t = torch.from_numpy(X), torch.from_numpy(Y)
    torch.manual_seed(0)
    gru = torch.nn.GRU(X.shape[2], HIDDEN, batch_first=True)
    heads = torch.nn.ModuleList(torch.nn.Linear(HIDDEN, k) for k in n_classes)
    params = list(gru.parameters()) + list(heads.parameters())
    optimizer = torch.optim.Adam(params, lr=LR)
    times = []
    for _ in range(EPOCHS):
        start = time.perf_counter()
        for index in torch.randperm(len(X_t)).split(BATCH):
            h = gru(X_t[index])[1][-1]
            y = Y_t[index]
            loss = sum(
                torch.nn.functional.cross_entropy(head(h), y[:, k])
                for k, head in enumerate(heads)
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter() - start)
    return {"epochs": times, "memory_mb": _rss_mb() - base}


# The model and training of the hand-written loop (a GRU, its last state, a linear
# head per task, Adam at a constant rate), not the estimator's accuracy defaults
# (convolutions, pooling, statistics, schedule: see benchmarks/accuracy.py), so
# that every row times the same network.
HAND_LOOP_MODEL = dict(
    conv_layers=0,
    summary="last",
    input_statistics=False,
    dropout=0.0,
    solver="adam",
    alpha=0.0,
    learning_rate="constant",
    max_grad_norm=None,
    n_iter_no_change=10**6,
)


def _classifier(**params):
    from sk_mtgru import MultiTaskGRUClassifier

    defaults = dict(
        hidden_size=HIDDEN,
        batch_size=BATCH,
        max_iter=EPOCHS,
        learning_rate_init=LR,
        random_state=0,
    )
    return MultiTaskGRUClassifier(**(defaults | HAND_LOOP_MODEL | params))


def sk_mtgru_fit(case: str, **params) -> dict:
    _setup()
    X, Y = _data(case)
    base = _rss_mb()
    n_train = int(0.8 * len(X))
    clf = _classifier(**params).fit(X[:n_train], Y[:n_train])
    return {
        "epochs": list(clf.history_[:, "dur"]),
        "memory_mb": _rss_mb() - base,
        "accuracy": clf.score(X[n_train:], Y[n_train:]),
    }


def multi_output(case: str, gru_kernel: str = "torch") -> dict:
    from sklearn.multioutput import MultiOutputClassifier

    _setup()
    X, Y = _data(case)
    base = _rss_mb()
    n_train = int(0.8 * len(X))
    model = MultiOutputClassifier(
        _classifier(task_affinity_interval=None, gru_kernel=gru_kernel)
    )
    model.fit(X[:n_train], Y[:n_train])
    epochs = np.sum([e.history_[:, "dur"] for e in model.estimators_], axis=0)
    accuracy = np.mean(
        [
            np.mean(e.predict(X[n_train:]) == Y[n_train:, k])
            for k, e in enumerate(model.estimators_)
        ]
    )
    return {
        "epochs": epochs.tolist(),
        "memory_mb": _rss_mb() - base,
        "accuracy": float(accuracy),
    }


def time_to_accuracy(case: str, target: float, max_epochs: int = 16) -> dict:
    """Fit time until the held-out mean task accuracy first reaches ``target``."""
    _setup()
    X, Y = _data(case)
    n_train = int(0.8 * len(X))
    classes = [np.unique(Y[:, k]) for k in range(Y.shape[1])]
    clf = _classifier(max_iter=1, task_affinity_interval=None)
    seconds, accuracy = 0.0, 0.0
    for epoch in range(1, max_epochs + 1):
        start = time.perf_counter()
        if epoch == 1:
            clf.fit(X[:n_train], Y[:n_train])
        else:
            clf.partial_fit(X[:n_train], Y[:n_train], classes=classes)
        seconds += time.perf_counter() - start
        accuracy = clf.score(X[n_train:], Y[n_train:])
        if accuracy >= target:
            break
    return {
        "epochs": epoch,
        "seconds": seconds,
        "accuracy": accuracy,
        "reached": accuracy >= target,
    }


def gru_kernels() -> dict:
    """Forward + backward of one batch through each kernel, alternating (ms)."""
    torch = _setup()
    from sk_mtgru._gru import run_gru

    torch.manual_seed(0)
    cases = {
        "forward, 64 x 50 steps": (False, torch.full((64,), 50)),
        "bidirectional, 64 x 10-50 steps": (True, torch.randint(10, 51, (64,))),
    }
    result = {}
    for name, (bidirectional, lengths) in cases.items():
        gru = torch.nn.GRU(8, HIDDEN, batch_first=True, bidirectional=bidirectional)
        x = torch.randn(64, int(lengths.max()), 8)
        times: dict[str, list[float]] = {"torch": [], "sk_mtgru": []}
        for repeat in range(60):
            for kernel, spent in times.items():
                start = time.perf_counter()
                output, top = run_gru(gru, x, lengths, kernel)
                (output.sum() + top.sum()).backward()
                if repeat >= 10:
                    spent.append(1e3 * (time.perf_counter() - start))
        result[name] = {k: statistics.median(v) for k, v in times.items()}
    return result


def keras_fit(case: str, backend: str) -> dict:
    os.environ["KERAS_BACKEND"] = backend
    _setup()
    import keras

    X, Y = _train_part(*_data(case))
    base = _rss_mb()
    inputs = keras.Input(shape=X.shape[1:])
    h = keras.layers.GRU(HIDDEN)(inputs)
    n_classes = [int(Y[:, k].max()) + 1 for k in range(Y.shape[1])]
    outputs = [
        keras.layers.Dense(k, activation="softmax", name=f"task_{i}")(h)
        for i, k in enumerate(n_classes)
    ]
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(LR),
        loss=["sparse_categorical_crossentropy"] * len(outputs),
        loss_weights=[1.0] * len(outputs),
    )

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    times: list[float] = []
    model.fit(
        X,
        [Y[:, k] for k in range(Y.shape[1])],
        batch_size=BATCH,
        epochs=EPOCHS,
        verbose=0,
        callbacks=[Timer()],
    )
    return {"epochs": times, "memory_mb": _rss_mb() - base}


def predict_throughput() -> dict:
    torch = _setup()
    X, Y = _data("standard")
    clf = _classifier(max_iter=1).fit(X[:500], Y[:500])
    X_big = np.concatenate([X, X, X[:2000]])  # 10,000 sequences
    module, lengths = clf.net_.module_, torch.full((len(X_big),), X.shape[1])
    X_t = torch.from_numpy(X_big)
    ours, bare = [], []
    for _ in range(3):
        start = time.perf_counter()
        clf.predict_proba(X_big)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        with torch.inference_mode():
            for index in torch.arange(len(X_t)).split(1024):
                [torch.softmax(t, 1) for t in module(X_t[index], lengths[index])]
        bare.append(time.perf_counter() - start)
    one, one_bare = [], []
    x1, l1 = X_t[:1], lengths[:1]
    for _ in range(200):
        start = time.perf_counter()
        clf.predict_proba(X[:1])
        one.append(time.perf_counter() - start)
        start = time.perf_counter()
        with torch.inference_mode():
            [torch.softmax(t, 1) for t in module(x1, l1)]
        one_bare.append(time.perf_counter() - start)
    return {
        "predict_10000_s": statistics.median(ours),
        "module_10000_s": statistics.median(bare),
        "one_sequence_ms": 1e3 * statistics.median(one),
        "one_sequence_module_ms": 1e3 * statistics.median(one_bare),
    }


def grid_search(n_jobs: int) -> dict:
    from sklearn.model_selection import GridSearchCV, KFold

    _setup()
    X, Y = _data("standard")
    grid = {"task_weights": [(1, 1, 1), (2, 1, 1), (1, 2, 1), (1, 1, 2)]}
    start = time.perf_counter()
    GridSearchCV(
        _classifier(max_iter=EPOCHS, task_affinity_interval=None),
        grid,
        cv=KFold(3),
        n_jobs=n_jobs,
        refit=False,
    ).fit(X[:3000], Y[:3000])
    return {"seconds": time.perf_counter() - start}


def matmul_peak(threads: int) -> dict:
    torch = _setup(threads)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    start = time.perf_counter()
    for _ in range(10):
        a @ b
    return {"gflops": 10 * 2 * 2048**3 / (time.perf_counter() - start) / 1e9}


# ------------------------------------------------------------------ the runner
def _run(function, *args, **kwargs) -> dict:
    ctx = get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=ctx) as pool:
        return pool.submit(function, *args, **kwargs).result()


def _median_epoch(runs: list[dict]) -> float:
    return statistics.median(t for run in runs for t in run["epochs"][1:])


def main(repeats: int, json_path: str | None) -> None:
    # forward + backward of the GRU on the 3,200 training sequences of 50 steps
    gru_gflop = 3 * 3 * 2 * (8 * HIDDEN + HIDDEN * HIDDEN) * 3200 * 50 / 1e9
    results: dict = {
        "machine": f"{platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, {platform.platform()}",
        "peak_gflops": {t: _run(matmul_peak, t)["gflops"] for t in (1, 2)},
    }
    have_keras = importlib.util.find_spec("keras") is not None
    have_jax = importlib.util.find_spec("jax") is not None
    implementations = {
        "hand loop": (hand_loop, {}),
        "sk_mtgru": (sk_mtgru_fit, {"task_affinity_interval": 10}),
        "sk_mtgru, no affinity": (sk_mtgru_fit, {"task_affinity_interval": None}),
        "sk_mtgru, torch kernel": (
            sk_mtgru_fit,
            {"task_affinity_interval": None, "gru_kernel": "torch"},
        ),
        "MultiOutputClassifier": (multi_output, {}),
        "MultiOutputClassifier, package kernel": (
            multi_output,
            {"gru_kernel": "auto"},
        ),
    }
    if have_keras:
        implementations["keras[torch]"] = (keras_fit, {"backend": "torch"})
        if have_jax:
            implementations["keras[jax]"] = (keras_fit, {"backend": "jax"})
    for case, names in (
        ("standard", list(implementations)),
        ("8 tasks", ["hand loop", "sk_mtgru, no affinity"]),
    ):
        runs: dict[str, list[dict]] = {name: [] for name in names}
        for _ in range(repeats):
            for name in names:
                function, params = implementations[name]
                runs[name].append(_run(function, case, **params))
        floor = _median_epoch(runs["hand loop"])
        print(f"\n{case}: seconds per epoch (median after the first), 1 thread")
        print(f"{'implementation':<38}{'epoch':>8}{'ratio':>8}{'memory':>10}{'acc':>7}")
        table = {}
        for name, rs in runs.items():
            epoch = _median_epoch(rs)
            memory = statistics.median(r["memory_mb"] for r in rs)
            accuracy = rs[0].get("accuracy")
            table[name] = {
                "epoch_s": epoch,
                "ratio": epoch / floor,
                "memory_mb": memory,
                "accuracy": accuracy,
            }
            acc = "" if accuracy is None else f"{accuracy:.3f}"
            print(
                f"{name:<38}{epoch:>8.3f}{epoch / floor:>8.2f}{memory:>8.0f}MB{acc:>7}"
            )
        if case == "standard":
            for name in ("hand loop", "sk_mtgru, no affinity"):
                table[name]["gflops"] = gru_gflop / table[name]["epoch_s"]
            print(
                f"GRU forward+backward: {gru_gflop:.1f} GFLOP per epoch; achieved "
                f"{table['sk_mtgru, no affinity']['gflops']:.0f} GFLOP/s (hand loop "
                f"{table['hand loop']['gflops']:.0f}); float32 matmul peak "
                f"{results['peak_gflops'][1]:.0f} (1 thread), "
                f"{results['peak_gflops'][2]:.0f} (2 threads)"
            )
        if case == "standard":
            target = table["MultiOutputClassifier"]["accuracy"]
            reach = _run(time_to_accuracy, case, target)
            moc_seconds = statistics.median(
                sum(r["epochs"]) for r in runs["MultiOutputClassifier"]
            )
            outcome = (
                f"{moc_seconds / reach['seconds']:.2f}x faster"
                if reach["reached"]
                else "not reached"
            )
            print(
                f"to the MultiOutputClassifier's held-out accuracy {target:.3f} "
                f"(its {EPOCHS} epochs, ~{moc_seconds:.1f} s): sk_mtgru "
                f"{reach['accuracy']:.3f} after {reach['epochs']} epochs, "
                f"{reach['seconds']:.1f} s ({outcome})"
            )
            table["sk_mtgru, to MultiOutputClassifier's accuracy"] = reach
        results[case] = table
    if not have_keras:
        print("keras not installed: Keras comparisons skipped (pip install '.[bench]')")

    for case in ("variable", "watch"):
        runs = {b: [] for b in (False, True)}
        for _ in range(repeats):
            for bucketing in (False, True):
                runs[bucketing].append(
                    _run(
                        sk_mtgru_fit,
                        case,
                        length_bucketing=bucketing,
                        task_affinity_interval=None,
                    )
                )
        off, on = _median_epoch(runs[False]), _median_epoch(runs[True])
        acc_off = statistics.mean(r["accuracy"] for r in runs[False])
        acc_on = statistics.mean(r["accuracy"] for r in runs[True])
        print(
            f"\n{case}: length bucketing {on:.3f} s/epoch against {off:.3f} s padded "
            f"to each batch's longest: {off / on:.2f}x faster; held-out accuracy "
            f"{acc_on:.3f} against {acc_off:.3f}"
        )
        results[f"bucketing, {case}"] = {
            "padded_s": off,
            "bucketed_s": on,
            "speedup": off / on,
            "accuracy_padded": acc_off,
            "accuracy_bucketed": acc_on,
        }

    # In this process: joblib's workers hang when started from a spawned worker.
    searches: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(repeats):
        for n_jobs in (1, 2):
            searches[n_jobs].append(grid_search(n_jobs)["seconds"])
    serial, parallel = (statistics.median(searches[n]) for n in (1, 2))
    print(
        f"\nGridSearchCV, 4 candidates x 3 folds: n_jobs=1 {serial:.1f} s, n_jobs=2 "
        f"{parallel:.1f} s: {serial / parallel:.2f}x"
    )
    results["grid_search"] = {
        "n_jobs_1_s": serial,
        "n_jobs_2_s": parallel,
        "speedup": serial / parallel,
    }

    kernels = _run(gru_kernels)
    print("\nGRU kernels, forward + backward of one batch (hidden 64, 8 features):")
    for name, k in kernels.items():
        print(
            f"  {name}: nn.GRU {k['torch']:.1f} ms, sk_mtgru {k['sk_mtgru']:.1f} ms "
            f"({k['torch'] / k['sk_mtgru']:.2f}x faster)"
        )
    results["gru_kernels"] = kernels

    p = _run(predict_throughput)
    print(
        f"\npredict_proba on 10,000 sequences: {p['predict_10000_s']:.2f} s against "
        f"{p['module_10000_s']:.2f} s for the bare module "
        f"({p['module_10000_s'] / p['predict_10000_s']:.2f}x its throughput); one "
        f"sequence {p['one_sequence_ms']:.2f} ms "
        f"(module {p['one_sequence_module_ms']:.2f} ms)"
    )
    results["predict"] = p
    print(f"\nmachine: {results['machine']}")
    if json_path:
        with open(json_path, "w") as f:
            json.dump(results, f, indent=1, default=str)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="sk_mtgru speed benchmarks")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    main(args.repeats, args.json)
