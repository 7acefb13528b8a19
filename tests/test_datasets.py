"""make_multitask_sequences: shapes, determinism and how related its tasks are."""

import numpy as np
import pytest

from sk_mtgru import MultiTaskGRUClassifier
from sk_mtgru.datasets import (
    load_watch,
    make_intensive_care_stays,
    make_multitask_sequences,
)


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


def test_missing_fraction_hides_that_share_of_each_tasks_labels():
    _, full = make_multitask_sequences(200, n_tasks=2, random_state=4)
    _, Y = make_multitask_sequences(
        200, n_tasks=2, missing_fraction=0.25, missing_label=-7, random_state=4
    )
    hidden = Y == -7
    assert hidden.sum(axis=0).tolist() == [50, 50]
    np.testing.assert_array_equal(Y[~hidden], full[~hidden])  # the rest unchanged


def test_labels_hidden_by_missing_fraction_train_with_missing_label():
    X, Y = make_multitask_sequences(
        80, n_tasks=2, length=6, missing_fraction=0.3, random_state=0
    )
    clf = MultiTaskGRUClassifier(
        hidden_size=4, max_iter=1, missing_label=-1, random_state=0
    ).fit(X, Y)
    assert [c.tolist() for c in clf.classes_] == [[0, 1, 2], [0, 1, 2]]


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"missing_fraction": 1.0}, ValueError, r"\[0, 1\)"),
        ({"missing_fraction": "half"}, TypeError, "missing_fraction must be a float"),
        ({"missing_fraction": 0.1, "missing_label": 1}, ValueError, "also a class"),
        ({"missing_fraction": 0.1, "missing_label": None}, TypeError, "an int"),
    ],
)
def test_bad_missing_label_settings_are_clear_errors(params, error, match):
    with pytest.raises(error, match=match):
        make_multitask_sequences(10, **params)


def test_load_watch_returns_the_140_recordings_and_their_three_labels():
    watch = load_watch()
    assert len(watch.data) == 140 and watch.target.shape == (140, 3)
    assert all(x.dtype == np.float32 and x.shape[1] == 6 for x in watch.data)
    lengths = [len(x) for x in watch.data]
    assert min(lengths) == 947 and max(lengths) == 2618
    assert watch.target_names == ["exercise", "subject", "side"]
    assert watch.feature_names == ["ax", "ay", "az", "wx", "wy", "wz"]
    assert len(watch.exercise_names) == 7
    # every participant performed every exercise once with each arm
    combos = {tuple(row) for row in watch.target.tolist()}
    assert len(combos) == 140
    assert sorted(np.unique(watch.target[:, 1]).tolist()) == list(range(1, 11))
    assert all(np.isfinite(x).all() for x in watch.data)


def test_load_watch_describes_licence_and_citation():
    descr = load_watch().DESCR
    assert "BSD-3-Clause" in descr and "arXiv:1802.01489" in descr
    assert "Burns" in descr


def test_load_watch_return_X_y_and_as_frame():
    X, Y = load_watch(return_X_y=True)
    assert len(X) == 140 and Y.shape == (140, 3)
    frames, target = load_watch(return_X_y=True, as_frame=True)
    assert list(target.columns) == ["exercise", "subject", "side"]
    assert list(frames[0].columns) == ["ax", "ay", "az", "wx", "wy", "wz"]
    np.testing.assert_array_equal(frames[5].to_numpy(), X[5])


def test_bundled_watch_file_loads_without_pickle():
    from importlib import resources

    path = resources.files("sk_mtgru.datasets").joinpath("data", "watch.npz")
    with path.open("rb") as f, np.load(f, allow_pickle=False) as data:
        assert all(data[name].dtype != object for name in data.files)


def test_per_step_labels_are_constant_over_each_segment():
    X, Y = make_multitask_sequences(
        5, n_tasks=2, length=40, per_step=True, segment_length=10, random_state=0
    )
    for labels in Y:
        for start in range(0, 40, 10):
            assert (labels[start : start + 10] == labels[start]).all()


def test_intensive_care_stays_have_tasks_of_every_kind():
    stays = make_intensive_care_stays(60, min_hours=10, max_hours=30, random_state=0)
    lengths = [len(x) for x in stays.data]
    assert min(lengths) >= 10 and max(lengths) <= 30 and len(set(lengths)) > 5
    assert all(x.shape[1] == 5 and x.dtype == np.float32 for x in stays.data)
    assert stays.target.shape == (60, 3)
    assert set(stays.target[:, 0]) == {0, 1}
    assert set(stays.target[:, 1]) == {"cardiac", "respiratory", "septic"}
    assert stays.target[:, 2].astype(float).min() >= 2.0
    assert [len(s) for s in stays.step_target] == lengths
    # The hidden severity drives mortality, the stay and the decompensations.
    severe = stays.severity > 0
    assert stays.target[severe, 0].mean() > stays.target[~severe, 0].mean()
    assert (
        stays.target[severe, 2].astype(float).mean()
        > stays.target[~severe, 2].astype(float).mean()
    )
    again = make_intensive_care_stays(60, min_hours=10, max_hours=30, random_state=0)
    np.testing.assert_array_equal(again.data[7], stays.data[7])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_stays": 0}, "n_stays must be >= 1"),
        ({"min_hours": 40, "max_hours": 20}, "exceeds max_hours"),
        ({"noise": -1.0}, "noise must be >= 0"),
    ],
)
def test_intensive_care_stays_reject_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_intensive_care_stays(**kwargs)
