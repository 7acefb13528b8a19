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
    with pytest.raises(ValueError, match="metric must be 'loss', 'acc' or 'mse'"):
        plot_learning_curves(small_classifier(), metric="f1")
    with pytest.raises(ValueError, match="needs a fitted sk_mtgru estimator"):
        plot_learning_curves(MultiTaskGRUClassifier())


@pytest.fixture(scope="module")
def every_estimator():
    """One small fitted model of each estimator, the classifier in a pipeline."""
    from sk_mtgru import (
        MultiTaskGRUEstimator,
        MultiTaskGRURegressor,
        MultiTaskGRUTagger,
    )
    from sk_mtgru.datasets import make_multitask_sequences

    X, Y = make_multitask_sequences(40, n_tasks=2, length=8, random_state=0)
    values = Y.astype(float) + 0.5
    mixed_y = np.column_stack([Y[:, 0], values[:, 1]]).astype(object)
    Xs, Ys = make_multitask_sequences(20, n_tasks=2, per_step=True, random_state=0)
    small = dict(
        hidden_size=4,
        conv_channels=4,
        max_iter=3,
        random_state=0,
        task_affinity_interval=1,
    )
    return {
        "pipeline": make_pipeline(
            SequenceScaler(), MultiTaskGRUClassifier(**small)
        ).fit(X, Y),
        "regressor": MultiTaskGRURegressor(**small).fit(X, values),
        "mixed": MultiTaskGRUEstimator(
            task_types=["classification", "regression"], **small
        ).fit(X, mixed_y),
        "tagger": MultiTaskGRUTagger(
            hidden_size=4, max_iter=3, random_state=0, task_affinity_interval=1
        ).fit(Xs, Ys),
    }


@pytest.mark.parametrize("which", ["pipeline", "regressor", "mixed", "tagger"])
def test_both_plots_take_every_estimator(every_estimator, which):
    from sk_mtgru.plotting import plot_task_affinity

    model = every_estimator[which]
    ax = plot_learning_curves(model)
    assert len(ax.get_lines()) == 2
    ticks = [t for t in ax.get_xticks() if 1 <= t <= 3]
    assert ticks and all(float(t).is_integer() for t in ticks)  # whole epochs
    ax = plot_task_affinity(model)
    assert ax.images[0].get_array().shape == (2, 2)


def test_a_mixed_model_plots_each_kind_of_task_with_its_own_metric(every_estimator):
    mixed = every_estimator["mixed"]
    acc = plot_learning_curves(mixed, metric="acc")
    assert [line.get_label() for line in acc.get_lines()] == ["task_0 (train)"]
    mse = plot_learning_curves(mixed, metric="mse")
    assert [line.get_label() for line in mse.get_lines()] == ["task_1 (train)"]
    assert mse.get_ylabel() == "mean squared error"
    loss = plot_learning_curves(mixed)
    assert "squared error for regression tasks" in loss.get_ylabel()
    regressor = plot_learning_curves(every_estimator["regressor"])
    assert "cross-entropy" not in regressor.get_ylabel()
    with pytest.raises(ValueError, match="No task of this model records accuracy"):
        plot_learning_curves(every_estimator["regressor"], metric="acc")


def test_a_saved_affinity_figure_clips_no_label(tmp_path):
    from sk_mtgru.plotting import plot_task_affinity

    names = ["exercise", "participant", "side_of_the_body"]
    ax = plot_task_affinity(np.eye(3) * 0.1, task_names=names, groups=[[0, 2], [1]])
    figure = ax.figure
    figure.savefig(tmp_path / "affinity.png")
    box = figure.bbox
    texts = [*ax.get_xticklabels(), *ax.get_yticklabels(), figure.axes[-1].yaxis.label]
    renderer = figure.canvas.get_renderer()
    for text in texts:
        extent = text.get_window_extent(renderer)
        assert extent.x0 >= box.x0 - 1 and extent.x1 <= box.x1 + 1, text.get_text()
        assert extent.y0 >= box.y0 - 1 and extent.y1 <= box.y1 + 1, text.get_text()
    # the non-adjacent group [0, 2] is outlined cell by cell, [1] as a block
    assert len(ax.patches) == 4 + 1
