"""MultiTaskGRURegressor: numbers per sequence, standardised, missing left out."""

import copy

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline

import sk_mtgru
from sk_mtgru import MultiTaskGRURegressor, SequenceScaler


def small_regressor(**params):
    defaults = dict(
        hidden_size=8, conv_channels=8, max_iter=3, batch_size=16, random_state=0
    )
    defaults.update(params)
    return MultiTaskGRURegressor(**defaults)


@pytest.fixture
def sensor_targets():
    """80 recordings of 12 steps x 3 channels; two targets on very different scales:
    a sum (units) and a level around 100 (tens)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 12, 3)).astype(np.float32)
    Y = np.column_stack([X[:, :, 0].sum(1), 100 + 10 * X[:, :, 1].mean(1)])
    return X, Y


def test_learns_both_targets_and_predicts_in_their_units(sensor_targets):
    X, Y = sensor_targets
    reg = small_regressor(hidden_size=16, max_iter=40, learning_rate_init=1e-2)
    reg.fit(X[:60], Y[:60])
    Y_pred = reg.predict(X[60:])
    assert Y_pred.shape == (20, 2)
    for k in range(2):
        assert r2_score(Y[60:, k], Y_pred[:, k]) > 0.5, k
    assert reg.score(X[60:], Y[60:]) == pytest.approx(r2_score(Y[60:], Y_pred))


def test_targets_are_standardised_so_their_units_do_not_matter(sensor_targets):
    X, Y = sensor_targets
    plain = small_regressor().fit(X, Y).predict(X)
    rescaled = small_regressor().fit(X, 1000 * Y - 7).predict(X)
    np.testing.assert_allclose(rescaled, 1000 * plain - 7, rtol=1e-4, atol=1e-2)


def test_one_dimensional_y_gives_one_dimensional_predictions(sensor_targets):
    X, Y = sensor_targets
    reg = small_regressor().fit(X, Y[:, 0])
    assert reg.predict(X).shape == (80,) and reg.n_tasks_ == 1


def test_a_missing_target_leaves_that_targets_loss_only(sensor_targets):
    X, Y = sensor_targets
    rows = np.arange(0, 80, 4)
    Y_nan = Y.copy()
    Y_nan[rows, 1] = np.nan
    Y_none = Y.astype(object)
    Y_none[rows, 1] = None
    as_nan = small_regressor().fit(X, Y_nan)
    np.testing.assert_array_equal(
        as_nan.predict(X), small_regressor().fit(X, Y_none).predict(X)
    )
    # Those rows still train target 0: not the model without them at all.
    no_target = Y_nan.copy()
    no_target[rows, 0] = np.nan
    assert not np.allclose(
        as_nan.predict(X)[:, 0], small_regressor().fit(X, no_target).predict(X)[:, 0]
    )
    # The score leaves missing values out.
    assert np.isfinite(as_nan.score(X, Y_nan))


def test_the_loss_is_the_mean_squared_or_huber_error_of_standardised_targets(
    sensor_targets,
):
    X, Y = sensor_targets
    first = small_regressor(batch_size=len(X)).fit(X, Y)
    standard_error = (first.predict(X) - Y) / Y.std(0)
    for loss, formula in (
        ("squared_error", lambda e: e**2),
        ("huber", lambda e: np.where(np.abs(e) <= 1, e**2 / 2, np.abs(e) - 0.5)),
    ):
        # One batch: the continued fit's first loss is computed with the first
        # fit's weights, before any step.
        continued = copy.deepcopy(first).set_params(
            warm_start=True, max_iter=1, loss=loss
        )
        continued.fit(X, Y)
        for k in range(2):
            assert continued.history_[-1, f"train_loss_task_{k}"] == pytest.approx(
                formula(standard_error[:, k]).mean(), rel=1e-4
            )
        assert continued.history_[-1, "train_mse_task_1"] > 0


def test_sample_weights_standardise_and_train_as_repeated_samples(sensor_targets):
    X, Y = sensor_targets
    X, Y = X[:20], Y[:20]
    weights = np.r_[np.full(10, 2.0), np.ones(10)]
    repeated = np.r_[np.arange(10), np.arange(20)]
    params = dict(batch_size=64, learning_rate="constant")
    weighted = small_regressor(**params).fit(X, Y, sample_weight=weights)
    twice = small_regressor(**params).fit(X[repeated], Y[repeated])
    np.testing.assert_allclose(weighted.predict(X), twice.predict(X), rtol=1e-4)


def test_partial_fit_keeps_the_first_calls_standardisation(sensor_targets):
    X, Y = sensor_targets
    reg = small_regressor().partial_fit(X[:40], Y[:40])
    reg.partial_fit(X[40:], Y[40:] + 50)
    assert len(reg.history_) == 2
    np.testing.assert_allclose(reg._y_mean, Y[:40].mean(0), rtol=1e-6)


def test_warm_start_continues_and_refuses_other_targets(sensor_targets):
    X, Y = sensor_targets
    reg = small_regressor(warm_start=True).fit(X, Y)
    reg.fit(X, Y)
    assert len(reg.history_) == 6
    with pytest.raises(ValueError, match="continues the previous fit"):
        reg.fit(X, Y[:, :1])


def test_with_crops_a_long_sequence_is_predicted_by_its_windows_mean():
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(n, 2)) for n in rng.integers(10, 40, size=30)]
    y = np.array([x[:, 0].mean() for x in X])
    reg = small_regressor(crop_length=10).fit(X, y)
    x = X[int(np.argmax([len(x) for x in X]))]
    starts = sorted(set(range(0, len(x) - 10 + 1, 5)) | {len(x) - 10})
    windows = [x[s : s + 10] for s in starts]
    predicted = reg.predict([x])[0]
    expected = reg.set_params(crop_length=None).predict(windows).mean()
    assert predicted == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("balancing", ["uncertainty", "pcgrad", "dwa"])
def test_loss_balancing_and_task_affinity_work_on_targets(sensor_targets, balancing):
    X, Y = sensor_targets
    reg = small_regressor(loss_balancing=balancing, task_affinity_interval=1)
    reg.fit(X, Y)
    assert np.isfinite(reg.history_[:, "train_loss"]).all()
    assert reg.task_affinity_.shape == (2, 2)


def test_early_stopping_records_validation_errors(sensor_targets):
    X, Y = sensor_targets
    reg = small_regressor(early_stopping=True, max_iter=4).fit(X, Y)
    assert np.isfinite(reg.history_[-1, "valid_mse_task_0"])


def test_grid_search_over_task_weights_in_a_pipeline(sensor_targets):
    X, Y = sensor_targets
    search = GridSearchCV(
        make_pipeline(SequenceScaler(), small_regressor()),
        {"multitaskgruregressor__task_weights": [(1, 1), (1, 3)]},
        cv=KFold(2),
    ).fit(X, Y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert clone(search.best_estimator_).get_params()["memory"] is None


def test_safe_file_and_joblib_round_trips_predict_alike(tmp_path, sensor_targets):
    X, Y = sensor_targets
    reg = small_regressor(loss="huber").fit(X, Y)
    reg.save(tmp_path / "reg.safetensors")
    loaded = sk_mtgru.load(tmp_path / "reg.safetensors")
    assert isinstance(loaded, MultiTaskGRURegressor) and loaded.loss == "huber"
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
    joblib.dump(reg, tmp_path / "reg.joblib")
    np.testing.assert_array_equal(
        joblib.load(tmp_path / "reg.joblib").predict(X), reg.predict(X)
    )


@pytest.mark.parametrize(
    "bad, match",
    [
        (lambda Y: Y.astype(str), "needs numeric targets"),
        (lambda Y: np.where(np.arange(80)[:, None] == 3, np.inf, Y), "infinity"),
        (lambda Y: np.column_stack([Y[:, 0], np.full(80, np.nan)]), "no value"),
    ],
)
def test_bad_targets_are_clear_errors(sensor_targets, bad, match):
    X, Y = sensor_targets
    with pytest.raises(ValueError, match=match):
        small_regressor().fit(X, bad(Y))


def test_predictions_match_a_hand_written_torch_loop(sensor_targets):
    """The estimator is the network of sk_mtgru._module trained on standardised
    targets with AdamW, gradient clipping and the mean squared error: the same
    loop written by hand from the same initial weights predicts the same."""
    from sk_mtgru._module import MultiTaskGRU
    from sk_mtgru._training import seeded_torch

    X, Y = sensor_targets
    params = dict(
        max_iter=5, batch_size=len(X), learning_rate="constant", gru_kernel="torch"
    )
    reg = small_regressor(**params).fit(X, Y)
    seed = int(np.random.RandomState(0).randint(np.iinfo(np.int32).max))
    with seeded_torch(seed, torch.device("cpu")):
        module = MultiTaskGRU(
            n_features=3,
            n_classes=[1, 1],
            hidden_size=8,
            summary="mean_max",
            gru_kernel="torch",
            conv_layers=2,
            conv_channels=8,
            conv_stride=2,
            input_statistics=True,
        )
    optimizer = torch.optim.AdamW(module.parameters(), lr=3e-3, weight_decay=1e-2)
    mean, scale = Y.mean(0), Y.std(0)
    x = torch.as_tensor(X)
    lengths = torch.full((len(X),), 12)
    target = torch.as_tensor((Y - mean) / scale, dtype=torch.float32)
    module.train()
    for _ in range(5):
        optimizer.zero_grad()
        outputs = module(x, lengths)
        loss = sum(
            torch.nn.functional.mse_loss(out[:, 0], target[:, k])
            for k, out in enumerate(outputs)
        )
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
        optimizer.step()
    module.eval()
    with torch.no_grad():
        by_hand = torch.cat(module(x, lengths), dim=1).double().numpy() * scale + mean
    np.testing.assert_allclose(reg.predict(X), by_hand, rtol=1e-4, atol=1e-4)
