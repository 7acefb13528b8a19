"""Task groups: checking the ones a user names, and choosing them from a warm-up.

``task_groups='auto'`` (and :func:`sk_mtgru.model_selection.recommend_task_groups`)
follows TAG (Fifty et al., NeurIPS 2021): a short joint fit of every task on one
encoder measures the lookahead affinity of each pair of tasks over the fit, and
the tasks are partitioned so that the total affinity within the groups is
largest (:func:`~sk_mtgru._affinity.best_task_groups`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from numbers import Integral
from typing import Any

import numpy as np
from sklearn.base import clone

from ._affinity import best_task_groups
from ._frames import sequences_of

__all__ = [
    "auto_task_groups",
    "check_task_groups",
    "warm_up_affinity",
    "warm_up_epochs",
]

# Lookahead measurements aimed at in a warm-up: enough for a stable average over
# the fit, few enough that measuring costs no more than the warm-up's training.
_MEASUREMENTS = 50


def check_task_groups(task_groups: Any, task_names: Sequence[str]) -> list[list[int]]:
    """A list of groups of task names or indices, as groups of task indices.

    Every task must be in exactly one group (a task alone is a group of one).
    """
    names = [str(name) for name in task_names]
    n_tasks = len(names)
    example = f"[{names[:1]}, {names[1:]}]" if n_tasks > 1 else f"[{names}]"
    if isinstance(task_groups, (str, bytes)) or not isinstance(
        task_groups, (list, tuple)
    ):
        raise TypeError(
            f"task_groups must be None, 'auto' or a list of groups of task names "
            f"or indices, e.g. {example}; got {task_groups!r}."
        )
    groups: list[list[int]] = []
    for group in task_groups:
        if isinstance(group, (str, bytes, Integral)) or not isinstance(
            group, (list, tuple)
        ):
            raise TypeError(
                f"task_groups must hold groups (lists) of task names or indices, "
                f"e.g. {example}; got the entry {group!r}."
            )
        if not group:
            raise ValueError("task_groups has an empty group: remove it.")
        groups.append([_task_index(task, names) for task in group])
    seen = [k for group in groups for k in group]
    repeated = sorted({names[k] for k in seen if seen.count(k) > 1})
    missing = [names[k] for k in range(n_tasks) if k not in seen]
    if repeated or missing:
        problem = (
            f"names {repeated} in more than one group"
            if repeated
            else f"leaves out {missing}"
        )
        raise ValueError(
            f"task_groups must put every task of y ({names}) in exactly one group; "
            f"it {problem}. A task that should share with no other is a group of "
            "its own, e.g. ['task'] in the list."
        )
    return groups


def _task_index(task: Any, names: list[str]) -> int:
    if isinstance(task, (bool, np.bool_)):
        raise TypeError(f"task_groups names tasks by name or index; got {task!r}.")
    if isinstance(task, Integral):
        if not 0 <= int(task) < len(names):
            raise ValueError(
                f"task_groups names task index {task}, but y has {len(names)} "
                f"task(s) {names}."
            )
        return int(task)
    if isinstance(task, str) and task in names:
        return names.index(task)
    raise ValueError(
        f"task_groups names {task!r}, which is not a task of y: its tasks are "
        f"{names} (or their indices)."
    )


def warm_up_epochs(max_iter: int) -> int:
    """Epochs of the joint warm-up: a tenth of the fit's, at least 3."""
    return max(3, math.ceil(max_iter / 10))


def warm_up_affinity(
    estimator: Any,
    X: Any,
    y: Any,
    sample_weight: Any = None,
    *,
    measure: str = "lookahead",
) -> tuple[np.ndarray, list[str]]:
    """The lookahead task affinity of a short joint fit of ``estimator``'s tasks.

    A clone of the estimator, with every task on one encoder, trains for
    :func:`warm_up_epochs` epochs and measures the affinity about
    ``_MEASUREMENTS`` times over them (``measure``: 'lookahead' or 'cosine').
    Returns the fit's mean affinity and the task names.
    """
    n_samples = len(sequences_of(X, type(estimator).__name__))  # frames too
    epochs = warm_up_epochs(estimator.max_iter)
    batches = epochs * math.ceil(n_samples / estimator._batch_size(n_samples, False))
    probe = clone(estimator).set_params(
        task_groups=None,
        max_iter=epochs,
        task_affinity_interval=max(1, batches // _MEASUREMENTS),
        task_affinity_measure=measure,
        early_stopping=False,
        scoring=None,
        verbose=0,
        warm_start=False,
    )
    with warnings.catch_warnings():
        # a warm-up is short by design: it does not converge
        warnings.simplefilter("ignore")
        probe.fit(X, y, sample_weight=sample_weight)
    return probe.task_affinity_, [str(name) for name in probe.task_names_]


def auto_task_groups(
    estimator: Any, X: Any, y: Any, sample_weight: Any = None
) -> list[list[int]]:
    """The groups ``task_groups='auto'`` trains: TAG's best partition of a
    warm-up's affinity."""
    affinity, _ = warm_up_affinity(estimator, X, y, sample_weight)
    return best_task_groups(affinity)
