"""Per-task, mean and exact-match accuracy, and scorers of tasks by name and metric."""

import numpy as np
import pytest
from sklearn.metrics import (
    balanced_accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
)
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline

from sk_mtgru import MultiTaskGRURegressor, MultiTaskGRUTagger, SequenceScaler
from sk_mtgru.datasets import make_multitask_sequences
from sk_mtgru.metrics import (
    exact_match_accuracy,
    exact_match_scorer,
    mean_task_accuracy,
    mean_task_accuracy_scorer,
    per_task_accuracy,
    task_accuracy_scorer,
    task_scorer,
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


def test_tasks_of_different_label_types_compare_but_one_task_must_not_mix():
    Y_true = np.array([["a", 1], ["b", 2]], dtype=object)
    Y_pred = np.array([["a", 2], ["a", 2]], dtype=object)
    np.testing.assert_allclose(per_task_accuracy(Y_true, Y_pred), [0.5, 0.5])
    # strings against numbers in one task: an error, as in scikit-learn, not 0.0
    with pytest.raises(ValueError, match="Mix of label input types"):
        per_task_accuracy(np.array(["1", "2"]), np.array([1, 2]))


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


def _with_missing(Y, rows, task):
    Y = Y.astype(object)
    Y[rows, task] = None
    return Y


def test_task_scorer_applies_a_scikit_learn_metric_to_one_tasks_labelled_samples(
    dense_data,
):
    X, Y = dense_data
    Y_missing = _with_missing(Y, np.arange(0, 60, 5), 1)
    clf = small_classifier().fit(X, Y_missing)
    labelled = np.ones(60, dtype=bool)
    labelled[::5] = False
    Y_pred = clf.predict(X)
    expected = balanced_accuracy_score(
        Y[labelled, 1].astype(int), Y_pred[labelled, 1].astype(int)
    )
    scorer = task_scorer("task_1", "balanced_accuracy")
    assert scorer(clf, X, Y_missing) == pytest.approx(expected)
    # Probability-based metrics read that task's predict_proba.
    auc = roc_auc_score(Y[:, 0], clf.predict_proba(X)[0][:, 1])
    assert task_scorer(0, "roc_auc")(clf, X, Y) == pytest.approx(auc)

    # A metric function, greater is better.
    def agreement(y_true, y_pred):
        return float(np.mean(y_true == y_pred))

    assert task_scorer(0, agreement)(clf, X, Y) == pytest.approx(
        np.mean(Y[:, 0] == Y_pred[:, 0])
    )
    weights = np.linspace(0.5, 2, 60)
    assert task_scorer(0, "accuracy")(clf, X, Y, sample_weight=weights) == (
        pytest.approx(np.average(Y[:, 0] == Y_pred[:, 0], weights=weights))
    )


def test_task_scorer_on_a_regressor_leaves_missing_targets_out():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 10, 2))
    Y = np.column_stack([X[:, :, 0].sum(1), X[:, :, 1].mean(1)])
    Y[::4, 1] = np.nan
    reg = MultiTaskGRURegressor(hidden_size=8, max_iter=3, random_state=0).fit(X, Y)
    known = ~np.isnan(Y[:, 1])
    mae = mean_absolute_error(Y[known, 1], reg.predict(X)[known, 1])
    scorer = task_scorer(1, "neg_mean_absolute_error")
    assert scorer(reg, X, Y) == pytest.approx(-mae)
    assert task_scorer(0, "r2")(reg, X, Y) == pytest.approx(
        r2_score(Y[:, 0], reg.predict(X)[:, 0])
    )


