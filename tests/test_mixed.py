"""MultiTaskGRUEstimator: classification and regression tasks in one model."""

import copy

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GridSearchCV

import sk_mtgru
from sk_mtgru import MultiTaskGRUEstimator
from sk_mtgru.metrics import task_scorer
from sk_mtgru.model_selection import MultiTaskStratifiedKFold


def small_model(**params):
    defaults = dict(
        hidden_size=8, conv_channels=8, max_iter=3, batch_size=16, random_state=0
    )
    defaults.update(params)
    return MultiTaskGRUEstimator(**defaults)


@pytest.fixture
def stays():
    """60 recordings; an alarm (binary), a ward (3 classes, strings) and a length
    of stay (hours, a number), as a DataFrame."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 12, 3)).astype(np.float32)
    Y = pd.DataFrame(
        {
            "alarm": (X[:, :, 0].mean(1) > 0).astype(int),
            "ward": np.array(["icu", "surgery", "medicine"])[
                np.digitize(X[:, :, 1].mean(1), [-0.15, 0.15])
            ],
            "stay": 48 + 10 * X[:, :, 2].sum(1),
        }
    )
    return X, Y


def test_each_task_is_predicted_in_its_own_type(stays):
    X, Y = stays
    model = small_model().fit(X, Y)
    assert model.task_types_ == ["classification", "classification", "regression"]
    Y_pred = model.predict(X)
    assert list(Y_pred.columns) == ["alarm", "ward", "stay"]
    assert Y_pred["alarm"].dtype.kind == "i" and Y_pred["stay"].dtype.kind == "f"
    assert set(Y_pred["ward"]) <= {"icu", "surgery", "medicine"}
    assert 20 < Y_pred["stay"].mean() < 80  # in hours, not standardised
    proba = model.predict_proba(X)
    assert list(proba) == ["alarm", "ward"] and proba["ward"].shape == (60, 3)
    np.testing.assert_allclose(proba["ward"].sum(1), 1.0)
    last = model.history_[-1]
    assert {"train_acc_alarm", "train_acc_ward", "train_mse_stay"} <= set(last)
    array_model = small_model().fit(X, Y.to_numpy(dtype=object))
    assert array_model.predict(X).dtype == object


def test_each_tasks_loss_is_its_own(stays):
    X, Y = stays
    first = small_model(batch_size=len(X)).fit(X, Y)
    continued = copy.deepcopy(first).set_params(warm_start=True, max_iter=1)
    continued.fit(X, Y)
    # One batch, before its step: the first fit's predictions give each loss.
    proba = first.predict_proba(X)
    for task in ("alarm", "ward"):
        codes = np.searchsorted(first.classes_[list(Y).index(task)], Y[task])
        cross_entropy = -np.log(proba[task][np.arange(60), codes]).mean()
        assert continued.history_[-1, f"train_loss_{task}"] == pytest.approx(
            cross_entropy, rel=1e-4
        )
    error = (first.predict(X)["stay"] - Y["stay"]) / Y["stay"].std(ddof=0)
    assert continued.history_[-1, "train_loss_stay"] == pytest.approx(
        np.mean(error**2), rel=1e-4
    )


def test_task_types_are_declared_checked_or_inferred(stays):
    X, Y = stays
    as_numbers = small_model(task_types={"alarm": "regression"}).fit(X, Y)
    assert as_numbers.task_types_ == ["regression", "classification", "regression"]
    with pytest.raises(ValueError, match="says task 'ward' is binary, but it has 3"):
        small_model(task_types=["binary", "binary", "regression"]).fit(X, Y)
    with pytest.raises(ValueError, match="'alarm' is multiclass, but it has 2"):
        small_model(task_types=["multiclass", "multiclass", "regression"]).fit(X, Y)
    with pytest.raises(ValueError, match="the kind 'ordinal'"):
        small_model(task_types=["binary", "ordinal", "regression"]).fit(X, Y)
    with pytest.raises(ValueError, match="needs numeric targets.*'ward'"):
        small_model(task_types=[None, "regression", None]).fit(X, Y)


def test_missing_labels_and_values_leave_their_tasks_loss_only(stays):
    X, Y = stays
    Y = Y.astype(object)
    Y.loc[::3, "ward"] = None
    Y.loc[1::3, "stay"] = np.nan
    model = small_model().fit(X, Y)
    assert np.isfinite(model.history_[:, "train_loss"]).all()
    assert model.task_types_[2] == "regression"


def test_searches_need_a_scoring_and_accept_per_task_scorers(stays):
    X, Y = stays
    grid = {"task_weights": [(1, 1, 1), (1, 1, 3)]}
    with pytest.raises(TypeError, match="score"):
        GridSearchCV(small_model(max_iter=1), grid, cv=2).fit(X, Y)
    scoring = {
        "alarm": task_scorer("alarm", "roc_auc"),
        "ward": task_scorer("ward", "balanced_accuracy"),
        "stay": task_scorer("stay", "neg_mean_absolute_error"),
    }
    search = GridSearchCV(
        small_model(max_iter=1, loss_balancing="uncertainty"),
        grid,
        scoring=scoring,
        refit="stay",
        cv=MultiTaskStratifiedKFold(2, task="ward", shuffle=True, random_state=0),
    ).fit(X, Y)
    for name in scoring:
        assert np.isfinite(search.cv_results_[f"mean_test_{name}"]).all()
    assert (search.cv_results_["mean_test_stay"] < 0).all()


def test_warm_start_partial_fit_crops_joblib_and_safe_file(tmp_path, stays):
    X, Y = stays
    model = small_model(warm_start=True, crop_length=8).fit(X, Y)
    model.fit(X, Y)
    model.partial_fit(X, Y)
    assert len(model.history_) == 7
    joblib.dump(model, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    pd.testing.assert_frame_equal(loaded.predict(X), model.predict(X))
    pytest.importorskip("safetensors")
    model.save(tmp_path / "model.safetensors")
    loaded = sk_mtgru.load(tmp_path / "model.safetensors")
    pd.testing.assert_frame_equal(loaded.predict(X), model.predict(X))
    assert loaded.task_types_ == model.task_types_
    assert loaded.get_params() == model.get_params()


def test_class_weights_name_classification_tasks_only(stays):
    X, Y = stays
    weighted = small_model(class_weight={"ward": "balanced"}).fit(X, Y)
    assert np.isfinite(weighted.history_[:, "train_loss"]).all()
    with pytest.raises(ValueError, match="regression tasks"):
        small_model(class_weight={"stay": {0: 2.0}}).fit(X, Y)
    with pytest.raises(ValueError, match="regression tasks; give them None"):
        small_model(class_weight=[None, None, "balanced"]).fit(X, Y)
