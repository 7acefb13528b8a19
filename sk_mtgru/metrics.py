"""Metrics and scorers for multi-task models.

scikit-learn's ``accuracy_score`` rejects multiclass-multioutput targets, so these
functions take ``Y`` with one column per task (or 1-D for one task). The scorers plug
into ``GridSearchCV(scoring={...}, refit=...)`` and ``cross_validate``, for every
estimator of the package (per step for the tagger) and pipelines ending in one;
:func:`task_scorer` scores one task with any of scikit-learn's metrics.

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

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, is_regressor
from sklearn.metrics import get_scorer, make_scorer

from ._regression import check_regression_targets
from ._targets import check_targets, missing_mask, step_targets

__all__ = [
    "per_task_accuracy",
    "mean_task_accuracy",
    "exact_match_accuracy",
    "task_accuracy_scorer",
    "task_scorer",
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
    missing_label: Any = None,
) -> np.ndarray:
    """Each task's accuracy over its labelled samples (NaN for a task with none).

    Raises a ValueError, as scikit-learn's metrics do, when a task's true labels
    are strings and its predictions numbers, or the other way round: no label
    could ever match, and an accuracy of 0 would hide the mistake."""
    scores = []
    for k, (t, p) in enumerate(zip(columns_true, columns_pred)):
        labelled = ~missing_mask(t, missing_label)
        kinds = _label_kinds(t[labelled]) | _label_kinds(p[labelled])
        if {"string", "number"} <= kinds:
            raise ValueError(
                f"Mix of label input types (string and number) in task {k}: its "
                f"true labels are {_kind_words(t[labelled])} and its predicted "
                f"labels {_kind_words(p[labelled])}. Pass y with the label types "
                "the model was fitted with."
            )
        weights = None if sample_weight is None else sample_weight[labelled]
        if not labelled.any() or (weights is not None and not weights.sum() > 0):
            scores.append(np.nan)
            continue
        scores.append(np.average(_equal(t[labelled], p[labelled]), weights=weights))
    return np.array(scores)


def _label_kinds(values: np.ndarray) -> set[str]:
    """Which of 'string' and 'number' the labels in ``values`` are."""
    if values.dtype.kind in "US":
        return {"string"}
    if values.dtype.kind in "biuf":
        return {"number"}
    kinds = set()
    for value in values.ravel():
        if isinstance(value, str):
            kinds.add("string")
        elif isinstance(value, (numbers.Number, np.number, np.bool_)):
            kinds.add("number")
    return kinds


def _kind_words(values: np.ndarray) -> str:
    kinds = sorted(_label_kinds(values))
    return " and ".join(f"{kind}s" for kind in kinds) or "of another type"


def _columns(Y_true: Any, Y_pred: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
    Y_pred = np.asarray(Y_pred, dtype=object) if isinstance(Y_pred, list) else Y_pred
    pred = check_targets(Y_pred, len(Y_pred), estimator="Y_pred")
    true = check_targets(Y_true, len(Y_pred), estimator="Y_true")
    if true.n_tasks != pred.n_tasks:
        raise ValueError(
            f"Y_true has {true.n_tasks} task(s) but Y_pred has {pred.n_tasks}."
        )
    return true.columns, pred.columns


def _weights(sample_weight: Any) -> np.ndarray | None:
    return None if sample_weight is None else np.asarray(sample_weight, float)


def per_task_accuracy(
    Y_true: Any, Y_pred: Any, *, sample_weight: Any = None, missing_label: Any = None
) -> Any:
    """Accuracy of each task, over the samples labelled for it.

    Parameters
    ----------
    Y_true, Y_pred : array-like of shape (n_samples, n_tasks) or (n_samples,)
        True and predicted labels, one column per task. When ``Y_true`` is a
        DataFrame (as ``predict`` returns for a model fitted on one), the
        accuracies come as a Series indexed by its columns: the tasks' names.
    sample_weight : array-like of shape (n_samples,), default=None
        Weight of each sample; None weighs them alike.
    missing_label : scalar or None, default=None
        A value of ``Y_true`` meaning "no label", besides None and NaN, which always
        do. Samples without a label for a task do not count in its accuracy.

    Returns
    -------
    ndarray of shape (n_tasks,), or pandas.Series
        NaN for a task with no labelled sample.

    Examples
    --------
    >>> import pandas as pd
    >>> from sk_mtgru.metrics import per_task_accuracy
    >>> truth = pd.DataFrame({"exercise": ["squat", "lunge"], "side": ["L", "R"]})
    >>> per_task_accuracy(truth, [["squat", "R"], ["lunge", "R"]]).to_dict()
    {'exercise': 1.0, 'side': 0.5}
    """
    columns_true, columns_pred = _columns(Y_true, Y_pred)
    scores = _per_task_accuracy(
        columns_true, columns_pred, _weights(sample_weight), missing_label
    )
    columns = getattr(Y_true, "columns", None)
    if columns is None:
        return scores
    import pandas as pd

    return pd.Series(scores, index=list(columns), name="accuracy")


def mean_task_accuracy(
    Y_true: Any, Y_pred: Any, *, sample_weight: Any = None, missing_label: Any = None
) -> float:
    """Mean over tasks of each task's accuracy: ``MultiTaskGRUClassifier.score``.

    Tasks without any labelled sample are left out of the mean.

    Parameters
    ----------
    Y_true, Y_pred : array-like of shape (n_samples, n_tasks) or (n_samples,)
        True and predicted labels, one column per task.
    sample_weight : array-like of shape (n_samples,), default=None
        Weight of each sample; None weighs them alike.
    missing_label : scalar or None, default=None
        As in :func:`per_task_accuracy`.

    Returns
    -------
    float
    """
    columns_true, columns_pred = _columns(Y_true, Y_pred)
    scores = _per_task_accuracy(
        columns_true, columns_pred, _weights(sample_weight), missing_label
    )
    return _mean_of_labelled_tasks(scores)


def _mean_of_labelled_tasks(scores: np.ndarray) -> float:
    if np.all(np.isnan(scores)):
        raise ValueError(
            "No task has a labelled sample (every true label is missing), so there "
            "is no score to compute."
        )
    return float(np.nanmean(scores))


def exact_match_accuracy(
    Y_true: Any, Y_pred: Any, *, sample_weight: Any = None, missing_label: Any = None
) -> float:
    """Fraction of samples whose every labelled task is predicted right.

    This is ``MultiOutputClassifier.score``; it falls quickly as tasks are added.
    A sample's missing labels are not judged; a sample with none is left out.

    Parameters
    ----------
    Y_true, Y_pred : array-like of shape (n_samples, n_tasks) or (n_samples,)
        True and predicted labels, one column per task.
    sample_weight : array-like of shape (n_samples,), default=None
        Weight of each sample; None weighs them alike.
    missing_label : scalar or None, default=None
        As in :func:`per_task_accuracy`.

    Returns
    -------
    float
    """
    columns_true, columns_pred = _columns(Y_true, Y_pred)
    labelled = [~missing_mask(t, missing_label) for t in columns_true]
    right = np.logical_and.reduce(
        [_equal(t, p) | ~m for t, p, m in zip(columns_true, columns_pred, labelled)]
    )
    any_label = np.logical_or.reduce(labelled)
    weights = _weights(sample_weight)
    if not any_label.any():
        raise ValueError("Every true label is missing: no sample can be judged.")
    return float(
        np.average(
            right[any_label], weights=None if weights is None else weights[any_label]
        )
    )


def _final_estimator(estimator: Any) -> Any:
    while hasattr(estimator, "steps"):  # Pipeline, possibly nested
        estimator = estimator.steps[-1][1]
    return estimator


class _Scorer:
    """Scorer ``(estimator, X, y) -> metric``, for ``GridSearchCV(scoring=...)``.

    Reads the fitted estimator's ``missing_label`` (through a Pipeline's last step),
    so that missing labels are left out as they were in training. With ``task``, the
    metric is that task's accuracy.
    """

    def __init__(self, metric: Any, name: str, task: int | str | None = None) -> None:
        self.metric = metric
        self.name = name
        self.task = task

    def _index(self, final: Any, task: int | str) -> int:
        names = [str(n) for n in getattr(final, "task_names_", [])]
        if isinstance(task, str):
            if task not in names:
                raise ValueError(
                    f"{self.name}: unknown task {task!r}; the fitted "
                    f"estimator's tasks are {names}."
                )
            return names.index(task)
        if names and not -len(names) <= task < len(names):
            raise ValueError(
                f"{self.name}: task index {task} is out of range for "
                f"{len(names)} task(s)."
            )
        return int(task)

    def __call__(
        self, estimator: Any, X: Any, y: Any, sample_weight: Any = None
    ) -> float:
        final = _final_estimator(estimator)
        index = None if self.task is None else self._index(final, self.task)
        units = _Units(estimator, X, y, sample_weight)
        result = self.metric(
            np.column_stack(units.true).astype(object),
            np.column_stack(units.predicted).astype(object),
            sample_weight=units.weights,
            missing_label=getattr(final, "missing_label", None),
        )
        return float(result if index is None else result[index])

    def __repr__(self) -> str:
        return self.name


def task_accuracy_scorer(task: int | str) -> _Scorer:
    """Make a scorer of one task's accuracy, for ``GridSearchCV(scoring=...)``.

    Parameters
    ----------
    task : int or str
        The task's index, or its name in the fitted estimator's ``task_names_``
        (looked up through a Pipeline's final step).

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)`` returns that task's accuracy over its labelled
        samples.

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
    task = task if isinstance(task, str) else int(task)
    return _Scorer(per_task_accuracy, f"task_accuracy_scorer({task!r})", task=task)


