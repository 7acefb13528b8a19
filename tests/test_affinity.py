"""Task affinity: how training one task moves the others through what they share,
and the task groups it implies."""

import numpy as np
import pytest
import torch

from sk_mtgru._affinity import best_task_groups, group_score, lookahead_affinity
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


def test_cosine_scores_related_tasks_high_and_unrelated_ones_near_zero(
    related_and_unrelated,
):
    X, Y = related_and_unrelated
    clf = small_classifier(
        hidden_size=16,
        max_iter=6,
        batch_size=32,
        learning_rate_init=1e-2,
        task_affinity_interval=2,
        task_affinity_measure="cosine",
    ).fit(X, Y)
    affinity = clf.task_affinity_
    assert affinity.shape == (4, 4)
    np.testing.assert_allclose(np.diag(affinity), 1.0, rtol=1e-5)
    np.testing.assert_allclose(affinity, affinity.T, atol=1e-6)
    assert affinity[0, 1] > 0.4
    for i, j in [(0, 2), (0, 3), (1, 2), (2, 3)]:
        assert abs(affinity[i, j]) < 0.2, (i, j, affinity[i, j])
    per_epoch = [epoch["task_affinity"] for epoch in clf.history_]
    assert len(per_epoch) == 6


def test_lookahead_ranks_related_tasks_above_unrelated_ones(related_and_unrelated):
    X, Y = related_and_unrelated
    clf = small_classifier(
        hidden_size=16,
        max_iter=6,
        batch_size=32,
        learning_rate_init=1e-2,
        task_affinity_interval=2,
    ).fit(X, Y)
    assert clf.task_affinity_.shape == (4, 4)
    assert np.all(np.diag(clf.task_affinity_) > 0)  # a step lowers its own loss
    z = clf.task_affinity_ / np.diag(clf.task_affinity_)  # each column by its own
    related = min(z[0, 1], z[1, 0])
    unrelated = [
        z[i, j] for i in range(4) for j in range(4) if i != j and {i, j} != {0, 1}
    ]
    # a step on a task lowers a related task's loss more than half as much as
    # its own; every unrelated pair ranks far below
    assert related > 0.5
    assert related > max(unrelated) + 0.3, z


def test_lookahead_is_negative_when_a_step_on_one_task_raises_the_others_loss():
    # One shared weight w (0 now); task 0 wants w * x = 1, task 1 wants -1.
    encoder = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(encoder.weight)
    x = torch.ones(4, 1)

    def losses():
        out = encoder(x)
        return torch.stack([((out - 1) ** 2).mean(), ((out + 1) ** 2).mean()])

    shared = encoder(x)
    gradients = [2 * (shared.detach() - 1) / 4, 2 * (shared.detach() + 1) / 4]
    z = lookahead_affinity(encoder, shared, gradients, losses, step=0.1)
    assert z[0, 0] > 0 and z[1, 1] > 0
    assert z[0, 1] < 0 and z[1, 0] < 0
    # exactly TAG's ratio: w moves by 0.1 * 2 -> losses (0.8**2, 1.2**2)
    np.testing.assert_allclose(z[0], [1 - 0.64, 1 - 1.44], rtol=1e-6)
    assert float(encoder.weight.detach()) == 0.0  # the parameters are put back
    missing = lookahead_affinity(
        encoder, shared, [gradients[0], None], losses, step=0.1
    )
    assert np.isfinite(missing[0, 0]) and np.isnan(missing[1]).all()
    assert np.isnan(missing[:, 1]).all()


def test_task_affinity_is_the_mean_over_the_fit_of_the_epochs_measured(dense_data):
    X, Y = dense_data
    clf = small_classifier(max_iter=4, task_affinity_interval=3).fit(X, Y)
    per_epoch = [e["task_affinity"] for e in clf.history_ if "task_affinity" in e]
    assert len(per_epoch) >= 2
    np.testing.assert_allclose(clf.task_affinity_, np.mean(per_epoch, axis=0))
    assert not np.allclose(clf.task_affinity_, per_epoch[-1])


def test_best_task_groups_keeps_a_conflicting_task_apart():
    z = np.array(
        [
            [0.5, 0.4, -0.3],
            [0.3, 0.6, -0.2],
            [-0.4, -0.1, 0.7],
        ]
    )
    assert best_task_groups(z) == [[0, 1], [2]]
    assert group_score(z, [[0, 1], [2]]) == pytest.approx(0.7)
    onto = [0.3 - 0.4, 0.4 - 0.1, -0.3 - 0.2]  # from the others onto each task
    assert group_score(z, [[0, 1, 2]]) == pytest.approx(sum(onto) / 2)
    # tasks that help each other all share one encoder; ties go to fewer groups
    assert best_task_groups(np.full((3, 3), 0.2)) == [[0, 1, 2]]
    assert best_task_groups(np.zeros((2, 2))) == [[0, 1]]


def test_best_task_groups_merges_greedily_beyond_eight_tasks():
    rng = np.random.default_rng(0)
    blocks = [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    z = rng.normal(0, 0.02, (10, 10)) - 0.2
    for block in blocks:
        z[np.ix_(block, block)] = 0.5
    assert best_task_groups(z) == blocks
    # the same answer as every partition would give, on a size both can do
    small = z[np.ix_([0, 1, 3, 4, 6, 7], [0, 1, 3, 4, 6, 7])]
    assert best_task_groups(small) == [[0, 2, 4], [1, 3, 5]]


def test_measuring_affinity_does_not_change_training(dense_data):
    X, Y = dense_data
    measured = small_classifier(max_iter=3, task_affinity_interval=1).fit(X, Y)
    assert measured.task_affinity_measure == "lookahead"
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
