"""The package's GRU kernel computes what ``nn.GRU`` computes, gradients included."""

import numpy as np
import pytest
import torch
from torch import nn

from sk_mtgru import MultiTaskGRUClassifier, MultiTaskGRUTagger
from sk_mtgru._gru import GRULayerFunction, resolve_kernel, run_gru
from sk_mtgru.datasets import make_multitask_sequences


def _outputs_and_gradients(gru, x, lengths, kernel):
    """Outputs, final states and the gradients of a random function of both."""
    gru.zero_grad()
    x = x.clone().requires_grad_()
    output, top = run_gru(gru, x, lengths, kernel)
    generator = torch.Generator().manual_seed(1)
    weights = torch.randn(output.shape, generator=generator, dtype=x.dtype)
    top_weights = torch.randn(top.shape, generator=generator, dtype=x.dtype)
    ((output * weights).sum() + (top * top_weights).sum()).backward()
    grads = [p.grad.clone() for p in gru.parameters()]
    return [output.detach(), top.detach(), x.grad] + grads


def test_layer_gradients_match_finite_differences():
    generator = torch.Generator().manual_seed(0)

    def tensor(*shape):
        return torch.randn(
            *shape, dtype=torch.float64, generator=generator, requires_grad=True
        )

    inputs = (tensor(5, 3, 2), tensor(12, 2), tensor(12, 4), tensor(12), tensor(12))
    assert torch.autograd.gradcheck(GRULayerFunction.apply, inputs)


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize(
    "lengths", [[6, 6, 6], [6, 2, 4, 1], [1, 1]], ids=["equal", "ragged", "one-step"]
)
def test_outputs_states_and_gradients_equal_torchs(num_layers, bidirectional, lengths):
    torch.manual_seed(0)
    gru = nn.GRU(
        5, 7, num_layers=num_layers, bidirectional=bidirectional, batch_first=True
    ).double()
    lengths = torch.tensor(lengths)
    x = torch.randn(len(lengths), int(lengths.max()), 5, dtype=torch.float64)
    x[lengths < lengths.max(), -1] = 1e3  # padding, which neither kernel may read
    ours = _outputs_and_gradients(gru, x, lengths, "sk_mtgru")
    torchs = _outputs_and_gradients(gru, x, lengths, "torch")
    for a, b in zip(ours, torchs):
        torch.testing.assert_close(a, b)


def test_padding_outputs_are_zero_and_padding_gets_no_gradient():
    torch.manual_seed(0)
    gru = nn.GRU(3, 4, bidirectional=True, batch_first=True)
    x = torch.randn(2, 5, 3, requires_grad=True)
    output, _ = run_gru(gru, x, torch.tensor([5, 3]), "sk_mtgru")
    output.sum().backward()
    assert output[1, 3:].abs().max() == 0
    assert x.grad[1, 3:].abs().max() == 0
    assert x.grad[1, :3].abs().min() > 0


def test_auto_trains_with_the_package_kernel_on_cpu_and_predicts_with_torchs():
    gru = nn.GRU(3, 4, batch_first=True)
    x = torch.randn(2, 5, 3)
    assert resolve_kernel("auto", gru, x) == "sk_mtgru"
    with torch.no_grad():
        assert resolve_kernel("auto", gru, x) == "torch"
    assert resolve_kernel("torch", gru, x) == "torch"
    with pytest.raises(ValueError, match="gru_kernel must be one of"):
        resolve_kernel("cudnn", gru, x)


def test_the_layer_function_runs_when_auto_trains(monkeypatch):
    calls = []
    original = GRULayerFunction.forward

    def counting(ctx, *args):
        calls.append(args[0].shape)
        return original(ctx, *args)

    monkeypatch.setattr(GRULayerFunction, "forward", staticmethod(counting))
    X, Y = make_multitask_sequences(40, length=6, n_features=3, random_state=0)
    clf = MultiTaskGRUClassifier(
        hidden_size=4,
        max_iter=1,
        batch_size=16,
        task_affinity_interval=None,
        random_state=0,
    )
    clf.fit(X, Y)
    assert len(calls) == 3  # one per training batch
    calls.clear()
    clf.predict(X)
    assert calls == []


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"bidirectional": True, "num_layers": 2, "summary": "mean"},
        {"summary": "attention", "task_layers": 1},
    ],
    ids=["last", "bidirectional-stack", "private-layers"],
)
def test_both_kernels_fit_the_same_classifier(params):
    X, Y = make_multitask_sequences(60, length=(4, 12), n_features=3, random_state=0)
    fitted = {
        kernel: MultiTaskGRUClassifier(
            hidden_size=8,
            max_iter=3,
            batch_size=16,
            dropout=0.0,  # the kernels draw inter-layer dropout masks differently
            gru_kernel=kernel,
            random_state=0,
            **params,
        ).fit(X, Y)
        for kernel in ("torch", "sk_mtgru")
    }
    np.testing.assert_allclose(
        fitted["torch"].history_[:, "train_loss"],
        fitted["sk_mtgru"].history_[:, "train_loss"],
        rtol=1e-4,
    )
    for a, b in zip(
        fitted["torch"].predict_proba(X), fitted["sk_mtgru"].predict_proba(X)
    ):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_both_kernels_fit_the_same_bidirectional_tagger():
    X, Y = make_multitask_sequences(
        40, length=(5, 15), n_features=3, per_step=True, random_state=0
    )
    fitted = [
        MultiTaskGRUTagger(
            hidden_size=6, num_layers=2, max_iter=2, gru_kernel=kernel, random_state=0
        ).fit(X, Y)
        for kernel in ("torch", "sk_mtgru")
    ]
    np.testing.assert_allclose(
        fitted[0].history_[:, "train_loss"],
        fitted[1].history_[:, "train_loss"],
        rtol=1e-4,
    )


def test_a_changed_kernel_applies_to_continued_training(monkeypatch):
    X, Y = make_multitask_sequences(30, length=5, n_features=3, random_state=0)
    clf = MultiTaskGRUClassifier(hidden_size=4, max_iter=1, random_state=0).fit(X, Y)
    clf.set_params(gru_kernel="torch")
    monkeypatch.setattr(
        GRULayerFunction, "forward", staticmethod(lambda *a: pytest.fail("used"))
    )
    clf.partial_fit(X, Y)
    assert clf.net_.module_.gru_kernel == "torch"


def test_an_unknown_kernel_is_refused_with_the_choices():
    X, Y = make_multitask_sequences(20, length=5, n_features=3, random_state=0)
    with pytest.raises(ValueError, match="'gru_kernel' parameter"):
        MultiTaskGRUClassifier(gru_kernel="fast").fit(X, Y)
