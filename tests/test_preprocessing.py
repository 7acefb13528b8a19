"""SequenceScaler: statistics over every real time step, output in the input's form."""

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from sk_mtgru import SequenceScaler

from .conftest import small_classifier


@pytest.fixture
def ragged():
    rng = np.random.default_rng(0)
    return [rng.normal(5.0, 3.0, size=(n, 3)) * [1, 10, 100] for n in (4, 9, 1, 15)]


def test_statistics_are_taken_over_all_time_steps_of_all_sequences(ragged):
    scaler = SequenceScaler().fit(ragged)
    steps = np.concatenate(ragged)
    np.testing.assert_allclose(scaler.mean_, steps.mean(axis=0))
    np.testing.assert_allclose(scaler.var_, steps.var(axis=0))
    np.testing.assert_allclose(scaler.scale_, steps.std(axis=0))
    assert scaler.n_samples_seen_ == len(steps) == 29
    assert scaler.n_features_in_ == 3


def test_ragged_input_gives_ragged_standardised_output(ragged):
    scaled = SequenceScaler().fit_transform(ragged)
    assert isinstance(scaled, list)
    assert [s.shape for s in scaled] == [s.shape for s in ragged]
    steps = np.concatenate(scaled)
    np.testing.assert_allclose(steps.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(steps.std(axis=0), 1)


def test_dense_statistics_match_the_flattened_steps():
    rng = np.random.default_rng(1)
    X = (rng.normal(size=(6, 7, 2)) + [3, -2]).astype(np.float32)
    scaler = SequenceScaler().fit(X)
    np.testing.assert_allclose(scaler.mean_, X.reshape(-1, 2).mean(axis=0), rtol=1e-6)
    scaled = scaler.transform(X)
    assert scaled.shape == X.shape and scaled.dtype == np.float32


def test_univariate_2d_input_stays_2d():
    X = np.arange(12.0).reshape(3, 4)
    scaler = SequenceScaler().fit(X)
    assert scaler.n_features_in_ == 1
    scaled = scaler.transform(X)
    assert scaled.shape == (3, 4)
    np.testing.assert_allclose(scaled, (X - X.mean()) / X.std())


def test_inverse_transform_recovers_the_input(ragged):
    scaler = SequenceScaler().fit(ragged)
    for original, back in zip(
        ragged, scaler.inverse_transform(scaler.transform(ragged))
    ):
        np.testing.assert_allclose(back, original)


def test_tiny_but_varying_features_are_not_taken_for_constant():
    X = np.random.default_rng(0).normal(size=(5, 4, 1)) * 1e-20
    scaled = SequenceScaler().fit_transform(X)
    np.testing.assert_allclose(scaled.std(), 1.0)


def test_constant_feature_keeps_unit_scale():
    X = np.ones((4, 5, 2))
    X[..., 1] = np.arange(5)
    scaler = SequenceScaler().fit(X)
    assert scaler.scale_[0] == 1.0
    np.testing.assert_array_equal(scaler.transform(X)[..., 0], 0.0)


def test_with_mean_and_with_std_can_be_switched_off(ragged):
    only_scale = SequenceScaler(with_mean=False).fit(ragged)
    assert only_scale.mean_ is None
    np.testing.assert_allclose(
        only_scale.transform(ragged)[0], ragged[0] / only_scale.scale_
    )
    only_center = SequenceScaler(with_std=False).fit(ragged)
    assert only_center.scale_ is None and only_center.var_ is None
    np.testing.assert_allclose(
        only_center.transform(ragged)[0], ragged[0] - only_center.mean_
    )


def test_large_offsets_do_not_lose_the_variance():
    rng = np.random.default_rng(2)
    X = 1e6 + rng.normal(size=(50, 40, 1))
    scaler = SequenceScaler().fit(X)
    np.testing.assert_allclose(scaler.var_, X.reshape(-1).var(), rtol=1e-6)


def test_another_number_of_features_at_transform_is_an_error(ragged):
    scaler = SequenceScaler().fit(ragged)
    with pytest.raises(ValueError, match="X has 2 features per time step"):
        scaler.transform([r[:, :2] for r in ragged])


def test_scaler_feeds_the_classifier_in_a_pipeline(ragged_data):
    X, Y = ragged_data
    pipe = make_pipeline(SequenceScaler(), small_classifier()).fit(X, Y)
    assert pipe.predict(X).shape == (60, 2)


def test_float32_sequences_with_statistics_beyond_float32_scale_finitely():
    # Found by the fuzzer: a float64 value of 1e39 beside float32 sequences gave
    # statistics float32 cannot hold, and NaN once applied in float32.
    X = [[1.02e39, 0.0], np.array([0.0], dtype=np.float32)]
    scaled = SequenceScaler().fit_transform(X)
    assert all(np.all(np.isfinite(s)) for s in scaled)
    assert scaled[1].dtype == np.float32


def test_values_whose_variance_overflows_are_a_clear_error():
    X = np.full((3, 4, 1), 1e200)
    X[0] = -1e200
    with pytest.raises(ValueError, match="mean or variance overflows float64"):
        SequenceScaler().fit(X)


def test_transforming_far_outside_the_fitted_range_is_a_clear_error():
    scaler = SequenceScaler().fit(
        np.random.default_rng(0).normal(size=(5, 4, 1)) * 1e-20
    )
    with pytest.raises(ValueError, match="too large for float32"):
        scaler.transform(np.full((1, 2, 1), 3e38, dtype=np.float32))
