"""sliding_windows: windows of long recordings that keep labels and recording."""

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GroupKFold

from sk_mtgru import sliding_windows


@pytest.fixture
def recordings():
    rng = np.random.default_rng(0)
    return [rng.normal(size=(n, 3)).astype(np.float32) for n in (10, 8, 12)]


def test_windows_copy_the_recordings_steps_in_order(recordings):
    X, _, groups = sliding_windows(recordings, width=4, step=2)
    assert X.shape[1:] == (4, 3) and X.dtype == np.float32
    # recording 0: starts 0, 2, 4, 6; recording 1: 0, 2, 4; recording 2: 0 .. 8
    np.testing.assert_array_equal(groups, [0] * 4 + [1] * 3 + [2] * 5)
    np.testing.assert_array_equal(X[1], recordings[0][2:6])
    np.testing.assert_array_equal(X[6], recordings[1][4:8])


def test_a_last_window_ends_at_the_last_step_when_step_leaves_a_tail(recordings):
    X, _, groups = sliding_windows(recordings, width=4, step=3)
    last_of_first = X[groups == 0][-1]
    np.testing.assert_array_equal(last_of_first, recordings[0][6:10])
    for i, recording in enumerate(recordings):
        covered = np.zeros(len(recording), dtype=bool)
        starts = [
            next(
                s
                for s in range(len(recording) - 3)
                if np.array_equal(recording[s : s + 4], w)
            )
            for w in X[groups == i]
        ]
        for s in starts:
            covered[s : s + 4] = True
        assert covered.all(), f"steps of recording {i} are in no window"


def test_default_step_gives_non_overlapping_windows(recordings):
    X, _, groups = sliding_windows(recordings, width=4)
    assert np.bincount(groups).tolist() == [3, 2, 3]  # tails add one window each


def test_labels_and_groups_follow_their_recording(recordings):
    Y = np.array([["walk", 1], ["run", 2], ["sit", 3]], dtype=object)
    subjects = np.array(["ann", "bob", "ann"])
    X, Y_w, groups = sliding_windows(recordings, Y, width=5, step=5, groups=subjects)
    assert Y_w.shape == (len(X), 2)
    assert Y_w[:2, 0].tolist() == ["walk", "walk"] and Y_w[2, 0] == "run"
    assert groups.tolist() == ["ann", "ann", "bob", "bob", "ann", "ann", "ann"]


def test_dataframe_labels_stay_a_dataframe(recordings):
    Y = pd.DataFrame({"activity": ["walk", "run", "sit"], "side": [0, 1, 0]})
    _, Y_w, _ = sliding_windows(recordings, Y, width=6, step=6)
    assert isinstance(Y_w, pd.DataFrame) and list(Y_w.columns) == ["activity", "side"]
    assert Y_w.index.tolist() == list(range(len(Y_w)))


def test_group_kfold_keeps_a_recordings_windows_together(recordings):
    X, _, groups = sliding_windows(recordings * 2, width=4, step=2)
    for train, test in GroupKFold(n_splits=3).split(X, groups=groups):
        assert not set(groups[train]) & set(groups[test])


def test_input_arrays_are_not_modified(recordings):
    before = [r.copy() for r in recordings]
    X, _, _ = sliding_windows(recordings, width=4, step=1)
    X[:] = 0
    for r, b in zip(recordings, before):
        np.testing.assert_array_equal(r, b)


def test_dense_and_univariate_input(recordings):
    X, _, _ = sliding_windows(np.zeros((2, 9, 3)), width=3)
    assert X.shape == (6, 3, 3)
    X, _, _ = sliding_windows(np.arange(20.0).reshape(2, 10), width=5)
    assert X.shape == (4, 5, 1)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"width": 9}, ValueError, "Recording 1 has 8 steps, fewer than width=9"),
        ({"width": 0}, ValueError, "width must be a positive int"),
        ({"width": 2.5}, TypeError, "width must be a positive int"),
        ({"width": 3, "step": 0}, ValueError, "step must be a positive int"),
        ({"width": 3, "Y": [1, 2]}, ValueError, "Y has 2 entries but X has 3"),
        ({"width": 3, "groups": [1]}, ValueError, "groups has 1 entries"),
    ],
)
def test_bad_arguments_are_clear_errors(recordings, kwargs, error, match):
    with pytest.raises(error, match=match):
        sliding_windows(recordings, **kwargs)


def test_no_recordings_is_a_clear_error():
    with pytest.raises(ValueError, match="empty list of sequences"):
        sliding_windows([], width=3)
