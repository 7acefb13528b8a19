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
    reads ``ceil(length / stride)`` steps. Each convolution is zero-padded by
    ``kernel_size // 2`` steps on both sides, and its outputs past each sequence's
    end are zeroed before the next one reads them, so a sequence's features are the
    same whatever it is batched with (padding never changes a result).

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
    """

    def __init__(
        self,
        n_features: int,
        n_layers: int,
        channels: int,
        kernel_size: int,
        stride: int,
    ) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}.")
        self.stride = stride
        self.convs = nn.ModuleList(
            nn.Conv1d(
                n_features if i == 0 else channels,
                channels,
                kernel_size,
                stride=stride if i == n_layers - 1 else 1,
                padding=kernel_size // 2,
            )
            for i in range(n_layers)
        )

    def sizes(self) -> tuple[int, int, int, int]:
        """``(n_layers, channels, kernel_size, stride)``, as built."""
        first = cast(nn.Conv1d, self.convs[0])
        return len(self.convs), first.out_channels, first.kernel_size[0], self.stride

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


def n_input_statistics(n_features: int) -> int:
    """Width of :func:`input_statistics`' output for ``n_features`` channels."""
    return 4 * n_features + 1


def input_statistics(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Per-channel mean, standard deviation, minimum and maximum over each
    sequence's real steps, and the log of its length.

    Parameters
    ----------
    x : Tensor of shape (batch, max_length, n_features)
    lengths : Tensor of shape (batch,)

    Returns
    -------
    Tensor of shape (batch, 4 * n_features + 1)
    """
    mask = real_steps(lengths.to(x.device), x.shape[1])
    n = lengths.to(x.device, x.dtype)[:, None]
    zeroed = x * mask
    mean = zeroed.sum(dim=1) / n
    variance = ((zeroed - mean[:, None, :]) * mask).pow(2).sum(dim=1) / n
    std = variance.clamp_min(0).sqrt()
    minimum = x.masked_fill(~mask, float("inf")).amin(dim=1)
    maximum = x.masked_fill(~mask, float("-inf")).amax(dim=1)
    return torch.cat([mean, std, minimum, maximum, n.log()], dim=1)