#: Scorer of :func:`mean_task_accuracy` (the estimator's ``score``).
mean_task_accuracy_scorer = _Scorer(mean_task_accuracy, "mean_task_accuracy_scorer")
#: Scorer of :func:`exact_match_accuracy`.
exact_match_scorer = _Scorer(exact_match_accuracy, "exact_match_scorer")


class _Units:
    """What a fitted estimator is scored on: per task, the true and predicted
    values of every unit (a sequence, or a step for the tagger) and the units'
    weights. Probabilities are computed only when asked for."""

    def __init__(self, estimator: Any, X: Any, y: Any, sample_weight: Any) -> None:
        self.estimator, self.X = estimator, X
        self.final = _final_estimator(estimator)
        predicted = estimator.predict(X)
        name = type(self.final).__name__
        weights = None if sample_weight is None else np.asarray(sample_weight, float)
        self.lengths = None
        if getattr(self.final, "_per_step", False):  # one array per sequence
            self.lengths = np.array([len(p) for p in predicted])
            targets = step_targets(y, self.lengths, name)
            predicted = np.concatenate(predicted)
            if weights is not None:
                weights = np.repeat(weights, self.lengths)
        elif is_regressor(self.final):
            targets = check_regression_targets(y, len(predicted), estimator=name)
        else:
            targets = check_targets(y, len(predicted), estimator=name)
        if hasattr(predicted, "columns"):  # mixed kinds: a DataFrame
            predicted = predicted.to_numpy(dtype=object)
        if predicted.ndim == 1:
            predicted = predicted[:, np.newaxis]
        if targets.n_tasks != predicted.shape[1]:
            raise ValueError(
                f"y has {targets.n_tasks} task(s) but {name} predicts "
                f"{predicted.shape[1]}; pass the tasks it was fitted with."
            )
        self.true = targets.columns
        self.predicted = [predicted[:, k] for k in range(predicted.shape[1])]
        self.weights = weights

    def regression(self, k: int) -> bool:
        """Whether task ``k`` predicts numbers."""
        kinds = getattr(self.final, "task_types_", None)
        return is_regressor(self.final) or (
            kinds is not None and kinds[k] == "regression"
        )

    def labelled(self, k: int) -> np.ndarray:
        """The units that have a true value for task ``k``."""
        column = self.true[k]
        if self.regression(k):
            return ~missing_mask(column)
        return ~missing_mask(column, getattr(self.final, "missing_label", None))

    def probabilities(self, k: int) -> np.ndarray:
        """Task ``k``'s class probabilities of every unit."""
        proba = self.estimator.predict_proba(self.X)
        if isinstance(proba, dict):  # mixed kinds: the classification tasks' by name
            task = proba[str(self.final.task_names_[k])]
            return np.concatenate(task) if self.lengths is not None else task
        if getattr(self.final, "_one_dimensional_y", False):
            proba = [proba]  # one task, given without the list over tasks
        if self.lengths is not None:  # the tagger: one array per sequence
            return np.concatenate(proba[k])
        return np.asarray(proba[k])


