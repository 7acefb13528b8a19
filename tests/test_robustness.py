"""Diverging training, interrupted fits, concurrent prediction and memory use."""

import threading
import tracemalloc
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from sk_mtgru._module import MultiTaskGRU
from sk_mtgru._net import MultiTaskNet
from sk_mtgru.exceptions import TrainingDivergedError

from .conftest import interrupt_training, small_classifier


def test_an_exploding_learning_rate_stops_fit_with_an_error_naming_the_task(
    dense_data,
):
    X, Y = dense_data
    clf = small_classifier(learning_rate_init=1e37, max_iter=5)
    with pytest.raises(
        TrainingDivergedError, match=r"the loss of task 'task_\d' became (inf|nan)"
    ) as info:
        clf.fit(X, Y)
    assert "learning_rate_init" in str(info.value)
    assert isinstance(info.value, ValueError)
    assert not hasattr(clf, "net_"), "a diverged fit must not leave a fitted model"


@pytest.fixture
def diverging_after_one_epoch(monkeypatch):
    """Make the network's outputs non-finite from the second training epoch on."""
    forward = MultiTaskGRU.forward

    def diverging_forward(self, x, lengths):
        logits = forward(self, x, lengths)
        net_epochs = getattr(self, "_test_epochs", lambda: 0)()
        if self.training and net_epochs >= 2:
            return (logits[0] * float("inf"),) + logits[1:]
        return logits

    initialize = MultiTaskNet.initialize_module

    def initialize_module(net):
        result = initialize(net)
        net.module_._test_epochs = lambda: len(net.history)
        return result

    monkeypatch.setattr(MultiTaskGRU, "forward", diverging_forward)
    monkeypatch.setattr(MultiTaskNet, "initialize_module", initialize_module)


def test_divergence_without_early_stopping_is_an_error(
    dense_data, diverging_after_one_epoch
):
    X, Y = dense_data
    with pytest.raises(
        TrainingDivergedError, match="task 'task_0' became nan in epoch 2, batch 1\\."
    ):
        small_classifier(max_iter=4).fit(X, Y)


def test_divergence_with_early_stopping_restores_the_last_good_weights_and_warns(
    dense_data, diverging_after_one_epoch
):
    X, Y = dense_data
    # A constant rate, so that the reference's first epoch trains as the fit's.
    params = dict(
        early_stopping=True, max_iter=4, n_iter_no_change=3, learning_rate="constant"
    )
    with pytest.warns(
        ConvergenceWarning, match="became nan in epoch 2.*weights of epoch 1, the best"
    ) as seen:
        clf = small_classifier(**params).fit(X, Y)
    assert seen[0].filename == __file__  # the user's call of fit
    reference = small_classifier(**{**params, "max_iter": 1}).fit(X, Y)
    for restored, first_epoch in zip(clf.predict_proba(X), reference.predict_proba(X)):
        np.testing.assert_array_equal(restored, first_epoch)
        assert np.all(np.isfinite(restored))


def test_keyboard_interrupt_during_fit_leaves_a_usable_model(dense_data, monkeypatch):
    X, Y = dense_data
    interrupt_training(monkeypatch, at_step=9)  # in the third epoch of four batches
    clf = small_classifier(max_iter=10).fit(X, Y)
    assert clf.n_iter_ == 2  # two complete epochs; the interrupted one not counted
    assert len(clf.history_) == 2
    assert clf.predict(X).shape == Y.shape
    assert all(np.all(np.isfinite(p)) for p in clf.predict_proba(X))


@pytest.mark.parametrize("early_stopping", [False, True])
def test_an_interrupt_in_the_only_epoch_counts_no_epoch(
    dense_data, monkeypatch, early_stopping
):
    X, Y = dense_data
    interrupt_training(monkeypatch, at_step=2)
    clf = small_classifier(max_iter=1, early_stopping=early_stopping).fit(X, Y)
    assert clf.n_iter_ == 0 and len(clf.history_) == 0
    assert clf.predict(X).shape == Y.shape


def test_four_threads_predicting_at_once_agree_with_one(ragged_data):
    X, Y = ragged_data
    clf = small_classifier().fit(X, Y)
    expected = clf.predict_proba(X)
    results = [None] * 4
    start = threading.Barrier(4)

    def predict(i):
        start.wait()
        results[i] = [clf.predict_proba(X) for _ in range(5)]

    threads = [threading.Thread(target=predict, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for per_thread in results:
        for proba in per_thread:
            for got, want in zip(proba, expected):
                np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("layout", ["3-D float64", "3-D float32", "ragged float64"])
def test_fit_makes_at_most_one_float32_copy_of_x(layout):
    rng = np.random.default_rng(0)
    n, length, n_features = 600, 200, 8
    if layout == "ragged float64":
        X = [rng.normal(size=(length - i % 50, n_features)) for i in range(n)]
    else:
        X = rng.normal(size=(n, length, n_features))
        X = X.astype(np.float32) if layout.endswith("float32") else X
    Y = np.column_stack([np.arange(n) % 2, np.arange(n) % 3])
    float32_size = n * length * n_features * 4
    clf = small_classifier(max_iter=1, batch_size=50)
    # The first fit of a process allocates lasting state (lazy imports, torch's
    # caches): pay it before measuring.
    small_classifier(max_iter=1).fit(X[:20], Y[:20])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tracemalloc.start()
        try:
            clf.fit(X, Y)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    # numpy's allocations are traced (torch's are not, but fit only hands numpy
    # memory to torch): a 3-D array is converted batch by batch, a list of
    # sequences is copied once into a padded float32 array.
    copies = 1 if layout.startswith("ragged") else 0
    batches = 2 * 50 * length * n_features * (8 + 4)  # two batches, read and cast
    assert peak <= (copies + 0.1) * float32_size + batches, peak / float32_size


def test_torch_is_left_with_the_threads_it_had(dense_data):
    X, Y = dense_data
    before = torch.get_num_threads()
    small_classifier().fit(X, Y).predict(X)
    assert torch.get_num_threads() == before


def test_divergence_names_the_epoch_and_batch_it_happened_in(dense_data, monkeypatch):
    forward = MultiTaskGRU.forward
    training_batches = []

    def diverging_forward(self, x, lengths):
        logits = forward(self, x, lengths)
        if self.training:
            training_batches.append(len(x))
            if len(training_batches) == 7:  # 4 batches an epoch: epoch 2, batch 3
                return (logits[0] * float("inf"),) + logits[1:]
        return logits

    monkeypatch.setattr(MultiTaskGRU, "forward", diverging_forward)
    X, Y = dense_data
    with pytest.raises(TrainingDivergedError, match="in epoch 2, batch 3\\."):
        small_classifier(max_iter=4, task_affinity_interval=None).fit(X, Y)


@pytest.mark.parametrize("layout", ["3-D", "ragged"])
def test_values_too_large_for_float32_are_a_clear_error(dense_data, layout):
    X, Y = dense_data
    X = X.astype(np.float64)
    X[3, 2, 1] = 1e39
    if layout == "ragged":
        X = [x[: 8 + i % 4] for i, x in enumerate(X)]
    with pytest.raises(ValueError, match="too large for float32"):
        small_classifier().fit(X, Y)
