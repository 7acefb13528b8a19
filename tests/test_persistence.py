"""Fitted models survive joblib and pickle, in this process and in a fresh one."""

import os
import pickle
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
import torch

from .conftest import small_classifier


def _predict_in_fresh_process(model_path, X_path, out_path, env=None):
    code = textwrap.dedent(
        f"""
        import joblib, numpy as np
        model = joblib.load({str(model_path)!r})
        X = np.load({str(X_path)!r})
        proba = model.predict_proba(X)
        np.savez({str(out_path)!r}, pred=model.predict(X), *proba)
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=300)
    return np.load(out_path, allow_pickle=False)


def test_joblib_round_trip_in_a_fresh_process_predicts_identically(
    tmp_path, dense_data
):
    X, Y = dense_data
    clf = small_classifier().fit(X, Y)
    joblib.dump(clf, tmp_path / "model.joblib")
    np.save(tmp_path / "X.npy", X)
    loaded = _predict_in_fresh_process(
        tmp_path / "model.joblib", tmp_path / "X.npy", tmp_path / "out.npz"
    )
    np.testing.assert_array_equal(loaded["pred"], clf.predict(X))
    for k, proba in enumerate(clf.predict_proba(X)):
        np.testing.assert_array_equal(loaded[f"arr_{k}"], proba)


def test_pickle_round_trip_keeps_labels_history_and_predictions(string_labels):
    X, Y = string_labels
    clf = small_classifier().fit(X, Y)
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    assert loaded.classes_[0].tolist() == ["cat", "dog"]
    assert loaded.history_[:, "train_loss"] == clf.history_[:, "train_loss"]
    assert loaded.get_params() == clf.get_params()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_model_fitted_on_gpu_predicts_on_a_cpu_only_process(tmp_path, dense_data):
    X, Y = dense_data
    clf = small_classifier(device="cuda").fit(X, Y)
    assert next(clf.net_.module_.parameters()).is_cuda
    joblib.dump(clf, tmp_path / "model.joblib")
    np.save(tmp_path / "X.npy", X)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    loaded = _predict_in_fresh_process(
        tmp_path / "model.joblib", tmp_path / "X.npy", tmp_path / "out.npz", env=env
    )
    for k, proba in enumerate(clf.predict_proba(X)):
        # cuDNN may compute in TF32 on the GPU: agreement to ~1e-4, not bit for bit.
        np.testing.assert_allclose(loaded[f"arr_{k}"], proba, rtol=1e-3, atol=1e-3)
