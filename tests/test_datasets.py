"""make_multitask_sequences: shapes, determinism and how related its tasks are."""

import numpy as np
import pytest

from sk_mtgru.datasets import make_multitask_sequences


def test_fixed_length_gives_a_3d_array_and_integer_labels():
    X, Y = make_multitask_sequences(
        30, n_tasks=2, n_classes=[2, 5], n_features=3, length=8
    )
    assert X.shape == (30, 8, 3) and X.dtype == np.float32
    assert Y.shape == (30, 2) and Y.dtype == np.int64
    assert Y[:, 0].max() <= 1 and Y[:, 1].max() <= 4


def test_length_range_gives_sequences_of_different_lengths():
    X, _ = make_multitask_sequences(40, length=(5, 9), random_state=0)
    lengths = {len(x) for x in X}
    assert isinstance(X, list) and min(lengths) >= 5 and max(lengths) <= 9
    assert len(lengths) > 1


def test_random_state_makes_it_deterministic():
    a = make_multitask_sequences(20, length=(3, 6), random_state=3)
    b = make_multitask_sequences(20, length=(3, 6), random_state=3)
    for x, y in zip(a[0], b[0]):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a[1], b[1])


def test_fully_related_tasks_with_equal_classes_share_their_labels():
    _, Y = make_multitask_sequences(
        300, n_tasks=3, n_classes=3, task_relatedness=1.0, random_state=0
    )
    np.testing.assert_array_equal(Y[:, 0], Y[:, 1])
    np.testing.assert_array_equal(Y[:, 0], Y[:, 2])


def test_unrelated_tasks_have_labels_that_disagree_often():
    _, Y = make_multitask_sequences(
        600, n_tasks=2, n_classes=3, task_relatedness=0.0, random_state=0
    )
    assert np.mean(Y[:, 0] == Y[:, 1]) < 0.6
    for k in range(2):
        assert np.bincount(Y[:, k], minlength=3).min() > 60


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_classes": 1}, ValueError, "n_classes must be >= 2"),
        ({"n_classes": [2, 3]}, ValueError, "2 entries but n_tasks=3"),
        ({"length": (9, 3)}, ValueError, "range is empty"),
        ({"task_relatedness": 1.5}, ValueError, "in \\[0, 1\\]"),
        ({"noise": -1.0}, ValueError, "noise must be >= 0"),
        ({"n_samples": 2.5}, TypeError, "n_samples must be an int"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_multitask_sequences(**kwargs)
