"""Helpers to search multi-task models' hyper-parameters with scikit-learn:
candidate task weights and cross-validation folds for multi-task targets."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from numbers import Integral, Real
from typing import cast

import numpy as np

from ._splitters import MultiTaskStratifiedKFold

__all__ = ["MultiTaskStratifiedKFold", "task_weight_grid"]


def task_weight_grid(
    tasks: int | Iterable[str],
    *,
    scale: str = "linear",
    resolution: int | None = None,
    max_ratio: float = 10.0,
    include_zero: bool = False,
) -> list[tuple[float, ...]] | list[dict[str, float]]:
    """Candidate task weightings, for ``GridSearchCV`` over ``task_weights``.

    The candidates are points of the simplex (weights in fixed proportions), scaled
    so that each sums to the number of tasks: equal weighting is ``(1, 1, ..., 1)``,
    the estimator's default, and the loss keeps the scale it has by default.

    Parameters
    ----------
    tasks : int or sequence of str
        The number of tasks, or their names (``task_names_``): with names, each
        candidate is a dict ``{name: weight}``, which ``task_weights`` accepts and
        which reads better in ``cv_results_``.
    scale : {'linear', 'log'}, default='linear'
        'linear': the weights are multiples of ``1 / resolution`` of their total --
        an even grid on the simplex. 'log': each task's weight is one of
        ``resolution`` levels spaced geometrically from 1 to ``max_ratio``, so that
        weightings differing by orders of magnitude are searched evenly.
    resolution : int, default=None
        'linear': the number of parts the total is divided into (default: twice the
        number of tasks, so that equal weighting is a candidate). 'log': the number
        of levels per task (default 3).
    max_ratio : float, default=10.0
        'log' only: the largest ratio between two tasks' weights.
    include_zero : bool, default=False
        'linear' only: whether candidates may give a task weight 0 (train it not
        at all).

    Returns
    -------
    list of tuple of float, or list of dict
        Distinct weightings, equal weighting first. Their number grows quickly with
        the number of tasks: for the defaults, 3, 10, 35 and 126 candidates for 2, 3,
        4 and 5 tasks on the linear scale.

    Examples
    --------
    >>> from sk_mtgru.model_selection import task_weight_grid
    >>> task_weight_grid(2)
    [(1.0, 1.0), (0.5, 1.5), (1.5, 0.5)]
    >>> task_weight_grid(["exercise", "arm"], scale="log", resolution=2)
    [{'exercise': 1.0, 'arm': 1.0}, {'exercise': 0.181818, 'arm': 1.818182}, \
{'exercise': 1.818182, 'arm': 0.181818}]
    >>> grid = {"task_weights": task_weight_grid(3)}  # for GridSearchCV
    >>> len(grid["task_weights"])
    10
    """
    names = _task_names(tasks)
    n_tasks = len(names) if names is not None else int(cast(int, tasks))
    if scale == "linear":
        parts = 2 * n_tasks if resolution is None else _positive_int(resolution)
        if not include_zero and parts < n_tasks:
            raise ValueError(
                f"resolution={parts} cannot give each of {n_tasks} tasks a positive "
                "weight; use resolution >= the number of tasks, or include_zero=True."
            )
        lowest = 0 if include_zero else 1
        points = [
            c
            for c in itertools.product(range(lowest, parts + 1), repeat=n_tasks)
            if sum(c) == parts
        ]
    elif scale == "log":
        levels = 3 if resolution is None else _positive_int(resolution)
        if isinstance(max_ratio, bool) or not isinstance(max_ratio, Real):
            raise TypeError(f"max_ratio must be a number, got {max_ratio!r}.")
        if not (np.isfinite(max_ratio) and max_ratio > 1):
            raise ValueError(f"max_ratio must be a finite number > 1, got {max_ratio}.")
        values = np.geomspace(1.0, max_ratio, levels) if levels > 1 else np.ones(1)
        points = list(itertools.product(values, repeat=n_tasks))
    else:
        raise ValueError(f"scale must be 'linear' or 'log', got {scale!r}.")

    candidates: dict[tuple[float, ...], None] = {}
    equal = (1.0,) * n_tasks
    for point in points:
        weights = np.asarray(point, dtype=float)
        if weights.sum() == 0:
            continue
        scaled = tuple(float(w) for w in np.round(weights * n_tasks / weights.sum(), 6))
        candidates[scaled] = None
    ordered = sorted(candidates, key=lambda w: (w != equal, _spread(w), w))
    if names is None:
        return ordered
    return [dict(zip(names, weights)) for weights in ordered]


def _spread(weights: tuple[float, ...]) -> float:
    return float(np.max(weights) - np.min(weights))


def _positive_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"resolution must be an int >= 1, got {value!r}.")
    return int(value)


def _task_names(tasks: object) -> list[str] | None:
    """None for a number of tasks; the list of names for names."""
    if isinstance(tasks, Integral) and not isinstance(tasks, bool):
        if tasks < 1:
            raise ValueError(f"tasks must be >= 1, got {tasks}.")
        return None
    if isinstance(tasks, (str, bool)) or not hasattr(tasks, "__iter__"):
        raise TypeError(
            "tasks must be a number of tasks or a sequence of task names, got "
            f"{tasks!r}."
        )
    names = list(tasks)
    if not names or not all(isinstance(n, str) for n in names):
        raise ValueError(
            f"task names must be a non-empty sequence of str, got {names!r}."
        )
    if len(set(names)) != len(names):
        raise ValueError(f"task names must be distinct, got {names}.")
    return [str(n) for n in names]
