"""Streaming latency: one new step through StreamingPredictor, against predicting
the whole sequence so far offline.

Without streaming, a live application that wants a prediction at every new step
calls ``predict`` on the sequence so far each time: the cost grows with the
sequence. :class:`sk_mtgru.StreamingPredictor` carries the GRU's state and the
running summaries, so a step costs the same at step 10 and at step 1,000.

Model: the classifier's defaults (forward GRU, hidden 64, two strided
convolutions, 'mean_max', input statistics) on 8 features, 3 tasks; the same with
``input_statistics='rich'`` (whose percentiles the stream computes again from the
steps it keeps, so a step's cost grows with the sequence) and with two task groups
(two encoders carried side by side); and a causal tagger (hidden 64, 2 layers).
Each is timed at several sequence lengths: the median over 200 one-step ``update``
calls made after that many steps, against the median of 20 ``predict`` calls on
the sequence of that length (and, for the stream, agreement with ``predict`` is
checked). One torch thread; these machines are shared and noisy, so read the
ratios.

Run: ``python benchmarks/streaming.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import statistics
import time
import warnings

import numpy as np
import torch

import sk_mtgru
from sk_mtgru.datasets import make_multitask_sequences

LENGTHS = (50, 200, 1000)
UPDATES, PREDICTS = 200, 20


def _median_seconds(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _row(name: str, model, stream_steps, rng) -> None:
    n_features = model.n_features_in_
    for length in LENGTHS:
        x = rng.normal(size=(length + UPDATES, n_features)).astype(np.float32)
        stream = sk_mtgru.StreamingPredictor(model)
        stream.update(x[:length])
        times = []
        for t in range(length, length + UPDATES):
            start = time.perf_counter()
            stream.update(x[t : t + 1])
            times.append(time.perf_counter() - start)
        streamed = statistics.median(times)
        offline = _median_seconds(lambda: model.predict([x[:length]]), PREDICTS)  # noqa: B023
        check = stream_steps(stream, x)
        print(
            f"{name:<28} {length:>6} {streamed * 1e3:>9.3f} {offline * 1e3:>10.3f} "
            f"{offline / streamed:>7.1f}x  {check}"
        )


def main() -> None:
    torch.set_num_threads(1)
    # Two epochs train enough to time prediction; the warning says they are few.
    warnings.filterwarnings("ignore", message=".*may not have converged")
    rng = np.random.default_rng(0)
    X, Y = make_multitask_sequences(
        400, n_tasks=3, length=50, n_features=8, random_state=0
    )
    classifiers = {
        name: sk_mtgru.MultiTaskGRUClassifier(max_iter=2, random_state=0, **params).fit(
            X, Y
        )
        for name, params in [
            ("classifier (defaults)", {}),
            ("classifier, 'rich' stats", {"input_statistics": "rich"}),
            ("classifier, 2 task groups", {"task_groups": [[0], [1, 2]]}),
        ]
    }
    Xt, Yt = make_multitask_sequences(
        200, n_tasks=2, length=50, n_features=8, per_step=True, random_state=0
    )
    tagger = sk_mtgru.MultiTaskGRUTagger(
        hidden_size=64, num_layers=2, bidirectional=False, max_iter=2, random_state=0
    ).fit(Xt, Yt)

    def check_classifier(stream, x) -> str:
        n = stream.n_steps_seen_
        same = (stream.predict() == stream.estimator.predict([x[:n]])).all()
        return "same labels as predict" if same else "DIFFERENT labels"

    def check_tagger(stream, x) -> str:
        n = stream.n_steps_seen_
        same = (stream.predict() == tagger.predict([x[:n]])[0][-1:]).all()
        return "same labels as predict" if same else "DIFFERENT labels"

    print(f"torch {torch.__version__}, 1 thread; medians in milliseconds")
    print(
        f"{'model':<28} {'steps':>6} {'1 step':>9} {'predict':>10} {'ratio':>8}  check"
    )
    for name, classifier in classifiers.items():
        _row(name, classifier, check_classifier, rng)
    _row("tagger (causal, 2 layers)", tagger, check_tagger, rng)


if __name__ == "__main__":
    main()
