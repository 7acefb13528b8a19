"""Cut long recordings into fixed-length windows that keep their recording's labels."""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np
import torch

from ._validation import check_sequences

__all__ = ["sliding_windows"]


def _check_length(value: Any, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be a positive int, got {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value}.")
    return int(value)


def _take(values: Any, index: np.ndarray, name: str, n_recordings: int) -> Any:
    """``values[index]`` along the first axis; DataFrames and Series stay pandas."""
    if not hasattr(values, "iloc"):
        values = np.asarray(values)
    if len(values) != n_recordings:
        raise ValueError(
            f"{name} has {len(values)} entries but X has {n_recordings} recordings; "
            f"give one {name} entry per recording."
        )
    if hasattr(values, "iloc"):
        return values.iloc[index].reset_index(drop=True)
    return values[index]


def window_starts(n_timesteps: int, width: int, step: int) -> np.ndarray:
    """Start of every window: every ``step`` steps, plus one ending at the last step."""
    starts = np.arange(0, n_timesteps - width + 1, step)
    if starts[-1] + width < n_timesteps:
        starts = np.append(starts, n_timesteps - width)
    return starts


def sliding_windows(X, Y=None, *, width, step=None, groups=None):
    """Cut recordings into windows of ``width`` steps that inherit their labels.

    Long recordings (minutes of a sensor stream) are slow to train on as whole
    sequences and few in number; windows are many and short. Each window keeps the
    labels of its recording, and ``groups`` tells which recording it came from, so
    that cross-validation keeps the windows of one recording in the same fold —
    with :class:`~sklearn.model_selection.GroupKFold` or
    :class:`~sklearn.model_selection.StratifiedGroupKFold` — and no test window has
    a near copy in the training folds.

    Windows start every ``step`` steps. When the last of them ends before the
    recording does, one more window ends exactly at the last step (overlapping its
    neighbour more), so that every step of every recording is in some window.

    Parameters
    ----------
    X : list of array-like of shape (n_timesteps_i, n_features), or array-like of \
            shape (n_recordings, n_timesteps, n_features) or (n_recordings, n_timesteps)
        The recordings, in any form :class:`MultiTaskGRUClassifier` accepts. Each
        must have at least ``width`` steps.
    Y : array-like of shape (n_recordings,) or (n_recordings, n_tasks), default=None
        The recordings' labels (a DataFrame stays a DataFrame).
    width : int
        Steps per window.
    step : int, default=None
        Steps between the starts of consecutive windows; ``width`` (no overlap) when
        None. A smaller step gives overlapping windows.
    groups : array-like of shape (n_recordings,), default=None
        A group label per recording (for instance the participant) to carry to its
        windows instead of the recording's index.

    Returns
    -------
    X_windows : ndarray of shape (n_windows, width, n_features)
        The windows, in recording order, of the input's float dtype.
    Y_windows : ndarray or DataFrame of shape (n_windows, ...), or None
        Each window's labels: its recording's row of ``Y``.
    groups_windows : ndarray of shape (n_windows,)
        Each window's recording index, or its recording's entry of ``groups``.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_mtgru import sliding_windows
    >>> recordings = [np.zeros((10, 2)), np.ones((8, 2))]  # 10 and 8 steps
    >>> labels = np.array([["walk", "left"], ["run", "right"]])
    >>> X, Y, groups = sliding_windows(recordings, labels, width=4, step=3)
    >>> X.shape
    (6, 4, 2)
    >>> groups  # windows start at 0, 3, 6 and at 0, 3, 4 (the last ends at step 8)
    array([0, 0, 0, 1, 1, 1])
    >>> Y[3]
    array(['run', 'right'], dtype='<U5')
    """
    width = _check_length(width, "width")
    step = width if step is None else _check_length(step, "step")
    values, _ = check_sequences(X, estimator="sliding_windows")
    n_recordings = len(values)

    windows, origin = [], []
    for i in range(n_recordings):
        recording = np.asarray(values[i])
        if len(recording) < width:
            raise ValueError(
                f"Recording {i} has {len(recording)} steps, fewer than width={width}. "
                "Use a smaller width, or leave the short recordings out (or pad them) "
                "before calling sliding_windows."
            )
        starts = window_starts(len(recording), width, step)
        view = np.lib.stride_tricks.sliding_window_view(recording, width, axis=0)
        windows.append(view[starts].transpose(0, 2, 1))
        origin.append(np.full(len(starts), i))
    X_windows = np.concatenate(windows)
    index = np.concatenate(origin)
    Y_windows = None if Y is None else _take(Y, index, "Y", n_recordings)
    groups_windows = (
        index if groups is None else _take(groups, index, "groups", n_recordings)
    )
    return X_windows, Y_windows, groups_windows


def window_means(
    values: torch.Tensor, owners: np.ndarray, n_sequences: int
) -> torch.Tensor:
    """Per sequence, the mean of its windows' rows of ``values`` (float64):
    ``owners[i]`` is the sequence of window ``i``."""
    index = torch.as_tensor(owners)
    counts = torch.bincount(index, minlength=n_sequences).to(torch.float64)
    total = torch.zeros(n_sequences, values.shape[1], dtype=torch.float64)
    total.index_add_(0, index, values.double())
    return total / counts[:, None]
