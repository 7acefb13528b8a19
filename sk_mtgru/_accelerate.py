"""Data-parallel training with Hugging Face Accelerate.

skorch's :class:`~skorch.hf.AccelerateMixin` prepares the module, optimizer and
learning-rate schedule with an ``accelerate.Accelerator`` (DistributedDataParallel
across processes, mixed precision, device placement) and runs each step in its
``autocast`` and ``backward``. Two things it leaves to the net, done here:

- sharding: the package's :class:`~sk_mtgru._data.BatchIterator` is not a torch
  ``DataLoader``, which is what ``Accelerator.prepare`` shards, so
  :class:`ShardedBatches` gives each process every ``num_processes``-th batch of
  one shuffle that all processes draw alike (and, like accelerate's
  ``even_batches``, as many batches to each, repeating the first ones where the
  epoch does not divide evenly);
- agreement on when to stop: each process sees its own batches, so the training
  objective an epoch ends with differs between them; :class:`AverageAcrossProcesses`
  replaces it by its mean over the processes before any stopping rule reads it, so
  that every process stops at the same epoch (the validation split, when there is
  one, is the same in every process and read whole by each).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from skorch.callbacks import Callback, LRScheduler
from skorch.hf import AccelerateMixin

from ._data import BatchIterator
from ._net import MultiTaskNet

__all__ = [
    "AcceleratedMultiTaskNet",
    "AverageAcrossProcesses",
    "ShardedBatches",
    "quiet",
]


def quiet(text: str) -> None:
    """The epoch table's sink with ``verbose=0`` (skorch hands every table to a
    sink other than ``print``)."""


class ShardedBatches:
    """This process's share of a :class:`BatchIterator`'s batches.

    Parameters
    ----------
    batches : BatchIterator
        The iterator every process builds alike.
    accelerator : accelerate.Accelerator
        Says how many processes there are, which one this is, and carries the
        shuffle's seed from the first process to the others.
    """

    def __init__(self, batches: BatchIterator, accelerator: Any) -> None:
        self.batches = batches
        self.accelerator = accelerator

    def __len__(self) -> int:
        return -(-len(self.batches) // self.accelerator.num_processes)

    def __iter__(self) -> Iterator[Any]:
        from accelerate.utils import broadcast

        n_processes = self.accelerator.num_processes
        rank = self.accelerator.process_index
        # One seed for the epoch's shuffle, drawn where the estimator seeded torch
        # (the first process) and shared, so that the processes cut the same
        # shuffle into their shares.
        seed = torch.randint(2**62, (1,), dtype=torch.int64)
        seed = broadcast(seed.to(self.accelerator.device)).to("cpu")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            batches = self.batches.batch_indices()
        # Batches rank, rank + n, rank + 2n, ...; as many for every process, the
        # first ones again where the epoch does not divide evenly.
        for j in range(len(self)):
            index = batches[(rank + n_processes * j) % len(batches)]
            yield self.batches.dataset.batch(index, self.batches.crop_length)


class AverageAcrossProcesses(Callback):
    """Replace the epoch's figures that stopping rules read by their mean over the
    processes (``train_objective`` and ``train_loss``)."""

    KEYS = ("train_objective", "train_loss")

    def __init__(self, accelerator: Any) -> None:
        self.accelerator = accelerator

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        if self.accelerator.num_processes < 2:
            return
        row = net.history[-1]
        keys = [key for key in self.KEYS if key in row]
        values = torch.tensor(
            [float(row[key]) for key in keys],
            dtype=torch.float64,
            device=self.accelerator.device,
        )
        mean = self.accelerator.reduce(values, reduction="mean").tolist()
        for key, value in zip(keys, mean):
            net.history.record(key, value)


class AcceleratedMultiTaskNet(AccelerateMixin, MultiTaskNet):
    """:class:`~sk_mtgru._net.MultiTaskNet` trained through an ``Accelerator``.

    The estimator unwraps the module once training and every callback's
    ``on_train_end`` (early stopping's restoring of the best weights) are done,
    so it is built with ``unwrap_after_train=False``. Its ``device`` is the
    accelerator's, so that skorch moves each batch where the module is (the
    package's batches do not pass through a prepared ``DataLoader``).
    """

    accelerator: Any
    _wrapped_with_accelerator: bool

    def _validate_params(self) -> None:
        # skorch's checks, without the mixin's demand for device=None: the device
        # given is the accelerator's own.
        MultiTaskNet._validate_params(self)

    def _initialize_accelerator(self) -> AcceleratedMultiTaskNet:
        """The mixin's preparation, for the modules with trainable parameters:
        the criterion has none, and accelerate refuses to wrap such a module in
        DistributedDataParallel."""
        if self._wrapped_with_accelerator:
            return self
        prepare = self.accelerator.prepare
        for name in self._modules:
            module = getattr(self, name + "_")
            if isinstance(module, torch.nn.Module) and any(
                p.requires_grad for p in module.parameters()
            ):
                setattr(self, name + "_", prepare(module))
        for name in self._optimizers:
            optimizer = getattr(self, name + "_")
            if isinstance(optimizer, torch.optim.Optimizer):
                setattr(self, name + "_", prepare(optimizer))
        for _, callback in self.callbacks_:
            if isinstance(callback, LRScheduler):
                callback.policy_ = prepare(callback.policy_)
        self._wrapped_with_accelerator = True
        return self

    def get_iterator(self, dataset: Any, training: bool = False) -> Any:
        iterator = super().get_iterator(dataset, training=training)
        if training and self.accelerator.num_processes > 1:
            return ShardedBatches(iterator, self.accelerator)
        return iterator

    def unwrap(self) -> None:
        """After training: the plain module (on the accelerator's device), the
        plain optimizer and no schedule; and the accelerator forgets them, so that
        it and the fitted estimator pickle."""
        prepared = [getattr(self, name + "_") for name in self._modules]
        prepared += [getattr(self, name + "_") for name in self._optimizers]
        for _, callback in self.callbacks_:
            if isinstance(callback, LRScheduler):
                prepared.append(callback.policy_)
                # skorch builds a new schedule at the next fit
                callback.policy_ = callback.lr_scheduler_ = None
        self._unwrap_accelerator()
        for name in self._optimizers:
            optimizer = getattr(self, name + "_")
            setattr(self, name + "_", getattr(optimizer, "optimizer", optimizer))
        for attribute in ("_models", "_optimizers", "_schedulers"):
            held = getattr(self.accelerator, attribute, None)
            if isinstance(held, list):
                held[:] = [obj for obj in held if all(obj is not p for p in prepared)]
