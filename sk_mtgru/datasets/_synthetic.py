"""A synthetic generator of multi-task sequence classification problems."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["make_multitask_sequences"]

_N_LATENT = 4


def _check_positive_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def make_multitask_sequences(
    n_samples: int = 200,
    *,
    n_tasks: int = 3,
    n_classes: int | Sequence[int] = 3,
    n_features: int = 4,
    length: int | tuple[int, int] = 30,
    noise: float = 0.5,
    task_relatedness: float = 0.5,
    missing_fraction: float = 0.0,
    missing_label: Any = -1,
    per_step: bool = False,
    segment_length: int | tuple[int, int] = (5, 20),
    random_state: Any = None,
) -> tuple[np.ndarray | list[np.ndarray], np.ndarray]:
    """Generate sequences with one label per task, from tasks of tunable relatedness.

    Each sequence carries a hidden vector ``z`` (4 standard normal values) in its
    features: the features mix ``z`` as a level plus an oscillation of ``z``, each
    component at its own frequency and a random phase, plus Gaussian noise. Task
    ``k``'s label is ``argmax(W_k z)``, where ``W_k = sqrt(r) * W_shared +
    sqrt(1 - r) * W_private_k`` with ``r = task_relatedness``: at 1 all tasks read the
    same directions of ``z`` (closely related tasks); at 0 each task reads its own
    (unrelated tasks). Labels are a deterministic function of ``z``, so with little
    noise every task can be learnt to high accuracy.

    Parameters
    ----------
    n_samples : int, default=200
        Number of sequences.
    n_tasks : int, default=3
        Number of tasks (columns of ``Y``).
    n_classes : int or sequence of int, default=3
        Classes per task: one number for all tasks, or one per task (each >= 2).
    n_features : int, default=4
        Features per time step.
    length : int or (int, int), default=30
        Steps per sequence, or the inclusive range lengths are drawn from uniformly.
    noise : float, default=0.5
        Standard deviation of the Gaussian noise added to every value.
    task_relatedness : float in [0, 1], default=0.5
        How much of each task's decision rule is shared with the other tasks.
    missing_fraction : float in [0, 1), default=0.0
        Fraction of each task's labels to hide: ``round(missing_fraction *
        n_samples)`` entries of each column of ``Y``, chosen at random, become
        ``missing_label`` -- as when every recording was not annotated for every
        task. Train on such ``Y`` with ``MultiTaskGRUClassifier(missing_label=...)``.
    missing_label : int, default=-1
        The value that marks a hidden label.
    per_step : bool, default=False
        Label every time step instead of every sequence, for
        :class:`~sk_mtgru.MultiTaskGRUTagger`: each sequence is then a stream of
        segments (say, activities one after another), each with its own hidden
        vector ``z``, labels and signal; every step of a segment carries the
        segment's labels.
    segment_length : int or (int, int), default=(5, 20)
        ``per_step`` only: steps per segment, or the inclusive range segment
        lengths are drawn from (the last segment ends with its sequence).
    random_state : int, RandomState instance or None, default=None
        Makes the output deterministic.

    Returns
    -------
    X : ndarray of shape (n_samples, length, n_features), or list of ndarray
        The sequences: a 3-D array for a fixed length, else a list of
        ``(length_i, n_features)`` arrays. float32.
    Y : ndarray of shape (n_samples, n_tasks)
        Integer labels, ``0 .. n_classes_k - 1`` in column ``k``, or
        ``missing_label`` where hidden. With ``per_step``: an array of shape
        ``(n_samples, length, n_tasks)`` for a fixed length, else a list of
        ``(length_i, n_tasks)`` arrays, aligned with ``X``'s steps.

    Examples
    --------
    >>> from sk_mtgru.datasets import make_multitask_sequences
    >>> X, Y = make_multitask_sequences(50, n_tasks=2, n_classes=[2, 4], random_state=0)
    >>> X.shape, Y.shape
    ((50, 30, 4), (50, 2))
    >>> X, Y = make_multitask_sequences(5, length=(10, 20), random_state=0)
    >>> type(X).__name__, len(X), X[0].shape[1]
    ('list', 5, 4)
    >>> X, Y = make_multitask_sequences(100, missing_fraction=0.2, random_state=0)
    >>> (Y == -1).sum(axis=0)  # 20 hidden labels per task
    array([20, 20, 20])
    >>> X, Y = make_multitask_sequences(10, length=(20, 40), per_step=True,
    ...                                 random_state=0)
    >>> X[0].shape, Y[0].shape  # a label per step and task
    ((23, 4), (23, 3))
    """
    n_samples = _check_positive_int(n_samples, "n_samples", 1)
    n_tasks = _check_positive_int(n_tasks, "n_tasks", 1)
    n_features = _check_positive_int(n_features, "n_features", 1)
    if isinstance(n_classes, (int, np.integer)):
        classes = [_check_positive_int(n_classes, "n_classes", 2)] * n_tasks
    else:
        classes = [_check_positive_int(c, "n_classes", 2) for c in n_classes]
        if len(classes) != n_tasks:
            raise ValueError(
                f"n_classes has {len(classes)} entries but n_tasks={n_tasks}; give one "
                "per task or a single int."
            )
    if isinstance(length, (int, np.integer)):
        low = high = _check_positive_int(length, "length", 1)
    else:
        if len(length) != 2:
            raise ValueError(
                f"length must be an int or a (min, max) pair, got {length!r}."
            )
        low = _check_positive_int(length[0], "length[0]", 1)
        high = _check_positive_int(length[1], "length[1]", 1)
        if low > high:
            raise ValueError(f"length's range is empty: min {low} > max {high}.")
    for name, value in (("noise", noise), ("task_relatedness", task_relatedness)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
            raise TypeError(f"{name} must be a float, got {value!r}.")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise}.")
    if not 0 <= task_relatedness <= 1:
        raise ValueError(f"task_relatedness must be in [0, 1], got {task_relatedness}.")
    if isinstance(missing_fraction, (bool, np.bool_)) or not isinstance(
        missing_fraction, Real
    ):
        raise TypeError(f"missing_fraction must be a float, got {missing_fraction!r}.")
    if not 0 <= missing_fraction < 1:
        raise ValueError(
            f"missing_fraction must be in [0, 1), got {missing_fraction}: at 1 no "
            "task would have a label left."
        )
    if isinstance(missing_label, (bool, np.bool_)) or not isinstance(
        missing_label, Integral
    ):
        raise TypeError(
            f"missing_label must be an int, got {missing_label!r}: Y holds integer "
            "labels."
        )
    if 0 <= missing_label < max(classes):
        raise ValueError(
            f"missing_label={missing_label} is also a class label (classes are 0 .. "
            f"{max(classes) - 1}); choose a negative value such as -1."
        )

    if isinstance(segment_length, Integral):
        seg_low = seg_high = _check_positive_int(segment_length, "segment_length", 1)
    else:
        if len(segment_length) != 2:
            raise ValueError(
                "segment_length must be an int or a (min, max) pair, got "
                f"{segment_length!r}."
            )
        seg_low = _check_positive_int(segment_length[0], "segment_length[0]", 1)
        seg_high = _check_positive_int(segment_length[1], "segment_length[1]", 1)
        if seg_low > seg_high:
            raise ValueError(
                f"segment_length's range is empty: min {seg_low} > max {seg_high}."
            )

    rng = check_random_state(random_state)
    mixing = rng.normal(size=(n_features, _N_LATENT)) / np.sqrt(_N_LATENT)
    frequencies = rng.uniform(0.03, 0.25, size=_N_LATENT)  # cycles per step
    shared = rng.normal(size=(max(classes), _N_LATENT))
    rules = [
        np.sqrt(task_relatedness) * shared[:k]
        + np.sqrt(1 - task_relatedness) * rng.normal(size=(k, _N_LATENT))
        for k in classes
    ]

    if per_step:
        return _per_step_sequences(
            rng,
            n_samples,
            (low, high),
            (seg_low, seg_high),
            mixing,
            frequencies,
            rules,
            noise,
            missing_fraction,
            missing_label,
        )
    z = rng.normal(size=(n_samples, _N_LATENT))
    Y = np.column_stack([np.argmax(z @ rule.T, axis=1) for rule in rules])
    lengths = rng.randint(low, high + 1, size=n_samples)
    phases = rng.uniform(0, 2 * np.pi, size=(n_samples, _N_LATENT))
    sequences = []
    for i in range(n_samples):
        t = np.arange(lengths[i])[:, np.newaxis]
        latent = z[i] * (1.0 + np.sin(2 * np.pi * frequencies * t + phases[i]))
        values = latent @ mixing.T + noise * rng.normal(size=(lengths[i], n_features))
        sequences.append(values.astype(np.float32))
    X = np.stack(sequences) if low == high else sequences
    Y = Y.astype(np.int64)
    n_missing = round(missing_fraction * n_samples)
    if n_missing:
        for k in range(n_tasks):
            Y[rng.choice(n_samples, size=n_missing, replace=False), k] = missing_label
    return X, Y


def _per_step_sequences(
    rng: np.random.RandomState,
    n_samples: int,
    length: tuple[int, int],
    segment_length: tuple[int, int],
    mixing: np.ndarray,
    frequencies: np.ndarray,
    rules: list[np.ndarray],
    noise: float,
    missing_fraction: float,
    missing_label: int,
) -> tuple[np.ndarray | list[np.ndarray], np.ndarray | list[np.ndarray]]:
    """Streams of segments, each with its own hidden vector and labels."""
    n_features = mixing.shape[0]
    sequences, labels = [], []
    for n_steps in rng.randint(length[0], length[1] + 1, size=n_samples):
        values = np.empty((n_steps, n_features))
        Y = np.empty((n_steps, len(rules)), dtype=np.int64)
        start = 0
        while start < n_steps:
            stop = min(
                n_steps, start + rng.randint(segment_length[0], segment_length[1] + 1)
            )
            z = rng.normal(size=_N_LATENT)
            phase = rng.uniform(0, 2 * np.pi, size=_N_LATENT)
            t = np.arange(stop - start)[:, np.newaxis]
            latent = z * (1.0 + np.sin(2 * np.pi * frequencies * t + phase))
            values[start:stop] = latent @ mixing.T
            Y[start:stop] = [np.argmax(rule @ z) for rule in rules]
            start = stop
        values += noise * rng.normal(size=values.shape)
        sequences.append(values.astype(np.float32))
        labels.append(Y)
    steps = np.concatenate(labels)
    n_missing = round(missing_fraction * len(steps))
    if n_missing:
        for k in range(steps.shape[1]):
            steps[rng.choice(len(steps), size=n_missing, replace=False), k] = (
                missing_label
            )
    labels = np.split(steps, np.cumsum([len(y) for y in labels])[:-1])
    if length[0] == length[1]:
        return np.stack(sequences), np.stack(labels)
    return sequences, labels
