"""Checks of the sequences users pass as ``X`` and of estimator parameters.

Every message a user sees about malformed sequences is written here, so that the
estimators and the scaler speak with one voice.

Axis order: a 3-D ``X`` is ``(n_samples, n_timesteps, n_features)`` -- batch first,
channels last, as in Keras and ``torch.nn.GRU(batch_first=True)``. A 2-D ``X`` is
``(n_samples, n_timesteps)``: univariate sequences. A list holds one
``(n_timesteps_i, n_features)`` array per sequence (or ``(n_timesteps_i,)`` for a
univariate one), and the lengths may differ. A sized, indexable collection that is not
array-like is read one sequence at a time (:class:`LazySequences`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from numbers import Integral, Real
from typing import Any, NamedTuple

import numpy as np
from sklearn.utils import check_array

# scikit-learn's parameter-validation helpers are private API: this module is the only
# place in the package that imports them, so that a change upstream is mended once.
from sklearn.utils._param_validation import (  # noqa: F401  (re-exported)
    HasMethods,
    Interval,
    StrOptions,
    validate_parameter_constraints,
)

from ._frames import sequences_of

__all__ = [
    "HasMethods",
    "Interval",
    "Real",
    "Integral",
    "StrOptions",
    "check_n_features",
    "check_sample_weight",
    "check_sequences",
    "check_task_weights",
    "entries_by_task",
    "per_task",
    "CheckedSequences",
    "FLOAT_DTYPES",
    "STATISTICS_DTYPES",
    "LazySequences",
    "is_lazy_collection",
    "n_features_of",
    "validate_params",
]

#: dtypes kept as they are; others convert to the first. The network's float32 comes
#: later, batch by batch or in one padded copy (see ``_data.pad_sequences``).
FLOAT_DTYPES = [np.float32, np.float64]
#: The same dtypes for statistics (the scaler's): others convert to float64.
STATISTICS_DTYPES = [np.float64, np.float32]

_AXIS_HINT = (
    "Pass a 3-D array (n_samples, n_timesteps, n_features), a 2-D array "
    "(n_samples, n_timesteps) of univariate sequences, or a list of "
    "(n_timesteps_i, n_features) arrays."
)


def validate_params(estimator: Any) -> None:
    """Check ``estimator``'s parameters against its ``_parameter_constraints``.

    Raises scikit-learn's uniform ``InvalidParameterError`` (a ``ValueError`` and a
    ``TypeError``): "The 'x' parameter of Y must be ... Got ... instead."
    """
    validate_parameter_constraints(
        estimator._parameter_constraints,
        estimator.get_params(deep=False),
        caller_name=type(estimator).__name__,
    )


class CheckedSequences(NamedTuple):
    """Validated sequences and what their input form says about later input."""

    #: A 3-D array ``(n_samples, n_timesteps, n_features)``, a list of 2-D
    #: ``(n_timesteps_i, n_features)`` arrays, or a :class:`LazySequences` reading
    #: them on access; values are finite.
    values: np.ndarray | list[np.ndarray] | LazySequences
    #: ``n_timesteps`` when the input was a dense 2-D array of univariate sequences.
    width_2d: int | None


def _dense_or_list(X: Any) -> Any:
    """A dense array when ``X`` is array-like with regular shape, else its list.

    As everywhere in scikit-learn, a list of equal-length lists or arrays is an
    array-like: only a list of sequences of different lengths stays a list.
    """
    is_list = isinstance(X, (list, tuple)) or (
        isinstance(X, np.ndarray) and X.dtype == object and X.ndim == 1
    )
    if not is_list:
        return np.asarray(X)
    if len(X) == 0:
        return []
    try:
        dense = np.asarray(X)
    except ValueError:  # an inhomogeneous shape: sequences of different lengths
        return list(X)
    return list(X) if dense.dtype == object else dense


@contextmanager
def _explain_nan() -> Iterator[None]:
    """Add to scikit-learn's "contains NaN" error what to do about it."""
    try:
        yield
    except ValueError as exc:
        if "NaN" not in str(exc):
            raise
        raise ValueError(
            f"{exc} If NaN pads sequences of different lengths (as tslearn's "
            "to_time_series_dataset does), pass a list of (n_timesteps_i, "
            "n_features) arrays instead: sequences of different lengths need no "
            "padding. Fill values missing inside a recording first (e.g. with the "
            "last value seen)."
        ) from exc


