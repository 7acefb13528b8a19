"""Validated sequences -> values + lengths, a dataset over them, and batches.

A batch is gathered in one indexing operation (no per-sample ``__getitem__`` and
collate) and cut to its own longest sequence, so that a few long recordings do not
make every batch as long as they are. Only an in-memory list of sequences is copied
(once, padded); 3-D arrays and lazy collections are read batch by batch.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from ._validation import LazySequences

__all__ = ["SequenceDataset", "BatchIterator", "auto_batch_size", "pad_sequences"]

# batch_size='auto': batches of AUTO_BATCH_SIZE, smaller on small data so that an
# epoch makes at least AUTO_MIN_STEPS optimizer steps, never below AUTO_MIN_BATCH.
AUTO_BATCH_SIZE = 32
AUTO_MIN_STEPS = 8
AUTO_MIN_BATCH = 8

Batch = tuple[dict[str, torch.Tensor], torch.Tensor | None]


@contextmanager
def _sharing_read_only_memory() -> Iterator[None]:
    # torch warns that writing to a tensor made from a read-only array is undefined;
    # the package only ever reads the user's arrays, so sharing their memory is safe.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is not writable.*")
        yield


def pad_sequences(
    X: np.ndarray | list[np.ndarray] | LazySequences, dtype: type = np.float32
) -> tuple[np.ndarray | LazySequences, np.ndarray]:
    """Lay validated sequences out for batching: values and lengths.

    Only an in-memory list of sequences is copied, once, into one zero-padded
    ``dtype`` array (so that batches are gathered from it quickly). A 3-D array --
    a numpy memmap included -- is used as it is and converted batch by batch, and a
    lazy collection stays lazy; neither is ever copied whole.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_timesteps, n_features), list of ndarray, or \
