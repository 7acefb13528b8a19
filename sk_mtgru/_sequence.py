"""The base of the estimators that label whole sequences: its network and windows.

:class:`SequenceLevelGRU` is what the classifier, the regressor and
``MultiTaskGRUEstimator`` share beyond :class:`~sk_mtgru._base.BaseMultiTaskGRU`
and the tagger (whose heads label every step) does not: the sequence network
(front end, summary, sharing, heads; ``_module``), the parameters that shape it,
and ``crop_length``'s overlapping windows at prediction, whose outputs each
estimator combines through ``_combine_windows``.
"""

from __future__ import annotations

from abc import abstractmethod
from numbers import Integral
from typing import Any

import numpy as np
import torch

from ._base import BaseMultiTaskGRU
from ._module import SHARINGS, SUMMARIES, MultiTaskGRU
from ._validation import Interval, StrOptions, sequence_lengths
from ._windows import window_starts

__all__ = ["SequenceLevelGRU", "SEQUENCE_NETWORK_CONSTRAINTS"]

# Parameters that shape the network of the estimators that read whole sequences
# (classifier, regressor) and that the tagger, whose heads read every step, does
# not have (in the order _fitted_architecture reports them).
SEQUENCE_NETWORK = (
    "summary",
    "task_layers",
    "conv_layers",
    "conv_channels",
    "conv_kernel_size",
    "conv_stride",
    "input_statistics",
    "sharing",
    "n_experts",
)


# The parameters of the networks that read whole sequences.
SEQUENCE_NETWORK_CONSTRAINTS: dict = {
    "summary": [StrOptions(set(SUMMARIES))],
    "task_layers": [Interval(Integral, 0, None, closed="left")],
    "conv_layers": [Interval(Integral, 0, None, closed="left")],
    "conv_channels": [Interval(Integral, 1, None, closed="left")],
    "conv_kernel_size": [Interval(Integral, 1, None, closed="left")],
    "conv_stride": [Interval(Integral, 1, None, closed="left")],
    "input_statistics": ["boolean"],
    "crop_length": [None, Interval(Integral, 1, None, closed="left")],
    "sharing": [StrOptions(set(SHARINGS))],
    "n_experts": [None, Interval(Integral, 2, None, closed="left")],
}


def _overlapping_windows(
    X: Any, width: int
) -> tuple[np.ndarray | None, list[np.ndarray]]:
    """Windows of ``width`` steps every ``width // 2`` steps (and one ending at each
    sequence's end) of every sequence longer than ``width``; shorter ones whole.

    Returns each window's sequence index and the windows, or ``(None, [])`` when no
    sequence is longer than ``width``.
    """
    lengths = sequence_lengths(X)
    if int(lengths.max()) <= width:
        return None, []
    step = max(width // 2, 1)
    owners, windows = [], []
    for i, length in enumerate(lengths.tolist()):
        sequence = np.asarray(X[i])
        starts = window_starts(length, width, step) if length > width else [0]
        owners += [i] * len(starts)
        windows += [sequence[start : start + width] for start in starts]
    return np.asarray(owners), windows


class SequenceLevelGRU(BaseMultiTaskGRU):
    """Base of the estimators with one label per sequence and task.

    Not for direct use. Adds to :class:`~sk_mtgru._base.BaseMultiTaskGRU` the
    sequence network and, with ``crop_length``, prediction over overlapping
    windows; a subclass gives ``_combine_windows(outputs, owners, n)``: one
    output per sequence from its windows'.
    """

    crop_length: int | None

    @abstractmethod
    def _combine_windows(
        self, outputs: tuple[torch.Tensor, ...], owners: np.ndarray, n: int
    ) -> tuple[torch.Tensor, ...]:
        """With ``crop_length``: each sequence's outputs from its windows'."""

    def _module(
        self, n_features: int, n_outputs: list[int], task_names: list[str]
    ) -> tuple[type[torch.nn.Module], dict[str, Any]]:
        """The torch module's class and its parameters."""
        return MultiTaskGRU, {
            "n_features": n_features,
            "n_classes": n_outputs,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "bidirectional": self.bidirectional,
            "dropout": self.dropout,
            "summary": self.summary,
            "task_layers": self.task_layers,
            "gru_kernel": self.gru_kernel,
            "conv_layers": self.conv_layers,
            "conv_channels": self.conv_channels,
            "conv_kernel_size": self.conv_kernel_size,
            "conv_stride": self.conv_stride,
            "input_statistics": self.input_statistics,
            "sharing": self.sharing,
            "n_experts": self._n_experts(len(n_outputs)),
        }

    def _n_experts(self, n_tasks: int) -> int:
        """``n_experts``, or by default one expert per task (at least 2)."""
        return self.n_experts if self.n_experts is not None else max(n_tasks, 2)

    def _fitted_architecture(self) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        """Names and fitted values of the parameters that shape the network."""
        module = self.net_.module_
        gru = module.gru
        conv = module.conv
        names = ("hidden_size", "num_layers", "bidirectional", *SEQUENCE_NETWORK)
        if conv is None:  # the convolutions' sizes do not shape this network
            shape = (0, self.conv_channels, self.conv_kernel_size, self.conv_stride)
        else:
            shape = conv.sizes()
        return names, (
            gru.hidden_size,
            gru.num_layers,
            gru.bidirectional,
            module.summary,
            module.task_layers,
            *shape,
            module.input_statistics,
            module.sharing,
            # None (one per task) continues a fit with as many experts as it has;
            # hard sharing ignores n_experts.
            self.n_experts
            if self.n_experts is None or module.sharing == "hard"
            else module.n_experts,
        )

    def _outputs(self, X_checked: Any) -> tuple[tuple[torch.Tensor, ...], np.ndarray]:
        """With ``crop_length``: the outputs of every sequence's overlapping
        windows, combined per sequence; else the heads' outputs."""
        if self.crop_length is not None:
            owners, windows = _overlapping_windows(X_checked, self.crop_length)
            if owners is not None:
                logits, _ = super()._outputs(windows)
                combined = self._combine_windows(logits, owners, len(X_checked))
                return combined, sequence_lengths(X_checked)
        return super()._outputs(X_checked)

    def _score_units(self, predictions: Any) -> np.ndarray:
        units = np.asarray(predictions)
        return units[:, np.newaxis] if units.ndim == 1 else units
