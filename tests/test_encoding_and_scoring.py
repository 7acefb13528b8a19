"""One target encoding for every estimator, and one rule for ``score``."""

import numpy as np
import pandas as pd
import pytest

from sk_mtgru import (
    MultiTaskGRUEstimator,
    MultiTaskGRURegressor,
    MultiTaskGRUTagger,
)
from sk_mtgru._encoding import TaskEncoding
from sk_mtgru._sequence import SequenceLevelGRU
from sk_mtgru._targets import check_targets
from sk_mtgru.datasets import make_multitask_sequences

from .conftest import small_classifier

SMALL = dict(hidden_size=6, conv_channels=6, max_iter=2, batch_size=16, random_state=0)


@pytest.fixture(scope="module")
def sequences():
    X, Y = make_multitask_sequences(
        40, n_tasks=2, n_classes=[2, 3], n_features=3, length=10, random_state=0
    )
    values = np.column_stack([Y[:, 0] + 0.5 * Y[:, 1], Y[:, 1] * 2.0]).astype(float)
    return X, Y, values


def test_the_classifier_and_regressor_encodings_are_special_cases_of_one(sequences):
    X, Y, values = sequences
    clf = small_classifier(max_iter=1).fit(X, Y)
    reg = MultiTaskGRURegressor(**SMALL).fit(X, values)
    mixed = MultiTaskGRUEstimator(task_types=[None, "regression"], **SMALL).fit(
        X, np.column_stack([Y[:, 0], values[:, 1]])
    )
    by_classes, by_scaling, both = (m._fitted_encoding() for m in (clf, reg, mixed))
    assert by_classes.kinds == ("classification",) * 2
    assert by_classes.n_outputs == [2, 3]
    assert np.isnan(by_classes.mean).all()
    assert by_scaling.kinds == ("regression",) * 2
    assert by_scaling.n_outputs == [1, 1]
    np.testing.assert_allclose(by_scaling.mean, values.mean(axis=0))
    assert both.kinds == ("classification", "regression")
    assert both.n_outputs == [2, 1]
    np.testing.assert_allclose(both.mean[1], values[:, 1].mean())
    # what the net is told: kinds, loss, and each task's scale and mean
    told = both.net_targets("huber")
    assert told["task_kinds"] == ["classification", "regression"]
    assert told["regression_loss"] == "huber"
    assert told["target_scales"] == [1.0, float(both.scale[1])]
    assert np.isnan(told["target_means"][0])
    assert told["target_means"][1] == float(both.mean[1])


def test_an_encoding_refuses_classes_on_a_regression_task():
    with pytest.raises(ValueError, match="regression task cannot have classes"):
        TaskEncoding.of(["regression"], [np.array([0, 1])], [0.0], [1.0])
    with pytest.raises(ValueError, match="classification task cannot have classes"):
        TaskEncoding.of(["classification"], [None], [np.nan], [np.nan])


@pytest.mark.parametrize("kind", ["classifier", "regressor", "tagger"])
def test_score_refuses_y_whose_columns_name_other_tasks(sequences, kind):
    X, Y, values = sequences
    if kind == "tagger":
        X, Y = make_multitask_sequences(
            12, n_tasks=2, length=(5, 9), per_step=True, random_state=0
        )
        named = [pd.DataFrame(y, columns=["a", "b"]) for y in Y]
        model = MultiTaskGRUTagger(hidden_size=4, max_iter=1, random_state=0)
        model.fit(X, named)
        renamed = [y.rename(columns={"a": "c"}) for y in named]
    else:
        y = Y if kind == "classifier" else values
        named = pd.DataFrame(y, columns=["a", "b"])
        model = (
            small_classifier(max_iter=1)
            if kind == "classifier"
            else MultiTaskGRURegressor(**SMALL)
        ).fit(X, named)
        renamed = named.rename(columns={"a": "c"})
    assert np.isfinite(model.score(X, named))
    with pytest.raises(ValueError, match="differ from the tasks seen at fit"):
        model.score(X, renamed)


@pytest.mark.parametrize("kind", ["classifier", "tagger"])
def test_score_with_no_labelled_task_is_an_error(sequences, kind):
    X, Y, _ = sequences
    if kind == "tagger":
        X, Y = make_multitask_sequences(
            12, n_tasks=2, length=(5, 9), per_step=True, random_state=0
        )
        model = MultiTaskGRUTagger(hidden_size=4, max_iter=1, random_state=0)
        model.set_params(missing_label=-1).fit(X, Y)
        unlabelled = [np.full_like(y, -1) for y in Y]
    else:
        model = small_classifier(max_iter=1, missing_label=-1).fit(X, Y)
        unlabelled = np.full_like(Y, -1)
    with pytest.raises(ValueError, match="No task has a labelled sample"):
        model.score(X, unlabelled)


def test_the_regressor_leaves_an_unlabelled_target_out_of_its_score(sequences):
    X, _, values = sequences
    reg = MultiTaskGRURegressor(**SMALL).fit(X, values)
    part = values.copy()
    part[5:, 1] = np.nan  # target 1 is known on five rows only
    full = reg.score(X, values)
    assert np.isfinite(reg.score(X, part)) and reg.score(X, part) != full


def test_only_whole_sequence_estimators_build_on_the_sequence_base():
    assert issubclass(MultiTaskGRURegressor, SequenceLevelGRU)
    assert issubclass(MultiTaskGRUEstimator, SequenceLevelGRU)
    assert not issubclass(MultiTaskGRUTagger, SequenceLevelGRU)
    assert not hasattr(MultiTaskGRUTagger, "_combine_windows")


def test_fit_hooks_return_what_they_compute_and_set_no_state(sequences):
    X, Y, values = sequences
    mixed = MultiTaskGRUEstimator(task_types=["binary", "regression"], **SMALL)
    targets = check_targets(
        np.column_stack([Y[:, 0], values[:, 1]]), len(X), estimator="m"
    )
    before = dict(vars(mixed))
    encoding, encoded = mixed._encode(targets, ["t0", "t1"], None, np.ones(len(X)))
    mixed._module(3, encoding.n_outputs, ["t0", "t1"])
    assert vars(mixed) == before
    assert encoding.kinds == ("classification", "regression")
    assert encoded.shape == (len(X), 2)


def test_the_tagger_continues_when_its_layers_resolve_alike_and_not_otherwise():
    X, Y = make_multitask_sequences(
        12, n_tasks=2, length=(5, 9), per_step=True, random_state=0
    )
    tagger = MultiTaskGRUTagger(
        hidden_size=4, num_layers=2, max_iter=1, warm_start=True, random_state=0
    ).fit(X, Y)
    assert tagger.supervision_layers_ == [1, 1]
    tagger.set_params(supervision_layers=[-1, 1]).fit(X, Y)  # the same layers
    assert len(tagger.history_) == 2
    tagger.set_params(supervision_layers=[0, 1])
    with pytest.raises(ValueError, match="heads read layers \\[1, 1\\]"):
        tagger.fit(X, Y)
