"""Training batches: every sequence once per epoch; similar lengths with bucketing."""

import math
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from sk_mtgru import (
    MultiTaskGRUClassifier,
    MultiTaskGRUEstimator,
    MultiTaskGRURegressor,
    MultiTaskGRUTagger,
)
from sk_mtgru._data import (
    BatchIterator,
    SequenceDataset,
    auto_batch_size,
    pad_sequences,
)
from sk_mtgru._module import MultiTaskGRU
from sk_mtgru.datasets import make_multitask_sequences

from .conftest import small_classifier


def _dataset(lengths):
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(n, 2)).astype(np.float32) for n in lengths]
    values, lengths = pad_sequences(X)
    return SequenceDataset(values, lengths, np.zeros((len(X), 1), dtype=np.int64))


def _epoch(iterator):
    return [x["lengths"] for x, _ in iterator]


def test_bucketing_sees_every_sequence_once_in_batches_of_similar_length():
    lengths = np.random.default_rng(1).integers(5, 200, size=1000)
    dataset = _dataset(lengths)
    torch.manual_seed(0)
    batches = _epoch(BatchIterator(dataset, 20, shuffle=True, bucketing=True))
    seen = torch.cat(batches).sort().values.numpy()
    np.testing.assert_array_equal(seen, np.sort(lengths))
    # within a pool of 50 batches, a batch spans about 1/50 of the length range
    spans = [int(b.max() - b.min()) for b in batches]
    assert np.median(spans) < 10
    plain = _epoch(BatchIterator(dataset, 20, shuffle=True))
    assert np.median([int(b.max() - b.min()) for b in plain]) > 100


def test_bucketed_batches_come_in_a_new_random_order_each_epoch():
    dataset = _dataset(np.arange(5, 205))
    iterator = BatchIterator(dataset, 10, shuffle=True, bucketing=True)
    torch.manual_seed(0)
    first = [int(b.min()) for b in _epoch(iterator)]
    second = [int(b.min()) for b in _epoch(iterator)]
    assert first != second and first != sorted(first)


@pytest.mark.parametrize("bucketing", [False, True])
def test_training_batches_come_longest_first_and_prediction_keeps_the_order(
    bucketing,
):
    lengths = np.random.default_rng(2).integers(5, 60, size=100)
    dataset = _dataset(lengths)
    torch.manual_seed(0)
    batches = _epoch(BatchIterator(dataset, 16, shuffle=True, bucketing=bucketing))
    assert all(bool((b[:-1] >= b[1:]).all()) for b in batches)
    assert not all(bool((b[:-1] == b[1:]).all()) for b in batches)
    seen = torch.cat(batches).sort().values.numpy()
    np.testing.assert_array_equal(seen, np.sort(lengths))
    in_order = torch.cat(_epoch(BatchIterator(dataset, 16))).numpy()
    np.testing.assert_array_equal(in_order, lengths)


def test_equal_lengths_are_batched_as_without_bucketing():
    dataset = _dataset([30] * 100)
    torch.manual_seed(3)
    a = [x["x"] for x, _ in BatchIterator(dataset, 16, shuffle=True, bucketing=True)]
    torch.manual_seed(3)
    b = [x["x"] for x, _ in BatchIterator(dataset, 16, shuffle=True)]
    assert all(torch.equal(p, q) for p, q in zip(a, b))


def test_forward_only_gru_skips_packing_and_gives_the_packed_results():
    torch.manual_seed(0)
    module = MultiTaskGRU(3, [2, 4], hidden_size=5, num_layers=2, summary="mean")
    module.eval()
    x = torch.randn(6, 9, 3)
    lengths = torch.tensor([9, 2, 5, 7, 1, 9])
    batched = module(x, lengths)
    for i, n in enumerate(lengths.tolist()):
        alone = module(x[i : i + 1, :n], lengths[i : i + 1])
        for k in range(2):
            torch.testing.assert_close(batched[k][i], alone[k][0])


def test_length_bucketing_is_a_parameter_on_by_default(ragged_data):
    X, Y = ragged_data
    clf = small_classifier()
    assert clf.get_params()["length_bucketing"] is True
    clf.fit(X, Y)
    assert clf.net_.iterator_train__bucketing is True
    off = small_classifier(length_bucketing=False).fit(X, Y)
    assert off.net_.iterator_train__bucketing is False


def test_random_crops_are_windows_of_each_longer_sequence_drawn_anew_each_epoch():
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(n, 2)).astype(np.float32) for n in (30, 8, 50)]
    values, lengths = pad_sequences(X)
    dataset = SequenceDataset(values, lengths, np.zeros((3, 1), dtype=np.int64))
    iterator = BatchIterator(dataset, 3, crop_length=10)
    torch.manual_seed(0)
    epochs = [next(iter(iterator))[0] for _ in range(2)]
    for x in epochs:
        assert x["x"].shape == (3, 10, 2)
        assert x["lengths"].tolist() == [10, 8, 10]
        for sequence, crop, length in zip(X, x["x"].numpy(), x["lengths"].tolist()):
            starts = [
                s
                for s in range(len(sequence) - length + 1)
                if np.array_equal(sequence[s : s + length], crop[:length])
            ]
            assert starts, "a crop is a window of its sequence"
        assert np.all(x["x"][1, 8:].numpy() == 0)  # the short one, whole and padded
    assert not torch.equal(epochs[0]["x"][2], epochs[1]["x"][2])


