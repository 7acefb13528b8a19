"""Random-convolution features for the heads: a fixed wide input in MiniRocket's way.

MiniRocket (Dempster et al., KDD 2021) convolves each series with 84 fixed
kernels of 9 taps (weights -1, and 2 on three of the taps), at dilations spread
exponentially up to the series' length, and reads the proportion of steps where
each output exceeds a bias (PPV); the biases are quantiles of the outputs on a
training series. A linear model on these features leads on shape-based series,
where a GRU fed by a few convolutions does not. Here they are one more input of
the heads, beside the pooled GRU states and the summary statistics: a linear
"wide" path trained with the deep one. Nothing in them is trained; what depends on
the data (the biases, the channels each kernel reads and the features' scaling)
is set once, at the start of a fit, by :meth:`RandomConvFeatures.fit`.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import torch
from torch import nn

from ._gru import real_steps

__all__ = [
    "RandomConvFeatures",
    "cache_random_features",
    "fit_random_features",
    "has_random_features",
]

_N_KERNELS = 84  # the 3-of-9 positions that get weight 2
_TAPS = 9
_MAX_DILATIONS = 32
_GOLDEN = (math.sqrt(5) + 1) / 2
_CHUNK = 64  # sequences convolved at once while fitting
_SAMPLE = 512  # training sequences that set the biases and the scaling
_COMPARED = 2**25  # outputs compared with biases at once (memory, not speed)
_CACHE_LIMIT = 2**27  # features a fit keeps at most (512 MiB); beyond, per batch


def _kernel_weights() -> torch.Tensor:
    """The 84 kernels, ``(84, 9)``: -1 everywhere, 2 on three taps."""
    weights = -torch.ones(_N_KERNELS, _TAPS)
    for k, taps in enumerate(itertools.combinations(range(_TAPS), 3)):
        weights[k, list(taps)] = 2.0
    return weights


def dilations(n_random: int, length: int) -> tuple[list[int], list[int]]:
    """The dilations and the features per kernel at each, for about ``n_random``
    features of sequences of ``length`` steps (MiniRocket's spread: up to a
    kernel spanning the whole length, exponentially spaced)."""
    per_kernel = max(1, round(n_random / _N_KERNELS))
    top = math.log2(max((length - 1) / (_TAPS - 1), 1.0))
    count = min(per_kernel, _MAX_DILATIONS)
    spread = np.unique(np.floor(2 ** np.linspace(0, top, count)).astype(int))
    counts = np.full(len(spread), per_kernel // len(spread))
    counts[: per_kernel % len(spread)] += 1
    return [int(d) for d in spread], [int(c) for c in counts]


def _positive(
    out: torch.Tensor, mask: torch.Tensor, bias: torch.Tensor
) -> torch.Tensor:
    """How many real steps of each output exceed each of its kernel's biases,
    ``(batch, 84, count)``, of ``out`` ``(batch, 84, steps)``, ``mask`` ``(batch,
    1, steps)`` and ``bias`` ``(84, count)``.

    Many biases per kernel (short sequences) sort each output once and look the
    biases up, ``steps·log(steps)`` per output; a few compare them directly,
    ``count·steps``, a few biases at a time so that the comparisons stay within
    ``_COMPARED``. Both count exactly the steps where ``output > bias``."""
    steps = out.shape[-1]
    if bias.shape[1] > math.log2(max(steps, 2)):
        ordered = out.masked_fill(~mask, -math.inf).sort(dim=-1).values
        above = bias.expand(len(out), -1, -1).contiguous()
        return steps - torch.searchsorted(ordered, above, right=True)
    step = max(1, _COMPARED // max(out.numel(), 1))
    return torch.cat(
        [
            (out[:, :, None, :] > part[:, :, None])
            .logical_and_(mask[:, :, None, :])
            .sum(dim=-1)
            for part in bias.split(step, dim=1)
        ],
        dim=2,
    )


class RandomConvFeatures(nn.Module):
    """MiniRocket's features of each sequence, standardised.

    Parameters
    ----------
    n_features : int
        Channels per step of the input.
    n_random : int
        Features wanted; rounded to a multiple of 84 (at least 84).
    length : int
        A typical training length, which sets the dilations.

    Notes
    -----
    Each kernel at each dilation reads a random subset of the channels (their
    sum, as MiniRocket's multivariate variant does). The output's steps are those
    of a zero-padded convolution, so a sequence of any length gets every feature;
    the proportions count its real steps only, so padding never changes them.
    Each feature is standardised on the training sequences and divided by the
    square root of their number, so that a linear head's first steps move its
    logits as little as those of a head on a few inputs.
    """

    # buffers: the kernels, the biases and the features' scaling
    weight: torch.Tensor
    bias: torch.Tensor
    mean: torch.Tensor
    scale: torch.Tensor

    def __init__(self, n_features: int, n_random: int, length: int) -> None:
        super().__init__()
        self.n_features = n_features
        self.n_random = n_random
        self.length = length
        self.dilations, self.counts = dilations(n_random, length)
        self.n_out = _N_KERNELS * sum(self.counts)
        n_convs = len(self.dilations) * _N_KERNELS
        self.register_buffer("weight", torch.zeros(n_convs, n_features, _TAPS))
        self.register_buffer("bias", torch.zeros(self.n_out))
        self.register_buffer("mean", torch.zeros(self.n_out))
        self.register_buffer("scale", torch.ones(self.n_out))

    def _proportions(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The unscaled features, ``(batch, n_out)``, of ``x`` (padding is read
        as zeros)."""
        mask = real_steps(lengths.to(x.device), x.shape[1])[:, None, :, 0]
        h = x.transpose(1, 2)  # (batch, channels, steps)
        if not bool((lengths == x.shape[1]).all()):  # convolutions read no padding
            h = h * mask
        n = lengths.to(x.device, x.dtype)[:, None]
        features, first = [], 0
        for j, (dilation, count) in enumerate(zip(self.dilations, self.counts)):
            weight = self.weight[j * _N_KERNELS : (j + 1) * _N_KERNELS]
            out = torch.conv1d(h, weight, padding=4 * dilation, dilation=dilation)
            bias = self.bias[first : first + _N_KERNELS * count].view(_N_KERNELS, -1)
            first += _N_KERNELS * count
            features.append(_positive(out, mask, bias).to(x.dtype).flatten(1) / n)
        return torch.cat(features, dim=1)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Standardised features, ``(batch, n_out)``, of ``x`` of shape ``(batch,
        max_length, n_features)`` padded at the end (padding is read as zeros)."""
        return (self._proportions(x, lengths) - self.mean) / self.scale

    @torch.no_grad()
    def fit(self, values: torch.Tensor, lengths: torch.Tensor) -> None:
        """Draw each kernel's channels, set the biases from training sequences
        and the scaling from their features, with torch's random generator;
        ``values``: ``(n, max_length, n_features)``, zero padded, on the CPU."""
        device = self.weight.device
        base = _kernel_weights()
        reach = math.log2(min(self.n_features, _TAPS) + 1)
        weight = torch.zeros(self.weight.shape)
        for i in range(weight.shape[0]):
            n_channels = int(2 ** (torch.rand(()).item() * reach))
            n_channels = min(max(n_channels, 1), self.n_features)
            channels = torch.randperm(self.n_features)[:n_channels]
            weight[i, channels] = base[i % _N_KERNELS]
        self.weight.copy_(weight)
        # Biases: quantiles of one training sequence's outputs per dilation, at
        # low-discrepancy positions (MiniRocket's), one set per kernel.
        bias, first = torch.zeros(self.n_out), 0
        quantile = 1
        for j, (dilation, count) in enumerate(zip(self.dilations, self.counts)):
            i = int(torch.randint(len(values), ()))
            sequence = values[i : i + 1, : int(lengths[i])].transpose(1, 2)
            kernels = weight[j * _N_KERNELS : (j + 1) * _N_KERNELS]
            out = torch.conv1d(
                sequence.float(), kernels, padding=4 * dilation, dilation=dilation
            )[0]
            for k in range(_N_KERNELS):
                positions = torch.tensor(
                    [((quantile + c) * _GOLDEN) % 1 for c in range(count)]
                )
                quantile += count
                bias[first : first + count] = torch.quantile(out[k], positions)
                first += count
        self.bias.copy_(bias)
        parts = []
        for start in range(0, len(values), _CHUNK):
            chunk = slice(start, start + _CHUNK)
            longest = int(lengths[chunk].max())
            x = values[chunk, :longest].to(device, self.weight.dtype)
            parts.append(self._proportions(x, lengths[chunk]))
        features = torch.cat(parts)
        self.mean.copy_(features.mean(dim=0))
        std = features.std(dim=0) if len(features) > 1 else torch.ones_like(self.mean)
        self.scale.copy_(std.clamp_min(1e-2) * math.sqrt(self.n_out))


def fit_random_features(module: nn.Module, values: Any, lengths: torch.Tensor) -> None:
    """Fit every :class:`RandomConvFeatures` of ``module`` (one per encoder of a
    grouped network) on up to 512 training sequences drawn with torch's
    generator; ``values``: the padded training array, a memmap or a lazy
    collection, read one drawn sequence at a time (never copied whole)."""
    found = [m for m in module.modules() if isinstance(m, RandomConvFeatures)]
    if not found:
        return
    rows = torch.randperm(len(lengths))[:_SAMPLE].tolist()
    n = lengths[rows].to(torch.int64)
    sample = np.zeros((len(rows), int(n.max()), found[0].n_features), np.float32)
    for i, row in enumerate(rows):
        sample[i, : int(n[i])] = np.asarray(values[row])[: int(n[i])]
    x = torch.from_numpy(sample)
    for features in found:
        features.fit(x, n)


def has_random_features(module: nn.Module) -> bool:
    """Whether any encoder of ``module`` reads random-convolution features."""
    return any(isinstance(m, RandomConvFeatures) for m in module.modules())


def cache_random_features(module: nn.Module, dataset: Any) -> None:
    """Compute the network's random-convolution features of every training
    sequence once, for the batches to carry (``dataset.wide``), instead of at
    every epoch: for a network of one encoder (a grouped one has features per
    branch) and an in-memory dataset whose features fit in 512 MiB; else the
    network computes them per batch."""
    random = getattr(module, "random", None)
    if not isinstance(random, RandomConvFeatures):
        return
    n = len(dataset)
    if dataset.tensor is None or n * random.n_out > _CACHE_LIMIT:
        return
    device = random.weight.device
    parts = []
    with torch.no_grad():
        for start in range(0, n, _CHUNK):
            lengths = dataset.lengths[start : start + _CHUNK]
            x = dataset.tensor[start : start + _CHUNK, : int(lengths.max())]
            parts.append(random(x.to(device), lengths).to("cpu"))
    dataset.wide = torch.cat(parts)
