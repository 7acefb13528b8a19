"""Sequences from a long frame: one row per recording and time step."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils import Bunch

__all__ = ["from_long"]


def from_long(
    frame: Any,
    *,
    id: str,
    time: str | None = None,
    features: Any = None,
    labels: Any = None,
) -> Bunch:
    """Sequences, their ids and their labels from a long frame.

    Sensor data often arrive as a long table -- one row per recording and time
    step, the recording's id in a column, one column per sensor -- with the labels
    in another table, one row per recording. This is tsfresh's format
    (``column_id``, ``column_sort``); sktime's is a frame indexed by (instance,
    time), which ``fit`` and ``predict`` also read directly; aeon's, a 3-D array or
    a list of 2-D arrays, is the package's own.

    Parameters
    ----------
    frame : pandas.DataFrame
        The long table.
    id : str
        The column naming each row's recording.
    time : str, default=None
        The column that orders a recording's rows (a timestamp, a step number);
        None keeps the rows' order.
    features : list of str, default=None
        The columns to read at each step; by default every column but ``id`` and
        ``time`` (they must all be numbers).
    labels : pandas.DataFrame or Series, default=None
        The labels, one row per recording: indexed by recording id, or with an
        ``id`` column. One column per task. A recording without a row gets
        missing labels (NaN) for every task; a label row without a recording is
        an error.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``X``: a list of one DataFrame per recording (its feature columns, in
        time order), which the estimators read as sequences of different
        lengths and whose column names they keep as ``feature_names_in_``;
        ``ids``: each sequence's recording id, in the order of first appearance
        in ``frame``; ``y``: the labels aligned to ``ids`` (a DataFrame whose
        columns name the tasks; None without ``labels``); ``feature_names``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sk_mtgru.datasets import from_long
    >>> long = pd.DataFrame({
    ...     "recording": ["r1", "r1", "r1", "r2", "r2"],
    ...     "t": [2, 0, 1, 0, 1],
    ...     "acc_x": [0.3, 0.1, 0.2, 1.0, 1.1],
    ...     "acc_y": [3.0, 1.0, 2.0, 5.0, 6.0],
    ... })
    >>> table = pd.DataFrame({"recording": ["r2"], "exercise": ["squat"]})
    >>> data = from_long(long, id="recording", time="t", labels=table)
    >>> [len(x) for x in data.X], data.ids.tolist()
    ([3, 2], ['r1', 'r2'])
    >>> data.X[0]["acc_y"].tolist()
    [1.0, 2.0, 3.0]
    >>> data.y["exercise"].tolist()
    [nan, 'squat']
    """
    if not (hasattr(frame, "columns") and hasattr(frame, "groupby")):
        raise TypeError(
            f"from_long reads a pandas DataFrame, got {type(frame).__name__}."
        )
    columns = list(frame.columns)
    for name, value in (("id", id), ("time", time)):
        if value is not None and value not in columns:
            raise ValueError(
                f"{name}={value!r} is not a column of the frame; its columns are "
                f"{columns}."
            )
    if features is None:
        features = [c for c in columns if c not in (id, time)]
    else:
        features = list(features)
        unknown = [c for c in features if c not in columns]
        if unknown:
            raise ValueError(f"features {unknown} are not columns of the frame.")
    not_numeric = [
        c for c in features if getattr(frame[c].dtype, "kind", "O") not in "biuf"
    ]
    if not features or not_numeric:
        raise ValueError(
            f"The feature columns must be numbers; {not_numeric or 'none is given'}"
            f" {'are' if len(not_numeric) > 1 else 'is'} not. Name them with "
            "features=[...]."
        )
    ids, X = [], []
    for key, rows in frame.groupby(id, sort=False):
        if time is not None:
            rows = rows.sort_values(time, kind="stable")
            rows = rows.set_index(time)
        X.append(rows[features])
        ids.append(key)
    ids_array = np.asarray(ids, dtype=object if not ids else None)
    return Bunch(
        X=X,
        ids=ids_array,
        y=None if labels is None else _aligned(labels, id, ids),
        feature_names=np.asarray(features, dtype=object),
    )


def _aligned(labels: Any, id: str, ids: list[Any]) -> Any:
    """The label rows of ``ids``, in their order; missing rows all NaN."""
    if hasattr(labels, "columns") and id in labels.columns:
        labels = labels.set_index(id)
    elif not hasattr(labels, "columns"):  # a Series: one task
        labels = labels.to_frame()
    if not labels.index.is_unique:
        repeated = labels.index[labels.index.duplicated()].unique().tolist()[:5]
        raise ValueError(
            f"labels has more than one row for the recordings {repeated}: give one "
            "row per recording."
        )
    known = set(ids)
    stray = [i for i in labels.index if i not in known][:5]
    if stray:
        raise ValueError(
            f"labels has rows for recordings the frame does not have: {stray}. "
            "Drop them, or check the id column."
        )
    aligned = labels.astype(object).reindex(ids)
    aligned.index.name = id
    return aligned
