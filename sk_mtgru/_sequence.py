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
from ._grouped import GroupedGRU
from ._grouping import auto_task_groups, check_task_groups
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
    "conv_dilation",
    "input_statistics",
    "sharing",
    "n_experts",
    "random_features",
)


# The parameters of the networks that read whole sequences.
SEQUENCE_NETWORK_CONSTRAINTS: dict = {
    "summary": [StrOptions(set(SUMMARIES))],
    "task_layers": [Interval(Integral, 0, None, closed="left")],
    "conv_layers": [Interval(Integral, 0, None, closed="left")],
    "conv_channels": [Interval(Integral, 1, None, closed="left")],
    "conv_kernel_size": [Interval(Integral, 1, None, closed="left")],
    "conv_stride": [Interval(Integral, 1, None, closed="left")],
    "conv_dilation": [Interval(Integral, 1, None, closed="left")],
    "input_statistics": ["boolean", StrOptions({"rich"})],
    "crop_length": [None, Interval(Integral, 1, None, closed="left")],
    "sharing": [StrOptions(set(SHARINGS))],
    "n_experts": [None, Interval(Integral, 2, None, closed="left")],
    "task_groups": [None, StrOptions({"auto"}), list, tuple],
    "random_features": [Interval(Integral, 0, None, closed="left")],
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


def _partition(groups: list[list[int]] | None, n_tasks: int) -> set[frozenset[int]]:
    """Groups as a set of sets of tasks (None: every task in one group)."""
    return {frozenset(g) for g in (groups or [list(range(n_tasks))])}


class SequenceLevelGRU(BaseMultiTaskGRU):
    """Base of the estimators with one label per sequence and task.

    Not for direct use. Adds to :class:`~sk_mtgru._base.BaseMultiTaskGRU` the
    sequence network and, with ``crop_length``, prediction over overlapping
    windows; a subclass gives ``_combine_windows(outputs, owners, n)``: one
    output per sequence from its windows'.
    """

    crop_length: int | None
    task_groups: Any
    random_features: int

    def _fit_lengths(self, lengths: np.ndarray) -> None:
        """The random features' dilations follow the training sequences' median
        length, or ``crop_length`` when shorter: the windows the network reads
        (set by a new fit; a continued one keeps the network's)."""
        length = int(np.median(lengths))
        if self.crop_length is not None:
            length = min(length, self.crop_length)
        self._random_length = length

    @abstractmethod
    def _combine_windows(
        self, outputs: tuple[torch.Tensor, ...], owners: np.ndarray, n: int
    ) -> tuple[torch.Tensor, ...]:
        """With ``crop_length``: each sequence's outputs from its windows'."""

    def _module(
        self,
        n_features: int,
        n_outputs: list[int],
        task_names: list[str],
        groups: list[list[int]] | None = None,
    ) -> tuple[type[torch.nn.Module], dict[str, Any]]:
        """The torch module's class and its parameters: one encoder for every
        task, or one per group of ``groups``."""
        params = {
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
            "conv_dilation": self.conv_dilation,
            "input_statistics": self.input_statistics,
            "sharing": self.sharing,
            "n_experts": self._n_experts(len(n_outputs)),
            "random_features": self.random_features,
            "random_length": self._random_length if self.random_features else 0,
        }
        if groups is None or len(groups) == 1:
            return MultiTaskGRU, params
        return GroupedGRU, {**params, "groups": groups}

    def _task_groups(
        self,
        X: Any,
        y: Any,
        sample_weight: Any,
        task_names: list[str],
        *,
        incremental: bool,
        continuing: bool,
    ) -> list[list[int]] | None:
        """``task_groups`` as groups of task indices; with 'auto', those of a
        warm-up fit's affinity. A continued fit keeps the fitted groups."""
        if self.task_groups is None:
            groups = None
        elif isinstance(self.task_groups, str):  # 'auto'
            if continuing:
                return self._fitted_groups()
            if len(task_names) < 2:
                return None  # one task: nothing to group, no warm-up
            if incremental:
                raise ValueError(
                    "task_groups='auto' chooses the groups with a warm-up fit on the "
                    "data, which partial_fit does not have. Choose them once with "
                    "sk_mtgru.model_selection.recommend_task_groups on a sample of "
                    "the data and pass the groups it returns as task_groups."
                )
            if self.accelerator is not None:
                raise ValueError(
                    "task_groups='auto' measures task affinity, which accelerator "
                    "does not allow: choose the groups with "
                    "sk_mtgru.model_selection.recommend_task_groups and pass them."
                )
            groups = auto_task_groups(self, X, y, sample_weight)
        else:
            groups = check_task_groups(self.task_groups, task_names)
        if self.early_stopping == "per_task" and groups is not None and len(groups) > 1:
            raise ValueError(
                "early_stopping='per_task' keeps each task's head from its own best "
                "epoch, which task groups do not support yet: use "
                "early_stopping=True with task_groups."
            )
        if continuing:
            fitted = self._fitted_groups()
            if _partition(groups, len(task_names)) != _partition(
                fitted, len(task_names)
            ):
                raise ValueError(
                    f"task_groups={self.task_groups!r} cannot continue a fit whose "
                    f"task groups were {self.task_groups_}. Fit with "
                    "warm_start=False to start afresh."
                )
            return fitted  # in the fitted network's order, which its weights have
        return groups

    def _fitted_groups(self) -> list[list[int]] | None:
        """The fitted network's task groups (None: one encoder)."""
        module = self.net_.module_
        return module.groups if isinstance(module, GroupedGRU) else None

    @property
    def task_groups_(self) -> list[list[str]]:
        """The fitted groups of task names, each with an encoder of its own (one
        group of every task when they all share one)."""
        names = [str(name) for name in self.task_names_]
        groups = self._fitted_groups() or [list(range(len(names)))]
        return [[names[k] for k in group] for group in groups]

    def _n_experts(self, n_tasks: int) -> int:
        """``n_experts``, or by default one expert per task (at least 2)."""
        return self.n_experts if self.n_experts is not None else max(n_tasks, 2)

    def _fitted_architecture(self) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        """Names and fitted values of the parameters that shape the network."""
        module = self.net_.module_
        if isinstance(module, GroupedGRU):  # every branch has the architecture
            module = module.branches[0]
        gru = module.gru
        conv = module.conv
        names = ("hidden_size", "num_layers", "bidirectional", *SEQUENCE_NETWORK)
        if conv is None:  # the convolutions' sizes do not shape this network
            shape = (
                0,
                self.conv_channels,
                self.conv_kernel_size,
                self.conv_stride,
                self.conv_dilation,
            )
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
            # the features' count, as asked (the network rounds it to 84s)
            0 if getattr(module, "random", None) is None else module.random.n_random,
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
