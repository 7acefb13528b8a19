"""MultiTaskStratifiedKFold: folds that keep every task's classes in proportion."""

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import KFold, cross_val_score

from sk_mtgru.datasets import make_multitask_sequences
from sk_mtgru.metrics import task_accuracy_scorer
from sk_mtgru.model_selection import MultiTaskStratifiedKFold

from .conftest import small_classifier


@pytest.fixture
def sorted_labels():
    """200 samples sorted by task 0's class (3 classes); task 1 (5 classes) has
    half its labels missing."""
    rng = np.random.default_rng(0)
    Y = np.column_stack(
        [np.sort(rng.integers(0, 3, 200)), rng.integers(0, 5, 200)]
    ).astype(object)
    Y[rng.choice(200, 100, replace=False), 1] = None
    return np.zeros((200, 4, 1)), Y


def _counts(Y, rows, task, n_classes):
    labels = [v for v in Y[rows, task] if v is not None]
    return np.bincount(np.asarray(labels, dtype=int), minlength=n_classes)


def test_every_fold_holds_each_tasks_classes_in_proportion(sorted_labels):
    X, Y = sorted_labels
    totals = [_counts(Y, slice(None), k, n) for k, n in ((0, 3), (1, 5))]
    folds = list(MultiTaskStratifiedKFold(5).split(X, Y))
    assert sorted(np.concatenate([test for _, test in folds]).tolist()) == list(
        range(200)
    )
    for train, test in folds:
        assert len(test) == 40 and len(set(train) & set(test)) == 0
        for (k, n), total in zip(((0, 3), (1, 5)), totals):
            # Within one sample (or two, for the rarer second task) of a fifth.
            assert np.abs(_counts(Y, test, k, n) - total / 5).max() <= 1.5
    # Unshuffled KFold on these sorted labels misses whole classes.
    kfold_counts = [_counts(Y, test, 0, 3) for _, test in KFold(5).split(X)]
    assert min(c.min() for c in kfold_counts) == 0


def test_one_named_task_is_stratified_with_missing_labels_as_a_class(sorted_labels):
    X, Y = sorted_labels
    frame = pd.DataFrame(Y, columns=["exercise", "side"])
    cv = MultiTaskStratifiedKFold(4, task="side")
    missing = frame["side"].isna().to_numpy()
    for _, test in cv.split(X, frame):
        assert missing[test].sum() == 25
        counts = _counts(Y, test, 1, 5)
        assert np.abs(counts - _counts(Y, slice(None), 1, 5) / 4).max() <= 1
    by_index = list(MultiTaskStratifiedKFold(4, task=1).split(X, Y))
    for (_, a), (_, b) in zip(by_index, cv.split(X, frame)):
        np.testing.assert_array_equal(a, b)


def test_groups_stay_whole_and_shuffling_follows_the_seed(sorted_labels):
    X, Y = sorted_labels
    groups = np.repeat(np.arange(40), 5)
    cv = MultiTaskStratifiedKFold(4, shuffle=True, random_state=0)
    folds = list(cv.split(X, Y, groups))
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
        assert 8 <= len(set(groups[test])) <= 12  # about a quarter of 40
    again = list(cv.split(X, Y, groups))
    other = list(
        MultiTaskStratifiedKFold(4, shuffle=True, random_state=1).split(X, Y, groups)
    )
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again))
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(folds, other))


def test_the_taggers_per_step_labels_are_counted_per_sequence():
    X, Y = make_multitask_sequences(
        30, n_tasks=2, length=(5, 20), per_step=True, random_state=0
    )
    folds = list(MultiTaskStratifiedKFold(3).split(X, Y))
    steps = np.array([len(x) for x in X])
    total = np.concatenate(Y)
    for _, test in folds:
        in_fold = np.concatenate([Y[i] for i in test])
        for k in range(2):
            share = np.bincount(in_fold[:, k], minlength=3) / len(in_fold)
            overall = np.bincount(total[:, k], minlength=3) / len(total)
            assert np.abs(share - overall).max() < 0.1
    assert sum(steps[test].sum() for _, test in folds) == steps.sum()


def test_cross_validation_with_missing_labels_runs_where_an_int_cv_crashes(
    dense_data,
):
    X, Y = dense_data
    Y_missing = Y.astype(object)
    Y_missing[::3, 1] = None
    with pytest.raises(TypeError):
        cross_val_score(small_classifier(max_iter=1), X, Y_missing, cv=3)
    scores = cross_val_score(
        small_classifier(max_iter=1),
        X,
        Y_missing,
        cv=MultiTaskStratifiedKFold(3, shuffle=True, random_state=0),
        scoring=task_accuracy_scorer(1),
    )
    assert scores.shape == (3,) and np.isfinite(scores).all()


@pytest.mark.parametrize(
    "cv, match",
    [
        (MultiTaskStratifiedKFold(1), "n_splits must be an int >= 2"),
        (MultiTaskStratifiedKFold(300), "Cannot make 300 folds of 200 samples"),
        (MultiTaskStratifiedKFold(2, task="arm"), "'arm' is not a column of y"),
        (MultiTaskStratifiedKFold(2, task=5), "out of range for y's 2 task"),
    ],
)
def test_impossible_folds_are_clear_errors(sorted_labels, cv, match):
    X, Y = sorted_labels
    with pytest.raises(ValueError, match=match):
        list(cv.split(X, Y))


def test_a_regression_target_is_stratified_by_quintile():
    rng = np.random.default_rng(0)
    values = np.sort(rng.normal(size=100)) * 10 + 50  # sorted: KFold would split
    Y = np.column_stack([rng.integers(0, 2, 100), values]).astype(object)
    for _, test in MultiTaskStratifiedKFold(4).split(np.zeros(100), Y):
        assert values[test].min() < 45 and values[test].max() > 55
