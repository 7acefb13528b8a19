"""Tagging throughput: MultiTaskGRUTagger against a hand-written torch loop.

Both train the same model -- a bidirectional ``nn.GRU`` (hidden 64) with one linear
head per task applied at every step -- on the same data (2,000 sequences x 50
steps x 8 features, two tasks of 4 and 3 classes per step), batch 32, Adam 1e-3.
The hand-written loop is the floor: preloaded tensors, a shuffled index sliced
into batches, the per-step cross-entropies of both tasks summed. Prediction:
``predict_proba`` on 10,000 sequences against the bare module under
``torch.inference_mode`` in batches of 256.

Figures are medians of epoch times after the first, over runs interleaved in one
process, one torch thread (these machines are shared and noisy: read the ratios).
Per-task accuracy, task affinity and the other per-epoch bookkeeping are on in the
tagger (affinity off: ``task_affinity_interval=None``, as the hand loop has none).

Run: ``python benchmarks/tagger_throughput.py`` (about two minutes on 2 cores).
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch
from torch import nn

from sk_mtgru import MultiTaskGRUTagger
from sk_mtgru.datasets import make_multitask_sequences

HIDDEN, BATCH, EPOCHS, REPEATS = 64, 32, 4, 3


class HandTagger(nn.Module):
    def __init__(self, n_features: int, n_classes: list[int]) -> None:
        super().__init__()
        self.gru = nn.GRU(n_features, HIDDEN, batch_first=True, bidirectional=True)
        self.heads = nn.ModuleList(nn.Linear(2 * HIDDEN, k) for k in n_classes)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        output = self.gru(x)[0]
        return [head(output) for head in self.heads]


def hand_loop_epochs(X: np.ndarray, Y: np.ndarray, n_classes: list[int]) -> list[float]:
    torch.manual_seed(0)
    X_t, Y_t = torch.from_numpy(X), torch.from_numpy(Y)
    model = HandTagger(X.shape[2], n_classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    times = []
    for _ in range(EPOCHS):
        start = time.perf_counter()
        for index in torch.randperm(len(X_t)).split(BATCH):
            x, y = X_t[index], Y_t[index]
            logits = model(x)
            loss = sum(
                nn.functional.cross_entropy(
                    out.reshape(-1, out.shape[-1]), y[..., k].reshape(-1)
                )
                for k, out in enumerate(logits)
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter() - start)
    return times


def tagger_epochs(
    X: np.ndarray, Y: np.ndarray
) -> tuple[list[float], MultiTaskGRUTagger]:
    tagger = MultiTaskGRUTagger(
        hidden_size=HIDDEN,
        batch_size=BATCH,
        max_iter=EPOCHS,
        task_affinity_interval=None,
        random_state=0,
        # the hand-written loop's training: Adam at a constant 1e-3, no clipping
        learning_rate_init=1e-3,
        solver="adam",
        alpha=0.0,
        learning_rate="constant",
        max_grad_norm=None,
        n_iter_no_change=10**6,
    ).fit(X, Y)
    return list(tagger.history_[:, "dur"]), tagger


def predict_seconds(tagger: MultiTaskGRUTagger, X: np.ndarray) -> tuple[float, float]:
    start = time.perf_counter()
    tagger.predict_proba(X)
    ours = time.perf_counter() - start
    module = tagger.net_.module_
    X_t = torch.from_numpy(X)
    lengths = torch.full((len(X),), X.shape[1])
    start = time.perf_counter()
    with torch.inference_mode():
        for index in torch.arange(len(X)).split(256):
            [torch.softmax(t, -1) for t in module(X_t[index], lengths[index])]
    return ours, time.perf_counter() - start


def streams() -> tuple[np.ndarray, np.ndarray]:
    """The benchmark's data: 2,000 sequences x 50 steps x 8 features, two tasks of
    4 and 3 classes per step (``benchmarks/gru_loops.py`` reads them too)."""
    return make_multitask_sequences(
        2000,
        n_tasks=2,
        n_classes=[4, 3],
        n_features=8,
        length=50,
        per_step=True,
        random_state=0,
    )


def main() -> None:
    torch.set_num_threads(1)
    X, Y = streams()
    n_classes = [int(Y[..., k].max()) + 1 for k in range(2)]
    torch.optim.Adam(nn.Linear(1, 1).parameters())  # the first Adam costs ~1 s
    hand, ours = [], []
    for _ in range(REPEATS):
        hand += hand_loop_epochs(X, Y, n_classes)[1:]
        times, tagger = tagger_epochs(X, Y)
        ours += times[1:]
    h, o = statistics.median(hand), statistics.median(ours)
    print(f"torch {torch.__version__}, 1 thread; median epoch after the first")
    print(f"hand-written loop   {h:6.3f} s   1.00")
    print(f"MultiTaskGRUTagger  {o:6.3f} s   {o / h:4.2f}x")
    X_big = np.concatenate([X] * 5)
    ours_p, bare_p = predict_seconds(tagger, X_big)
    print(
        f"predict_proba, {len(X_big)} sequences: {ours_p:.2f} s against {bare_p:.2f} s "
        f"for the bare module: {bare_p / ours_p:.2f}x its throughput"
    )


if __name__ == "__main__":
    main()