def check_sequences(
    X: Any,
    *,
    dtype: Any = FLOAT_DTYPES,
    estimator: str = "This estimator",
    width_2d: int | None = None,
) -> CheckedSequences:
    """Validate sequences in any accepted form, without modifying them.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_timesteps, n_features) or \
            (n_samples, n_timesteps), list of arrays, or lazy collection
        The sequences; also an (instance, time) MultiIndex frame or a Series of
        arrays (see :func:`~sk_mtgru._frames.sequences_of`). A numpy memmap is
        used in place, without reading it into memory. A sized, indexable
        collection that is not array-like (for instance one that loads each
        recording from disk) is read one sequence at a time.
    dtype : dtype or list of dtypes, default=FLOAT_DTYPES
        Passed to :func:`sklearn.utils.check_array`: a dtype in the list is kept,
        others convert to the first, so float input is not copied here.
    estimator : str
        Name used in messages.
    width_2d : int or None, default=None
        The number of columns of the dense 2-D ``X`` seen at fit, if it was one. A 2-D
        ``X`` must then have as many columns: a transposed array would otherwise pass
        silently as other univariate sequences. Sequences of another length can
        still be passed as a 3-D array or a list.

    Returns
    -------
    CheckedSequences
        ``values`` is a 3-D array for dense input (a view of ``X`` when no conversion
        was needed; 2-D input gains a trailing axis of size 1), a list of 2-D
        arrays for sequences of different lengths, or a :class:`LazySequences`.
    """
    if X is None:
        raise ValueError(f"{estimator} got X=None. {_AXIS_HINT}")
    X = sequences_of(X, estimator)
    if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError(
            f"{estimator} got sparse X; sequences must be dense. Convert them with "
            "X.toarray() first."
        )
    if is_lazy_collection(X):
        return CheckedSequences(
            LazySequences(X, dtype=dtype, estimator=estimator), None
        )
    X_arr = _dense_or_list(X)
    if isinstance(X_arr, list):
        values = _check_sequence_list(X_arr, dtype=dtype, estimator=estimator)
        return CheckedSequences(values, None)

    ndim = X_arr.ndim
    if ndim not in (2, 3):
        raise ValueError(
            f"{estimator} expects X with 2 or 3 dimensions, got {ndim} "
            f"(shape {X_arr.shape}). Reshape your data: {_AXIS_HINT} A single "
            "sequence must still be wrapped in a batch: X[np.newaxis] for a 2-D "
            "(n_timesteps, n_features) sequence."
        )
    if ndim == 2:
        with _explain_nan():
            X_checked = check_array(
                X_arr, dtype=dtype, input_name="X", ensure_min_features=1, copy=False
            )
        if width_2d is not None and X_checked.shape[1] != width_2d:
            raise ValueError(
                f"X has {X_checked.shape[1]} features, but {estimator} is expecting "
                f"{width_2d} features as input: it was fitted on a 2-D X of "
                f"univariate sequences of {width_2d} time steps, and a 2-D X must "
                "have as many columns (is X transposed?). To pass univariate "
                "sequences of another length, use a 3-D array (n_samples, "
                "n_timesteps, 1) or a list of 1-D arrays of different lengths."
            )
        return CheckedSequences(X_checked[:, :, np.newaxis], X_checked.shape[1])
    if (
        dtype is FLOAT_DTYPES
        and type(X_arr) in (np.ndarray, np.memmap)
        and X_arr.dtype in (np.float32, np.float64)
        and X_arr.shape[0] > 0
        and np.isfinite(X_arr.sum(dtype=np.float64))
    ):
        # The common case, validated as check_array would (a finite sum means
        # finite values), without its overhead -- half of predicting one sequence.
        X_checked = X_arr
    else:
        with _explain_nan():
            X_checked = check_array(X_arr, dtype=dtype, allow_nd=True, input_name="X")
    if X_checked.shape[1] == 0:
        raise ValueError(
            f"{estimator} got sequences with zero time steps (shape "
            f"{X_checked.shape}); every sequence needs at least one step."
        )
    if X_checked.shape[2] == 0:
        raise ValueError(
            f"{estimator} got sequences with zero features (shape "
            f"{X_checked.shape}); every step needs at least one feature."
        )
    return CheckedSequences(X_checked, None)


