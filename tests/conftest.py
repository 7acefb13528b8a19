"""Tiny, seeded fixtures: a few dozen short sequences, networks of a few units."""

import numpy as np
import pytest

from sk_mtgru import MultiTaskGRUClassifier
from sk_mtgru._net import MultiTaskNet
from sk_mtgru.datasets import make_multitask_sequences


def interrupt_training(monkeypatch, at_step):
    """Make the ``at_step``-th training step from now raise KeyboardInterrupt, as
    a user pressing stop in a notebook."""
    train_step = MultiTaskNet.train_step
    calls = {"n": 0}

    def interrupted_train_step(self, batch, **fit_params):
        calls["n"] += 1
        if calls["n"] == at_step:
            raise KeyboardInterrupt
        return train_step(self, batch, **fit_params)

    monkeypatch.setattr(MultiTaskNet, "train_step", interrupted_train_step)


def small_classifier(**params):
    """A classifier small and quick enough for unit tests."""
    defaults = dict(
        hidden_size=8, conv_channels=8, max_iter=3, batch_size=16, random_state=0
    )
    defaults.update(params)
    return MultiTaskGRUClassifier(**defaults)


@pytest.fixture
def dense_data():
    """60 sequences of 12 steps x 3 features; 2 tasks (2 and 3 classes)."""
    return make_multitask_sequences(
        60,
        n_tasks=2,
        n_classes=[2, 3],
        n_features=3,
        length=12,
        noise=0.2,
        random_state=0,
    )


@pytest.fixture
def ragged_data():
    """60 sequences of 5 to 20 steps x 3 features; 2 tasks (2 and 3 classes)."""
    return make_multitask_sequences(
        60,
        n_tasks=2,
        n_classes=[2, 3],
        n_features=3,
        length=(5, 20),
        noise=0.2,
        random_state=1,
    )


@pytest.fixture
def learnable_data():
    """Enough low-noise data for a small GRU to learn three tasks in a few epochs."""
    return make_multitask_sequences(
        400,
        n_tasks=3,
        n_classes=[2, 3, 2],
        n_features=4,
        length=(10, 20),
        noise=0.1,
        task_relatedness=0.5,
        random_state=0,
    )


@pytest.fixture
def string_labels(dense_data):
    """The dense data's labels as strings for task 0 and ints for task 1."""
    X, Y = dense_data
    Y_mixed = np.empty(Y.shape, dtype=object)
    Y_mixed[:, 0] = np.array(["cat", "dog"])[Y[:, 0]]
    Y_mixed[:, 1] = Y[:, 1]
    return X, Y_mixed
