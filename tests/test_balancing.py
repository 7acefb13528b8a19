"""Loss-balancing strategies, each checked against its formula written out here."""

import math

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

import sk_mtgru
from sk_mtgru.balancing import (
    FAMO,
    DynamicWeightAverage,
    GradNorm,
    LossBalancing,
    PCGrad,
    RandomLossWeighting,
    StaticWeighting,
    UncertaintyWeighting,
)

from .conftest import small_classifier

LOSSES = torch.tensor([0.9, 0.3, 1.5])
ALL = torch.tensor([True, True, True])
TASK_WEIGHTS = torch.tensor([1.0, 2.0, 0.5])


def test_static_weighting_is_the_weighted_sum():
    total, weights = StaticWeighting().start(TASK_WEIGHTS)(LOSSES, ALL)
    assert float(total) == pytest.approx(0.9 * 1 + 0.3 * 2 + 1.5 * 0.5)
    torch.testing.assert_close(weights, TASK_WEIGHTS)


def test_a_task_absent_from_the_batch_adds_nothing():
    present = torch.tensor([True, False, True])
    for strategy in (StaticWeighting(), UncertaintyWeighting()):
        state = strategy.start(TASK_WEIGHTS)
        with torch.no_grad():
            for p in state.parameters():
                p.fill_(0.3)
        with torch.no_grad():
            total, _ = state(torch.tensor([0.9, 123.0, 1.5]), present)
            reference, _ = state(torch.tensor([0.9, 0.0, 1.5]), present)
        assert float(total) == pytest.approx(float(reference))


def test_uncertainty_weighting_follows_kendall_et_al():
    state = UncertaintyWeighting().start(TASK_WEIGHTS)
    s = [0.5, -1.0, 2.0]
    with torch.no_grad():
        state.log_variance.copy_(torch.tensor(s))
    with torch.no_grad():
        total, weights = state(LOSSES, ALL)
    expected = sum(
        w * (math.exp(-s_k) * loss + s_k / 2)
        for w, s_k, loss in zip([1.0, 2.0, 0.5], s, [0.9, 0.3, 1.5])
    )
    assert float(total) == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(
        weights.numpy(),
        [w * math.exp(-s_k) for w, s_k in zip([1.0, 2.0, 0.5], s)],
        rtol=1e-6,
    )


def test_uncertainty_log_variances_train_with_the_network(dense_data):
    X, Y = dense_data
    clf = small_classifier(loss_balancing="uncertainty", max_iter=5).fit(X, Y)
    log_variance = clf.net_.balancer_.log_variance.detach()
    assert not torch.allclose(log_variance, torch.zeros(2))
    names = {name for name, _ in clf.net_.get_all_learnable_params()}
    assert any("log_variance" in name for name in names)


def test_dynamic_weight_average_follows_liu_et_al():
    state = DynamicWeightAverage(temperature=2.0).start(torch.ones(3))
    torch.testing.assert_close(state(LOSSES, ALL)[1], torch.ones(3))
    state.end_epoch(torch.tensor([1.0, 1.0, 1.0]))
    torch.testing.assert_close(state(LOSSES, ALL)[1], torch.ones(3))  # one epoch: equal
    state.end_epoch(torch.tensor([0.5, 0.9, 1.2]))
    rates = [0.5 / 1.0, 0.9 / 1.0, 1.2 / 1.0]
    exps = [math.exp(r / 2.0) for r in rates]
    expected = [3 * e / sum(exps) for e in exps]
    np.testing.assert_allclose(state(LOSSES, ALL)[1].numpy(), expected, rtol=1e-6)


def test_dynamic_weight_average_multiplies_the_task_weights():
    state = DynamicWeightAverage(temperature=1.0).start(TASK_WEIGHTS)
    state.end_epoch(torch.tensor([1.0, 2.0, 3.0]))
    state.end_epoch(torch.tensor([1.0, 1.0, 1.0]))
    rates = np.array([1.0, 0.5, 1 / 3])
    dynamic = 3 * np.exp(rates) / np.exp(rates).sum()
    np.testing.assert_allclose(
        state(LOSSES, ALL)[1].numpy(), TASK_WEIGHTS.numpy() * dynamic, rtol=1e-6
    )


def test_random_loss_weighting_draws_softmax_normal_weights_each_batch():
    state = RandomLossWeighting().start(torch.ones(3))
    torch.manual_seed(0)
    first = state(LOSSES, ALL)[1]
    second = state(LOSSES, ALL)[1]
    torch.manual_seed(0)
    draw = torch.randn(3)
    torch.testing.assert_close(first, 3 * torch.softmax(draw, dim=0))
    assert not torch.allclose(first, second)
    assert float(first.sum()) == pytest.approx(3.0)