class _TaskView(BaseEstimator):
    """One task's outputs on its labelled units, seen by a scikit-learn scorer:
    ``predict`` and ``predict_proba`` return them whatever they are passed.

    ``probabilities`` may be a function, called only if a scorer asks for them.
    """

    def __init__(
        self,
        regression: bool = False,
        classes: Any = None,
        predictions: Any = None,
        probabilities: Any = None,
    ) -> None:
        self.regression = regression
        self.classes = classes
        self.predictions = predictions
        self.probabilities = probabilities

    def fit(self, X: Any = None, y: Any = None) -> _TaskView:  # pragma: no cover
        return self

    @property
    def classes_(self) -> np.ndarray:
        if self.regression:
            raise AttributeError("a regression task has no classes")
        return self.classes

    def predict(self, X: Any) -> np.ndarray:
        return self.predictions

    def predict_proba(self, X: Any) -> np.ndarray:
        if callable(self.probabilities):
            self.probabilities = self.probabilities()
        return self.probabilities

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.estimator_type = "regressor" if self.regression else "classifier"
        return tags


def score_task(
    scorer: Any,
    view: _TaskView,
    true: np.ndarray,
    sample_weight: np.ndarray | None,
) -> float:
    """``scorer`` of one task's labelled units (NaN when there are none)."""
    if not len(true):
        return float("nan")
    if sample_weight is None:
        return float(scorer(view, None, true))
    return float(scorer(view, None, true, sample_weight=sample_weight))


