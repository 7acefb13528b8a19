"""The package's GRU kernel computes what ``nn.GRU`` computes, gradients included."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

import sk_mtgru._gru
from sk_mtgru import MultiTaskGRUClassifier, MultiTaskGRUTagger, _native
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
    assert torch.autograd.gradcheck(
        lambda *tensors: GRULayerFunction.apply(*tensors, None), inputs
    )


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


def test_the_package_kernel_runs_when_auto_trains(monkeypatch):
    calls = []
    original = sk_mtgru._gru._run_sk_mtgru

    def counting(gru, x, *args):
        calls.append(x.shape)
        return original(gru, x, *args)

    monkeypatch.setattr(sk_mtgru._gru, "_run_sk_mtgru", counting)
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
    monkeypatch.setattr(sk_mtgru._gru, "_run_sk_mtgru", lambda *a: pytest.fail("used"))
    clf.partial_fit(X, Y)
    assert clf.net_.module_.gru_kernel == "torch"


def test_an_unknown_kernel_is_refused_with_the_choices():
    X, Y = make_multitask_sequences(20, length=5, n_features=3, random_state=0)
    with pytest.raises(ValueError, match="'gru_kernel' parameter"):
        MultiTaskGRUClassifier(gru_kernel="fast").fit(X, Y)


# ----------------------------------------------------- the loops compiled in C
compiled = pytest.mark.skipif(
    _native.native_loops() is None,
    reason="no C compiler, or torch without MKL: the Python loops run",
)


@compiled
@pytest.mark.parametrize("features", [5, 40])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize(
    "lengths",
    [[9, 9, 9], [9, 2, 5, 1], [9, 7, 7, 3, 1]],
    ids=["equal", "ragged", "longest-first"],
)
def test_compiled_loops_equal_torchs_gru_in_float32(bidirectional, lengths, features):
    torch.manual_seed(0)
    gru = nn.GRU(
        features, 16, num_layers=2, bidirectional=bidirectional, batch_first=True
    )
    lengths = torch.tensor(lengths)
    x = torch.randn(len(lengths), int(lengths.max()), features)
    x[lengths < lengths.max(), -1] = 1e3  # padding, which neither kernel may read
    ours = _outputs_and_gradients(gru, x, lengths, "sk_mtgru")
    torchs = _outputs_and_gradients(gru, x, lengths, "torch")
    for a, b in zip(ours, torchs):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@compiled
def test_compiled_loops_stop_each_sequence_at_its_end(monkeypatch):
    # Given the lengths (longest first), the steps past a sequence's end are not
    # computed: its state stays the last real one, and the other sequences'
    # states are the Python loops' (which compute every step).
    torch.manual_seed(0)
    gru = nn.GRU(3, 6)
    x = torch.randn(8, 4, 3)  # time-major
    lengths = torch.tensor([8, 5, 5, 2])
    parameters = [gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0]
    with torch.no_grad():
        compiled = GRULayerFunction.apply(x, *parameters, lengths)
        with monkeypatch.context() as patch:
            patch.setattr(sk_mtgru._gru, "native_loops", lambda: None)
            python = GRULayerFunction.apply(x, *parameters, lengths)
    for b, length in enumerate(lengths.tolist()):
        torch.testing.assert_close(compiled[:length, b], python[:length, b])
        past = compiled[length:, b]
        assert torch.equal(past, compiled[length - 1, b].expand_as(past))
        if length < 8:
            assert not torch.allclose(python[length:, b], past)
    # and backwards, an output past the end is the last real state's
    past_end = GRULayerFunction.apply(x, *parameters, lengths)[5:, 2].sum()
    at_end = 3 * GRULayerFunction.apply(x, *parameters, lengths)[4, 2].sum()
    for a, b in zip(
        torch.autograd.grad(past_end, parameters),
        torch.autograd.grad(at_end, parameters),
    ):
        torch.testing.assert_close(a, b)


@compiled
def test_compiled_and_python_loops_agree_and_the_compiled_ones_run(monkeypatch):
    torch.manual_seed(0)
    gru = nn.GRU(4, 8, batch_first=True)
    x, lengths = torch.randn(6, 7, 4), torch.tensor([7, 3, 5, 1, 7, 2])
    calls = []
    library = _native.native_loops()

    class Counting:
        def __getattr__(self, name):
            calls.append(name)
            return getattr(library, name)

    monkeypatch.setattr(sk_mtgru._gru, "native_loops", lambda: Counting())
    compiled_run = _outputs_and_gradients(gru, x, lengths, "sk_mtgru")
    assert "sk_mtgru_gru_forward" in calls and "sk_mtgru_gru_backward" in calls
    monkeypatch.setattr(sk_mtgru._gru, "native_loops", lambda: None)
    python_run = _outputs_and_gradients(gru, x, lengths, "sk_mtgru")
    for a, b in zip(compiled_run, python_run):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_the_library_is_built_once_per_machine_and_can_be_turned_off(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("SK_MTGRU_CACHE", str(tmp_path))
    if _native._compiler() is None or _native._sgemm_address() is None:
        assert _native._load() is None  # and the Python loops run
        return
    assert _native._load() is not None
    (built,) = tmp_path.glob("gru_loops-*.so")
    first = built.stat().st_mtime_ns
    assert _native._load() is not None  # loaded from the cache, not rebuilt
    assert built.stat().st_mtime_ns == first
    monkeypatch.setenv("SK_MTGRU_NATIVE", "0")
    assert _native._load() is None
    monkeypatch.setenv("SK_MTGRU_NATIVE", "1")
    unwritable = tmp_path / "file"
    unwritable.write_text("not a folder")
    monkeypatch.setenv("SK_MTGRU_CACHE", str(unwritable / "cache"))
    assert _native._load() is None  # the cache cannot be made: no error either
    monkeypatch.setattr(_native, "_compiler", lambda: None)
    monkeypatch.setenv("SK_MTGRU_CACHE", str(tmp_path / "empty"))
    assert _native._load() is None  # no compiler: no library, no error


@compiled
@pytest.mark.parametrize("scale", [10.0, 1000.0])
def test_compiled_loops_saturate_like_torch_on_huge_preactivations(scale):
    # exp overflows past ~88: the gates must saturate to 0 or 1, never turn NaN
    torch.manual_seed(0)
    gru = nn.GRU(4, 8, batch_first=True)
    with torch.no_grad():
        for parameter in gru.parameters():
            parameter.mul_(scale)
    x, lengths = torch.randn(3, 12, 4) * scale, torch.full((3,), 12)
    ours = _outputs_and_gradients(gru, x, lengths, "sk_mtgru")
    torchs = _outputs_and_gradients(gru, x, lengths, "torch")
    for a, b in zip(ours[:2], torchs[:2]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert all(bool(torch.isfinite(g).all()) for g in ours[2:])


def test_loading_the_compiled_loops_leaves_subnormal_numbers_alone():
    # A library linked with -ffast-math sets flush-to-zero for the whole process
    # when it loads: every subnormal float in numpy and torch would become 0.
    code = (
        "import numpy as np, torch\n"
        "from sk_mtgru import _native\n"
        "library = _native.native_loops()\n"
        "x = np.array([1e-310])\n"
        "print(library is not None, bool((x * 1.0)[0] > 0),"
        " bool(torch.tensor([1e-40]).mul(1.0)[0] > 0))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded, numpy_kept, torch_kept = result.stdout.split()
    assert numpy_kept == "True" and torch_kept == "True", result.stdout
