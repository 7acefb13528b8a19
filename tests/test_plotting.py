"""plot_learning_curves draws what the model's history recorded, task by task."""

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from sk_mtgru import MultiTaskGRUClassifier, SequenceScaler
from sk_mtgru.plotting import plot_learning_curves

from .conftest import small_classifier

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    matplotlib.pyplot.close("all")


def test_each_task_gets_its_recorded_training_and_validation_curve(dense_data):
    X, Y = dense_data
    clf = small_classifier(early_stopping=True, max_iter=4).fit(X, Y)
    ax = plot_learning_curves(clf)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {f"task_{k} ({s})" for k in (0, 1) for s in ("train", "valid")}
    np.testing.assert_allclose(
        lines["task_1 (valid)"].get_ydata(), clf.history_[:, "valid_loss_task_1"]
    )
    assert lines["task_0 (train)"].get_xdata().tolist() == [1, 2, 3, 4]


def test_without_validation_only_training_curves_are_drawn(dense_data):
    X, Y = dense_data
    clf = small_classifier().fit(X, Y)
    ax = plot_learning_curves(
        make_pipeline(SequenceScaler(), clf).fit(X, Y), metric="acc"
    )
    assert [line.get_label() for line in ax.get_lines()] == [
        "task_0 (train)",
        "task_1 (train)",
    ]
    assert ax.get_ylabel() == "accuracy"


def test_bad_metric_and_unfitted_model_are_clear_errors(dense_data):
    with pytest.raises(ValueError, match="metric must be 'loss' or 'acc'"):
        plot_learning_curves(small_classifier(), metric="f1")
    with pytest.raises(ValueError, match="needs a fitted MultiTaskGRUClassifier"):
        plot_learning_curves(MultiTaskGRUClassifier())
