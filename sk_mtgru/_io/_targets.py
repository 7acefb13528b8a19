"""How each kind of targets is kept in a safe file, written and read back as a
:class:`~sk_mtgru._encoding.TaskEncoding`.

Three layouts, one per ``_targets_kind`` of the estimators, as files have always
held them: ``"classes"`` (every task's classes: the classifier), ``"targets"``
(every target's mean and scale: the regressor) and ``"tasks"`` (each task's kind
and its classes or scaling: the mixed estimator and the tagger).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from .._encoding import TaskEncoding
from .._regression import TARGET_LIMIT, scaling_is_valid
from ._format import Reader

__all__ = ["LAYOUTS"]

_CLASS_DTYPE_KINDS = "biufU"  # bools, ints, unsigned ints, floats, strings


def _classes_document(task: Any, classes: np.ndarray) -> dict[str, Any]:
    if classes.dtype.kind not in _CLASS_DTYPE_KINDS:
        raise ValueError(
            f"Task {task!r} has classes of dtype {classes.dtype}, which the safe "
            "format cannot store (it keeps bools, ints, floats and strings). Use "
            "joblib for this model."
        )
    return {"dtype": classes.dtype.str, "values": classes.tolist()}


def _read_class_entry(entry: Any, r: Reader, where: str, n_classes: int) -> np.ndarray:
    """One task's classes, ``{"dtype": ..., "values": [...]}``, for a head of
    ``n_classes`` outputs."""
    dtype_str = r.get(entry, "dtype", str, where)
    values = r.get(entry, "values", list, where)
    try:
        dtype = np.dtype(dtype_str)
    except TypeError as exc:
        raise r.fail(f"{where}.dtype", f"is not a dtype: {dtype_str!r}.") from exc
    if dtype.kind not in _CLASS_DTYPE_KINDS:
        raise r.fail(
            f"{where}.dtype", f"must be a bool, number or str dtype, got {dtype}."
        )
    if not all(isinstance(v, (bool, int, float, str)) for v in values):
        raise r.fail(f"{where}.values", "must hold bools, numbers or strings.")
    try:
        task_classes = np.asarray(values, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise r.fail(f"{where}.values", f"do not fit dtype {dtype}.") from exc
    if task_classes.ndim != 1 or len(task_classes) != n_classes:
        raise r.fail(
            f"{where}.values", f"must list the {n_classes} classes of its head."
        )
    if dtype.kind == "f" and not np.isfinite(task_classes).all():
        raise r.fail(f"{where}.values", "must be finite numbers.")
    if task_classes.tolist() != values:  # e.g. "10" and "11" cut to '<U1'
        raise r.fail(f"{where}.values", f"change when read as dtype {dtype}.")
    if not np.array_equal(np.unique(task_classes), task_classes):
        raise r.fail(
            f"{where}.values", "must be distinct and sorted, as fit makes them."
        )
    return task_classes


class _Layout(Protocol):
    """How one kind of targets is kept: written from a fitted estimator, read
    back as its encoding and whether predictions are named."""

    def write(self, estimator: Any) -> dict[str, Any]: ...

    def read(
        self, fitted: dict[str, Any], r: Reader, task_names: list[str], heads: list
    ) -> tuple[TaskEncoding, bool]: ...


class _Classes:
    """Every task a classification: ``"classes"``, a list of class entries."""

    def write(self, estimator: Any) -> dict[str, Any]:
        encoding = estimator._fitted_encoding()
        return {
            "classes": [
                _classes_document(task, classes)
                for task, classes in zip(estimator.task_names_, encoding.classes)
            ]
        }

    def read(
        self, fitted: dict[str, Any], r: Reader, task_names: list[str], heads: list
    ) -> tuple[TaskEncoding, bool]:
        if any(k < 2 for k in heads):
            raise r.fail("module.n_classes", "must be a list of ints >= 2.")
        classes_doc = r.get(fitted, "classes", list, "fitted")
        if not (len(task_names) == len(classes_doc) == len(heads)):
            raise r.fail("fitted", "has different numbers of tasks, classes and heads.")
        classes = [
            _read_class_entry(entry, r, f"fitted.classes[{k}]", heads[k])
            for k, entry in enumerate(classes_doc)
        ]
        return TaskEncoding.of_classes(classes), False


class _Scaling:
    """Every task a regression: ``"targets"``, their means and scales."""

    def write(self, estimator: Any) -> dict[str, Any]:
        encoding = estimator._fitted_encoding()
        return {
            "targets": {
                "mean": [float(v) for v in encoding.mean],
                "scale": [float(v) for v in encoding.scale],
            }
        }

    def read(
        self, fitted: dict[str, Any], r: Reader, task_names: list[str], heads: list
    ) -> tuple[TaskEncoding, bool]:
        scaling = r.get(fitted, "targets", dict, "fitted")
        mean = r.get(scaling, "mean", list, "fitted.targets")
        scale = r.get(scaling, "scale", list, "fitted.targets")
        if not (len(task_names) == len(mean) == len(scale) == len(heads)):
            raise r.fail(
                "fitted", "has different numbers of targets, scalings and heads."
            )
        if any(k != 1 for k in heads):
            raise r.fail(
                "module.n_classes", "must be 1 for every target of a regressor."
            )
        values = mean + scale
        if not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
        ):
            raise r.fail("fitted.targets", "must hold numbers.")
        mean_arr, scale_arr = np.asarray(mean, float), np.asarray(scale, float)
        if not scaling_is_valid(mean_arr, scale_arr):
            raise r.fail(
                "fitted.targets",
                "must have finite means and positive scales, within "
                f"{TARGET_LIMIT:.3g}.",
            )
        return TaskEncoding.of_scaling(mean_arr, scale_arr), False


class _Tasks:
    """Tasks of either kind: ``"tasks"``, each one's kind and classes or scaling,
    and ``"y_frame"`` (whether predictions come as a DataFrame)."""

    def write(self, estimator: Any) -> dict[str, Any]:
        encoding = estimator._fitted_encoding()
        tasks: list[dict[str, Any]] = []
        for k, kind in enumerate(encoding.kinds):
            if kind == "regression":
                entry = {
                    "mean": float(encoding.mean[k]),
                    "scale": float(encoding.scale[k]),
                }
            else:
                task = estimator.task_names_[k]
                entry = _classes_document(task, encoding.classes[k])
            tasks.append({"kind": kind, **entry})
        return {"tasks": tasks, "y_frame": bool(estimator._y_frame)}

    def read(
        self, fitted: dict[str, Any], r: Reader, task_names: list[str], heads: list
    ) -> tuple[TaskEncoding, bool]:
        tasks = r.get(fitted, "tasks", list, "fitted")
        if not len(task_names) == len(tasks) == len(heads):
            raise r.fail("fitted", "has different numbers of tasks and heads.")
        n = len(tasks)
        kinds: list[str] = []
        classes: list[np.ndarray | None] = [None] * n
        mean, scale = np.full(n, np.nan), np.full(n, np.nan)
        for k, entry in enumerate(tasks):
            where = f"fitted.tasks[{k}]"
            kind = r.get(entry, "kind", str, where)
            if kind == "regression":
                if heads[k] != 1:
                    raise r.fail(where, "is a regression task with a head of several.")
                m = r.get(entry, "mean", float, where)
                s = r.get(entry, "scale", float, where)
                if not scaling_is_valid(m, s):
                    raise r.fail(
                        where,
                        "must have a finite mean and a positive scale, within "
                        f"{TARGET_LIMIT:.3g}.",
                    )
                mean[k], scale[k] = m, s
            elif kind == "classification":
                if heads[k] < 2:
                    raise r.fail(where, "is a classification task with one output.")
                classes[k] = _read_class_entry(entry, r, where, heads[k])
            else:
                raise r.fail(
                    f"{where}.kind", "must be 'classification' or 'regression'."
                )
            kinds.append(kind)
        y_frame = r.get(fitted, "y_frame", bool, "fitted")
        return TaskEncoding.of(kinds, classes, mean, scale), y_frame


#: Each ``_targets_kind``'s layout: ``write(estimator)`` gives the entries of the
#: file's ``"fitted"`` section, ``read(fitted, reader, task_names, heads)`` the
#: encoding and whether predictions are named.
LAYOUTS: dict[str, _Layout] = {
    "classes": _Classes(),
    "scaling": _Scaling(),
    "tasks": _Tasks(),
}