def _check_one_sequence(
    seq: Any, i: int, *, dtype: Any, estimator: str, n_features: int | None
) -> np.ndarray:
    """Validate sequence ``i`` as a 2-D ``(n_timesteps, n_features)`` array."""
    if hasattr(seq, "toarray"):
        raise TypeError(
            f"{estimator} got a sparse matrix as sequence {i}; sequences must be "
            "dense. Convert it with .toarray() first."
        )
    seq_arr = np.asarray(seq)
    if seq_arr.ndim == 1:
        seq_arr = np.reshape(seq_arr, (-1, 1))
    elif seq_arr.ndim != 2:
        raise ValueError(
            f"{estimator} expects each sequence in a list to be a 2-D array "
            f"(n_timesteps, n_features) or a 1-D univariate one; sequence {i} has "
            f"{seq_arr.ndim} dimensions (shape {seq_arr.shape})."
        )
    if seq_arr.shape[0] == 0:
        raise ValueError(
            f"{estimator} got a zero-length sequence at index {i}; every sequence "
            "needs at least one time step. Remove it, or pad it to length 1."
        )
    with _explain_nan():
        checked = check_array(
            seq_arr, dtype=dtype, input_name=f"X[{i}]", ensure_min_features=1
        )
    if n_features is not None and checked.shape[1] != n_features:
        raise ValueError(
            f"{estimator} expects every sequence to have the same number of "
            f"features per time step: sequence 0 has {n_features}, sequence {i} "
            f"has {checked.shape[1]}. Each sequence is (n_timesteps, n_features), "
            "time first: transpose (n_channels, n_timepoints) series, as aeon's "
            "and sktime's, with [x.T for x in X]."
        )
    return checked


def _check_sequence_list(
    X: list[Any], *, dtype: Any, estimator: str
) -> list[np.ndarray]:
    if len(X) == 0:
        raise ValueError(
            f"{estimator} got an empty list of sequences: found 0 sample(s), while a "
            "minimum of 1 is required."
        )
    checked: list[np.ndarray] = []
    for i, seq in enumerate(X):
        n_features = checked[0].shape[1] if checked else None
        checked.append(
            _check_one_sequence(
                seq, i, dtype=dtype, estimator=estimator, n_features=n_features
            )
        )
    return checked


class LazySequences:
    """Sequences read one at a time from a collection that loads them on access.

    Wraps any object with ``len()`` and integer indexing that is not array-like --
    a list-like view of files on disk, say -- so that sequences larger than memory
    together can be trained on batch by batch. Building it reads every sequence once,
    to validate it and learn its length, and keeps none of them; indexing reads and
    validates the sequence again.

    Parameters
    ----------
    source : sequence of array-like of shape (n_timesteps_i, n_features)
    dtype : dtype or list of dtypes
    estimator : str
        Name used in messages.
    """

    def __init__(self, source: Any, *, dtype: Any, estimator: str) -> None:
        self.source = source
        self.dtype = dtype
        self.estimator = estimator
        n = len(source)
        if n == 0:
            raise ValueError(
                f"{estimator} got an empty collection of sequences: found 0 "
                "sample(s), while a minimum of 1 is required."
            )
        lengths = np.empty(n, dtype=np.int64)
        first = _check_one_sequence(
            source[0], 0, dtype=dtype, estimator=estimator, n_features=None
        )
        n_features = int(first.shape[1])
        lengths[0] = len(first)
        for i in range(1, n):
            seq = _check_one_sequence(
                source[i], i, dtype=dtype, estimator=estimator, n_features=n_features
            )
            lengths[i] = len(seq)
        self.lengths = lengths
        self.n_features = n_features

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i: int) -> np.ndarray:
        seq = _check_one_sequence(
            self.source[i],
            int(i),
            dtype=self.dtype,
            estimator=self.estimator,
            n_features=self.n_features,
        )
        if len(seq) != self.lengths[i]:
            raise ValueError(
                f"{self.estimator}: sequence {i} had {self.lengths[i]} time steps when "
                f"first read and has {len(seq)} now; the collection must return the "
                "same sequences each time."
            )
        return seq

    def __iter__(self) -> Any:
        return (self[i] for i in range(len(self)))