def test_every_scorer_works_on_the_tagger_per_step():
    X, Y = make_multitask_sequences(
        20, n_tasks=2, length=(5, 12), per_step=True, random_state=0
    )
    tagger = MultiTaskGRUTagger(hidden_size=6, max_iter=2, random_state=0).fit(X, Y)
    steps_true = np.concatenate(Y)
    steps_pred = np.concatenate(tagger.predict(X))
    per_task = per_task_accuracy(steps_true, steps_pred)
    assert task_accuracy_scorer(1)(tagger, X, Y) == pytest.approx(per_task[1])
    assert mean_task_accuracy_scorer(tagger, X, Y) == pytest.approx(tagger.score(X, Y))
    assert exact_match_scorer(tagger, X, Y) == pytest.approx(
        exact_match_accuracy(steps_true, steps_pred)
    )
    f1 = f1_score(steps_true[:, 0], steps_pred[:, 0], average="macro")
    assert task_scorer(0, "f1_macro")(tagger, X, Y) == pytest.approx(f1)
    proba = np.concatenate(tagger.predict_proba(X)[1])
    assert task_scorer(1, "neg_log_loss")(tagger, X, Y) == pytest.approx(
        -log_loss(steps_true[:, 1], proba, labels=tagger.classes_[1])
    )


@pytest.mark.parametrize("kind", ["classifier", "regressor", "tagger"])
def test_grid_search_refits_on_one_tasks_metric(kind):
    rng = np.random.default_rng(0)
    if kind == "tagger":
        X, Y = make_multitask_sequences(
            24, n_tasks=2, length=(5, 10), per_step=True, random_state=0
        )
        model = MultiTaskGRUTagger(hidden_size=4, max_iter=1, random_state=0)
        scoring = {
            "a": task_scorer(0, "balanced_accuracy"),
            "b": task_accuracy_scorer(1),
        }
    elif kind == "regressor":
        X = rng.normal(size=(24, 8, 2))
        Y = np.column_stack([X[:, :, 0].sum(1), X[:, :, 1].sum(1)])
        model = MultiTaskGRURegressor(hidden_size=4, max_iter=1, random_state=0)
        scoring = {
            "a": task_scorer(0, "r2"),
            "b": task_scorer(1, "neg_median_absolute_error"),
        }
    else:
        X, Y = make_multitask_sequences(24, n_tasks=2, length=8, random_state=0)
        model = small_classifier(max_iter=1)
        scoring = {"a": task_scorer(0, "f1_macro"), "b": task_accuracy_scorer(1)}
    search = GridSearchCV(
        model,
        {"task_weights": [(1, 1), (1, 2)]},
        scoring=scoring,
        refit="a",
        cv=KFold(2),
    ).fit(X, Y)
    assert np.isfinite(search.cv_results_["mean_test_a"]).all()
    assert np.isfinite(search.cv_results_["mean_test_b"]).all()
    assert search.best_index_ == int(np.argmax(search.cv_results_["mean_test_a"]))


def test_task_scorer_rejects_unknown_metrics():
    with pytest.raises(ValueError, match="not a scikit-learn scorer name"):
        task_scorer(0, "accuracy_of_everything")
    with pytest.raises(TypeError, match="scorer name or a function"):
        task_scorer(0, 3)


def test_score_with_string_labels_on_a_model_fitted_on_integers_is_an_error(
    dense_data,
):
    # scikit-learn's classifiers raise "Mix of label input types"; 0.0 would hide it
    X, Y = dense_data
    clf = small_classifier(max_iter=1).fit(X, Y)
    with pytest.raises(ValueError, match=r"Mix of label input types.*task 0"):
        clf.score(X, Y.astype(str))
    with pytest.raises(ValueError, match="true labels are strings"):
        mean_task_accuracy(Y.astype(str), clf.predict(X))
    assert 0 <= clf.score(X, Y) <= 1


def test_per_task_accuracy_names_the_tasks_of_a_frame():
    pd = pytest.importorskip("pandas")
    truth = pd.DataFrame(Y_TRUE, columns=["exercise", "side"])
    scores = per_task_accuracy(truth, Y_PRED)
    assert scores.index.tolist() == ["exercise", "side"]
    np.testing.assert_allclose(scores.to_numpy(), [0.8, 0.6])
    assert mean_task_accuracy(truth, Y_PRED) == pytest.approx(0.7)