@pytest.mark.parametrize("strategy", ["static", "uncertainty", "dwa", "rlw", "pcgrad"])
def test_each_strategy_trains_and_logs_its_weights_per_epoch(dense_data, strategy):
    X, Y = dense_data
    clf = small_classifier(loss_balancing=strategy, max_iter=4).fit(X, Y)
    assert clf.predict(X).shape == Y.shape
    weights = np.array([clf.history_[:, f"weight_task_{k}"] for k in range(2)])
    assert weights.shape == (2, 4) and np.all(np.isfinite(weights))
    if strategy == "static":
        np.testing.assert_array_equal(weights, 1.0)
    if strategy == "dwa":
        np.testing.assert_array_equal(weights[:, :2], 1.0)  # equal for two epochs
        assert not np.allclose(weights[:, 2:], 1.0)


def test_static_strategy_is_the_default(dense_data):
    X, Y = dense_data
    default = small_classifier(task_weights=(1, 3)).fit(X, Y)
    static = small_classifier(
        task_weights=(1, 3), loss_balancing=StaticWeighting()
    ).fit(X, Y)
    for a, b in zip(default.predict_proba(X), static.predict_proba(X)):
        np.testing.assert_array_equal(a, b)


def test_grid_search_over_strategies_and_their_parameters(dense_data):
    X, Y = dense_data
    grid = [
        {"loss_balancing": ["static", "uncertainty", "rlw"]},
        {
            "loss_balancing": [DynamicWeightAverage()],
            "loss_balancing__temperature": [1, 4],
        },
    ]
    search = GridSearchCV(small_classifier(max_iter=2), grid, cv=2).fit(X, Y)
    assert len(search.cv_results_["params"]) == 5
    temperatures = search.cv_results_["param_loss_balancing__temperature"]
    assert sorted(t for t in temperatures.compressed()) == [1, 4]
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


def test_strategies_clone_without_state_and_the_estimator_never_changes_them(
    dense_data,
):
    X, Y = dense_data
    strategy = DynamicWeightAverage(temperature=3.0)
    small_classifier(loss_balancing=strategy, max_iter=3).fit(X, Y)
    assert vars(strategy) == {"temperature": 3.0}
    assert clone(strategy).get_params() == {"temperature": 3.0}


def test_strategy_round_trips_through_the_safe_format(dense_data, tmp_path):
    pytest.importorskip("safetensors")
    X, Y = dense_data
    clf = small_classifier(loss_balancing=DynamicWeightAverage(temperature=3.0)).fit(
        X, Y
    )
    clf.save(tmp_path / "m.safetensors")
    loaded = sk_mtgru.load(tmp_path / "m.safetensors")
    assert isinstance(loaded.loss_balancing, DynamicWeightAverage)
    assert loaded.loss_balancing.temperature == 3.0
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


