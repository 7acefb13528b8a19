"""What the encoder reads besides the GRU: a convolutional front end and the input's
summary statistics."""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from ._gru import real_steps

__all__ = ["ConvFrontEnd", "input_statistics", "n_input_statistics"]


class ConvFrontEnd(nn.Module):
    """1-D convolutions over time before the GRU, as in DeepConvLSTM.

    ``n_layers`` convolutions of ``channels`` filters of ``kernel_size`` steps, each
    followed by a ReLU; the last one moves ``stride`` steps at a time, so the GRU
    reads ``ceil(length / stride)`` steps. Convolution ``i`` (from 0) spaces its
    filter's taps ``dilation ** i`` steps apart, as in WaveNet's dilated stacks:
    with ``dilation=2`` each layer doubles the span the stack reads, which grows
    exponentially with the depth instead of linearly. Each convolution is
    zero-padded by its reach (``dilation ** i * (kernel_size // 2)`` steps) on both
    sides, and its outputs past each sequence's end are zeroed before the next one
    reads them, so a sequence's features are the same whatever it is batched with
    (padding never changes a result).

    Parameters
    ----------
    n_features : int
        Features per time step of the input.
    n_layers : int
        Number of convolutions (at least 1).
    channels : int
        Filters per convolution: the features per step the GRU reads.
    kernel_size : int
        Odd width of each filter, in steps.
    stride : int
        Step of the last convolution.
    dilation : int, default=1
        Growth of the spacing of the filters' taps from one convolution to the
        next (1: none).
    """

    def __init__(
        self,
        n_features: int,
        n_layers: int,
        channels: int,
        kernel_size: int,
        stride: int,
        dilation: int = 1,
    ) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}.")
        if dilation < 1:
            raise ValueError(f"dilation must be at least 1, got {dilation}.")
        if dilation ** (n_layers - 1) * (kernel_size // 2) > 2**31 - 1:
            raise ValueError(
                f"conv_dilation={dilation} over {n_layers} convolutions spaces the "
                "last one's taps further apart than any sequence is long; use a "
                "smaller conv_dilation or fewer conv_layers."
            )
        self.stride = stride
        self.convs = nn.ModuleList(
            nn.Conv1d(
                n_features if i == 0 else channels,
                channels,
                kernel_size,
                stride=stride if i == n_layers - 1 else 1,
                padding=dilation**i * (kernel_size // 2),
                dilation=dilation**i,
            )
            for i in range(n_layers)
        )

    def sizes(self) -> tuple[int, int, int, int, int]:
        """``(n_layers, channels, kernel_size, stride, dilation)``, as built."""
        first = cast(nn.Conv1d, self.convs[0])
        growth = (
            cast(nn.Conv1d, self.convs[1]).dilation[0] if len(self.convs) > 1 else 1
        )
        return (
            len(self.convs),
            first.out_channels,
            first.kernel_size[0],
            self.stride,
            growth,
        )

    @property
    def reach(self) -> int:
        """Steps past its own that the stack's output at a step reads (on each
        side): the sum of the convolutions' paddings."""
        convs = [cast(nn.Conv1d, conv) for conv in self.convs]
        return sum(conv.dilation[0] * (conv.kernel_size[0] // 2) for conv in convs)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Steps of each sequence after the strided convolution."""
        return torch.div(lengths - 1, self.stride, rounding_mode="floor") + 1

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(batch, steps, channels)`` features and their lengths, from ``x`` of
        shape ``(batch, max_length, n_features)`` zero past each sequence's end."""
        h = x.transpose(1, 2)  # (batch, features, steps): Conv1d's layout
        for conv in self.convs:
            h = torch.relu(conv(h))
            if cast(nn.Conv1d, conv).stride[0] > 1:
                lengths = self.output_lengths(lengths)
            if not bool((lengths == h.shape[2]).all()):
                h = h * real_steps(lengths.to(h.device), h.shape[2]).transpose(1, 2)
        return h.transpose(1, 2), lengths


# Statistics per channel: 'basic' (True) and the 'rich' set, which adds what a
# linear model on summary statistics reads best (the accuracy suite's baselines).
_PER_CHANNEL = {"basic": 4, "rich": 10}
QUANTILES = (0.1, 0.5, 0.9)


def statistics_kind(setting: bool | str) -> str | None:
    """``input_statistics`` as 'basic', 'rich' or None (off)."""
    if setting is True:
        return "basic"
    return setting or None


def n_input_statistics(n_features: int, kind: str = "basic") -> int:
    """Width of :func:`input_statistics`' output for ``n_features`` channels."""
    return _PER_CHANNEL[kind] * n_features + 1


def input_statistics(
    x: torch.Tensor, lengths: torch.Tensor, kind: str = "basic"
) -> torch.Tensor:
    """Per-channel mean, standard deviation, minimum and maximum over each
    sequence's real steps, and the log of its length; with ``kind='rich'`` also
    the 10th, 50th and 90th percentiles, the mean absolute change from one step
    to the next, the least-squares slope over the steps and the lag-1
    autocorrelation (0 for a sequence too short or too flat for one).

    Parameters
    ----------
    x : Tensor of shape (batch, max_length, n_features)
    lengths : Tensor of shape (batch,)
    kind : {'basic', 'rich'}

    Returns
    -------
    Tensor of shape (batch, 4 * n_features + 1), or (batch, 10 * n_features + 1)
    """
    mask = real_steps(lengths.to(x.device), x.shape[1])
    n = lengths.to(x.device, x.dtype)[:, None]
    zeroed = x * mask
    mean = zeroed.sum(dim=1) / n
    centred = (zeroed - mean[:, None, :]) * mask
    variance = centred.pow(2).sum(dim=1) / n
    std = variance.clamp_min(0).sqrt()
    minimum = x.masked_fill(~mask, float("inf")).amin(dim=1)
    maximum = x.masked_fill(~mask, float("-inf")).amax(dim=1)
    if kind == "basic":
        return torch.cat([mean, std, minimum, maximum, n.log()], dim=1)
    # Quantiles: the real steps sorted first (padding sorts last, as +inf).
    ordered = x.masked_fill(~mask, float("inf")).sort(dim=1).values
    last = (n - 1).clamp_min(0)  # (batch, 1)
    quantiles = [
        ordered.gather(
            1, (q * last).round().long()[:, :, None].expand(-1, 1, x.shape[2])
        )[:, 0]
        for q in QUANTILES
    ]
    both = mask[:, 1:] & mask[:, :-1]  # pairs of real neighbouring steps
    pairs = (n - 1).clamp_min(1)
    change = ((x[:, 1:] - x[:, :-1]).abs() * both).sum(dim=1) / pairs
    steps = torch.arange(x.shape[1], device=x.device, dtype=x.dtype)[None, :, None]
    time = (steps - (n[:, :, None] - 1) / 2) * mask
    slope = (time * centred).sum(dim=1) / time.pow(2).sum(dim=1).clamp_min(1e-12)
    lagged = (centred[:, 1:] * centred[:, :-1] * both).sum(dim=1)
    autocorrelation = lagged / (variance * n).clamp_min(1e-12)
    return torch.cat(
        [
            mean,
            std,
            minimum,
            maximum,
            *quantiles,
            change,
            slope,
            autocorrelation,
            n.log(),
        ],
        dim=1,
    )
