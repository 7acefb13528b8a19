"""The training objective: partial labels and per-task class weights."""

import numpy as np
import pytest
import torch
from sklearn.utils.class_weight import compute_class_weight

from sk_mtgru.metrics import per_task_accuracy

from .conftest import small_classifier


def _with_missing(Y, rows, task, value):
    Y_missing = Y.astype(object)
    Y_missing[rows, task] = value
    return Y_missing


def test_a_missing_label_never_enters_that_tasks_loss(dense_data):
    X, Y = dense_data
    rows = np.arange(0, 60, 3)
    as_none = small_classifier().fit(X, _with_missing(Y, rows, 1, None))
    as_nan = small_classifier().fit(X, _with_missing(Y, rows, 1, np.nan))
    Y_sentinel = Y.copy()
    Y_sentinel[rows, 1] = -1
    as_sentinel = small_classifier(missing_label=-1).fit(X, Y_sentinel)
    # Whatever stands in for the missing labels, training is the same...
    for other in (as_nan, as_sentinel):
        for a, b in zip(as_none.predict_proba(X), other.predict_proba(X)):
            np.testing.assert_array_equal(a, b)
    # ... and differs from training on those labels.
    labelled = small_classifier().fit(X, Y)
    assert not np.allclose(labelled.predict_proba(X)[1], as_none.predict_proba(X)[1])
    assert as_none.classes_[1].dtype.kind == "i"


def test_missing_labels_of_one_task_still_train_the_others(dense_data):
    X, Y = dense_data
    rows = np.arange(30)
    task_1_missing = small_classifier().fit(X, _with_missing(Y, rows, 1, None))
    # The control: the same rows without any label. Were a row with a missing
    # label left out of every task's loss, the two fits would be the same.
    all_missing = Y.astype(object)
    all_missing[rows, :] = None
    no_label = small_classifier().fit(X, all_missing)
    assert not np.allclose(
        task_1_missing.predict_proba(X)[0], no_label.predict_proba(X)[0]
    )
    # Task 1 saw the same labels in both fits; only task 0's extra rows differ.
    assert np.isfinite(task_1_missing.history_[:, "train_loss_task_1"]).all()


def test_training_with_30_percent_of_a_task_missing_learns_every_task(learnable_data):
    X, Y = learnable_data
    rng = np.random.default_rng(0)
    missing = rng.choice(300, size=90, replace=False)
    Y_train = _with_missing(Y[:300], missing, 1, None)
    clf = small_classifier(
        hidden_size=16, max_iter=15, batch_size=32, learning_rate_init=1e-2
    ).fit(X[:300], Y_train)
    accuracy = per_task_accuracy(Y[300:], clf.predict(X[300:]))
    majority = [
        np.mean(Y[300:, k] == np.bincount(Y[:300, k]).argmax()) for k in range(3)
    ]
    assert np.all(accuracy >= np.array(majority) + 0.15), (accuracy, majority)


def test_a_batch_without_labels_for_a_task_adds_nothing_and_no_nan(dense_data):
    X, Y = dense_data
    # 40 of 60 task-1 labels missing, batches of 4: many batches have none.
    Y_missing = _with_missing(Y, np.arange(40), 1, None)
    clf = small_classifier(batch_size=4).fit(X, Y_missing)
    assert np.all(np.isfinite(clf.history_[:, "train_loss"]))
    assert np.all(np.isfinite(clf.history_[:, "train_loss_task_1"]))
    # Directly: a batch whose task-1 weights are all 0 is task 0's loss alone.
    logits = (torch.randn(3, 2), torch.randn(3, 3))
    targets = torch.tensor([[0, -1], [1, -1], [1, -1]])
    weights = torch.tensor([[1.0, 0.0]] * 3)
    both = clf.net_.get_loss(
        logits, targets, X={"loss_weight": weights, "sample_weight": torch.ones(3)}
    )
    task_0 = torch.nn.functional.cross_entropy(logits[0], targets[:, 0])
    torch.testing.assert_close(both, task_0)


