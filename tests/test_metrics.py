"""Per-task, mean and exact-match accuracy, and scorers that find tasks by name."""

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from sk_mtgru import SequenceScaler
from sk_mtgru.metrics import (
    exact_match_accuracy,
    exact_match_scorer,
    mean_task_accuracy,
    mean_task_accuracy_scorer,
    per_task_accuracy,
    task_accuracy_scorer,
)

from .conftest import small_classifier

Y_TRUE = np.array([[0, 1], [1, 1], [1, 0], [0, 0], [1, 1]])
Y_PRED = np.array([[0, 1], [0, 1], [1, 1], [0, 0], [1, 0]])


def test_per_task_mean_and_exact_match_accuracy_by_hand():
    np.testing.assert_allclose(per_task_accuracy(Y_TRUE, Y_PRED), [0.8, 0.6])
    assert mean_task_accuracy(Y_TRUE, Y_PRED) == pytest.approx(0.7)
    assert exact_match_accuracy(Y_TRUE, Y_PRED) == pytest.approx(0.4)


def test_weighted_accuracies_by_hand():
    w = np.array([1, 0, 0, 1, 2])
    np.testing.assert_allclose(
        per_task_accuracy(Y_TRUE, Y_PRED, sample_weight=w), [1, 0.5]
    )
    assert exact_match_accuracy(Y_TRUE, Y_PRED, sample_weight=w) == pytest.approx(0.5)


def test_labels_of_different_types_compare_without_error():
    Y_true = np.array([["a", 1], ["b", 2]], dtype=object)
    Y_pred = np.array([["a", 2], ["a", 2]], dtype=object)
    np.testing.assert_allclose(per_task_accuracy(Y_true, Y_pred), [0.5, 0.5])
    assert per_task_accuracy(np.array(["1", "2"]), np.array([1, 2])).tolist() == [0.0]


def test_mismatched_numbers_of_tasks_are_an_error():
    with pytest.raises(ValueError, match="Y_true has 1 task\\(s\\) but Y_pred has 2"):
        per_task_accuracy(Y_TRUE[:, :1], Y_PRED)


def test_scorers_agree_with_the_metrics_through_a_pipeline(dense_data):
    X, Y = dense_data
    pipe = make_pipeline(SequenceScaler(), small_classifier()).fit(X, Y)
    Y_pred = pipe.predict(X)
    per_task = per_task_accuracy(Y, Y_pred)
    assert task_accuracy_scorer("task_1")(pipe, X, Y) == pytest.approx(per_task[1])
    assert task_accuracy_scorer(0)(pipe, X, Y) == pytest.approx(per_task[0])
    assert mean_task_accuracy_scorer(pipe, X, Y) == pytest.approx(pipe.score(X, Y))
    assert exact_match_scorer(pipe, X, Y) == pytest.approx(
        exact_match_accuracy(Y, Y_pred)
    )


def test_task_scorer_rejects_unknown_tasks(dense_data):
    X, Y = dense_data
    clf = small_classifier().fit(X, Y)
    with pytest.raises(ValueError, match="unknown task 'arm'.*'task_0', 'task_1'"):
        task_accuracy_scorer("arm")(clf, X, Y)
    with pytest.raises(ValueError, match="index 5 is out of range for 2 task"):
        task_accuracy_scorer(5)(clf, X, Y)
    with pytest.raises(TypeError, match="task index \\(int\\) or name \\(str\\)"):
        task_accuracy_scorer(1.5)
