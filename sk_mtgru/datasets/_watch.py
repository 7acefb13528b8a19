"""The bundled smartwatch shoulder-exercise recordings (from seglearn, BSD-3-Clause)."""

from __future__ import annotations

from importlib import resources

import numpy as np
from sklearn.utils import Bunch

__all__ = ["load_watch"]

_TASKS = ["exercise", "subject", "side"]


def _data_file(name: str):
    return resources.files("sk_mtgru.datasets").joinpath("data").joinpath(name)


def load_watch(*, return_X_y: bool = False, as_frame: bool = False):
    """Load the smartwatch shoulder-exercise recordings: 140 sequences, 3 tasks.

    Six inertial channels (3-axis accelerometer and gyroscope, 50 Hz) recorded by a
    smartwatch while participants performed shoulder physiotherapy exercises; each
    recording, 947 to 2,618 steps long, has three labels: the exercise (7 classes),
    the participant (10) and the arm (2). Published with seglearn under the
    BSD-3-Clause licence; cite Burns et al. 2018, arXiv:1802.01489 (``DESCR`` has
    the details). The data ship with sk_mtgru: nothing is downloaded.

    Read more in the :ref:`watch_dataset` description.

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        Give each recording as a pandas DataFrame with one column per channel, and
        the target as a DataFrame with one column per task (needs pandas).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        data : list of 140 ndarray of shape (n_timesteps_i, 6), float32
            The recordings, time along the first axis, channels along the second.
        target : ndarray of shape (140, 3), int64
            Column 0 the exercise (0 to 6), 1 the participant (1 to 10), 2 the
            side (0 left, 1 right).
        target_names : list of str
            The tasks: ``['exercise', 'subject', 'side']``.
        feature_names : list of str
            The channels: ``['ax', 'ay', 'az', 'wx', 'wy', 'wz']``.
        exercise_names : list of str
            The original code of each exercise class, ``exercise_names[k]`` for
            class ``k``.
        side_names : list of str
            ``['left', 'right']``.
        DESCR : str
            Description of the data, its licence and how to cite it.
    (data, target) : tuple if ``return_X_y`` is True

    Examples
    --------
    >>> from sk_mtgru.datasets import load_watch
    >>> watch = load_watch()
    >>> len(watch.data), watch.data[0].shape, watch.target.shape
    (140, (1333, 6), (140, 3))
    >>> watch.target_names
    ['exercise', 'subject', 'side']
    >>> watch.exercise_names[watch.target[0, 0]]
    'PEN'
    """
    with _data_file("watch.npz").open("rb") as f, np.load(f, allow_pickle=False) as z:
        values = z["values"]
        boundaries = np.cumsum(z["lengths"])[:-1]
        target = np.column_stack([z[task] for task in _TASKS])
        exercise_names = z["exercise_codes"].tolist()
        feature_names = z["feature_names"].tolist()
    data = np.split(values, boundaries)
    if as_frame:
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - pandas is a test dependency
            raise ImportError(
                "load_watch(as_frame=True) needs pandas: pip install pandas, or "
                "call it with as_frame=False."
            ) from exc
        data = [pd.DataFrame(x, columns=feature_names) for x in data]
        target = pd.DataFrame(target, columns=_TASKS)
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        target_names=list(_TASKS),
        feature_names=feature_names,
        exercise_names=exercise_names,
        side_names=["left", "right"],
        DESCR=_data_file("watch.rst").read_text(encoding="utf-8"),
    )
