"""How a fit trains: the learning-rate schedule, gradient clipping, the stopping rule
and the warnings that say when something is off."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from sk_mtgru import MultiTaskGRUClassifier, MultiTaskGRUTagger
from sk_mtgru._training import LearningRateSchedule, StoppingAfterWarmUp
from sk_mtgru.datasets import make_multitask_sequences

from .conftest import small_classifier


def test_one_cycle_warms_up_to_the_peak_then_anneals_to_almost_nothing():
    schedule = LearningRateSchedule("one_cycle", total_steps=100)
    factors = [schedule(step) for step in range(101)]
    assert factors[0] == pytest.approx(1 / 25)
    assert max(factors) == pytest.approx(1.0) and factors.index(1.0) == 30
    assert np.all(np.diff(factors[:31]) > 0) and np.all(np.diff(factors[30:]) < 0)
    assert factors[-1] == pytest.approx(1 / 25 / 1e4)
    assert schedule(500) == factors[-1]  # steps past the plan keep the last factor


def test_cosine_anneals_from_the_peak_and_constant_stays():
    cosine = LearningRateSchedule("cosine", total_steps=10)
    assert cosine(0) == 1.0 and cosine(5) == pytest.approx(0.5) and cosine(10) == 0.0
    constant = LearningRateSchedule("constant", total_steps=10)
    assert {constant(step) for step in range(20)} == {1.0}


def test_the_schedule_spans_the_fit_one_step_per_batch(dense_data):
    X, Y = dense_data  # 60 sequences, batches of 16: 4 steps an epoch
    clf = small_classifier(max_iter=5, learning_rate_init=0.01, tol=0.0).fit(X, Y)
    rates = [row["event_lr"] for epoch in clf.history_ for row in epoch["batches"]]
    schedule = LearningRateSchedule("one_cycle", total_steps=20)
    np.testing.assert_allclose(rates, [0.01 * schedule(s) for s in range(20)])
    constant = small_classifier(learning_rate="constant", learning_rate_init=0.01)
    group = constant.fit(X, Y).net_.optimizer_.param_groups[0]
    assert group["lr"] == 0.01


def test_partial_fit_trains_at_a_constant_rate(dense_data):
    X, Y = dense_data
    clf = small_classifier(learning_rate_init=0.02)
    for _ in range(2):
        clf.partial_fit(X, Y)
    assert clf.net_.optimizer_.param_groups[0]["lr"] == 0.02


def test_gradient_norm_clipping_bounds_every_step(dense_data):
    X, Y = dense_data
    params = dict(
        solver="sgd",
        momentum=0.0,
        alpha=0.0,
        learning_rate="constant",
        learning_rate_init=1.0,
        batch_size=60,
        max_iter=1,
        dropout=0.0,
    )
    start = small_classifier(**{**params, "learning_rate_init": 1e-30})
    start = start.fit(X, Y).net_.module_.state_dict()
    clipped = small_classifier(max_grad_norm=1e-3, **params).fit(X, Y)
    moved = torch.cat(
        [
            (value - start[key]).flatten()
            for key, value in clipped.net_.module_.state_dict().items()
        ]
    )
    # One step of plain SGD at rate 1 moves the weights by the clipped gradient.
    assert float(moved.norm()) == pytest.approx(1e-3, rel=1e-3)


def test_training_stops_when_the_training_loss_stops_falling(dense_data):
    X, Y = dense_data
    # No epoch improves on the first by 1e6: the rule stops after its patience.
    params = dict(max_iter=20, n_iter_no_change=2, tol=1e6, learning_rate="constant")
    clf = small_classifier(**params).fit(X, Y)
    assert clf.n_iter_ == 3
    full = small_classifier(**{**params, "max_iter": 6, "n_iter_no_change": 10})
    assert full.fit(X, Y).n_iter_ == 6


@pytest.mark.parametrize("early_stopping", [False, True])
def test_the_stopping_rules_never_end_a_fit_inside_the_warm_up(
    dense_data, early_stopping
):
    # One-cycle warms up over 30 % of max_iter (6 of 20 epochs): patience (2)
    # counts from there. The training-loss rule then cools the rate down for
    # n_iter_no_change // 2 = 1 epoch; early stopping restores its best weights.
    X, Y = dense_data
    clf = small_classifier(
        max_iter=20, n_iter_no_change=2, tol=1e6, early_stopping=early_stopping
    ).fit(X, Y)
    assert clf.n_iter_ == (8 if early_stopping else 9)


def test_the_stopping_rule_cools_the_rate_down_before_it_stops(dense_data):
    X, Y = dense_data  # 4 steps an epoch; the rule fires after epoch 6 + 4
    clf = small_classifier(
        max_iter=20, n_iter_no_change=4, tol=1e6, learning_rate_init=0.01
    ).fit(X, Y)
    assert clf.n_iter_ == 12  # two epochs of cool-down
    rates = [row["event_lr"] for epoch in clf.history_ for row in epoch["batches"]]
    planned = LearningRateSchedule("one_cycle", total_steps=80)
    np.testing.assert_allclose(rates[:41], [0.01 * planned(s) for s in range(41)])
    cooling = rates[40:]
    assert np.all(np.diff(cooling) < 0)
    assert cooling[-1] < 0.05 * cooling[0]  # ends near the end of a cosine


def test_a_cool_down_ends_the_schedule_early_and_a_new_fit_forgets_it():
    schedule = LearningRateSchedule("one_cycle", total_steps=100)
    peak = schedule(30)
    schedule.cool_down(10)
    assert schedule(35) == pytest.approx(peak / 2, rel=0.02)
    assert schedule(40) == pytest.approx(1 / 25 / 1e4)
    assert schedule(0) == pytest.approx(1 / 25)  # a new fit: as planned again
    assert schedule(30) == peak


def test_raising_max_iter_lets_a_small_hard_set_fit_what_it_sees():
    # 36 sequences with random labels, two steps an epoch: only steps fit them.
    # The stopping rule used to fire inside the warm-up of the 100-epoch
    # schedule (35 epochs, training accuracy 0.44); now 100 epochs fit 0.56 and
    # 400 fit them all.
    rng = np.random.default_rng(1)
    X = rng.normal(size=(36, 50, 1)).astype(np.float32)
    y = rng.integers(0, 3, 36)
    scores = {}
    for max_iter in (100, 400):
        clf = MultiTaskGRUClassifier(
            hidden_size=8,
            conv_channels=8,
            batch_size=32,
            max_iter=max_iter,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            scores[max_iter] = clf.fit(X, y).score(X, y)
        assert clf.n_iter_ > 0.3 * max_iter  # past the warm-up
    assert scores[100] > 0.5
    assert scores[400] >= scores[100]


def test_the_stopping_rule_watches_the_static_objective_not_a_balanced_loss(
    dense_data,
):
    # Under uncertainty weighting the trained total includes log-variance terms
    # and moves with the weights; the rule watches sum_k w_k * loss_k instead.
    X, Y = dense_data
    clf = small_classifier(
        max_iter=4, task_weights=(2, 0.5), loss_balancing="uncertainty"
    ).fit(X, Y)
    for epoch in clf.history_:
        expected = 2 * epoch["train_loss_task_0"] + 0.5 * epoch["train_loss_task_1"]
        assert epoch["train_objective"] == pytest.approx(expected)
        assert epoch["train_objective"] != pytest.approx(epoch["train_loss"])
    stopping = dict(clf.net_.callbacks_)["train_loss_stopping"]
    assert stopping.monitor == "train_objective"


def test_a_loss_still_falling_at_max_iter_is_a_convergence_warning(learnable_data):
    X, Y = learnable_data
    with pytest.warns(ConvergenceWarning, match="max_iter=2 .*still falling") as seen:
        small_classifier(max_iter=2).fit(X[:100], Y[:100])
    # The warning points at the user's call of fit.
    assert seen[0].filename == __file__


@pytest.mark.parametrize("max_iter", [1, 3])
def test_a_fit_too_short_for_the_stopping_rule_warns(dense_data, max_iter):
    # With fewer epochs than n_iter_no_change the rule cannot see the loss stop
    # falling, whatever the loss did (as MLPClassifier(max_iter=1) warns).
    X, Y = dense_data
    clf = small_classifier(max_iter=max_iter, n_iter_no_change=5, tol=1e9)
    with pytest.warns(ConvergenceWarning, match="no more than the n_iter_no_change=5"):
        clf.fit(X, Y)
    clf.set_params(max_iter=6)  # more epochs than the window: the rule could judge
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X, Y)


def test_a_fit_the_rule_ended_does_not_warn_when_max_iter_cuts_its_cool_down(
    learnable_data, monkeypatch
):
    # The rule fires after the warm-up (3 of 8 epochs) and 4 misses, at epoch 7;
    # its 2 epochs of cool-down would end at 9, past max_iter. The loss is still
    # falling then (the rule is forced to see no improvement), but the rule had
    # ended the fit: no "still falling" warning.
    X, Y = learnable_data
    monkeypatch.setattr(StoppingAfterWarmUp, "_is_score_improved", lambda *a: False)
    clf = small_classifier(max_iter=8, n_iter_no_change=4, learning_rate_init=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X[:100], Y[:100])
    assert clf.n_iter_ == 8


def test_a_converged_fit_does_not_warn():
    X, Y = make_multitask_sequences(
        120, n_tasks=2, length=8, noise=0.05, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = MultiTaskGRUClassifier(hidden_size=8, max_iter=60, random_state=0)
        clf.fit(X, Y)
    assert clf.n_iter_ <= 60


def test_sequences_shorter_than_their_features_warn_of_a_transposed_array():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 6, 40))  # aeon's (n, channels, time), not transposed
    y = np.arange(20) % 2
    with pytest.warns(UserWarning, match=r"X\.transpose\(0, 2, 1\)"):
        small_classifier(max_iter=1).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)  # one epoch, on purpose
        small_classifier(max_iter=1).fit(X.transpose(0, 2, 1), y)


def test_small_data_reach_their_plateau_with_the_default_budget():
    # 150 short sequences, three tasks: 400 epochs reach a held-out mean accuracy
    # of 0.74, and so does the default budget; the first release's defaults
    # (a constant 1e-3 for 50 epochs, the last state, no convolutions) at 0.58.
    X, Y = make_multitask_sequences(
        400, n_tasks=3, length=12, noise=0.2, random_state=0
    )
    clf = MultiTaskGRUClassifier(hidden_size=16, random_state=0).fit(X[:150], Y[:150])
    assert clf.score(X[150:], Y[150:]) >= 0.72


def test_the_tagger_reaches_its_plateau_with_the_default_budget():
    # Label each step: was feature 0 positive at the previous step? The default
    # budget reaches 0.99 on new streams; 25 epochs at a constant 1e-3, 0.77.
    rng = np.random.default_rng(0)
    X = [
        rng.normal(size=(int(n), 2)).astype(np.float32)
        for n in rng.integers(10, 30, 300)
    ]
    Y = [np.concatenate([[0], (x[:-1, 0] > 0).astype(int)]) for x in X]
    tagger = MultiTaskGRUTagger(hidden_size=16, random_state=0).fit(X[:150], Y[:150])
    assert tagger.score(X[150:], Y[150:]) >= 0.95


def test_per_task_early_stopping_restores_each_head_to_its_own_best_epoch():
    # Task 0 is noise: its validation loss is lowest early and then rises as it
    # memorises. Task 1 is learnable: its best epoch comes later.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 10, 3)).astype(np.float32)
    learnable = (X[:, :, 0].mean(1) + 0.3 * X[:, :, 1].mean(1) > 0).astype(int)
    Y = np.column_stack([rng.integers(0, 2, 200), learnable])
    params = dict(
        hidden_size=32,
        conv_channels=16,
        batch_size=16,
        learning_rate="constant",
        learning_rate_init=1e-2,
        early_stopping="per_task",
        n_iter_no_change=30,
        validation_fraction=0.3,
    )
    clf = small_classifier(max_iter=12, **params).fit(X, Y)
    history = clf.history_
    best = {
        "shared": int(np.argmin(history[:, "valid_loss"])) + 1,
        "task_0": int(np.argmin(history[:, "valid_loss_task_0"])) + 1,
        "task_1": int(np.argmin(history[:, "valid_loss_task_1"])) + 1,
    }
    assert clf.best_epochs_ == best
    assert best["task_0"] < best["task_1"]
    # A fit stopped at a task's best epoch has, at its end, the weights that task's
    # head had then (the constant rate makes the first epochs of both fits alike).
    module = clf.net_.module_
    for task in (0, 1):
        stopped = small_classifier(max_iter=best[f"task_{task}"], **params).fit(X, Y)
        torch.testing.assert_close(
            module.heads[task].weight, stopped.net_.module_.heads[task].weight
        )
    # The encoder is that of the best combined validation loss.
    shared = small_classifier(max_iter=best["shared"], **params).fit(X, Y)
    torch.testing.assert_close(
        module.gru.weight_hh_l0, shared.net_.module_.gru.weight_hh_l0
    )
    # Plain early stopping restores every head with the encoder.
    plain = small_classifier(max_iter=12, **{**params, "early_stopping": True})
    assert set(plain.fit(X, Y).best_epochs_.values()) == {best["shared"]}


def test_scoring_records_each_tasks_metrics_on_the_validation_split(learnable_data):
    X, Y = learnable_data
    clf = small_classifier(
        early_stopping=True,
        max_iter=3,
        scoring={"task_0": ["balanced_accuracy", "roc_auc"], "task_1": "accuracy"},
    ).fit(X, Y)
    last = clf.history_[-1]
    assert 0 <= last["valid_balanced_accuracy_task_0"] <= 1
    assert 0 <= last["valid_roc_auc_task_0"] <= 1
    # 'accuracy' on the validation split is the accuracy the net records itself.
    assert last["valid_accuracy_task_1"] == pytest.approx(last["valid_acc_task_1"])
    assert "valid_accuracy_task_2" not in last
    with pytest.raises(ValueError, match="only early stopping holds out"):
        small_classifier(scoring="accuracy").fit(X, Y)
    with pytest.raises(ValueError, match="not a scikit-learn scorer name"):
        small_classifier(early_stopping=True, scoring="accurate").fit(X, Y)


def test_scoring_a_regression_target_in_its_units():
    from sk_mtgru import MultiTaskGRURegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 10, 2)).astype(np.float32)
    y = 1000 + 100 * X[:, :, 0].sum(1)
    reg = MultiTaskGRURegressor(
        hidden_size=8,
        max_iter=2,
        random_state=0,
        early_stopping=True,
        validation_fraction=0.25,
        scoring=["neg_mean_squared_error", "r2"],
    ).fit(X, y)
    last = reg.history_[-1]
    # The net records the validation mean squared error in the target's units.
    assert -last["valid_neg_mean_squared_error_task_0"] == pytest.approx(
        last["valid_mse_task_0"], rel=1e-4
    )
    assert last["valid_r2_task_0"] < 1


def test_per_task_early_stopping_follows_a_tasks_scoring_metric(learnable_data):
    X, Y = learnable_data
    clf = small_classifier(
        early_stopping="per_task",
        max_iter=6,
        n_iter_no_change=10,
        scoring={"task_1": "balanced_accuracy"},
    ).fit(X, Y)
    scores = clf.history_[:, "valid_balanced_accuracy_task_1"]
    assert clf.best_epochs_["task_1"] == int(np.argmax(scores)) + 1
    losses = clf.history_[:, "valid_loss_task_0"]
    assert clf.best_epochs_["task_0"] == int(np.argmin(losses)) + 1
