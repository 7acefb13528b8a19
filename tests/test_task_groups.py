"""task_groups: an encoder per group of tasks, named by the user or chosen from
the affinity of a warm-up, and recommend_task_groups."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

import sk_mtgru
from sk_mtgru import MultiTaskGRUEstimator, MultiTaskGRURegressor
from sk_mtgru.datasets import make_multitask_sequences
from sk_mtgru.model_selection import recommend_task_groups

from .conftest import small_classifier


@pytest.fixture(scope="module")
def three_tasks():
    return make_multitask_sequences(80, n_tasks=3, length=10, random_state=0)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def test_a_task_alone_in_its_group_learns_as_if_the_others_were_not_there(
    three_tasks,
):
    X, Y = three_tasks
    other = Y.copy()
    other[:, 1] = np.random.default_rng(1).permutation(Y[:, 1])  # new labels
    other[:, 2] = np.random.default_rng(2).permutation(Y[:, 2])
    # no clipping: a global gradient norm would couple the groups' steps
    params = dict(task_groups=[["task_0"], [1, 2]], max_grad_norm=None, max_iter=2)
    a = small_classifier(**params).fit(X, Y)
    b = small_classifier(**params).fit(X, other)
    np.testing.assert_allclose(a.predict_proba(X)[0], b.predict_proba(X)[0])
    assert not np.allclose(a.predict_proba(X)[1], b.predict_proba(X)[1])
    # sharing one encoder, task 0 does feel the others' labels
    shared = dict(params, task_groups=None)
    c = small_classifier(**shared).fit(X, Y)
    d = small_classifier(**shared).fit(X, other)
    assert not np.allclose(c.predict_proba(X)[0], d.predict_proba(X)[0])


def test_task_groups_are_reported_by_name_and_one_group_is_one_encoder(three_tasks):
    X, Y = three_tasks
    grouped = small_classifier(task_groups=[[2, 0], ["task_1"]]).fit(X, Y)
    assert grouped.task_groups_ == [["task_2", "task_0"], ["task_1"]]
    assert len(grouped.predict(X)) == len(X)
    # each task's outputs come from its own head, whatever its group's order
    X4, Y4 = make_multitask_sequences(
        60, n_tasks=3, n_classes=[2, 3, 4], length=8, random_state=0
    )
    grouped = small_classifier(task_groups=[[2, 0], [1]]).fit(X4, Y4)
    assert [p.shape[1] for p in grouped.predict_proba(X4)] == [2, 3, 4]
    one = small_classifier(task_groups=[[0, 1, 2]]).fit(X, Y)
    plain = small_classifier().fit(X, Y)
    assert one.task_groups_ == plain.task_groups_ == [["task_0", "task_1", "task_2"]]
    np.testing.assert_allclose(one.predict_proba(X)[2], plain.predict_proba(X)[2])


@pytest.mark.parametrize(
    "groups, error, match",
    [
        ([["task_0", "task_1"]], ValueError, r"leaves out \['task_2'\]"),
        ([[0, 1], [1, 2]], ValueError, r"names \['task_1'\] in more than one"),
        ([["task_0"], ["nope"], [1, 2]], ValueError, "'nope', which is not a task"),
        ([[0], [1], [5]], ValueError, "task index 5"),
        ([[0], [1], []], ValueError, "empty group"),
        ([0, 1, 2], TypeError, "groups \\(lists\\) of task names"),
        ("all", ValueError, "task_groups"),
    ],
)
def test_invalid_task_groups_are_refused_with_what_to_do(
    three_tasks, groups, error, match
):
    X, Y = three_tasks
    with pytest.raises(error, match=match):
        small_classifier(task_groups=groups).fit(X, Y)


def test_auto_trains_the_groups_recommend_task_groups_gives(three_tasks):
    X, Y = three_tasks
    model = small_classifier(max_iter=10, task_groups="auto")
    result = recommend_task_groups(model, X, Y)
    assert result.epochs == 3
    assert result.affinity.shape == (3, 3) and np.isfinite(result.affinity).all()
    assert sorted(t for g in result.groups for t in g) == ["task_0", "task_1", "task_2"]
    assert not hasattr(model, "net_")  # nothing fitted
    fitted = clone(model).fit(X, Y)
    assert fitted.task_groups_ == result.groups


def test_auto_separates_a_task_that_conflicts_with_the_others(monkeypatch):
    # the warm-up's affinity decides: task 2 hurts the others and they hurt it
    import sk_mtgru._grouping as grouping

    z = np.array([[0.5, 0.4, -0.3], [0.3, 0.6, -0.2], [-0.4, -0.1, 0.7]])
    monkeypatch.setattr(grouping, "warm_up_affinity", lambda *a: (z, ["a", "b", "c"]))
    X, Y = make_multitask_sequences(40, n_tasks=3, length=6, random_state=0)
    clf = small_classifier(task_groups="auto", max_iter=1).fit(X, Y)
    assert clf.task_groups_ == [["task_0", "task_1"], ["task_2"]]


def test_auto_runs_no_warm_up_for_a_single_task(three_tasks, monkeypatch):
    import sk_mtgru._sequence as sequence

    def no_warm_up(*args):
        raise AssertionError("a warm-up ran for one task")

    monkeypatch.setattr(sequence, "auto_task_groups", no_warm_up)
    X, Y = three_tasks
    clf = small_classifier(task_groups="auto", max_iter=1).fit(X, Y[:, 0])
    assert clf.task_groups_ == [["task_0"]]


def test_tasks_of_different_groups_have_no_affinity_and_balance_apart(three_tasks):
    # The per-task gradients are taken on every branch's representation side by
    # side: a step on one group's encoder leaves the other group's losses as they
    # were, and gradient-based balancing trains every branch.
    X, Y = three_tasks
    clf = small_classifier(
        task_groups=[[0, 2], [1]], task_affinity_interval=1, summary="last"
    ).fit(X, Y)
    z = clf.task_affinity_
    assert z[0, 1] == z[1, 0] == z[2, 1] == z[1, 2] == 0.0
    assert z[0, 2] != 0 and np.all(np.diag(z) > 0)
    for summary in ("last", "mean_max"):
        pcgrad = small_classifier(
            task_groups=[[0, 2], [1]], loss_balancing="pcgrad", summary=summary
        ).fit(X, Y)
        assert np.isfinite(pcgrad.history_[:, "train_loss"]).all()


def test_recommend_task_groups_is_silent(three_tasks, capsys):
    X, Y = three_tasks
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the warm-up's ConvergenceWarning included
        recommend_task_groups(small_classifier(max_iter=10, verbose=0), X, Y)
    assert capsys.readouterr().out == ""


def test_auto_refuses_partial_fit_and_names_the_alternative(three_tasks):
    X, Y = three_tasks
    with pytest.raises(ValueError, match="recommend_task_groups"):
        small_classifier(task_groups="auto").partial_fit(X, Y, classes=None)


def test_a_grid_search_compares_sharing_with_groups(three_tasks):
    X, Y = three_tasks
    search = GridSearchCV(
        small_classifier(max_iter=1),
        {"task_groups": [None, [[0, 1], [2]]]},
        cv=2,
    ).fit(X, Y)
    assert [p["task_groups"] for p in search.cv_results_["params"]] == [
        None,
        [[0, 1], [2]],
    ]
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_groups_survive_a_safe_file_and_warm_start_keeps_them(three_tasks, tmp_path):
    X, Y = three_tasks
    clf = small_classifier(task_groups=[[0, 2], [1]]).fit(X, Y)
    sk_mtgru.save(clf, tmp_path / "grouped.skmtgru")
    back = sk_mtgru.load(tmp_path / "grouped.skmtgru")
    assert back.task_groups_ == [["task_0", "task_2"], ["task_1"]]
    for a, b in zip(back.predict_proba(X), clf.predict_proba(X)):
        np.testing.assert_allclose(a, b)
    clf.set_params(warm_start=True, max_iter=1).fit(X, Y)
    assert clf.task_groups_ == [["task_0", "task_2"], ["task_1"]]
    # the same groups, listed in another order, continue the fitted network
    clf.set_params(task_groups=[["task_1"], [2, 0]]).fit(X, Y)
    assert clf.task_groups_ == [["task_0", "task_2"], ["task_1"]]
    with pytest.raises(ValueError, match="cannot continue a fit whose task groups"):
        clf.set_params(task_groups=None).fit(X, Y)


def test_a_file_whose_groups_disagree_with_its_params_is_refused(three_tasks, tmp_path):
    X, Y = three_tasks
    clf = small_classifier(task_groups=[[0, 2], [1]]).fit(X, Y)
    clf.task_groups = [[0, 1], [2]]  # params that would build another network
    sk_mtgru.save(clf, tmp_path / "odd.skmtgru")
    with pytest.raises(ValueError, match="task_groups"):
        sk_mtgru.load(tmp_path / "odd.skmtgru")


def test_the_regressor_and_the_mixed_estimator_take_groups(three_tasks):
    X, Y = three_tasks
    values = Y.astype(float) + np.random.default_rng(0).normal(0, 0.1, Y.shape)
    small = dict(hidden_size=8, conv_channels=8, max_iter=2, random_state=0)
    reg = MultiTaskGRURegressor(task_groups=[[0], [1, 2]], **small).fit(X, values)
    assert reg.task_groups_ == [["task_0"], ["task_1", "task_2"]]
    assert reg.predict(X).shape == (80, 3)
    mixed_y = np.column_stack([Y[:, 0], values[:, 1], Y[:, 2]]).astype(object)
    mixed = MultiTaskGRUEstimator(
        task_groups=[[0, 2], [1]],
        task_types=["classification", "regression", "classification"],
        **small,
    ).fit(X, mixed_y)
    assert mixed.task_groups_ == [["task_0", "task_2"], ["task_1"]]
    assert len(mixed.predict(X)) == 80
