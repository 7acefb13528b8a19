"""scikit-learn compatibility: estimator checks, pipelines, searches, cloning."""

import os

import numpy as np
import pytest
import torch
from sklearn.base import clone, is_classifier
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    RandomizedSearchCV,
    cross_val_score,
    cross_validate,
)
from sklearn.pipeline import make_pipeline
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_mtgru import MultiTaskGRUClassifier, MultiTaskGRURegressor, SequenceScaler
from sk_mtgru.metrics import (
    exact_match_scorer,
    mean_task_accuracy_scorer,
    task_accuracy_scorer,
)

from .conftest import small_classifier

# scikit-learn's checks pass 2-D X, which this package reads as univariate sequences
# (n_samples, n_timesteps): n_features_in_ counts features per time step (1 here),
# not X.shape[1] as the checks assume.
_N_FEATURES_IN = (
    "n_features_in_ is the number of features per time step; the checks' 2-D X is "
    "read as univariate sequences, so it is 1, not X.shape[1]."
)
EXPECTED_FAILED_CHECKS = {
    "MultiTaskGRUClassifier": {
        "check_n_features_in": _N_FEATURES_IN,
        "check_n_features_in_after_fitting": _N_FEATURES_IN,
        "check_sample_weight_equivalence_on_dense_data": (
            "Training runs in float32: weighted and repeated samples give "
            "probabilities equal to about 1e-7 relative, while the check demands "
            "bit-level agreement. test_sample_weight_equals_repetition_in_full_batch_"
            "training checks the equivalence at float32 tolerance."
        ),
    },
    # The regressor passes check_sample_weight_equivalence_on_dense_data: its
    # targets are standardised with sample-weighted statistics, so weights and
    # repetitions train alike.
    "MultiTaskGRURegressor": {
        "check_n_features_in": _N_FEATURES_IN,
        "check_n_features_in_after_fitting": _N_FEATURES_IN,
    },
    "SequenceScaler": {
        "check_n_features_in": _N_FEATURES_IN,
        "check_n_features_in_after_fitting": _N_FEATURES_IN,
    },
}