def is_lazy_collection(X: Any) -> bool:
    """True for a sized, indexable collection of sequences that is not array-like."""
    return (
        hasattr(X, "__len__")
        and hasattr(X, "__getitem__")
        and not isinstance(X, (list, tuple, str, bytes, dict, np.ndarray))
        and not hasattr(X, "__array__")
        and not hasattr(X, "shape")
    )


def n_features_of(X: np.ndarray | list[np.ndarray] | LazySequences) -> int:
    """Features per time step of validated sequences."""
    if isinstance(X, LazySequences):
        return int(X.n_features)
    return int(X.shape[2] if isinstance(X, np.ndarray) else X[0].shape[1])


def sequence_lengths(X: np.ndarray | list[np.ndarray] | LazySequences) -> np.ndarray:
    """Time steps of each validated sequence."""
    if isinstance(X, LazySequences):
        return np.asarray(X.lengths)
    if isinstance(X, np.ndarray):
        return np.full(X.shape[0], X.shape[1])
    return np.array([len(x) for x in X])


def warn_if_transposed(
    X: np.ndarray | list[np.ndarray] | LazySequences, estimator: str
) -> None:
    """Warn when every sequence has fewer time steps than features.

    That is the sign of an aeon or sktime array, ``(n_samples, n_channels,
    n_timepoints)``, passed without transposing: it would train on the channels as
    time steps, silently.
    """
    n_features = n_features_of(X)
    longest = int(sequence_lengths(X).max())
    if longest < n_features:
        warnings.warn(
            f"Every sequence given to {estimator} has fewer time steps (at most "
            f"{longest}) than features per step ({n_features}). X is read as "
            "(n_samples, n_timesteps, n_features); an aeon or sktime array is "
            "(n_samples, n_channels, n_timepoints): if X is one, pass "
            "X.transpose(0, 2, 1).",
            UserWarning,
            stacklevel=4,  # the user's call of fit
        )


def check_n_features(
    X: np.ndarray | list[np.ndarray] | LazySequences,
    n_features_in: int,
    estimator: str,
) -> None:
    """Raise when validated ``X`` has other features per step than at fit."""
    n_features = n_features_of(X)
    if n_features != n_features_in:
        hint = ""
        if n_features == 1 and isinstance(X, np.ndarray):
            hint = (
                " A 2-D X is read as univariate sequences, one per row: to pass one "
                "(n_timesteps, n_features) sequence, give x[None] or [x]."
            )
        raise ValueError(
            f"X has {n_features} features per time step, but {estimator} was fitted "
            f"with {n_features_in} features per time step. Pass sequences with the "
            f"same features, in the same order, as at fit.{hint}"
        )


