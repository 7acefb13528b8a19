"""Task affinity: how training one task moves the others, and the groups it implies.

Two measures of a training batch, both on what the tasks share:

- :func:`lookahead_affinity` -- inter-task affinity as TAG defines it (Fifty et
  al., "Efficiently Identifying Task Groupings for Multi-Task Learning", NeurIPS
  2021): ``Z[i, j] = 1 - L_j(after a gradient step on task i's loss) / L_j(now)``,
  the step taken on the shared encoder's parameters only, on the batch. Positive:
  training task ``i`` helps task ``j``; negative: it hurts.
- :func:`gradient_cosine` -- the cosine of each pair of tasks' gradients on the
  shared representation (symmetric, 1 on the diagonal).

:func:`best_task_groups` partitions the tasks so that the total affinity within
the groups is largest, as TAG selects groups from its affinities.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch

__all__ = ["best_task_groups", "gradient_cosine", "group_score", "lookahead_affinity"]

# Up to this many tasks every partition is scored (4,140 for 8 tasks); beyond, the
# groups are merged greedily.
_EXHAUSTIVE_UP_TO = 8


def gradient_cosine(gradients: Sequence[torch.Tensor | None]) -> np.ndarray:
    """Cosine similarity of each pair of tasks' gradients (NaN for a task whose
    gradient is None: the batch labels nothing for it)."""
    n = len(gradients)
    affinity = np.full((n, n), np.nan)
    present = [k for k, g in enumerate(gradients) if g is not None]
    if present:
        flat = torch.stack([gradients[k].flatten() for k in present])  # type: ignore[union-attr]
        unit = torch.nn.functional.normalize(flat, dim=1)
        affinity[np.ix_(present, present)] = (unit @ unit.T).cpu().double().numpy()
    return affinity


def lookahead_affinity(
    module: torch.nn.Module,
    shared: torch.Tensor,
    gradients: Sequence[torch.Tensor | None],
    task_losses: Callable[[], torch.Tensor],
    *,
    step: float,
) -> np.ndarray:
    """TAG's lookahead affinity of one batch: row ``i`` is how much a step on task
    ``i``'s loss lowers each task's loss, as a share of it.

    Parameters
    ----------
    module : torch.nn.Module
        The network; its parameters are restored before returning.
    shared : Tensor
        The shared representation of the batch, with the encoder's graph.
    gradients : sequence of Tensor or None
        Each task's gradient of its own loss on ``shared`` (None: the batch has
        no label for the task).
    task_losses : callable
        Every task's loss on the batch with the module's current parameters.
        Called in evaluation mode (no dropout, so that the losses before and
        after a step differ by the step alone) without gradients.
    step : float
        The learning rate of the lookahead step, plain gradient descent as in
        TAG. (A step preconditioned as Adam's overshoots: measured, it raised
        every task's own loss on the package's default networks.)

    Returns
    -------
    ndarray of shape (n_tasks, n_tasks)
        ``Z[i, j]``; NaN in the rows and columns of the tasks without labels.
    """
    n = len(gradients)
    affinity = np.full((n, n), np.nan)
    present = [k for k, g in enumerate(gradients) if g is not None]
    if not present:
        return affinity
    params = [p for p in module.parameters() if p.requires_grad]
    # Each task's gradient on the encoder's parameters: those ``shared`` depends on.
    per_task = {
        k: torch.autograd.grad(
            shared,
            params,
            grad_outputs=gradients[k],
            retain_graph=True,
            allow_unused=True,
        )
        for k in present
    }
    encoder = [i for i in range(len(params)) if per_task[present[0]][i] is not None]
    saved = [params[i].detach().clone() for i in encoder]
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            before = task_losses().double()
            for k in present:
                for i, value in zip(encoder, saved):
                    # ``.data``: the autograd graph of the training step, which
                    # still holds these parameters, must not see the lookahead.
                    params[i].data.copy_(value - step * per_task[k][i])
                after = task_losses().double()
                ratio = 1.0 - after[present] / before[present]
                affinity[k, present] = ratio.cpu().numpy()
    finally:
        for i, value in zip(encoder, saved):
            params[i].data.copy_(value)
        module.train(was_training)
    return affinity


def group_score(affinity: np.ndarray, groups: Sequence[Sequence[int]]) -> float:
    """Total within-group affinity of a partition, as TAG scores it: each task of
    a group of two or more gets the mean affinity onto it from the group's other
    tasks; a task alone gets 0. NaN entries (never measured) count as 0."""
    z = np.nan_to_num(np.asarray(affinity, dtype=float))
    total = 0.0
    for group in groups:
        if len(group) < 2:
            continue
        members = list(group)
        block = z[np.ix_(members, members)]
        onto = block.sum(axis=0) - np.diag(block)  # from the others onto each task
        total += float(onto.sum()) / (len(members) - 1)
    return total


def _partitions(items: list[int]) -> Iterator[list[list[int]]]:
    """Every partition of ``items`` into non-empty groups."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for partition in _partitions(rest):
        yield [[first], *partition]
        for g in range(len(partition)):
            yield [*partition[:g], [first, *partition[g]], *partition[g + 1 :]]


def best_task_groups(affinity: np.ndarray) -> list[list[int]]:
    """The partition of the tasks with the largest :func:`group_score`.

    Exhaustive up to 8 tasks; beyond, groups start alone and the pair of groups
    whose merge raises the score most is merged while a merge raises it. Ties go
    to fewer groups (more sharing). Groups are sorted by their first task.
    """
    z = np.asarray(affinity, dtype=float)
    n = z.shape[0]
    if n <= _EXHAUSTIVE_UP_TO:
        candidates = _partitions(list(range(n)))
        best = max(
            candidates,
            key=lambda groups: (round(group_score(z, groups), 12), -len(groups)),
        )
    else:
        best = [[k] for k in range(n)]
        while len(best) > 1:
            now = group_score(z, best)
            gains = [
                (group_score(z, _merged(best, a, b)) - now, a, b)
                for a, b in itertools.combinations(range(len(best)), 2)
            ]
            gain, a, b = max(gains)
            if gain < 0:
                break
            best = _merged(best, a, b)
    return sorted((sorted(group) for group in best), key=lambda group: group[0])


def _merged(groups: list[list[int]], a: int, b: int) -> list[list[int]]:
    rest = [g for i, g in enumerate(groups) if i not in (a, b)]
    return [*rest, groups[a] + groups[b]]
