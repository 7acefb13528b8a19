"""Metrics and scorers for multi-task classification.

scikit-learn's ``accuracy_score`` rejects multiclass-multioutput targets, so these
functions take ``Y`` with one column per task (or 1-D for one task). The scorers plug
into ``GridSearchCV(scoring={...}, refit=...)`` and ``cross_validate``.

Examples
--------
>>> import numpy as np
>>> from sk_mtgru.metrics import per_task_accuracy, exact_match_accuracy
>>> Y_true = np.array([[0, "a"], [1, "b"], [1, "a"], [0, "b"]], dtype=object)
>>> Y_pred = np.array([[0, "a"], [1, "a"], [0, "a"], [0, "b"]], dtype=object)
>>> per_task_accuracy(Y_true, Y_pred).tolist()
[0.75, 0.75]
>>> float(exact_match_accuracy(Y_true, Y_pred))
0.5
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import make_scorer

from ._targets import check_targets

__all__ = [
    "per_task_accuracy",
    "mean_task_accuracy",
    "exact_match_accuracy",
    "task_accuracy_scorer",
    "mean_task_accuracy_scorer",
    "exact_match_scorer",
]


def _equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise label equality that never fails on mixed dtypes."""
    if a.dtype.kind != b.dtype.kind or a.dtype == object:
        a, b = a.astype(object), b.astype(object)
    return np.asarray(a == b, dtype=bool)


def _per_task_accuracy(
    columns_true: list[np.ndarray],
    columns_pred: list[np.ndarray],
    sample_weight: np.ndarray | None,
) -> np.ndarray:
    return np.array(
        [
            np.average(_equal(t, p), weights=sample_weight)
            for t, p in zip(columns_true, columns_pred)
        ]
    )


def _columns(Y_true: Any, Y_pred: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
    Y_pred = np.asarray(Y_pred, dtype=object) if isinstance(Y_pred, list) else Y_pred
    pred = check_targets(Y_pred, len(Y_pred), estimator="Y_pred")
    true = check_targets(Y_true, len(Y_pred), estimator="Y_true")
    if true.n_tasks != pred.n_tasks:
        raise ValueError(
            f"Y_true has {true.n_tasks} task(s) but Y_pred has {pred.n_tasks}."
        )
    return true.columns, pred.columns


def per_task_accuracy(
    Y_true: Any, Y_pred: Any, *, sample_weight: Any = None
) -> np.ndarray:
    """Accuracy of each task.

    Parameters
    ----------
    Y_true, Y_pred : array-like of shape (n_samples, n_tasks) or (n_samples,)
        True and predicted labels, one column per task.
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    ndarray of shape (n_tasks,)
    """
    columns_true, columns_pred = _columns(Y_true, Y_pred)
    weights = None if sample_weight is None else np.asarray(sample_weight, float)
    return _per_task_accuracy(columns_true, columns_pred, weights)


def mean_task_accuracy(Y_true: Any, Y_pred: Any, *, sample_weight: Any = None) -> float:
    """Mean over tasks of each task's accuracy: ``MultiTaskGRUClassifier.score``.

    Parameters
    ----------
    Y_true, Y_pred : array-like of shape (n_samples, n_tasks) or (n_samples,)
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    float
    """
    return float(
        np.mean(per_task_accuracy(Y_true, Y_pred, sample_weight=sample_weight))
    )


def exact_match_accuracy(
    Y_true: Any, Y_pred: Any, *, sample_weight: Any = None
) -> float:
    """Fraction of samples whose every task is predicted right.

    This is ``MultiOutputClassifier.score``; it falls quickly as tasks are added.

    Parameters
    ----------
    Y_true, Y_pred : array-like of shape (n_samples, n_tasks) or (n_samples,)
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    float
    """
    columns_true, columns_pred = _columns(Y_true, Y_pred)
    all_right = np.logical_and.reduce(
        [_equal(t, p) for t, p in zip(columns_true, columns_pred)]
    )
    weights = None if sample_weight is None else np.asarray(sample_weight, float)
    return float(np.average(all_right, weights=weights))


def _final_estimator(estimator: Any) -> Any:
    while hasattr(estimator, "steps"):  # Pipeline, possibly nested
        estimator = estimator.steps[-1][1]
    return estimator


class _TaskAccuracyScorer:
    """Scorer ``(estimator, X, Y) -> accuracy of one task``, resolved at call time."""

    def __init__(self, task: int | str) -> None:
        self.task = task

    def _index(self, estimator: Any) -> int:
        final = _final_estimator(estimator)
        names = [str(n) for n in getattr(final, "task_names_", [])]
        if isinstance(self.task, str):
            if self.task not in names:
                raise ValueError(
                    f"task_accuracy_scorer: unknown task {self.task!r}; the fitted "
                    f"estimator's tasks are {names}."
                )
            return names.index(self.task)
        if names and not -len(names) <= self.task < len(names):
            raise ValueError(
                f"task_accuracy_scorer: task index {self.task} is out of range for "
                f"{len(names)} task(s)."
            )
        return int(self.task)

    def __call__(
        self, estimator: Any, X: Any, Y: Any, sample_weight: Any = None
    ) -> float:
        index = self._index(estimator)
        scores = per_task_accuracy(Y, estimator.predict(X), sample_weight=sample_weight)
        return float(scores[index])

    def __repr__(self) -> str:
        return f"task_accuracy_scorer({self.task!r})"


def task_accuracy_scorer(task: int | str) -> _TaskAccuracyScorer:
    """Make a scorer of one task's accuracy, for ``GridSearchCV(scoring=...)``.

    Parameters
    ----------
    task : int or str
        The task's index, or its name in the fitted estimator's ``task_names_``
        (looked up through a Pipeline's final step).

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, Y)`` returns that task's accuracy.

    Examples
    --------
    >>> from sk_mtgru.metrics import task_accuracy_scorer, mean_task_accuracy_scorer
    >>> scoring = {"mean": mean_task_accuracy_scorer,
    ...            "exercise": task_accuracy_scorer("exercise")}
    >>> scoring["exercise"]
    task_accuracy_scorer('exercise')
    """
    if isinstance(task, (bool, np.bool_)) or not isinstance(
        task, (int, np.integer, str)
    ):
        raise TypeError(f"task must be a task index (int) or name (str), got {task!r}.")
    return _TaskAccuracyScorer(task if isinstance(task, str) else int(task))


#: Scorer of :func:`mean_task_accuracy` (the estimator's ``score``).
mean_task_accuracy_scorer = make_scorer(mean_task_accuracy)
#: Scorer of :func:`exact_match_accuracy`.
exact_match_scorer = make_scorer(exact_match_accuracy)