def check_sample_weight(sample_weight: Any, n_samples: int) -> np.ndarray:
    """Validate ``sample_weight``: finite, >= 0, one per sample, not all zero."""
    if sample_weight is None:
        return np.ones(n_samples, dtype=np.float32)
    if isinstance(sample_weight, Real):
        sample_weight = np.full(n_samples, sample_weight, dtype=np.float64)
    sw = check_array(
        np.asarray(sample_weight),
        ensure_2d=False,
        dtype=np.float64,
        input_name="sample_weight",
    )
    if sw.ndim != 1 or sw.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight.shape == {sw.shape}, expected ({n_samples},): one weight "
            "per sequence."
        )
    if np.any(sw < 0):
        raise ValueError(
            "sample_weight contains negative values; weights must be >= 0."
        )
    if not np.any(sw > 0):
        raise ValueError("sample_weight is zero everywhere; at least one must be > 0.")
    # Only ratios matter (each batch's loss is normalised by its total weight), so
    # weights are scaled to at most 1 before float32 could overflow on them.
    return (sw / sw.max()).astype(np.float32)


def entries_by_task(
    mapping: dict,
    task_names: Sequence[str],
    parameter: str,
    *,
    default: Any,
    hint: str = "",
) -> list[Any]:
    """One entry per task from a dict keyed by task name; unnamed tasks get ``default``.

    A key that names no task is an error: a typo would otherwise pass silently.
    """
    unknown = [key for key in mapping if str(key) not in task_names]
    if unknown:
        raise ValueError(
            f"{parameter} names unknown task(s) {unknown}; the tasks are "
            f"{list(task_names)}.{hint}"
        )
    by_name = {str(key): value for key, value in mapping.items()}
    return [by_name.get(name, default) for name in task_names]


def per_task(
    value: Any,
    task_names: Sequence[str],
    parameter: str,
    *,
    default: Any,
    what: str,
    every: tuple[type, ...] = (),
    hint: str = "",
) -> list[Any]:
    """One entry per task from a per-task parameter -- the one rule of them all.

    None gives every task ``default``; a value of a type in ``every`` applies to
    every task; a dict keyed by task name gives the tasks it names their entry
    (the others ``default``; a key naming no task is an error); any other
    sequence must have one entry per task, in task order. ``what`` says what an
    entry is ("one weight per task"), for the error message.
    """
    n_tasks = len(task_names)
    if value is None:
        return [default] * n_tasks
    if every and isinstance(value, every):
        return [value] * n_tasks
    if isinstance(value, dict):
        return entries_by_task(value, task_names, parameter, default=default, hint=hint)
    entries = list(value)
    if len(entries) != n_tasks:
        raise ValueError(
            f"{parameter} has {len(entries)} entries but y has {n_tasks} task(s) "
            f"{list(task_names)}: give {what}, or a dict keyed by task name."
        )
    return entries


def check_task_weights(
    task_weights: Any, task_names: Sequence[str]
) -> tuple[float, ...]:
    """Resolve ``task_weights`` to one finite, non-negative float per task.

    ``None`` gives equal weights; a sequence gives one weight per task, in task order;
    a dict maps task names to weights, and tasks it does not name keep weight 1.
    """
    n_tasks = len(task_names)
    if not isinstance(task_weights, dict) and task_weights is not None:
        values = list(np.asarray(task_weights, dtype=object).ravel())
        if np.ndim(task_weights) != 1 or len(values) != n_tasks:
            raise ValueError(
                f"task_weights has {len(values)} value(s) (shape "
                f"{np.shape(task_weights)}) but Y has {n_tasks} task(s): give one "
                "weight per task."
            )
        task_weights = values
    values = per_task(
        task_weights,
        task_names,
        "task_weights",
        default=1.0,
        what="one weight per task",
    )
    weights = []
    for name, value in zip(task_names, values):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
            raise TypeError(
                f"task_weights must hold numbers; task {name!r} has {value!r} of type "
                f"{type(value).__name__}."
            )
        value = float(value)
        if not np.isfinite(value) or value < 0:
            raise ValueError(
                f"task_weights must be finite and non-negative; task {name!r} has "
                f"{value}."
            )
        weights.append(value)
    if not any(weights):
        raise ValueError(
            "task_weights are all zero, so no task would be trained; give at least "
            "one task a positive weight."
        )
    return tuple(weights)