def test_score_and_history_count_only_labelled_samples(dense_data):
    X, Y = dense_data
    rows = np.arange(0, 60, 2)
    Y_missing = _with_missing(Y, rows, 0, None)
    clf = small_classifier().fit(X, Y_missing)
    Y_pred = clf.predict(X)
    labelled = np.setdiff1d(np.arange(60), rows)
    expected = np.mean(
        [
            np.mean(Y_pred[labelled, 0] == Y[labelled, 0]),
            np.mean(Y_pred[:, 1] == Y[:, 1]),
        ]
    )
    assert clf.score(X, Y_missing) == pytest.approx(expected)
    np.testing.assert_allclose(
        per_task_accuracy(Y_missing, Y_pred),
        [
            np.mean(Y_pred[labelled, 0] == Y[labelled, 0]),
            np.mean(Y_pred[:, 1] == Y[:, 1]),
        ],
    )


def test_balanced_class_weight_follows_scikit_learns_formula(dense_data):
    X, Y = dense_data
    Y_skewed = Y.copy()
    Y_skewed[:40, 1] = 0
    clf = small_classifier(class_weight="balanced").fit(X, Y_skewed)
    dataset_weights = _loss_weights_of(clf, X, Y_skewed)
    for k in range(2):
        expected = compute_class_weight(
            "balanced", classes=np.unique(Y_skewed[:, k]), y=Y_skewed[:, k]
        )
        np.testing.assert_allclose(dataset_weights[:, k], expected[Y_skewed[:, k]])


def _loss_weights_of(clf, X, Y):
    """The per-sample, per-task loss weights fit computes (read from a batch)."""
    from sk_mtgru._targets import class_weights, loss_weights

    codes = np.column_stack(
        [np.searchsorted(c, Y[:, k]) for k, c in enumerate(clf.classes_)]
    )
    per_class = class_weights(
        clf.class_weight,
        clf.classes_,
        codes,
        list(clf.task_names_),
        one_dimensional=False,
    )
    return loss_weights(np.ones(len(Y), np.float32), codes, per_class)


def test_class_weights_below_one_and_zero_are_weights_like_any_other(dense_data):
    X, Y = dense_data
    clf = small_classifier(class_weight=[{0: 0.5}, {1: 0.0, 2: 0.25}]).fit(X, Y)
    assert np.isfinite(clf.history_[:, "train_loss"]).all()


def test_class_weight_per_task_by_list_or_name(dense_data):
    X, Y = dense_data
    by_list = small_classifier(class_weight=[None, {2: 5.0}]).fit(X, Y)
    by_name = small_classifier(class_weight={"task_1": {2: 5.0}}).fit(X, Y)
    for a, b in zip(by_list.predict_proba(X), by_name.predict_proba(X)):
        np.testing.assert_array_equal(a, b)
    weights = _loss_weights_of(by_list, X, Y)
    np.testing.assert_array_equal(weights[:, 0], 1.0)
    np.testing.assert_array_equal(weights[:, 1], np.where(Y[:, 1] == 2, 5.0, 1.0))


def test_a_heavy_class_weight_pulls_predictions_to_that_class(dense_data):
    X, Y = dense_data
    params = dict(max_iter=10, learning_rate_init=1e-2)
    plain = small_classifier(**params).fit(X, Y[:, 1])
    heavy = small_classifier(class_weight={2: 50.0}, **params).fit(X, Y[:, 1])
    assert np.mean(heavy.predict(X) == 2) > np.mean(plain.predict(X) == 2)


def test_class_weight_multiplies_sample_weight(dense_data):
    X, Y = dense_data
    sample_weight = np.linspace(0.5, 2.0, 60)
    params = dict(class_weight=[{1: 3.0}, None])
    combined = small_classifier(**params).fit(X, Y, sample_weight=sample_weight)
    unweighted = small_classifier(**params).fit(X, Y)
    assert not np.allclose(combined.predict_proba(X)[0], unweighted.predict_proba(X)[0])


def test_balanced_class_weight_is_refused_by_partial_fit(dense_data):
    X, Y = dense_data
    with pytest.raises(ValueError, match="not available to partial_fit"):
        small_classifier(class_weight="balanced").partial_fit(X, Y)
    clf = small_classifier(class_weight=[{0: 2.0}, None]).partial_fit(X, Y)
    assert clf.predict(X).shape == Y.shape
