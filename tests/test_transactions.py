"""A failed ``partial_fit`` or warm-start ``fit`` leaves the model exactly as it was."""

import numpy as np
import pandas as pd
import pytest
import torch

from sk_mtgru import (
    MultiTaskGRUClassifier,
    MultiTaskGRUEstimator,
    MultiTaskGRURegressor,
    MultiTaskGRUTagger,
)
from sk_mtgru.datasets import make_multitask_sequences
from sk_mtgru.exceptions import TrainingDivergedError

from .conftest import interrupt_training

SMALL = dict(hidden_size=6, conv_channels=6, max_iter=2, batch_size=8, random_state=0)


def _data(kind):
    X, Y = make_multitask_sequences(
        32, n_tasks=2, length=(6, 12), per_step=kind == "tagger", random_state=0
    )
    if kind == "regressor":
        Y = np.column_stack([x[:, 0].sum() for x in X] + [x[:, 1].mean() for x in X])
        Y = Y.reshape(2, -1).T
    elif kind == "mixed":
        Y = pd.DataFrame({"label": Y[:, 0], "level": [x[:, 1].mean() for x in X]})
    return X, Y


ESTIMATORS = {
    "classifier": lambda: MultiTaskGRUClassifier(**SMALL),
    "regressor": lambda: MultiTaskGRURegressor(**SMALL),
    "mixed": lambda: MultiTaskGRUEstimator(**SMALL),
    "tagger": lambda: MultiTaskGRUTagger(
        **{k: v for k, v in SMALL.items() if k != "conv_channels"}
    ),
}


def _same(a, b):
    """Whether two fitted states are equal: arrays and tensors exactly, containers
    element by element, NaN equal to NaN."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, float) and np.isnan(a):
        return isinstance(b, float) and np.isnan(b)
    if isinstance(a, (pd.DataFrame, pd.Series)):
        return a.equals(b)
    return a == b


def _snapshot(estimator):
    """Everything a continued fit could change: weights, the optimizer's state,
    the history and every fitted attribute."""
    net = estimator.net_
    optimizer = net.optimizer_.state_dict()
    return {
        "weights": {k: v.clone() for k, v in net.module_.state_dict().items()},
        "optimizer": {
            "state": {
                k: {n: t.clone() if torch.is_tensor(t) else t for n, t in s.items()}
                for k, s in optimizer["state"].items()
            },
            "param_groups": [dict(g) for g in optimizer["param_groups"]],
        },
        "history": [dict(epoch) for epoch in net.history],
        "fitted": {
            key: value
            for key, value in vars(estimator).items()
            if (key.endswith("_") or key.startswith("_"))
            and key != "net_"
            and key != "history_"
        },
        "history_": [dict(epoch) for epoch in estimator.history_],
    }


def _fail(estimator, X, Y, failure, monkeypatch, *, how):
    """Make the continued fit ``how`` fail by ``failure``; return the error's type."""
    if failure == "diverges":
        estimator.set_params(learning_rate_init=1e37)
        expected = TrainingDivergedError
    else:
        interrupt_training(monkeypatch, at_step=3)
        expected = KeyboardInterrupt
    with pytest.raises(expected):
        if how == "partial_fit":
            estimator.partial_fit(X, Y)
        else:
            estimator.fit(X, Y)
    monkeypatch.undo()
    estimator.set_params(learning_rate_init=SMALL_RATE)


SMALL_RATE = MultiTaskGRUClassifier().learning_rate_init  # every estimator's default


@pytest.mark.parametrize("failure", ["diverges", "interrupted"])
@pytest.mark.parametrize("kind", list(ESTIMATORS))
def test_a_failed_partial_fit_leaves_the_model_exactly_as_it_was(
    kind, failure, monkeypatch
):
    X, Y = _data(kind)
    estimator = ESTIMATORS[kind]().partial_fit(X, Y)
    estimator.partial_fit(X, Y)  # the optimizer has moments to lose
    before = _snapshot(estimator)
    _fail(estimator, X, Y, failure, monkeypatch, how="partial_fit")
    after = _snapshot(estimator)
    for part in before:
        assert _same(before[part], after[part]), part
    assert estimator.n_iter_ == 1 and len(estimator.history_) == 2
    # and training goes on from there, with the optimizer on the restored weights
    net = estimator.net_
    parameters = {id(p) for p in net.module_.parameters()}
    in_optimizer = {id(p) for g in net.optimizer_.param_groups for p in g["params"]}
    assert in_optimizer <= parameters
    estimator.partial_fit(X, Y)
    assert len(estimator.history_) == 3
    assert not _same(before["weights"], _snapshot(estimator)["weights"])


@pytest.mark.parametrize("kind", ["classifier", "tagger"])
def test_a_failed_warm_start_fit_leaves_the_model_exactly_as_it_was(kind, monkeypatch):
    X, Y = _data(kind)
    estimator = ESTIMATORS[kind]().set_params(warm_start=True).fit(X, Y)
    before = _snapshot(estimator)
    _fail(estimator, X, Y, "diverges", monkeypatch, how="fit")
    after = _snapshot(estimator)
    for part in before:
        assert _same(before[part], after[part]), part
    assert len(estimator.history_) == 2


def test_an_interrupted_warm_start_keeps_its_completed_epochs_only(monkeypatch):
    X, Y = _data("classifier")
    estimator = ESTIMATORS["classifier"]().set_params(warm_start=True).fit(X, Y)
    history = estimator.history_
    interrupt_training(monkeypatch, at_step=6)  # in the second epoch of four batches
    estimator.set_params(max_iter=5).fit(X, Y)  # as skorch: training stops there
    assert estimator.n_iter_ == 1
    assert len(estimator.history_) == 3
    assert len(history) == 2  # the first fit's history was not appended to
    assert all("train_objective" in epoch for epoch in estimator.history_)
