"""Targets: one column of labels per task, their names, classes and integer codes."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.utils.multiclass import check_classification_targets

from ._validation import per_task

__all__ = [
    "Targets",
    "check_targets",
    "class_weights",
    "loss_weights",
    "decode_predictions",
    "encode_known",
    "encode_targets",
    "label_sequences",
    "missing_mask",
    "step_targets",
]


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


def missing_mask(column: np.ndarray, missing_label: Any = None) -> np.ndarray:
    """Where ``column`` lacks a label: None, NaN, or the ``missing_label`` sentinel."""
    if column.dtype.kind == "f":
        missing = np.isnan(column)
    elif column.dtype == object:
        missing = np.array(
            [v is None or (isinstance(v, float) and v != v) for v in column.tolist()],
            dtype=bool,
        )
    else:
        missing = np.zeros(column.shape, dtype=bool)
    if missing_label is not None:
        missing |= np.array(
            [
                type(v) is type(missing_label) and v == missing_label
                for v in column.tolist()
            ],
            dtype=bool,
        )
    return missing


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
            "inconsistent numbers of samples. Give one row of labels per sequence"
            + (
                " (a long frame, one row per time step, converts with "
                "sk_mtgru.datasets.from_long)."
                if n_samples > shape[0]
                else "."
            )
        )
    if not one_dimensional and len(columns) == 0:
        raise ValueError("Y has no columns: give at least one task.")
    return Targets(columns=columns, names=names, one_dimensional=one_dimensional)


def encode_targets(
    targets: Targets, task_names: list[str], missing_label: Any = None
) -> tuple[list[np.ndarray], np.ndarray]:
    """Learn each task's classes and encode the labels as int64 codes.

    Missing labels (None, NaN or ``missing_label``) get code -1; a task's classes are
    those of its labelled samples.

    Returns
    -------
    classes : list of ndarray
        The sorted classes of each task.
    codes : ndarray of shape (n_samples, n_tasks), dtype int64
    """
    classes = []
    codes = np.full((len(targets.columns[0]), targets.n_tasks), -1, dtype=np.int64)
    for k, (name, column) in enumerate(zip(task_names, targets.columns)):
        labelled = ~missing_mask(column, missing_label)
        if not labelled.any():
            raise ValueError(
                f"Task {name!r} has no labels: every one is missing (None, NaN or "
                f"missing_label={missing_label!r}). Drop the task or label some "
                "sequences."
            )
        column = column[labelled]
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
        _warn_if_nan_text(task_classes, name, missing_label)
        classes.append(task_classes)
        codes[labelled, k] = task_codes.reshape(-1)
    return classes, codes


def _warn_if_nan_text(task_classes: np.ndarray, name: str, missing_label: Any) -> None:
    """Warn when the text 'nan' is a class: what ``np.array(["squat", np.nan])``
    makes of a missing label (numpy turns the NaN into a string)."""
    texts = [c for c in task_classes.tolist() if isinstance(c, str)]
    found = [c for c in texts if c.strip().lower() in ("nan", "none", "")]
    if found and missing_label not in found:
        warnings.warn(
            f"Task {name!r} has the text {found[0]!r} as a class. If it marks missing "
            "labels, numpy turned them into text (np.array(['squat', np.nan]) holds "
            "'nan'): build Y with dtype=object, or use None, or set "
            f"missing_label={found[0]!r}. If it is a real class, ignore this warning.",
            UserWarning,
            stacklevel=6,  # the caller of fit
        )


def encode_known(
    column: np.ndarray, task_classes: np.ndarray, task_name: str, missing_label: Any
) -> np.ndarray:
    """Codes of ``column`` among classes fixed before (-1 where missing).

    A label outside ``task_classes`` is an error: the network has no output for it.
    """
    codes = np.full(len(column), -1, dtype=np.int64)
    lookup = {label: i for i, label in enumerate(task_classes.tolist())}
    missing = missing_mask(column, missing_label)
    for i, label in enumerate(column.tolist()):
        if missing[i]:
            continue
        if label not in lookup:
            raise ValueError(
                f"Task {task_name!r} has label {label!r}, unseen in the first fit "
                f"(classes {task_classes.tolist()}). Fit with warm_start=False to "
                "learn new classes, or give partial_fit all the classes at its first "
                "call."
            )
        codes[i] = lookup[label]
    return codes


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


def class_weights(
    spec: Any,
    classes: list[np.ndarray],
    codes: np.ndarray,
    task_names: list[str],
    *,
    one_dimensional: bool,
) -> list[np.ndarray]:
    """Each task's weight per class, from ``class_weight`` as scikit-learn reads it.

    ``spec`` is None, 'balanced', or (for several tasks) a list with one entry per
    task or a dict keyed by task name, each entry None, 'balanced' or a dict
    ``{label: weight}``; for a 1-D ``y``, a dict ``{label: weight}``. 'balanced'
    weighs class ``c`` of a task by ``n_labelled / (n_classes * n_c)``, as
    ``sklearn.utils.class_weight.compute_class_weight`` does; classes a dict leaves
    out keep weight 1.
    """
    entries: list[Any]
    if isinstance(spec, dict) and one_dimensional:
        entries = [spec]
    else:
        entries = per_task(
            spec,
            task_names,
            "class_weight",
            default=None,
            what="one entry (None, 'balanced' or a dict) per task",
            every=(str,),
            hint=" (For a single task given as a 1-D y, pass {label: weight}.)",
        )
    weights = []
    for k, (name, entry) in enumerate(zip(task_names, entries)):
        n_classes = len(classes[k])
        if entry is None:
            weights.append(np.ones(n_classes))
        elif isinstance(entry, str) and entry == "balanced":
            labelled = codes[:, k][codes[:, k] >= 0]
            counts = np.bincount(labelled, minlength=n_classes)
            weights.append(len(labelled) / (n_classes * np.maximum(counts, 1)))
        elif isinstance(entry, dict):
            task_weights = np.ones(n_classes)
            known = classes[k].tolist()
            for label, value in entry.items():
                if label not in known:
                    raise ValueError(
                        f"class_weight for task {name!r} names label {label!r}, not "
                        f"among its classes {known}."
                    )
                if (
                    isinstance(value, (bool, np.bool_))
                    or not isinstance(value, (int, float, np.number))
                    or not np.isfinite(value)
                    or value < 0
                ):
                    raise ValueError(
                        f"class_weight for task {name!r} gives label {label!r} the "
                        f"weight {value!r}; weights must be finite numbers >= 0."
                    )
                task_weights[known.index(label)] = float(value)
            weights.append(task_weights)
        else:
            raise ValueError(
                f"class_weight for task {name!r} must be None, 'balanced' or a dict "
                f"{{label: weight}}, got {entry!r}."
            )
    return weights


def loss_weights(
    sample_weight: np.ndarray, codes: np.ndarray, per_class: list[np.ndarray]
) -> np.ndarray:
    """Weight of each sample in each task's loss: ``(n_samples, n_tasks)`` float32.

    The sample's weight times its class's weight in the task; 0 where the task's
    label is missing, so that the sample never enters that task's loss.
    """
    weights = np.zeros(codes.shape, dtype=np.float32)
    for k, task_weights in enumerate(per_class):
        labelled = codes[:, k] >= 0
        weights[labelled, k] = (
            sample_weight[labelled] * task_weights[codes[labelled, k]]
        )
    return weights


def label_sequences(Y: Any) -> list[Any]:
    """``Y`` as a list with one entry per sequence."""
    if Y is None:
        raise ValueError(
            "MultiTaskGRUTagger requires y: a list with, per sequence, an array of "
            "shape (n_timesteps_i, n_tasks) -- or (n_timesteps_i,) for one task -- "
            "aligned step by step with X."
        )
    if isinstance(Y, np.ndarray) and Y.ndim in (2, 3) and Y.dtype != object:
        return list(Y)
    if isinstance(Y, (list, tuple)) or (isinstance(Y, np.ndarray) and Y.ndim == 1):
        return list(Y)
    raise TypeError(
        f"y must be a list of per-step label arrays, one per sequence; got "
        f"{type(Y).__name__}. For labels of whole sequences use "
        "MultiTaskGRUClassifier."
    )


def step_targets(Y: Any, lengths: np.ndarray, estimator: str) -> Targets:
    """Check that ``Y[i]`` labels every step of sequence ``i``; one row per step."""
    sequences = label_sequences(Y)
    if len(sequences) != len(lengths):
        raise ValueError(
            f"y has {len(sequences)} label sequences but X has {len(lengths)} "
            "sequences; give one array of per-step labels per sequence."
        )
    frames = all(hasattr(y, "columns") for y in sequences)
    dims = set()
    for i, (labels, length) in enumerate(zip(sequences, lengths)):
        n_dims = np.ndim(labels) if not hasattr(labels, "columns") else 2
        dims.add(n_dims)
        if n_dims not in (1, 2):
            raise ValueError(
                f"y[{i}] has {n_dims} dimensions; each sequence's labels must be 1-D "
                "(n_timesteps_i,) for one task or 2-D (n_timesteps_i, n_tasks)."
            )
        if len(labels) != length:
            raise ValueError(
                f"y[{i}] has {len(labels)} labels but X[{i}] has {length} time "
                "steps: label every step of every sequence (mark a step without a "
                "label with missing_label)."
            )
    if len(dims) > 1:
        raise ValueError(
            "y mixes 1-D and 2-D label sequences; give every sequence the same tasks."
        )
    if frames:
        import pandas as pd

        columns = [list(y.columns) for y in sequences]
        if any(c != columns[0] for c in columns):
            raise ValueError("y's DataFrames must all have the same task columns.")
        steps = pd.concat(sequences, ignore_index=True)
    elif dims == {1}:
        steps = np.concatenate([np.asarray(y) for y in sequences])
    else:
        widths = {np.shape(y)[1] for y in sequences}
        if len(widths) > 1:
            raise ValueError(
                f"y's label sequences have different numbers of tasks {sorted(widths)}"
                "; every step needs a label (or missing_label) for every task."
            )
        steps = np.concatenate([np.asarray(y) for y in sequences])
    return check_targets(steps, int(np.sum(lengths)), estimator=estimator)
