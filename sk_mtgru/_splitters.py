"""Cross-validation folds for multi-task targets: stratified, shuffled, grouped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import check_random_state

from ._targets import Targets, check_targets, missing_mask, step_targets

__all__ = ["MultiTaskStratifiedKFold"]


class MultiTaskStratifiedKFold(BaseCrossValidator):
    """K-fold cross-validation that keeps every task's classes in proportion.

    scikit-learn's splitters do not fit multi-task targets: an integer ``cv``
    gives a 2-D ``Y`` unshuffled ``KFold`` (poor folds on sorted data),
    ``StratifiedKFold`` refuses multi-output targets, and missing labels break
    their target checks. This splitter stratifies

    - on one task (``task``: its index or name), its missing labels counted as
      one more class; or
    - jointly on every task (``task=None``, the default), by iterative
      stratification (Sechidis, Tsoumakas and Vlahavas, 2011): each task's
      classes are spread over the folds in proportion, the rarest first, and a
      missing label is simply not counted;

    with shuffling, and with ``groups`` -- a recording cut into windows, a
    patient's stays -- kept whole in one fold, the groups' label counts
    stratified instead of the samples'. A task of numbers (non-integer values:
    a regression target) is stratified by quintile; for the tagger's per-step
    labels, each sequence counts its steps' labels. Folds then hold about
    ``n_samples / n_splits`` samples each.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2.
    task : int, str or None, default=None
        The task to stratify on (an index, or a column name of a DataFrame
        ``Y``); None stratifies on every task at once.
    shuffle : bool, default=False
        Whether to shuffle the samples (or groups) before assigning them, and to
        break ties at random; without it the folds depend on the order of the
        data only.
    random_state : int, RandomState instance or None, default=None
        The shuffle's seed, when ``shuffle=True``.
    missing_label : scalar or None, default=None
        A label meaning "no label", besides None and NaN, as the estimators'.

    References
    ----------
    .. [1] K. Sechidis, G. Tsoumakas and I. Vlahavas, "On the Stratification of
       Multi-Label Data", ECML PKDD 2011.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_mtgru.model_selection import MultiTaskStratifiedKFold
    >>> Y = np.array([[0, "a"], [0, "b"], [1, "a"], [1, "b"]] * 5, dtype=object)
    >>> Y[::7, 1] = None  # missing labels are fine
    >>> cv = MultiTaskStratifiedKFold(n_splits=2, shuffle=True, random_state=0)
    >>> [np.bincount(Y[test, 0].astype(int)).tolist() for _, test in cv.split(Y, Y)]
    [[5, 5], [5, 5]]
    """

    def __init__(
        self,
        n_splits: int = 5,
        *,
        task: int | str | None = None,
        shuffle: bool = False,
        random_state: Any = None,
        missing_label: Any = None,
    ) -> None:
        self.n_splits = n_splits
        self.task = task
        self.shuffle = shuffle
        self.random_state = random_state
        self.missing_label = missing_label

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """The number of folds.

        Parameters
        ----------
        X, y, groups : object
            Ignored; for compatibility.

        Returns
        -------
        n_splits : int
        """
        return int(self.n_splits)

    def split(
        self, X: Any, y: Any = None, groups: Any = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Indices of the training and test samples of each fold.

        Parameters
        ----------
        X : sized
            The sequences (only their number is read).
        y : array-like of shape (n_samples, n_tasks) or (n_samples,), or list
            The labels, one column per task (a DataFrame's columns name them), or
            the tagger's per-step label arrays.
        groups : array-like of shape (n_samples,), default=None
            A group per sample; a group's samples share a fold.

        Yields
        ------
        train, test : ndarray
            The indices of each fold's training and test samples.
        """
        yield from super().split(X, y, groups)

    def _iter_test_indices(
        self, X: Any = None, y: Any = None, groups: Any = None
    ) -> Iterator[np.ndarray]:
        if isinstance(self.n_splits, bool) or not (
            isinstance(self.n_splits, (int, np.integer)) and self.n_splits >= 2
        ):
            raise ValueError(f"n_splits must be an int >= 2, got {self.n_splits!r}.")
        if y is None:
            raise ValueError(
                "MultiTaskStratifiedKFold stratifies on y: pass it to split()."
            )
        n_samples = len(X)
        counts = self._label_counts(X, y, n_samples)
        if groups is None:
            units = np.arange(n_samples)
        else:
            groups = np.asarray(groups)
            if len(groups) != n_samples:
                raise ValueError(
                    f"groups has {len(groups)} entries but X has {n_samples} samples."
                )
            _, units = np.unique(groups, return_inverse=True)
        n_units = int(units.max()) + 1
        if n_units < self.n_splits:
            raise ValueError(
                f"Cannot make {self.n_splits} folds of {n_units} "
                f"{'groups' if groups is not None else 'samples'}: n_splits must "
                "not exceed their number."
            )
        unit_counts = np.zeros((n_units, counts.shape[1]))
        np.add.at(unit_counts, units, counts)
        sizes = np.bincount(units, minlength=n_units).astype(float)
        folds = _iterative_stratification(
            unit_counts,
            sizes,
            int(self.n_splits),
            check_random_state(self.random_state) if self.shuffle else None,
        )
        for fold in range(self.n_splits):
            yield np.flatnonzero(folds[units] == fold)

    def _label_counts(self, X: Any, y: Any, n_samples: int) -> np.ndarray:
        """``(n_samples, n_labels)``: how many times each sample carries each
        (task, class) label -- once for a sequence's label, per step for the
        tagger's."""
        if _per_step(X, y):
            lengths = np.array([len(labels) for labels in y])
            targets = step_targets(y, lengths, "MultiTaskStratifiedKFold")
            owner = np.repeat(np.arange(n_samples), lengths)
        else:
            targets = check_targets(y, n_samples, estimator="MultiTaskStratifiedKFold")
            owner = np.arange(n_samples)
        columns = self._stratified_columns(targets)
        blocks = []
        for column, count_missing in columns:
            missing = missing_mask(column, self.missing_label)
            values = column.astype(object)
            values[missing] = None
            values[~missing] = _binned(values[~missing])
            labels = sorted({v for v in values[~missing].tolist()}, key=repr)
            index = {label: i for i, label in enumerate(labels)}
            block = np.zeros((n_samples, len(labels) + count_missing))
            codes = np.array(
                [len(labels) if m else index[v] for v, m in zip(values, missing)]
            )
            keep = ~missing if not count_missing else np.ones(len(codes), bool)
            np.add.at(block, (owner[keep], codes[keep]), 1)
            blocks.append(block)
        return np.hstack(blocks)

    def _stratified_columns(self, targets: Targets) -> list[tuple[np.ndarray, int]]:
        """The task columns to stratify on, and whether to count missing labels."""
        if self.task is None:
            return [(column, 0) for column in targets.columns]
        if isinstance(self.task, str):
            if targets.names is None or self.task not in targets.names:
                raise ValueError(
                    f"task={self.task!r} is not a column of y (its tasks are "
                    f"{targets.names or list(range(targets.n_tasks))}); name a "
                    "DataFrame column, or give the task's index."
                )
            return [(targets.columns[targets.names.index(self.task)], 1)]
        if not -targets.n_tasks <= int(self.task) < targets.n_tasks:
            raise ValueError(
                f"task={self.task} is out of range for y's {targets.n_tasks} task(s)."
            )
        return [(targets.columns[int(self.task)], 1)]


