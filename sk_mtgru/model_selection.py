"""Helpers to search multi-task models' hyper-parameters with scikit-learn:
candidate task weights, cross-validation folds for multi-task targets, and the
groups of tasks that should share an encoder."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from numbers import Integral, Real
from typing import Any, cast

import numpy as np
from sklearn.base import clone
from sklearn.utils import Bunch

from ._affinity import best_task_groups, group_score
from ._grouping import warm_up_affinity, warm_up_epochs
from ._splitters import MultiTaskStratifiedKFold

__all__ = ["MultiTaskStratifiedKFold", "recommend_task_groups", "task_weight_grid"]


def recommend_task_groups(
    estimator: Any, X: Any, y: Any, *, sample_weight: Any = None
) -> Bunch:
    """The groups of tasks that should share an encoder, without fitting the model.

    What ``task_groups='auto'`` does before it trains, as TAG (Fifty et al.,
    NeurIPS 2021) chooses groups: a clone of ``estimator`` with every task on one
    encoder trains for a tenth of its ``max_iter`` epochs (at least 3), measuring
    the lookahead task affinity about 50 times; the tasks are then split into the
    groups with the largest total affinity within them (every partition is scored
    up to 8 tasks; beyond, groups are merged greedily). A task that no other
    helps stays alone. Pass the groups as ``task_groups`` to fix them, e.g. in a
    grid search.

    Parameters
    ----------
    estimator : estimator or Pipeline ending in one
        A :class:`~sk_mtgru.MultiTaskGRUClassifier`,
        :class:`~sk_mtgru.MultiTaskGRURegressor` or
        :class:`~sk_mtgru.MultiTaskGRUEstimator` whose tasks to group, unfitted
        or fitted (it is not changed).
        A pipeline's steps before the estimator are fitted on ``X`` and applied.
    X, y : array-like
        The training data, as for the estimator's ``fit``.
    sample_weight : array-like of shape (n_samples,), default=None
        As for ``fit``.

    Returns
    -------
    result : sklearn.utils.Bunch
        ``groups``: the groups of task names; ``affinity``: the warm-up's mean
        affinity, shape (n_tasks, n_tasks), row ``i`` how a step on task ``i``
        lowers each task's loss; ``task_names``; ``score``: the groups' total
        affinity within them; ``epochs``: the warm-up's epochs.

    Examples
    --------
    >>> from sk_mtgru import MultiTaskGRUClassifier
    >>> from sk_mtgru.datasets import make_multitask_sequences
    >>> from sk_mtgru.model_selection import recommend_task_groups
    >>> X, Y = make_multitask_sequences(80, n_tasks=3, length=10, random_state=0)
    >>> model = MultiTaskGRUClassifier(hidden_size=8, max_iter=30, random_state=0)
    >>> result = recommend_task_groups(model, X, Y)
    >>> result.affinity.shape, result.epochs
    ((3, 3), 3)
    >>> sorted(task for group in result.groups for task in group)
    ['task_0', 'task_1', 'task_2']
    """
    if hasattr(estimator, "steps"):  # a Pipeline: fit its transforms on X first
        for _, step in estimator.steps[:-1]:
            if step is not None and step != "passthrough":
                X = clone(step).fit_transform(X, y)
        estimator = estimator.steps[-1][1]
    if not hasattr(estimator, "task_groups"):
        raise TypeError(
            "recommend_task_groups takes a MultiTaskGRUClassifier, "
            "MultiTaskGRURegressor or MultiTaskGRUEstimator (or a Pipeline ending "
            f"in one); got {type(estimator).__name__}."
        )
    affinity, names = warm_up_affinity(estimator, X, y, sample_weight)
    indices = best_task_groups(affinity)
    return Bunch(
        groups=[[names[k] for k in group] for group in indices],
        affinity=affinity,
        task_names=names,
        score=group_score(affinity, indices),
        epochs=warm_up_epochs(estimator.max_iter),
    )


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
