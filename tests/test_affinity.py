"""Task affinity: how alike the tasks' gradients on the shared encoder are."""

import numpy as np
import pytest

from sk_mtgru.datasets import make_multitask_sequences

from .conftest import small_classifier


@pytest.fixture(scope="module")
def related_and_unrelated():
    """Tasks 0 and 1 share their labels; task 2 is unrelated; task 3 is noise."""
    X, Y = make_multitask_sequences(
        300,
        n_tasks=2,
        n_classes=3,
        task_relatedness=0.0,
        noise=0.1,
        length=(10, 20),
        random_state=0,
    )
    noise = np.random.default_rng(0).integers(0, 3, 300)
    return X, np.column_stack([Y[:, 0], Y[:, 0], Y[:, 1], noise])


def test_related_tasks_score_high_and_unrelated_ones_near_zero(related_and_unrelated):
    X, Y = related_and_unrelated
    clf = small_classifier(
        hidden_size=16,
        max_iter=6,
        batch_size=32,
        learning_rate_init=1e-2,
        task_affinity_interval=2,
    ).fit(X, Y)
    affinity = clf.task_affinity_
    assert affinity.shape == (4, 4)
    np.testing.assert_allclose(np.diag(affinity), 1.0, rtol=1e-5)
    np.testing.assert_allclose(affinity, affinity.T, atol=1e-6)
    assert affinity[0, 1] > 0.5
    for i, j in [(0, 2), (0, 3), (1, 2), (2, 3)]:
        assert abs(affinity[i, j]) < 0.2, (i, j, affinity[i, j])
    per_epoch = [epoch["task_affinity"] for epoch in clf.history_]
    assert len(per_epoch) == 6


def test_measuring_affinity_does_not_change_training(dense_data):
    X, Y = dense_data
    measured = small_classifier(max_iter=3, task_affinity_interval=1).fit(X, Y)
    unmeasured = small_classifier(max_iter=3, task_affinity_interval=None).fit(X, Y)
    assert unmeasured.task_affinity_ is None
    for a, b in zip(measured.predict_proba(X), unmeasured.predict_proba(X)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_a_task_without_labels_in_a_batch_is_left_out_of_its_affinity(dense_data):
    X, Y = dense_data
    Y_missing = Y.astype(object)
    Y_missing[:50, 1] = None
    clf = small_classifier(max_iter=2, batch_size=8, task_affinity_interval=1).fit(
        X, Y_missing
    )
    assert np.all(np.isfinite(clf.task_affinity_))


def test_plot_task_affinity_draws_the_fitted_matrix(dense_data):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from sk_mtgru.plotting import plot_task_affinity

    X, Y = dense_data
    clf = small_classifier(max_iter=2, task_affinity_interval=1).fit(X, Y)
    ax = plot_task_affinity(clf)
    np.testing.assert_allclose(ax.images[0].get_array(), clf.task_affinity_)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["task_0", "task_1"]
    unmeasured = small_classifier(max_iter=1, task_affinity_interval=None).fit(X, Y)
    with pytest.raises(ValueError, match="measured no task affinity"):
        plot_task_affinity(unmeasured)
    with pytest.raises(ValueError, match="square matrix"):
        plot_task_affinity(np.ones((2, 3)))


def test_affinity_is_measured_when_an_epoch_has_fewer_batches_than_the_interval():
    # 300 sequences in batches of 64: 5 batches an epoch, one measure every 10
    # batches of the fit (batches 0, 10, 20 of 25).
    X, Y = make_multitask_sequences(300, n_tasks=2, length=6, random_state=0)
    clf = small_classifier(batch_size=64, max_iter=5, task_affinity_interval=10)
    clf.fit(X, Y)
    assert clf.task_affinity_ is not None and clf.task_affinity_.shape == (2, 2)
    measured = ["task_affinity" in epoch for epoch in clf.history_]
    assert measured == [True, False, True, False, True]