def test_with_crops_a_long_sequence_is_predicted_by_its_windows_mean_probability():
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(n, 3)) for n in rng.integers(10, 60, size=40)]
    y = np.array([x[:, 0].mean() > 0 for x in X]).astype(int)
    clf = small_classifier(crop_length=12, max_iter=2).fit(X, y)
    proba = clf.predict_proba(X[:3])
    expected = []
    for x in X[:3]:
        starts = sorted(set(range(0, len(x) - 12 + 1, 6)) | {len(x) - 12})
        windows = [x[s : s + 12] for s in starts]
        expected.append(clf.set_params(crop_length=None).predict_proba(windows).mean(0))
        clf.set_params(crop_length=12)
    np.testing.assert_allclose(proba, np.stack(expected), rtol=1e-6)
    assert clf.predict(X[:3]).tolist() == np.argmax(proba, axis=1).tolist()


def test_an_epoch_has_as_many_batches_as_its_length_says():
    dataset = _dataset([5, 9, 7, 3, 8, 6, 4])
    for batch_size in (1, 3, 7, 10):
        iterator = BatchIterator(dataset, batch_size, shuffle=True, bucketing=True)
        assert len(iterator) == len(_epoch(iterator)) == -(-7 // batch_size)
    subset = torch.utils.data.Subset(dataset, [0, 2, 4, 6, 1])
    assert len(BatchIterator(subset, 2)) == 3


def test_indexing_the_dataset_gives_one_sequence_and_its_targets():
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(n, 2)).astype(np.float32) for n in (4, 6, 5)]
    values, lengths = pad_sequences(X)
    y = np.array([[0, 1], [1, 2], [1, 0]])
    x, target = SequenceDataset(values, lengths, y)[1]
    np.testing.assert_array_equal(x["x"].numpy(), X[1])
    assert int(x["lengths"]) == 6 and target.tolist() == [1, 2]


def test_crops_start_anywhere_with_equal_chance():
    # Sequences one step longer than the crop: starts 0 and 1, half the time each.
    dataset = SequenceDataset(
        np.arange(2000 * 11, dtype=np.float32).reshape(2000, 11, 1) % 11,
        np.full(2000, 11),
        np.zeros((2000, 1), dtype=np.int64),
    )
    torch.manual_seed(0)
    x, _ = dataset.batch(torch.arange(2000), crop_length=10)
    starts = x["x"][:, 0, 0].numpy()
    assert set(starts.tolist()) == {0.0, 1.0}
    assert 0.45 < np.mean(starts == 1.0) < 0.55


@pytest.mark.parametrize(
    "n, early_stopping, expected",
    [(40, False, 8), (120, False, 15), (120, True, 13), (400, False, 32)],
)
def test_auto_batches_give_small_data_at_least_eight_steps_an_epoch(
    n, early_stopping, expected
):
    # min(32, max(8, n_train // 8)); early stopping trains on 90 % (108 of 120).
    X, Y = make_multitask_sequences(n, n_tasks=2, length=4, random_state=0)
    clf = small_classifier(batch_size="auto", max_iter=1, early_stopping=early_stopping)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # one epoch, on purpose
        clf.fit(X, Y)
    assert clf.net_.batch_size == expected
    n_train = n - (math.ceil(0.1 * n) if early_stopping else 0)
    steps = [row for row in clf.history_[-1]["batches"] if "train_loss" in row]
    assert len(steps) == math.ceil(n_train / expected)
    assert clf.get_params()["batch_size"] == "auto"  # the parameter is kept


def test_auto_is_the_default_batch_size_but_the_taggers():
    for estimator in (
        MultiTaskGRUClassifier,
        MultiTaskGRURegressor,
        MultiTaskGRUEstimator,
    ):
        assert estimator().batch_size == "auto"
    assert MultiTaskGRUTagger().batch_size == 32  # chosen on the suite's streams
    assert [auto_batch_size(n) for n in (10, 64, 100, 255, 256, 10**6)] == [
        8,
        8,
        12,
        31,
        32,
        32,
    ]


@pytest.mark.parametrize(
    "estimator, kind",
    [
        (MultiTaskGRURegressor, "values"),
        (MultiTaskGRUEstimator, "mixed"),
        (MultiTaskGRUTagger, "steps"),
    ],
)
def test_every_estimator_batches_and_stops_by_the_same_budget(estimator, kind):
    # 40 sequences: batches of 8; a loss that never improves by 1e6 runs the
    # 6 warm-up epochs of 20, the patience of 2 and 1 epoch of cool-down.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6, 2)).astype(np.float32)
    y = {
        "values": rng.normal(size=(40, 2)),
        "mixed": np.column_stack([rng.normal(size=40), rng.integers(0, 2, 40)]),
        "steps": rng.integers(0, 2, (40, 6)),
    }[kind]
    model = estimator(
        hidden_size=4,
        max_iter=20,
        n_iter_no_change=2,
        tol=1e6,
        batch_size="auto",
        random_state=0,
    )
    if kind == "mixed":
        model.set_params(task_types=["regression", "classification"])
    model.fit(X, y)
    assert model.net_.batch_size == 8
    assert model.n_iter_ == 9


def test_partial_fit_keeps_the_batch_size_its_first_chunk_chose():
    X, Y = make_multitask_sequences(440, n_tasks=2, length=4, random_state=0)
    clf = small_classifier(batch_size="auto")
    clf.partial_fit(X[:40], Y[:40])  # 40 sequences: batches of 8
    clf.partial_fit(X[40:], Y[40:])  # 400 would be 32: the net keeps its 8
    assert clf.net_.batch_size == 8
    steps = [row for row in clf.history_[-1]["batches"] if "train_loss" in row]
    assert len(steps) == 400 // 8
