"""pandas input: sktime's (instance, time) frames, a Series of arrays, and the
names of the features per step.

pandas is optional: nothing here imports it. A long frame (one row per recording
and time step, the recording's id in a column) is not read by ``fit`` directly --
which column is the id and which the time is the user's to say --
:func:`sk_mtgru.datasets.from_long` converts it.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

__all__ = [
    "check_feature_names",
    "feature_names",
    "sequences_of",
    "set_feature_names",
]

_LONG_HINT = (
    "A long frame (one row per recording and time step) converts with "
    "sk_mtgru.datasets.from_long(frame, id=..., time=...), which also aligns a "
    "label table to the recordings."
)


def _is_frame(X: Any) -> bool:
    return hasattr(X, "columns") and hasattr(X, "index") and hasattr(X, "iloc")


def _is_series(X: Any) -> bool:
    return not hasattr(X, "columns") and hasattr(X, "index") and hasattr(X, "iloc")


def _numeric(frame: Any) -> bool:
    return all(getattr(dtype, "kind", "O") in "biuf" for dtype in frame.dtypes)


def sequences_of(X: Any, estimator: str) -> Any:
    """``X`` in a form :func:`~sk_mtgru._validation.check_sequences` reads.

    An (instance, time) MultiIndex frame (sktime's) becomes a list of one array
    per instance, in the order the instances first appear, each in its rows'
    order; a Series of arrays (what ``groupby(...).apply`` returns) becomes their
    list; a frame with columns that are not numbers is refused with the
    converter to use. Anything else is returned as it is.
    """
    if _is_frame(X):
        if X.index.nlevels == 2:
            if not _numeric(X):
                raise TypeError(
                    f"{estimator} got an (instance, time) frame with columns that "
                    f"are not numbers: {_not_numeric(X)}. Keep only the feature "
                    "columns (X[features])."
                )
            return [group.to_numpy() for _, group in X.groupby(level=0, sort=False)]
        if X.index.nlevels > 2:
            raise ValueError(
                f"{estimator} got a frame with a {X.index.nlevels}-level index; it "
                "reads an (instance, time) MultiIndex frame, or a frame of "
                f"univariate sequences (one row each). {_LONG_HINT}"
            )
        if not _numeric(X):
            raise TypeError(
                f"{estimator} got a frame with columns that are not numbers "
                f"({_not_numeric(X)}): it reads a frame as univariate sequences, one "
                f"row each. {_LONG_HINT}"
            )
    elif _is_series(X) and X.dtype == object:
        return list(X.to_numpy())
    return X


def _not_numeric(frame: Any) -> str:
    columns = [
        str(c)
        for c, d in zip(frame.columns, frame.dtypes)
        if getattr(d, "kind", "O") not in "biuf"
    ]
    return ", ".join(repr(c) for c in columns[:5])


def feature_names(X: Any) -> np.ndarray | None:
    """The names of the features per step, when ``X`` gives them as strings: the
    columns of an (instance, time) frame, or of a list of frames (one per
    sequence, all with the same columns). None otherwise -- a frame of
    univariate sequences has steps, not features, as columns."""
    if _is_frame(X):
        frame = X if X.index.nlevels == 2 else None
    elif isinstance(X, (list, tuple)) and len(X) and _is_frame(X[0]):
        frame = X[0]
        for i, other in enumerate(X):
            if not _is_frame(other) or list(other.columns) != list(frame.columns):
                got = list(other.columns) if _is_frame(other) else type(other).__name__
                raise ValueError(
                    f"Sequence {i} has columns {got}, sequence 0 has "
                    f"{list(frame.columns)}: every sequence's frame must have the "
                    "same feature columns, in the same order."
                )
    else:
        frame = None
    if frame is None:
        return None
    names = np.asarray(frame.columns, dtype=object)
    return names if all(isinstance(n, str) for n in names) else None


def set_feature_names(estimator: Any, names: np.ndarray | None) -> None:
    """Set ``feature_names_in_`` to ``names``, or remove it when there are none
    (a refit on unnamed features must not keep the old names)."""
    if names is not None:
        estimator.feature_names_in_ = names
    elif hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_


def check_feature_names(fitted: np.ndarray | None, X: Any, estimator: str) -> None:
    """Refuse features named otherwise than at fit, as scikit-learn does; warn
    when only one of fit and now named them."""
    names = feature_names(X)
    if fitted is None and names is None:
        return
    if fitted is None:
        warnings.warn(
            f"X has feature names, but {estimator} was fitted without feature names.",
            UserWarning,
            stacklevel=4,
        )
        return
    if names is None:
        warnings.warn(
            f"X does not have valid feature names, but {estimator} was fitted with "
            "feature names.",
            UserWarning,
            stacklevel=4,
        )
        return
    if list(names) == list(fitted):
        return
    unseen = [n for n in names if n not in set(fitted)]
    missing = [n for n in fitted if n not in set(names)]
    details = []
    if unseen:
        details.append(f"Feature names unseen at fit time: {unseen}.")
    if missing:
        details.append(f"Feature names seen at fit time, yet now missing: {missing}.")
    if not details:
        details.append(
            f"The order differs: {list(names)} now, {list(fitted)} at fit. "
            "Select the columns in the fitted order (X[model.feature_names_in_])."
        )
    raise ValueError(
        "The feature names should match those that were passed during fit.\n"
        + "\n".join(details)
    )