LazySequences
        Output of :func:`sk_mtgru._validation.check_sequences`.
    dtype : type, default=np.float32
        The dtype the network computes in.

    Returns
    -------
    values : ndarray of shape (n_samples, max_length, n_features) or LazySequences
    lengths : ndarray of shape (n_samples,), dtype int64

    Raises
    ------
    ValueError
        When values are finite in their own dtype but too large for ``dtype``.
    """
    if isinstance(X, LazySequences):
        return X, X.lengths
    if isinstance(X, np.ndarray):
        lengths = np.full(X.shape[0], X.shape[1], dtype=np.int64)
        check_fits(X, dtype)
        return X, lengths
    lengths = np.array([len(seq) for seq in X], dtype=np.int64)
    values: np.ndarray = np.zeros(
        (len(X), int(lengths.max()), X[0].shape[1]), dtype=dtype
    )
    for i, seq in enumerate(X):
        check_fits(seq, dtype)
        values[i, : len(seq)] = seq
    return values, lengths


def check_finite_outputs(logits: tuple[torch.Tensor, ...]) -> None:
    """Raise a ValueError naming the sequences whose outputs are not finite.

    Parameters
    ----------
    logits : tuple of Tensor of shape (n_sequences, ...)
        Each task's head outputs.
    """
    # One sum over every logit is finite unless one is not (or they are huge): a
    # cheap test first, the per-sequence one only when it fails.
    if math.isfinite(sum(float(t.sum()) for t in logits)):
        return
    finite = torch.stack([torch.isfinite(t).flatten(1).all(dim=1) for t in logits]).all(
        dim=0
    )
    if not bool(finite.all()):
        bad = torch.nonzero(~finite).flatten()[:5].tolist()
        raise ValueError(
            f"The network's outputs for sequence(s) {bad} are not finite: their "
            "values are too large for it (for instance far outside the range seen "
            "at fit). Scale X as at fit, e.g. with the SequenceScaler of the "
            "pipeline."
        )


def check_fits(values: np.ndarray, dtype: type = np.float32) -> None:
    """Raise a ValueError when ``values`` (finite) are too large for ``dtype``."""
    if values.dtype.itemsize > np.dtype(dtype).itemsize and not _fits(values, dtype):
        raise _too_large(dtype)


def _too_large(dtype: type) -> ValueError:
    return ValueError(
        f"X has values too large for {np.dtype(dtype).name} (beyond "
        f"{np.finfo(dtype).max:.3g} in magnitude), in which the network computes. "
        "Scale the features first, e.g. with SequenceScaler."
    )


def _fits(values: np.ndarray, dtype: type, chunk_bytes: int = 1 << 20) -> bool:
    """Whether every value of ``values`` fits ``dtype``'s range, read by chunks."""
    limit = np.finfo(dtype).max
    rows = max(1, chunk_bytes // max(1, values[:1].nbytes))
    return all(
        np.abs(values[start : start + rows]).max(initial=0.0) <= limit
        for start in range(0, len(values), rows)
    )


class SequenceDataset(Dataset):
    """Sequences with their lengths, integer targets and sample weights.

    Batches come out as float32 tensors padded to their longest sequence, however
    the sequences are held: a float32 array is shared with torch and indexed there
    (the fast path); another array -- a float64 one, or a memmap on disk -- is read
    and converted batch by batch; a lazy collection is read sequence by sequence.

    Parameters
    ----------
    values : ndarray of shape (n_samples, max_length, n_features) or LazySequences
        Padded sequences (never written to), or a lazy collection of them.
    lengths : ndarray of shape (n_samples,)
    y : ndarray of shape (n_samples, n_tasks) or None
        Integer class codes per task, -1 where a label is missing; or, for
        regression, float targets, NaN where one is missing.
    sample_weight : ndarray of shape (n_samples,) or None
        Weight of each sample (in accuracies).
    loss_weight : ndarray of shape (n_samples, n_tasks) or None
        Weight of each sample in each task's loss: 0 where its label is missing.

    For sequence labelling, ``y`` has shape (n_samples, max_length, n_tasks),
    ``sample_weight`` (n_samples, max_length) and ``loss_weight`` (n_samples,
    max_length, n_tasks): one entry per time step, -1 and 0 on padding. Batches cut
    them to their longest sequence as they cut the values.
    """

    def __init__(
        self,
        values: np.ndarray | LazySequences,
        lengths: np.ndarray,
        y: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
        loss_weight: np.ndarray | None = None,
    ) -> None:
        self.values = values
        self.tensor = None
        # Set by the estimator: each sequence's random-convolution features
        # (never with random crops, whose features are each crop's).
        self.wide: torch.Tensor | None = None
        if isinstance(values, np.ndarray) and values.dtype == np.float32:
            if values.flags.writeable:
                self.tensor = torch.from_numpy(values)
            else:
                with _sharing_read_only_memory():
                    self.tensor = torch.from_numpy(values)
        self.lengths = torch.from_numpy(np.asarray(lengths, dtype=np.int64))
        self.per_step = y is not None and np.ndim(y) == 3
        self.y = None
        if y is not None:
            y = np.asarray(y)
            # Class codes stay integers; numeric targets (NaN: missing) are float32.
            self.y = torch.from_numpy(
                y.astype(np.float32 if y.dtype.kind == "f" else np.int64, copy=False)
            )
        self.weights = {
            key: torch.from_numpy(np.asarray(value, dtype=np.float32))
            for key, value in (
                ("sample_weight", sample_weight),
                ("loss_weight", loss_weight),
            )
            if value is not None
        }

    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    def batch(self, index: torch.Tensor, crop_length: int | None = None) -> Batch:
        """Gather the samples at ``index``, cut to the longest of them.

        With ``crop_length``, a sequence longer than that is replaced by a window
        of ``crop_length`` steps at a random offset (drawn from torch's global
        generator): a random crop, for training on long recordings.
        """
        lengths = self.lengths[index]
        max_length = int(lengths.max())
        if self.tensor is not None:
            values = self.tensor[index, :max_length]
        elif isinstance(self.values, LazySequences):
            batch = np.zeros(
                (len(index), max_length, self.values.n_features),
                dtype=np.float32,
            )
            for row, i in enumerate(index.tolist()):
                sequence = self.values[i]
                batch[row, : len(sequence)] = sequence
            values = torch.from_numpy(batch)
        else:
            rows = self.values[index.numpy(), :max_length]
            values = torch.from_numpy(rows.astype(np.float32, copy=False))
        if crop_length is not None and max_length > crop_length:
            if self.per_step:
                raise ValueError("random crops are for whole-sequence labels only.")
            values, lengths = _random_crops(values, lengths, crop_length)
            max_length = crop_length
        x = {"x": values, "lengths": lengths}
        if self.wide is not None:  # the network's fixed features, computed once
            x["wide"] = self.wide[index]
        x.update(
            {key: self._cut(w[index], max_length) for key, w in self.weights.items()}
        )
        return x, None if self.y is None else self._cut(self.y[index], max_length)

    def _cut(self, rows: torch.Tensor, max_length: int) -> torch.Tensor:
        """Per-step targets and weights, cut to the batch's longest sequence."""
        return rows[:, :max_length] if self.per_step else rows

    def __getitem__(self, i: int) -> Batch:
        x, y = self.batch(torch.tensor([i]))
        return {key: value[0] for key, value in x.items()}, None if y is None else y[0]


def _random_crops(
    values: torch.Tensor, lengths: torch.Tensor, crop_length: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """A window of ``crop_length`` steps at a random offset of each sequence longer
    than that; shorter ones whole (their padding is zero)."""
    room = (lengths - crop_length).clamp_min(0)
    start = (torch.rand(len(lengths)) * (room + 1).to(torch.float64)).long()
    start = torch.minimum(start, room)  # rand() < 1, but guard the rounding
    steps = start[:, None] + torch.arange(crop_length)[None, :]
    rows = torch.arange(len(lengths))[:, None]
    return values[rows, steps], lengths.clamp_max(crop_length)


def auto_batch_size(n_train: int | None) -> int:
    """``batch_size='auto'`` for ``n_train`` training sequences.

    ``min(32, max(8, n_train // 8))``: batches of 32 from 256 sequences on, and
    below that at least 8 optimizer steps an epoch (batches of 8 under 64
    sequences). 32 when ``n_train`` is unknown (a loaded model).

    Examples
    --------
    >>> [auto_batch_size(n) for n in (36, 100, 200, 5000)]
    [8, 12, 25, 32]
    """
    if n_train is None:
        return AUTO_BATCH_SIZE
    return min(AUTO_BATCH_SIZE, max(AUTO_MIN_BATCH, n_train // AUTO_MIN_STEPS))


class BatchIterator:
    """Mini-batches of a :class:`SequenceDataset` or a ``Subset`` of one.

    Used as skorch's ``iterator_train`` and ``iterator_valid``: skorch calls it with
    the dataset and the iterator's parameters. Shuffling draws from torch's global
    random generator, which the estimator seeds and restores around ``fit``.

    Parameters
    ----------
    dataset : SequenceDataset or torch.utils.data.Subset of one
    batch_size : int
    shuffle : bool, default=False
    bucketing : bool, default=False
        With ``shuffle``: batch sequences of similar lengths together. The shuffled
        order is cut into pools of ``BUCKET_POOL`` batches; each pool is sorted by
        length and cut into batches, and the batches of the epoch are shuffled.
        Batches are padded to less, so the GRU runs fewer steps; every sequence is
        still seen once per epoch, in a random batch at a random time.
    crop_length : int or None, default=None
        Train on a random window of this many steps of each longer sequence,
        drawn anew at every epoch (see :meth:`SequenceDataset.batch`).

    Notes
    -----
    With ``shuffle``, the sequences of each batch come longest first: training
    sums over a batch, so its order does not matter there, and the package's GRU
    kernel then runs each time step over only the sequences not yet ended,
    without reordering the batch (see :func:`~sk_mtgru._gru.run_gru`).
    """

    #: Batches per pool sorted by length when bucketing.
    BUCKET_POOL = 50

    def __init__(
        self,
        dataset: SequenceDataset | Subset,
        batch_size: int,
        shuffle: bool = False,
        bucketing: bool = False,
        crop_length: int | None = None,
    ) -> None:
        self.indices: torch.Tensor | None = None
        base: Any = dataset
        if isinstance(dataset, Subset):
            self.indices = torch.as_tensor(
                np.asarray(dataset.indices), dtype=torch.int64
            )
            base = dataset.dataset
        if not isinstance(base, SequenceDataset):
            raise TypeError(
                f"BatchIterator needs a SequenceDataset, got {type(base).__name__}."
            )
        self.dataset = base
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.bucketing = bucketing
        self.crop_length = crop_length

    def __len__(self) -> int:
        n = len(self.dataset) if self.indices is None else len(self.indices)
        return math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        for batch in self.batch_indices():
            yield self.dataset.batch(batch, self.crop_length)

    def batch_indices(self) -> list[torch.Tensor]:
        """The epoch's batches, as indices into the dataset (a new shuffle at
        each call when shuffling)."""
        index = (
            torch.arange(len(self.dataset)) if self.indices is None else self.indices
        )
        if not self.shuffle:
            return list(index.split(self.batch_size))
        index = index[torch.randperm(len(index))]
        lengths = self.dataset.lengths
        chosen = lengths[index]
        if bool((chosen == chosen[:1]).all()):
            return list(index.split(self.batch_size))  # nothing to sort or bucket
        batches = (
            self._buckets(index) if self.bucketing else index.split(self.batch_size)
        )
        return [
            batch[torch.argsort(lengths[batch], descending=True, stable=True)]
            for batch in batches
        ]

    def _buckets(self, index: torch.Tensor) -> list[torch.Tensor]:
        """The shuffled ``index`` in batches of similar lengths, in random order."""
        batches = []
        for pool in index.split(self.batch_size * self.BUCKET_POOL):
            order = torch.argsort(self.dataset.lengths[pool], stable=True)
            batches.extend(pool[order].split(self.batch_size))
        return [batches[i] for i in torch.randperm(len(batches)).tolist()]
