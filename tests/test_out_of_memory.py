"""Training on data larger than memory: memmaps and collections read lazily."""

import tracemalloc
from collections.abc import Sequence

import numpy as np
import pytest

from sk_mtgru import SequenceScaler

from .conftest import small_classifier


class NpyFolder(Sequence):
    """Sequences stored one .npy file each, loaded when indexed (and counted)."""

    def __init__(self, folder, n):
        self.paths = [folder / f"{i}.npy" for i in range(n)]
        self.loads = 0

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        self.loads += 1
        return np.load(self.paths[i])


@pytest.fixture
def on_disk(tmp_path, ragged_data):
    X, Y = ragged_data
    for i, seq in enumerate(X):
        np.save(tmp_path / f"{i}.npy", seq.astype(np.float64))
    return NpyFolder(tmp_path, len(X)), X, Y


def test_a_lazy_collection_trains_like_the_same_sequences_in_memory(on_disk):
    folder, X, Y = on_disk
    lazy = small_classifier().fit(folder, Y)
    in_memory = small_classifier().fit([x.astype(np.float64) for x in X], Y)
    for a, b in zip(lazy.predict_proba(folder), in_memory.predict_proba(X)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_a_lazy_collection_is_read_once_to_validate_then_once_per_epoch(on_disk):
    folder, _, Y = on_disk
    small_classifier(max_iter=3).fit(folder, Y)
    assert folder.loads == 60 * (1 + 3)


def test_a_bad_sequence_in_a_lazy_collection_is_named(on_disk):
    folder, _, Y = on_disk
    np.save(folder.paths[7], np.full((4, 3), np.nan))
    with pytest.raises(ValueError, match=r"Input X\[7\] contains NaN"):
        small_classifier().fit(folder, Y)


def test_scaler_streams_over_a_lazy_collection(on_disk):
    folder, X, _ = on_disk
    scaler = SequenceScaler().fit(folder)
    np.testing.assert_allclose(scaler.mean_, np.concatenate(X).mean(axis=0), rtol=1e-5)


def test_a_memmap_trains_without_being_copied(tmp_path):
    rng = np.random.default_rng(0)
    n, length, n_features = 6000, 100, 8
    X = np.lib.format.open_memmap(
        tmp_path / "X.npy", mode="w+", dtype=np.float64, shape=(n, length, n_features)
    )
    for start in range(0, n, 1000):
        X[start : start + 1000] = rng.normal(size=(1000, length, n_features))
    X.flush()
    X = np.load(tmp_path / "X.npy", mmap_mode="r")
    Y = np.column_stack([np.arange(n) % 2, np.arange(n) % 3])
    small_classifier(max_iter=1).fit(X[:20], Y[:20])  # one-off costs
    tracemalloc.start()
    try:
        clf = small_classifier(max_iter=1, batch_size=64).fit(X, Y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    float32_size = n * length * n_features * 4
    assert peak < 0.1 * float32_size, peak / float32_size
    in_memory = small_classifier(max_iter=1, batch_size=64).fit(np.asarray(X), Y)
    np.testing.assert_array_equal(
        clf.predict_proba(X[:50])[0], in_memory.predict_proba(X[:50])[0]
    )
