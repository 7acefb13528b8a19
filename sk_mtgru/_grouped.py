"""The network of task groups: one encoder per group of tasks, side by side."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import torch
from torch import nn

from ._module import MultiTaskGRU

__all__ = ["GroupedGRU"]


class GroupedGRU(nn.Module):
    """One :class:`~sk_mtgru._module.MultiTaskGRU` per group of tasks.

    Tasks of a group share that group's encoder; tasks of different groups share
    nothing (a task alone is a single-task network). Every branch has the same
    architecture, so their shared representations have the same shape and are
    concatenated along the last axis: the gradient-based balancing strategies and
    task affinity see one shared representation, in which the tasks of different
    groups read different parts.

    Parameters
    ----------
    n_features : int
        Features per time step.
    n_classes : sequence of int
        Outputs of each task's head, in the order of the tasks.
    groups : sequence of sequence of int
        A partition of the tasks ``0 .. len(n_classes) - 1`` into groups.
    **params
        The other parameters of :class:`~sk_mtgru._module.MultiTaskGRU`, the
        same for every branch.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: Sequence[int],
        groups: Sequence[Sequence[int]],
        **params: Any,
    ) -> None:
        super().__init__()
        self.groups = [[int(k) for k in group] for group in groups]
        order = [k for group in self.groups for k in group]
        if sorted(order) != list(range(len(n_classes))):
            raise ValueError(
                f"groups must partition the tasks 0..{len(n_classes) - 1}, each in "
                f"one group; got {self.groups}."
            )
        self.branches = nn.ModuleList(
            MultiTaskGRU(n_features, [n_classes[k] for k in group], **params)
            for group in self.groups
        )
        # Where task k's output is among the branches' outputs, concatenated.
        self._position = [order.index(k) for k in range(len(n_classes))]

    def _branches(self) -> list[MultiTaskGRU]:
        return [cast(MultiTaskGRU, branch) for branch in self.branches]

    @property
    def heads(self) -> list[nn.Module]:
        """Every task's head, in the order of the tasks."""
        heads = [head for branch in self._branches() for head in branch.heads]
        return [heads[p] for p in self._position]

    @property
    def gru_kernel(self) -> str:
        return self._branches()[0].gru_kernel

    @gru_kernel.setter
    def gru_kernel(self, value: str) -> None:
        for branch in self._branches():
            branch.gru_kernel = value

    def _in_task_order(
        self, outputs: Sequence[torch.Tensor]
    ) -> tuple[torch.Tensor, ...]:
        return tuple(outputs[p] for p in self._position)

    def shared(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Every branch's shared representation, concatenated on the last axis."""
        return torch.cat([b.shared(x, lengths) for b in self._branches()], dim=-1)

    def task_logits(
        self, shared: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        """Every task's logits from :meth:`shared`'s representation."""
        parts = shared.chunk(len(self.branches), dim=-1)
        return self._in_task_order(
            [
                logits
                for branch, part in zip(self._branches(), parts)
                for logits in branch.task_logits(part, lengths)
            ]
        )

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        """Logits of every task: a tuple of ``(batch, n_classes_k)`` tensors."""
        return self._in_task_order(
            [logits for branch in self._branches() for logits in branch(x, lengths)]
        )