@parametrize_with_checks(
    [
        # Batches of 32 hold the checks' small data in one batch: repeating a
        # sample then equals weighting it (with 'auto' the batches would shrink
        # with the data, and minibatches see repeated samples differently).
        MultiTaskGRUClassifier(
            hidden_size=8,
            max_iter=10,
            conv_channels=8,
            learning_rate_init=0.02,
            batch_size=32,
            random_state=0,
        ),
        MultiTaskGRURegressor(
            hidden_size=8,
            max_iter=10,
            conv_channels=8,
            learning_rate_init=0.02,
            batch_size=32,
            random_state=0,
        ),
        SequenceScaler(),
    ],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS[type(est).__name__],
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_tags_declare_a_multi_output_classifier_of_3d_input():
    clf = MultiTaskGRUClassifier()
    tags = get_tags(clf)
    assert is_classifier(clf)
    assert tags.input_tags.three_d_array and tags.input_tags.two_d_array
    assert tags.target_tags.multi_output and tags.target_tags.single_output
    assert get_tags(SequenceScaler()).input_tags.three_d_array


def test_grid_search_over_task_weights_in_a_pipeline_with_two_jobs(ragged_data):
    X, Y = ragged_data
    pipe = make_pipeline(SequenceScaler(), small_classifier(max_iter=2))
    grid = {"multitaskgruclassifier__task_weights": [(1, 1), (1, 3), (2, 1)]}
    search = GridSearchCV(pipe, grid, cv=3, n_jobs=2).fit(X, Y)
    assert (
        search.best_params_["multitaskgruclassifier__task_weights"]
        in grid["multitaskgruclassifier__task_weights"]
    )
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.predict(X).shape == (60, 2)


def test_torch_in_each_parallel_worker_uses_its_share_of_the_cores(dense_data):
    X, Y = dense_data

    def threads_while_fitted(estimator, X, y):
        return torch.get_num_threads()

    scores = cross_validate(
        small_classifier(max_iter=1), X, Y, cv=2, n_jobs=2, scoring=threads_while_fitted
    )["test_score"]
    share = max(1, (os.cpu_count() or 1) // 2)
    assert np.all(scores <= share), scores


def test_search_with_labels_of_different_types_per_task(string_labels):
    X, Y = string_labels
    search = GridSearchCV(
        small_classifier(max_iter=1),
        {"task_weights": [(1, 1), (1, 2)]},
        cv=KFold(3, shuffle=True, random_state=0),
    ).fit(X, Y)
    assert set(search.predict(X)[:, 0]) <= {"cat", "dog"}


def test_randomized_search_over_network_parameters(dense_data):
    X, Y = dense_data
    search = RandomizedSearchCV(
        small_classifier(max_iter=1),
        {"hidden_size": [4, 8], "num_layers": [1, 2], "dropout": [0.0, 0.2]},
        n_iter=3,
        cv=2,
        random_state=0,
    ).fit(X, Y)
    assert search.best_estimator_.net_.module_.gru.hidden_size in (4, 8)


def test_cross_validate_with_per_task_and_exact_match_scorers(dense_data):
    X, Y = dense_data
    scoring = {
        "mean": mean_task_accuracy_scorer,
        "task_1": task_accuracy_scorer("task_1"),
        "all": exact_match_scorer,
    }
    results = cross_validate(small_classifier(max_iter=2), X, Y, cv=3, scoring=scoring)
    for key in ("test_mean", "test_task_1", "test_all"):
        assert np.all((results[key] >= 0) & (results[key] <= 1))
    assert np.all(results["test_all"] <= results["test_mean"] + 1e-12)


def test_cross_val_score_uses_the_mean_task_accuracy(dense_data):
    X, Y = dense_data
    cv = KFold(3)
    default = cross_val_score(small_classifier(max_iter=2), X, Y, cv=cv)
    explicit = cross_val_score(
        small_classifier(max_iter=2), X, Y, cv=cv, scoring=mean_task_accuracy_scorer
    )
    assert np.all(np.isfinite(default))
    np.testing.assert_allclose(default, explicit)


def test_grid_search_refits_on_a_chosen_task(dense_data):
    X, Y = dense_data
    search = GridSearchCV(
        small_classifier(max_iter=2),
        {"task_weights": [(1, 1), (1, 4)]},
        cv=2,
        scoring={"mean": mean_task_accuracy_scorer, "t1": task_accuracy_scorer(1)},
        refit="t1",
    ).fit(X, Y)
    assert search.best_index_ == int(np.argmax(search.cv_results_["mean_test_t1"]))


def test_early_stopping_inside_a_grid_search(dense_data):
    X, Y = dense_data
    search = GridSearchCV(
        small_classifier(max_iter=30, early_stopping=True, n_iter_no_change=2, tol=1e3),
        {"task_weights": [(1, 1), (2, 1)]},
        cv=2,
    ).fit(X, Y)
    # the 9 epochs of one-cycle's warm-up (30 % of 30), then the patience of 2
    assert search.best_estimator_.n_iter_ == 11


def test_clone_gives_an_unfitted_copy_with_the_same_parameters(dense_data):
    X, Y = dense_data
    clf = small_classifier(task_weights=(1, 2)).fit(X, Y)
    copy = clone(clf)
    assert copy.get_params() == clf.get_params()
    assert not hasattr(copy, "net_")
    assert copy.fit(X, Y).predict(X).shape == (60, 2)


@pytest.mark.parametrize("weights", [None, (1, 2), {"task_1": 2}])
def test_task_weights_round_trip_through_get_and_set_params(weights):
    clf = MultiTaskGRUClassifier().set_params(task_weights=weights)
    assert clf.get_params()["task_weights"] == weights