def test_a_gradient_based_strategy_is_declared_by_one_property(dense_data):
    class SummedGradients(LossBalancing):
        uses_gradients = True  # the base state sums the tasks' gradients
        alias = "summed"

        def start(self, task_weights):
            return StaticWeighting().start(task_weights)

    X, Y = dense_data
    params = dict(max_iter=3, task_affinity_interval=None)
    by_gradients = small_classifier(loss_balancing=SummedGradients(), **params).fit(
        X, Y
    )
    by_loss = small_classifier(**params).fit(X, Y)
    # Summing per-task gradients on the shared representation is the loss's gradient.
    for a, b in zip(by_gradients.predict_proba(X), by_loss.predict_proba(X)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_pcgrad_projects_conflicting_gradients_as_yu_et_al():
    state = PCGrad().start(torch.ones(2))
    g1 = torch.tensor([[1.0, 0.0]])
    g2 = torch.tensor([[-1.0, 1.0]])
    combined = state.combine_gradients([g1, g2])
    # g1 . g2 = -1 < 0: each loses its component along the other.
    p1 = g1 - (-1.0) / 2.0 * g2  # = [0.5, 0.5]
    p2 = g2 - (-1.0) / 1.0 * g1  # = [0, 1]
    torch.testing.assert_close(combined, p1 + p2)


def test_pcgrad_leaves_agreeing_gradients_and_absent_tasks_alone():
    state = PCGrad().start(torch.ones(3))
    g1, g2 = torch.tensor([1.0, 2.0]), torch.tensor([0.5, 0.1])
    torch.testing.assert_close(state.combine_gradients([g1, None, g2]), g1 + g2)
    assert state.combine_gradients([None, None, None]) is None


def test_pcgrad_trains_through_the_estimator(dense_data):
    X, Y = dense_data
    clf = small_classifier(loss_balancing="pcgrad", max_iter=3).fit(X, Y)
    assert clf.predict(X).shape == Y.shape
    assert np.all(np.isfinite(clf.history_[:, "train_loss"]))


def test_bad_strategies_are_clear_errors(dense_data):
    X, Y = dense_data
    with pytest.raises(ValueError, match="'loss_balancing' parameter"):
        small_classifier(loss_balancing="no-such-strategy").fit(X, Y)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        small_classifier(loss_balancing=DynamicWeightAverage(temperature=0)).fit(X, Y)


def test_gradnorm_steps_its_weights_as_chen_et_al():
    state = GradNorm(alpha=1.5, lr=0.025).start(torch.ones(2))
    both = torch.tensor([True, True])
    state(torch.tensor([1.0, 1.0]), both)  # the initial losses L(0)
    state(torch.tensor([0.5, 1.0]), both)  # L(t)
    g1, g2 = torch.tensor([3.0, 4.0]), torch.tensor([0.0, 1.0])  # norms 5 and 1
    combined = state.combine_gradients([g1, g2])
    torch.testing.assert_close(combined, g1 + g2)
    ratios = np.array([0.5, 1.0])
    relative = ratios / ratios.mean()
    norms = np.array([5.0, 1.0])
    target = norms.mean() * relative**1.5
    learnt = 1.0 - 0.025 * np.sign(norms - target) * norms / 1.0
    learnt = learnt * 2 / learnt.sum()
    np.testing.assert_allclose(state.learnt.numpy(), learnt, rtol=1e-6)
    # The slower task (loss still at its start) gained weight.
    assert state.learnt[1] > state.learnt[0]


def test_famo_weights_and_logit_update_follow_liu_et_al():
    state = FAMO(lr=0.1, gamma=0.0).start(torch.ones(2))
    both = torch.tensor([True, True])
    losses = torch.tensor([2.0, 0.5])
    total, weights = state(losses, both)
    z = np.array([0.5, 0.5])
    c = (z / np.array([2.0, 0.5])).sum()
    assert float(total) == pytest.approx(
        2 * (z * np.log([2.0, 0.5])).sum() / c, rel=1e-5
    )
    np.testing.assert_allclose(
        weights.numpy(), 2 * z / (c * np.array([2.0, 0.5])), rtol=1e-5
    )
    # After the step, task 0's loss fell by half, task 1's not at all.
    state.after_step(torch.tensor([1.0, 0.5]), both)
    delta = np.log([2.0, 0.5]) - np.log([1.0, 0.5])
    grad = z * (delta - (z * delta).sum())
    # A first Adam step moves each logit by lr * sign(grad).
    np.testing.assert_allclose(state.logits.numpy(), -0.1 * np.sign(grad), rtol=1e-4)
    assert state.logits[1] > state.logits[0]  # the task that improved less gains weight


@pytest.mark.parametrize("strategy", ["gradnorm", "famo"])
def test_gradnorm_and_famo_train_through_the_estimator(dense_data, strategy):
    X, Y = dense_data
    Y_missing = Y.astype(object)
    Y_missing[:20, 1] = None
    clf = small_classifier(loss_balancing=strategy, max_iter=3, batch_size=8).fit(
        X, Y_missing
    )
    weights = np.array([clf.history_[:, f"weight_task_{k}"] for k in range(2)])
    assert np.all(np.isfinite(weights)) and not np.allclose(weights, 1.0)
    assert clf.predict(X).shape == Y.shape


class _HeadOnly(torch.nn.Module):
    """A module without the shared()/task_logits() split."""

    def __init__(self):
        super().__init__()
        self.head = torch.nn.Linear(3, 2)

    def forward(self, x, lengths):
        return (self.head(x[:, -1]),)


def _net_around(module, balancing, affinity_interval):
    from sk_mtgru._net import MultiTaskNet

    return MultiTaskNet(
        module=module,
        criterion=torch.nn.CrossEntropyLoss,
        criterion__reduction="none",
        task_names=["task_0"],
        task_weights=[1.0],
        balancing=balancing,
        affinity_interval=affinity_interval,
    )


def test_gradient_strategies_refuse_a_module_without_a_shared_representation():
    with pytest.raises(TypeError, match=r"no shared\(\) and task_logits\(\)"):
        _net_around(_HeadOnly, PCGrad(), None).initialize()
    with pytest.raises(TypeError, match="task affinity"):
        _net_around(_HeadOnly, StaticWeighting(), 10).initialize()
    # Loss-based strategies need no split.
    _net_around(_HeadOnly, StaticWeighting(), None).initialize()