class _TaskScorer(_Scorer):
    """Scorer of one task with a scikit-learn scorer (see :func:`task_scorer`)."""

    def __init__(self, task: int | str, scorer: Any, name: str) -> None:
        super().__init__(None, name, task=task)
        self.key = task
        self.scorer = scorer

    def __call__(
        self, estimator: Any, X: Any, y: Any, sample_weight: Any = None
    ) -> float:
        units = _Units(estimator, X, y, sample_weight)
        k = self._index(units.final, self.key)
        rows = units.labelled(k)
        true = units.true[k][rows]
        regression = units.regression(k)
        classes = None
        if regression:
            true = true.astype(float)
        else:
            classes = units.final.classes_
            classes = classes[k] if isinstance(classes, list) else classes
            true = true.astype(classes.dtype) if classes.dtype != object else true
        view = _TaskView(
            regression,
            classes,
            units.predicted[k][rows],
            lambda: units.probabilities(k)[rows],
        )
        weights = None if units.weights is None else units.weights[rows]
        return score_task(self.scorer, view, true, weights)


def task_scorer(task: int | str, metric: str | Callable[..., float]) -> _Scorer:
    """Make a scorer of one task with any of scikit-learn's metrics.

    For ``GridSearchCV(scoring={...}, refit=...)`` and ``cross_validate`` over any
    estimator of the package or a pipeline ending in one: the task is scored on
    the units labelled for it (sequences; steps for the tagger), with the metric
    and conventions of scikit-learn (greater is better: error metrics are
    negated, as ``'neg_mean_absolute_error'``).

    Parameters
    ----------
    task : int or str
        The task's index, or its name in the fitted estimator's ``task_names_``.
    metric : str or callable
        A scikit-learn scorer name (``'balanced_accuracy'``, ``'f1_macro'``,
        ``'roc_auc'``, ``'neg_log_loss'``, ``'r2'``,
        ``'neg_mean_absolute_error'``, ... -- see
        ``sklearn.metrics.get_scorer_names()``), or a metric function
        ``metric(y_true, y_pred)`` of the task's labels or values, greater is
        better.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)``: the task's score.

    Examples
    --------
    >>> from sk_mtgru.metrics import task_scorer
    >>> scoring = {"exercise": task_scorer("exercise", "balanced_accuracy"),
    ...            "duration": task_scorer("duration", "neg_mean_absolute_error")}
    >>> scoring["duration"]
    task_scorer('duration', 'neg_mean_absolute_error')
    """
    if isinstance(task, (bool, np.bool_)) or not isinstance(
        task, (int, np.integer, str)
    ):
        raise TypeError(f"task must be a task index (int) or name (str), got {task!r}.")
    task = task if isinstance(task, str) else int(task)
    if isinstance(metric, str):
        try:
            scorer = get_scorer(metric)
        except ValueError as exc:
            raise ValueError(
                f"metric={metric!r} is not a scikit-learn scorer name; see "
                "sklearn.metrics.get_scorer_names(), or pass a function "
                "metric(y_true, y_pred)."
            ) from exc
        label = repr(metric)
    elif callable(metric):
        scorer = make_scorer(metric)
        label = getattr(metric, "__name__", repr(metric))
    else:
        raise TypeError(
            f"metric must be a scorer name or a function, got {type(metric).__name__}."
        )
    return _TaskScorer(task, scorer, f"task_scorer({task!r}, {label})")