def _binned(values: np.ndarray) -> np.ndarray:
    """Labels as they are; numbers of a regression task (non-integer values) as
    their quintile, so that folds hold low and high values alike."""
    try:
        numbers = np.asarray(values.tolist(), dtype=float)
    except (TypeError, ValueError):
        return values
    if not len(numbers) or np.all(numbers == np.round(numbers)):
        return values
    edges = np.quantile(numbers, [0.2, 0.4, 0.6, 0.8])
    return np.digitize(numbers, edges).astype(object)


def _per_step(X: Any, y: Any) -> bool:
    """Whether ``y`` is the tagger's: one array (or DataFrame) of labels per
    sequence of ``X``, as long as it."""
    if not isinstance(y, (list, tuple)) or len(y) != len(X) or not len(y):
        return False
    return all(
        (isinstance(labels, np.ndarray) or hasattr(labels, "columns"))
        and np.ndim(labels) >= 1
        and len(labels) == len(x)
        for labels, x in zip(y, X)
    )


def _iterative_stratification(
    counts: np.ndarray,
    sizes: np.ndarray,
    n_splits: int,
    random_state: np.random.RandomState | None,
) -> np.ndarray:
    """The fold of each unit (sample or group), by iterative stratification.

    ``counts[u, l]``: how many times unit ``u`` carries label ``l``; ``sizes[u]``:
    its number of samples. Labels are served rarest first: each unit carrying
    the label goes to the fold that most lacks it, then the fold that most lacks
    samples; units carrying no label fill the folds that most lack samples. Ties
    go to the lowest fold, or at random with a ``random_state``.
    """
    n_units = len(sizes)
    order = np.arange(n_units)
    if random_state is not None:
        order = random_state.permutation(n_units)
    wanted = np.tile(counts.sum(axis=0) / n_splits, (n_splits, 1))
    wanted_size = np.full(n_splits, sizes.sum() / n_splits)
    folds = np.full(n_units, -1)
    remaining = counts[order].copy()
    unassigned = np.ones(n_units, dtype=bool)  # in ``order``'s positions

    def pick(candidates: np.ndarray) -> int:
        if random_state is not None and len(candidates) > 1:
            return int(random_state.choice(candidates))
        return int(candidates[0])

    def best(scores: np.ndarray, among: np.ndarray) -> np.ndarray:
        top = scores[among].max()
        return among[scores[among] >= top - 1e-9]

    def assign(position: int, label: int | None) -> None:
        folds_all = np.arange(n_splits)
        candidates = folds_all if label is None else best(wanted[:, label], folds_all)
        candidates = best(wanted_size, candidates)
        fold = pick(candidates)
        unit = order[position]
        folds[unit] = fold
        wanted[fold] -= counts[unit]
        wanted_size[fold] -= sizes[unit]
        unassigned[position] = False
        remaining[position] = 0

    while True:
        totals = remaining.sum(axis=0)
        labels = np.flatnonzero(totals > 0)
        if not len(labels):
            break
        rarest = totals[labels].min()
        label = pick(labels[totals[labels] == rarest])
        for position in np.flatnonzero(unassigned & (remaining[:, label] > 0)):
            assign(int(position), label)
    for position in np.flatnonzero(unassigned):
        assign(int(position), None)
    return folds
