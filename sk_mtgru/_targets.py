"""Targets: one column of labels per task, their names, classes and integer codes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.utils.multiclass import check_classification_targets

__all__ = ["Targets", "check_targets", "encode_targets", "decode_predictions"]


@dataclass(frozen=True)
class Targets:
    """Validated targets.

    Attributes
    ----------
    columns : list of ndarray of shape (n_samples,)
        One array of labels per task, each with its own dtype.
    names : list of str or None
        Task names when the input carried them (a DataFrame's columns or a named
        Series), else None.
    one_dimensional : bool
        Whether ``Y`` was 1-D: a single task, predicted as a 1-D array.
    """

    columns: list[np.ndarray]
    names: list[str] | None
    one_dimensional: bool

    @property
    def n_tasks(self) -> int:
        return len(self.columns)


def _is_missing(column: np.ndarray) -> np.ndarray:
    if column.dtype.kind == "f":
        return np.isnan(column)
    if column.dtype == object:
        return np.array(
            [v is None or (isinstance(v, float) and v != v) for v in column], dtype=bool
        )
    return np.zeros(column.shape, dtype=bool)


def check_targets(Y: Any, n_samples: int, *, estimator: str) -> Targets:
    """Validate ``Y`` against ``n_samples`` sequences and split it into task columns.

    ``Y`` may be 1-D (one task) or 2-D ``(n_samples, n_tasks)``; an array, a list of
    lists, a pandas Series or a DataFrame (whose columns name the tasks).
    """
    if Y is None:
        raise ValueError(
            f"{estimator} requires y to be passed, but the target y is None. Pass Y "
            "with one label per sequence (1-D) or one column per task (2-D)."
        )
    names = None
    if hasattr(Y, "columns") and hasattr(Y, "iloc"):  # pandas DataFrame
        names = [str(c) for c in Y.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"Y has duplicate task names {names}; rename its columns.")
        columns = [np.asarray(Y.iloc[:, k]) for k in range(Y.shape[1])]
        one_dimensional = False
        shape: tuple[int, ...] = tuple(Y.shape)
    else:
        if hasattr(Y, "name") and hasattr(Y, "iloc") and isinstance(Y.name, str):
            names = [Y.name]  # a named pandas Series
        # Lists are read as objects, so that a string task does not turn the labels
        # of an int task into strings; each task's dtype is inferred later.
        Y_arr = (
            np.asarray(Y, dtype=object)
            if isinstance(Y, (list, tuple))
            else np.asarray(Y)
        )
        if Y_arr.dtype.kind == "c":
            raise ValueError("Complex data not supported as labels in Y.")
        shape = Y_arr.shape
        if Y_arr.ndim == 1:
            columns = [Y_arr]
            one_dimensional = True
        elif Y_arr.ndim == 2:
            columns = [Y_arr[:, k] for k in range(Y_arr.shape[1])]
            one_dimensional = False
        else:
            raise ValueError(
                f"Y must be 1-D (one task) or 2-D (n_samples, n_tasks); got shape "
                f"{shape}."
            )
    if shape[0] != n_samples:
        raise ValueError(
            f"X has {n_samples} sequences but Y has {shape[0]} rows: "
            "inconsistent numbers of samples. Give one row of labels per sequence."
        )
    if not one_dimensional and len(columns) == 0:
        raise ValueError("Y has no columns: give at least one task.")
    return Targets(columns=columns, names=names, one_dimensional=one_dimensional)


def encode_targets(
    targets: Targets, task_names: list[str]
) -> tuple[list[np.ndarray], np.ndarray]:
    """Learn each task's classes and encode the labels as int64 codes.

    Returns
    -------
    classes : list of ndarray
        The sorted classes of each task.
    codes : ndarray of shape (n_samples, n_tasks), dtype int64
    """
    classes = []
    codes = np.empty((len(targets.columns[0]), targets.n_tasks), dtype=np.int64)
    for k, (name, column) in enumerate(zip(task_names, targets.columns)):
        missing = _is_missing(column)
        if missing.any():
            raise ValueError(
                f"Task {name!r} has {int(missing.sum())} missing label(s) (None or "
                "NaN), e.g. at row "
                f"{int(np.flatnonzero(missing)[0])}. Every sequence needs a label for "
                "every task: drop those rows or fill in the labels."
            )
        try:
            task_classes, task_codes = np.unique(column, return_inverse=True)
        except TypeError as exc:
            kinds = sorted({type(v).__name__ for v in column})
            raise ValueError(
                f"Task {name!r} mixes label types ({', '.join(kinds)}); the labels of "
                "one task must all be of one type, e.g. all str or all int."
            ) from exc
        if column.dtype == object:
            # An object column (a DataFrame's, or a 2-D Y mixing tasks of different
            # types) gets the dtype its values share, so ints stay ints.
            inferred = np.asarray(column.tolist())
            if inferred.dtype != object:
                column = inferred
                task_classes = np.asarray(task_classes.tolist(), dtype=inferred.dtype)
        check_classification_targets(column)
        if len(task_classes) < 2:
            raise ValueError(
                f"Task {name!r} has only one class ({task_classes[0]!r}) in the "
                "training data; a classifier needs at least 2 classes per task. Drop "
                "the task or add sequences of other classes."
            )
        classes.append(task_classes)
        codes[:, k] = task_codes.reshape(-1)
    return classes, codes


def decode_predictions(classes: list[np.ndarray], codes: np.ndarray) -> np.ndarray:
    """Map ``(n_samples, n_tasks)`` class indices back to the original labels.

    The result has the tasks' common dtype when they share one kind (all ints, all
    strings, ...), and dtype object when they mix kinds, so that no label changes type.
    """
    kinds = {c.dtype.kind for c in classes}
    dtype = np.result_type(*[c.dtype for c in classes]) if len(kinds) == 1 else object
    out = np.empty(codes.shape, dtype=dtype)
    for k, task_classes in enumerate(classes):
        out[:, k] = task_classes[codes[:, k]]
    return out
